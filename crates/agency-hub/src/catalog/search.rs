//! Store search: an index of what is on sale, held in memory and made again for each catalogue
//! version (`StoreCache::search_index`), so every instance on either database answers the same
//! query the same way within the version check's 250 ms. The database's own text search would
//! rank, stem and forgive typos differently on SQLite and PostgreSQL; a few thousand services
//! fit in memory many times over, and a search then reads nothing from the database.
//!
//! A query's words are matched against the words of the title, the category, the client-visible
//! task names and the description:
//!
//! - by stem (English Snowball: "logos" finds "logo", "designs" finds "design");
//! - the last word also as a prefix, while it is being typed ("lan" finds "landing");
//! - a word (not a number) of 5 letters or more also within one edit (a letter added, dropped,
//!   changed, or two neighbours swapped: "webiste" finds "website").
//!
//! Every word of the query must match (stop words aside). A match weighs by its field (title
//! above category above tasks above description) and its kind (a stem above a prefix above a
//! typo); a service's score is the sum over the query's words of its best match each. The
//! agency's synonyms ("website = web site = landing page") make alternative queries, the best
//! of which counts.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use rust_stemmers::{Algorithm, Stemmer};

use super::store::{Sort, StoreQuery};
use crate::db::entities::service_template;
use crate::money::Currency;

/// Words a query ignores (unless it has no other).
const STOP_WORDS: [&str; 12] = [
    "a", "an", "and", "the", "of", "for", "to", "in", "on", "with", "or", "my",
];
/// A word this long or longer may have one typo.
const TYPO_MIN_LETTERS: usize = 5;
/// The most alternative queries synonyms make of one query.
const MAX_ALTERNATIVES: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Field {
    Title,
    Category,
    Task,
    Description,
}

impl Field {
    fn weight(self) -> f32 {
        match self {
            Self::Title => 8.0,
            Self::Category => 3.0,
            Self::Task => 2.0,
            Self::Description => 1.0,
        }
    }
}

/// How a query word matched a service's word.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Stem,
    Prefix,
    Typo,
}

impl Kind {
    fn weight(self) -> f32 {
        match self {
            Self::Stem => 1.0,
            Self::Prefix => 0.7,
            Self::Typo => 0.5,
        }
    }
}

/// Where the words of `text` are (bytes).
fn word_ranges(text: &str) -> Vec<std::ops::Range<usize>> {
    text.char_indices()
        .filter(|(_, c)| c.is_alphanumeric())
        .fold(Vec::new(), |mut runs, (i, c)| {
            let end = i + c.len_utf8();
            match runs.last_mut() {
                Some(run) if run.end == i => run.end = end,
                _ => runs.push(i..end),
            }
            runs
        })
}

/// The words of `text`, lowercased, with where each is in it (bytes).
fn words(text: &str) -> impl Iterator<Item = (std::ops::Range<usize>, String)> + '_ {
    word_ranges(text).into_iter().map(move |r| {
        let word = text[r.clone()].to_lowercase();
        (r, word)
    })
}

/// The agency's synonyms: groups of phrases that mean the same, each phrase its words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Synonyms(Vec<Vec<Vec<String>>>);

/// The most lines of synonyms, and characters a phrase.
pub const MAX_SYNONYM_LINES: usize = 200;
pub const MAX_PHRASE: usize = 60;

impl Synonyms {
    /// One group a line, its phrases separated by `=` or `,`: "website = web site = landing
    /// page". A line with one phrase, or a phrase too long, is refused by number.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let lines: Vec<&str> = raw.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.len() > MAX_SYNONYM_LINES {
            return Err(format!(
                "Write at most {MAX_SYNONYM_LINES} lines of synonyms (this has {}).",
                lines.len()
            ));
        }
        let mut groups = Vec::with_capacity(lines.len());
        for (n, line) in lines.iter().enumerate() {
            let phrases: Vec<&str> = line
                .split(['=', ','])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .collect();
            if phrases.len() < 2 {
                return Err(format!(
                    "Line {}: write two or more words or phrases that mean the same, separated by = (website = web site).",
                    n + 1
                ));
            }
            if let Some(long) = phrases.iter().find(|p| p.chars().count() > MAX_PHRASE) {
                return Err(format!(
                    "Line {}: \"{long}\" is longer than {MAX_PHRASE} characters.",
                    n + 1
                ));
            }
            groups.push(
                phrases
                    .iter()
                    .map(|p| words(p).map(|(_, w)| w).collect())
                    .filter(|p: &Vec<String>| !p.is_empty())
                    .collect(),
            );
        }
        Ok(Self(groups))
    }

    /// The synonyms' text as saved, read leniently (a line that does not parse is skipped).
    pub fn read(raw: &str) -> Self {
        Self(
            raw.lines()
                .filter_map(|l| Self::parse(l).ok())
                .flat_map(|s| s.0)
                .collect(),
        )
    }

    /// `query` and the queries its synonyms make: each phrase of a group found in it (word by
    /// word, by stem) replaced by each other phrase of the group.
    fn alternatives(&self, query: &[String], stem: &dyn Fn(&str) -> String) -> Vec<Vec<String>> {
        let mut all = vec![query.to_vec()];
        let mut i = 0;
        while i < all.len() && all.len() < MAX_ALTERNATIVES {
            let current = all[i].clone();
            let stems: Vec<String> = current.iter().map(|w| stem(w)).collect();
            for group in &self.0 {
                for phrase in group {
                    let phrase_stems: Vec<String> = phrase.iter().map(|w| stem(w)).collect();
                    let Some(at) = find(&stems, &phrase_stems) else {
                        continue;
                    };
                    for other in group.iter().filter(|o| *o != phrase) {
                        let mut made = current[..at].to_vec();
                        made.extend(other.iter().cloned());
                        made.extend(current[at + phrase.len()..].iter().cloned());
                        if !all.contains(&made) && all.len() < MAX_ALTERNATIVES {
                            all.push(made);
                        }
                    }
                }
            }
            i += 1;
        }
        all
    }
}

/// Whether `a` becomes `b` by one edit: a letter changed, added or dropped, or two neighbours
/// swapped ("webiste" and "website").
fn one_edit_apart(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let start = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        if start == short.len() {
            return false;
        }
        let (x, y) = (&short[start + 1..], &long[start + 1..]);
        // One letter changed, or this one and the next swapped.
        x == y
            || (start + 1 < short.len()
                && short[start] == long[start + 1]
                && short[start + 1] == long[start]
                && short[start + 2..] == long[start + 2..])
    } else {
        long.len() == short.len() + 1 && short[start..] == long[start + 1..]
    }
}

/// Where `needle` starts in `haystack`, if it is there.
fn find(haystack: &[String], needle: &[String]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// What a search found: each service (by its place in the index) with its score, in index
/// order, and the words that matched (their numbers in the index, sorted), to mark them.
#[derive(Debug, Default)]
pub struct Found {
    pub hits: Vec<(usize, f32)>,
    matched: Vec<u32>,
}

/// A word of a service's title or description: where it is (bytes) and its number in the index.
#[derive(Clone, Copy, Debug)]
struct Spot {
    start: u32,
    end: u32,
    word: u32,
}

/// The words of a text, made with the index (a page then marks its results without reading
/// their texts again word by word).
fn spots(text: &str, ids: &BTreeMap<String, u32>) -> Box<[Spot]> {
    words(text)
        .filter_map(|(r, w)| {
            Some(Spot {
                start: r.start as u32,
                end: r.end as u32,
                word: *ids.get(&w)?,
            })
        })
        .collect()
}

/// `text` as HTML (escaped) with the matched words in `<mark>`; at most `max` characters, from
/// a little before the first match when it is further in (with "…").
fn mark(text: &str, spots: &[Spot], matched: &[u32], max: usize) -> String {
    let marks = spots
        .iter()
        .filter(|s| matched.binary_search(&s.word).is_ok())
        .map(|s| s.start as usize..s.end as usize);
    let first = marks.clone().next();
    let total = text.chars().count();
    // Start a few words before the first match when it would not show.
    let mut start = 0;
    if total > max
        && let Some(first) = &first
        && text[..first.start].chars().count() > max / 2
    {
        let want = text[..first.start].chars().count() - max / 4;
        start = text.char_indices().nth(want).map_or(0, |(i, _)| i);
        start = text[start..]
            .find(char::is_whitespace)
            .map_or(start, |s| start + s + 1);
    }
    let end = text[start..]
        .char_indices()
        .nth(max)
        .map_or(text.len(), |(i, _)| start + i);
    let mut out = String::with_capacity(end - start + 16);
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    for r in marks.filter(|r| r.start >= start && r.end <= end) {
        escape_into(&mut out, &text[at..r.start]);
        out.push_str("<mark>");
        escape_into(&mut out, &text[r.clone()]);
        out.push_str("</mark>");
        at = r.end;
    }
    escape_into(&mut out, &text[at..end]);
    if end < text.len() {
        out.push('…');
    }
    out
}

/// `text` escaped for HTML, pushed onto `out` (what needs no escaping a run at a time).
fn escape_into(out: &mut String, mut text: &str) {
    while let Some(at) = text.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&text[..at]);
        out.push_str(match text.as_bytes()[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        text = &text[at + 1..];
    }
    out.push_str(text);
}

/// A found service's title and description as HTML, the matched words in `<mark>` (the rest
/// escaped; the description cut to a part around its first match).
#[derive(Clone, Debug, Default)]
pub struct Highlight {
    pub title: String,
    pub blurb: String,
}

/// How much of a description a result shows.
pub const BLURB_CHARS: usize = 140;

/// The order among services the search ranks the same: the client's chosen sort.
fn by_sort(
    a: &service_template::Model,
    b: &service_template::Model,
    sort: Sort,
    currency: Currency,
) -> Ordering {
    let price = |t: &service_template::Model| t.price_in(currency).map(|m| m.minor);
    // As the listing's SQL: without a price in the currency last, then by price.
    let priced = |t| price(t).is_none();
    let title = a.store_title.cmp(&b.store_title);
    match sort {
        Sort::Featured => a.sort_order.cmp(&b.sort_order).then(title),
        Sort::PriceLow => priced(a)
            .cmp(&priced(b))
            .then(price(a).cmp(&price(b)))
            .then(title),
        Sort::PriceHigh => priced(a)
            .cmp(&priced(b))
            .then(price(b).cmp(&price(a)))
            .then(title),
        Sort::Name => title,
    }
    .then(a.id.cmp(&b.id))
}

/// The services on sale and their words.
pub struct SearchIndex {
    docs: Vec<Arc<service_template::Model>>,
    /// Each word (lowercased) → its number.
    ids: BTreeMap<String, u32>,
    /// Each word's places (by number): (service, field), once each.
    postings: Vec<Vec<(u32, Field)>>,
    /// Each stem → the words that have it.
    stems: HashMap<String, Vec<u32>>,
    /// The words by their number of letters, with their letters (for typos).
    by_letters: HashMap<usize, Vec<(u32, Vec<char>)>>,
    /// Each service's title's and description's words, to mark what matched.
    spots: Vec<[Box<[Spot]>; 2]>,
    synonyms: Synonyms,
    stemmer: Stemmer,
    /// The services' places in each sort asked for.
    ranks: std::sync::Mutex<HashMap<(Sort, Currency), Arc<Ranks>>>,
}

/// The services in one sort's order: `order[place]` is a service, `rank[service]` its place.
struct Ranks {
    order: Vec<u32>,
    rank: Vec<u32>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("docs", &self.docs.len())
            .field("words", &self.ids.len())
            .finish()
    }
}

impl SearchIndex {
    pub fn new(templates: Vec<service_template::Model>, synonyms: Synonyms) -> Self {
        let stemmer = Stemmer::create(Algorithm::English);
        let mut ids: BTreeMap<String, u32> = BTreeMap::new();
        let mut postings: Vec<Vec<(u32, Field)>> = Vec::new();
        let docs: Vec<Arc<service_template::Model>> = templates.into_iter().map(Arc::new).collect();
        for (i, t) in docs.iter().enumerate() {
            let tasks: Vec<String> = t
                .client_visible_tasks()
                .into_iter()
                .map(|d| d.name)
                .collect();
            let fields = [
                (Field::Title, t.title()),
                (Field::Category, t.category.as_str()),
                (Field::Description, t.blurb()),
                (Field::Description, t.description.as_str()),
            ]
            .into_iter()
            .chain(tasks.iter().map(|n| (Field::Task, n.as_str())));
            let mut seen = HashSet::new();
            for (field, text) in fields {
                for (_, word) in words(text) {
                    let next = ids.len() as u32;
                    let id = *ids.entry(word).or_insert(next);
                    if id == next {
                        postings.push(Vec::new());
                    }
                    if seen.insert((id, field)) {
                        postings[id as usize].push((i as u32, field));
                    }
                }
            }
        }
        let spots = docs
            .iter()
            .map(|t| [spots(t.title(), &ids), spots(t.blurb(), &ids)])
            .collect();
        let mut stems: HashMap<String, Vec<u32>> = HashMap::new();
        let mut by_letters: HashMap<usize, Vec<(u32, Vec<char>)>> = HashMap::new();
        for (word, id) in &ids {
            stems
                .entry(stemmer.stem(word).into_owned())
                .or_default()
                .push(*id);
            // Numbers are not misspelt: "2024" is not one edit from "2025" by mistake.
            if word.chars().any(char::is_alphabetic) {
                let chars: Vec<char> = word.chars().collect();
                by_letters
                    .entry(chars.len())
                    .or_default()
                    .push((*id, chars));
            }
        }
        Self {
            docs,
            ids,
            postings,
            stems,
            by_letters,
            spots,
            synonyms,
            stemmer,
            ranks: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn doc(&self, i: usize) -> &Arc<service_template::Model> {
        &self.docs[i]
    }

    /// One page of what `q` finds (in its category, if it names one), the most relevant first,
    /// then in its sort; how many it finds in all; and each one's matches marked.
    pub fn page(
        &self,
        q: &StoreQuery,
        per_page: u64,
    ) -> (Vec<Arc<service_template::Model>>, u64, Vec<Highlight>) {
        let found = self.search(&q.search);
        let category = q.category.trim();
        let ranks = self.ranks(q.sort, q.currency);
        // One integer a hit, ordered as the page is: the score's bits inverted (a positive
        // float's bits order as the float does), then the service's place in the sort. Many
        // hits score the same, and comparing titles and prices for each tie cost more than the
        // search itself.
        let mut keys: Vec<u64> = Vec::with_capacity(found.hits.len());
        keys.extend(
            found
                .hits
                .iter()
                .filter(|(d, _)| category.is_empty() || self.docs[*d].category == category)
                .map(|(d, score)| (u64::from(!score.to_bits()) << 32) | u64::from(ranks.rank[*d])),
        );
        let total = keys.len() as u64;
        let skip = usize::try_from(q.page.saturating_sub(1).saturating_mul(per_page))
            .unwrap_or(usize::MAX);
        // Only the pages up to this one are put in order.
        let upto = skip.saturating_add(per_page as usize);
        if keys.len() > upto {
            keys.select_nth_unstable(upto);
            keys.truncate(upto);
        }
        keys.sort_unstable();
        let shown: Vec<usize> = keys
            .into_iter()
            .skip(skip)
            .map(|k| ranks.order[(k & u64::from(u32::MAX)) as usize] as usize)
            .collect();
        let highlights = shown.iter().map(|d| self.highlight(&found, *d)).collect();
        let items = shown.into_iter().map(|d| self.docs[d].clone()).collect();
        (items, total, highlights)
    }

    /// A found service's title and description with what matched marked.
    pub fn highlight(&self, found: &Found, doc: usize) -> Highlight {
        let t = &self.docs[doc];
        let [title, blurb] = &self.spots[doc];
        Highlight {
            title: mark(t.title(), title, &found.matched, 200),
            blurb: mark(t.blurb(), blurb, &found.matched, BLURB_CHARS),
        }
    }

    /// The services' places in a sort (made once per sort and currency, then kept).
    fn ranks(&self, sort: Sort, currency: Currency) -> Arc<Ranks> {
        let mut kept = self.ranks.lock().unwrap_or_else(|p| p.into_inner());
        kept.entry((sort, currency))
            .or_insert_with(|| {
                let mut order: Vec<u32> = (0..self.docs.len() as u32).collect();
                order.sort_by(|a, b| {
                    by_sort(
                        &self.docs[*a as usize],
                        &self.docs[*b as usize],
                        sort,
                        currency,
                    )
                });
                let mut rank = vec![0u32; order.len()];
                for (place, doc) in order.iter().enumerate() {
                    rank[*doc as usize] = place as u32;
                }
                Arc::new(Ranks { order, rank })
            })
            .clone()
    }

    fn stem(&self, word: &str) -> String {
        self.stemmer.stem(word).into_owned()
    }

    /// The services `query` finds, the most relevant first (ties in index order).
    pub fn search(&self, query: &str) -> Found {
        let mut typed: Vec<String> = words(query).map(|(_, w)| w).collect();
        // While typing, the last word is a prefix; after a space it is whole.
        let prefix_last = !query.ends_with(char::is_whitespace);
        if typed.iter().any(|w| !STOP_WORDS.contains(&w.as_str())) {
            let last = typed.len() - 1;
            typed = typed
                .into_iter()
                .enumerate()
                .filter(|(i, w)| !STOP_WORDS.contains(&w.as_str()) || (*i == last && prefix_last))
                .map(|(_, w)| w)
                .collect();
        }
        if typed.is_empty() {
            return Found::default();
        }
        // Scores are dense, a slot per service (0: no match): a few thousand floats a word is
        // cheaper than hashing as many entries.
        let mut best = vec![0f32; self.docs.len()];
        let mut matched = Vec::new();
        for alternative in self.synonyms.alternatives(&typed, &|w| self.stem(w)) {
            // The last word is a prefix only in the query as typed, not in a synonym.
            let as_typed = alternative == typed;
            let mut scores: Option<Vec<f32>> = None;
            let mut words_matched = Vec::new();
            for (n, word) in alternative.iter().enumerate() {
                let prefix = as_typed && prefix_last && n == alternative.len() - 1;
                let (term, found) = self.term(word, prefix);
                words_matched.extend(found);
                let sum = match scores {
                    None => term,
                    Some(mut so_far) => {
                        // Every word must match: a service without this one drops out.
                        for (total, s) in so_far.iter_mut().zip(&term) {
                            *total = if *s > 0.0 { *total + s } else { 0.0 };
                        }
                        so_far
                    }
                };
                let any = sum.iter().any(|s| *s > 0.0);
                scores = Some(sum);
                if !any {
                    break;
                }
            }
            let Some(scores) = scores.filter(|s| s.iter().any(|x| *x > 0.0)) else {
                continue;
            };
            matched.extend(words_matched);
            // A phrase counts as much as one word: "landing page" weighs as "website".
            let words = alternative.len() as f32;
            for (b, s) in best.iter_mut().zip(scores) {
                *b = b.max(s / words);
            }
        }
        // Counted first: grown as found, thousands of hits were copied a dozen times.
        let mut hits = Vec::with_capacity(best.iter().filter(|s| **s > 0.0).count());
        hits.extend(best.into_iter().enumerate().filter(|(_, s)| *s > 0.0));
        matched.sort_unstable();
        matched.dedup();
        Found { hits, matched }
    }

    /// Each service's best match for one query word, and the words it matched.
    fn term(&self, word: &str, prefix: bool) -> (Vec<f32>, Vec<u32>) {
        let mut candidates: Vec<(u32, Kind)> = Vec::new();
        if let Some(same) = self.stems.get(&self.stem(word)) {
            candidates.extend(same.iter().map(|w| (*w, Kind::Stem)));
        }
        if prefix {
            candidates.extend(
                self.ids
                    .range::<str, _>((std::ops::Bound::Included(word), std::ops::Bound::Unbounded))
                    .take_while(|(w, _)| w.starts_with(word))
                    .map(|(_, id)| (*id, Kind::Prefix)),
            );
        }
        let letters = word.chars().count();
        if letters >= TYPO_MIN_LETTERS && word.chars().any(char::is_alphabetic) {
            let typed: Vec<char> = word.chars().collect();
            for n in letters - 1..=letters + 1 {
                candidates.extend(
                    self.by_letters
                        .get(&n)
                        .into_iter()
                        .flatten()
                        .filter(|(_, chars)| one_edit_apart(chars, &typed))
                        .map(|(id, _)| (*id, Kind::Typo)),
                );
            }
        }
        let mut scores = vec![0f32; self.docs.len()];
        let mut matched = Vec::with_capacity(candidates.len());
        for (id, kind) in candidates {
            matched.push(id);
            for (doc, field) in &self.postings[id as usize] {
                let slot = &mut scores[*doc as usize];
                *slot = slot.max(field.weight() * kind.weight());
            }
        }
        (scores, matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(
        id: i64,
        title: &str,
        description: &str,
        tasks: &[&str],
    ) -> service_template::Model {
        let mut t = crate::catalog::bundles::tests::template(id, title, 10_000);
        t.description = description.into();
        t.default_tasks = serde_json::json!(
            tasks
                .iter()
                .map(|n| serde_json::json!({"name": n, "client_visible": true}))
                .collect::<Vec<_>>()
        );
        t
    }

    fn index(synonyms: &str) -> SearchIndex {
        SearchIndex::new(
            vec![
                template(
                    1,
                    "Logo Design",
                    "A distinctive logo in three concepts.",
                    &["Sketches"],
                ),
                template(
                    2,
                    "Brand Identity Package",
                    "Logos, colours and type for your brand.",
                    &[],
                ),
                template(
                    3,
                    "Landing Page Build",
                    "One page that converts.",
                    &["Launch"],
                ),
                template(4, "WordPress Website", "A full website on WordPress.", &[]),
                template(
                    5,
                    "SEO Audit",
                    "Find what keeps your site from ranking.",
                    &[],
                ),
            ],
            Synonyms::parse(synonyms).unwrap(),
        )
    }

    /// The titles `q` finds, the best first (ties in index order).
    fn titles(index: &SearchIndex, q: &str) -> Vec<String> {
        let mut hits = index.search(q).hits;
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.iter()
            .map(|(d, _)| index.doc(*d).title().to_string())
            .collect()
    }

    #[test]
    fn stems_typos_prefixes_and_synonyms_find_and_rank() {
        let i = index("website = web site = landing page");
        assert_eq!(
            titles(&i, "logos "),
            ["Logo Design", "Brand Identity Package"]
        );
        assert_eq!(titles(&i, "webiste "), ["WordPress Website"]);
        assert_eq!(titles(&i, "lan"), ["Landing Page Build"]);
        assert_eq!(
            titles(&i, "web site "),
            ["Landing Page Build", "WordPress Website"],
            "a phrase weighs as a word: both in their titles, then in index order"
        );
        assert_eq!(
            titles(&i, "launch"),
            ["Landing Page Build"],
            "a task's name"
        );
        assert!(
            titles(&i, "logo banana").is_empty(),
            "every word must match"
        );
        assert!(titles(&i, "the ").is_empty());
        assert!(titles(&i, "seo").contains(&"SEO Audit".to_string()));
        // A short word has no typo allowance.
        assert!(titles(&i, "lgo ").is_empty());
    }

    #[test]
    fn matches_are_marked_in_a_window_of_the_text_as_html() {
        let long = format!("{}and finally a <logo> here.", "word ".repeat(60));
        let i = SearchIndex::new(
            vec![template(1, "Logo & Design", &long, &[])],
            Synonyms::default(),
        );
        let found = i.search("logos ");
        let h = i.highlight(&found, 0);
        assert_eq!(h.title, "<mark>Logo</mark> &amp; Design");
        assert!(h.blurb.starts_with("…word "), "{}", h.blurb);
        assert!(
            h.blurb
                .ends_with("finally a &lt;<mark>logo</mark>&gt; here."),
            "{}",
            h.blurb
        );
        let shown = h.blurb.replace("<mark>", "").replace("</mark>", "");
        assert!(shown.len() < long.len(), "cut to a window: {shown}");
        let none = i.highlight(&i.search("design "), 0);
        assert_eq!(none.blurb.matches("<mark>").count(), 0, "{}", none.blurb);
        assert!(none.blurb.ends_with('…'), "cut at the end: {}", none.blurb);
    }

    #[test]
    fn one_edit_is_a_change_an_addition_a_removal_or_a_swap() {
        let apart = |a: &str, b: &str| {
            one_edit_apart(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert!(apart("website", "webiste"));
        assert!(apart("website", "websites"));
        assert!(apart("website", "webite"));
        assert!(apart("website", "wobsite"));
        assert!(!apart("website", "website"), "no edit");
        assert!(!apart("website", "wbesiet"));
        assert!(!apart("website", "webs"));
    }

    #[test]
    fn numbers_have_no_typos() {
        let i = SearchIndex::new(
            vec![template(1, "Annual Report 20245", "", &[])],
            Synonyms::default(),
        );
        assert!(titles(&i, "20246 ").is_empty());
        assert_eq!(titles(&i, "20245 "), ["Annual Report 20245"]);
        assert_eq!(
            titles(&i, "anual "),
            ["Annual Report 20245"],
            "words still do"
        );
    }

    #[test]
    fn synonyms_are_refused_by_line() {
        assert_eq!(
            Synonyms::parse("website = web site\nseo").unwrap_err(),
            "Line 2: write two or more words or phrases that mean the same, separated by = (website = web site)."
        );
        assert_eq!(Synonyms::parse("").unwrap(), Synonyms::default());
    }
}
