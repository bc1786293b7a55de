//! The store's pages, categories and services served from memory while the catalogue is
//! unchanged. Any write to `service_templates` bumps `catalog_version.version` in its own
//! transaction (database triggers, so no write path can forget it, on any instance). A task
//! reads that one row every [`CHECK_EVERY`] and drops what was kept when the number moved, so
//! another instance's change shows here within a second; this instance's own changes call
//! [`StoreCache::changed`], which reads it at once. A request reads no database row to know
//! what it may serve.
//!
//! What a request keeps it keeps under the version it saw before reading: if the catalogue
//! moved meanwhile, the check has replaced that version and the page is not kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

use axum::body::Bytes;
use sea_orm::{ConnectionTrait, DbErr, Statement};

use super::bundles::Bundles;
use super::search::{Highlight, SearchIndex};
use super::store::{self, StoreQuery};
use crate::db::Db;
use crate::db::entities::service_template;
use crate::engagement::reviews;
use crate::error::AppResult;
use crate::ids::TemplateId;

/// Pages (one per query string) kept at most; past it the map starts again.
const MAX_PAGES: usize = 2_000;
/// Searches' pages kept at most: a search is answered from the index in well under a
/// millisecond, so only the latest few (what many people type alike) are kept, and no stream
/// of different queries fills memory.
const MAX_SEARCHES: usize = 256;
/// The most reviews a service's page shows.
pub const REVIEWS_SHOWN: u64 = 50;
/// How often the catalogue's version is read.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);

pub type Page = Arc<Listing>;

/// Inserts into a map kept to `max` entries: when it is full, one entry (any) makes room, and
/// is returned to be freed by the caller.
fn insert_bounded<K: std::hash::Hash + Eq + Clone, V>(
    map: &mut HashMap<K, V>,
    max: usize,
    key: K,
    value: V,
) -> Option<V> {
    let evicted = if map.len() >= max && !map.contains_key(&key) {
        let any = map.keys().next().cloned();
        any.and_then(|k| map.remove(&k))
    } else {
        None
    };
    map.insert(key, value);
    evicted
}

/// One page of the store, and what is made from it once while it is kept.
pub struct Listing {
    /// Shared with the search index or read for this page: a page holds no copies.
    pub items: Vec<Arc<service_template::Model>>,
    /// How many match in all.
    pub total: u64,
    /// For a search, each item's matches marked (in the items' order); empty otherwise.
    pub highlights: Vec<Highlight>,
    /// The API's answer for this page, serialised by the first request that needs it.
    pub json: OnceLock<Bytes>,
}

#[derive(Clone)]
pub struct StoreCache {
    db: Db,
    kept: Arc<Mutex<Kept>>,
}

#[derive(Default)]
struct Kept {
    /// The version last read (`None` before the first read: nothing is kept yet).
    version: Option<i64>,
    /// Reads of the version started, and the latest whose answer was taken: an answer that
    /// arrives after a later read's is older, and is not taken.
    reads: u64,
    taken: u64,
    pages: HashMap<StoreQuery, Page>,
    searches: HashMap<StoreQuery, Page>,
    categories: Option<Arc<Vec<String>>>,
    /// The search index of this version, made by the first search that needs it.
    search: Option<Arc<tokio::sync::OnceCell<Arc<SearchIndex>>>>,
    bundles: Option<Arc<Bundles>>,
    /// Services' published reviews, by order (approving, hiding or replying moves the version).
    reviews: HashMap<(TemplateId, reviews::Order), Arc<Vec<reviews::Shown>>>,
    services: HashMap<TemplateId, Option<Arc<service_template::Model>>>,
}

impl StoreCache {
    /// A cache over `db`, with the task that checks its version on `checks` (the same
    /// database; a handle whose statements are not counted as requests'). The task ends with
    /// the cache.
    pub async fn start(db: Db, checks: Db) -> Self {
        let kept = Arc::default();
        if let Err(e) = read_version(&checks, &kept).await {
            tracing::warn!(error = %e, "the catalogue's version could not be read");
        }
        tokio::spawn(check_version(checks, Arc::downgrade(&kept)));
        Self { db, kept }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        lock(&self.kept)
    }

    /// This instance changed the catalogue: read the version now, so the next request
    /// shows the change. If the read fails, everything kept is dropped instead.
    pub async fn changed(&self) {
        if let Err(e) = read_version(&self.db, &self.kept).await {
            tracing::warn!(error = %e, "the catalogue's version could not be read: the store's cache is dropped");
            drop_all(&self.kept);
        }
    }

    /// The version to keep what is read now under.
    fn version(&self) -> Option<i64> {
        self.kept().version
    }

    /// Keeps what was read at `version`, unless the catalogue moved on meanwhile.
    fn keep(&self, version: Option<i64>, put: impl FnOnce(&mut Kept)) {
        let mut kept = self.kept();
        if version.is_some() && kept.version == version {
            put(&mut kept);
        }
    }

    /// One page of the store and how many match (as `store::list`).
    pub async fn list(&self, q: &StoreQuery) -> AppResult<Page> {
        let version = self.version();
        let searching = !q.search.trim().is_empty();
        {
            let kept = self.kept();
            let map = if searching {
                &kept.searches
            } else {
                &kept.pages
            };
            if let Some(page) = map.get(q) {
                return Ok(page.clone());
            }
        }
        let (items, total, highlights) = if !searching {
            let (items, total) = store::list(&self.db, q).await?;
            (items.into_iter().map(Arc::new).collect(), total, Vec::new())
        } else {
            self.search_index().await?.page(q, store::PER_PAGE)
        };
        let page = Arc::new(Listing {
            items,
            total,
            highlights,
            json: OnceLock::new(),
        });
        let mut evicted = None;
        self.keep(version, |kept| {
            let (map, max) = if searching {
                (&mut kept.searches, MAX_SEARCHES)
            } else {
                (&mut kept.pages, MAX_PAGES)
            };
            evicted = insert_bounded(map, max, q.clone(), page.clone());
        });
        // A page holds its services by `Arc`: the one that made room is freed here, after the
        // lock, in a few microseconds.
        drop(evicted);
        Ok(page)
    }

    /// The categories with something on sale (as `store::categories`).
    pub async fn categories(&self) -> AppResult<Arc<Vec<String>>> {
        let version = self.version();
        if let Some(c) = &self.kept().categories {
            return Ok(c.clone());
        }
        let categories = Arc::new(store::categories(&self.db).await?);
        self.keep(version, |kept| kept.categories = Some(categories.clone()));
        Ok(categories)
    }

    /// The search index of what is on sale now, made once per catalogue version (one query for
    /// the services, one for the agency's synonyms), by the first search; others wait for it.
    pub async fn search_index(&self) -> AppResult<Arc<SearchIndex>> {
        // The cell belongs to this version's kept things: a change drops it with them.
        let cell = self
            .kept()
            .search
            .get_or_insert_with(Default::default)
            .clone();
        let index = cell
            .get_or_try_init(|| async {
                let started = std::time::Instant::now();
                let templates = store::all_on_sale(&self.db).await?;
                let synonyms = crate::agency::synonyms(&self.db).await?;
                let index = SearchIndex::new(templates, synonyms);
                tracing::debug!(
                    services = index.len(),
                    took_ms = started.elapsed().as_millis() as u64,
                    "search index made"
                );
                Ok::<_, crate::error::AppError>(Arc::new(index))
            })
            .await?;
        Ok(index.clone())
    }

    /// A service's published reviews in `order`, at most [`REVIEWS_SHOWN`].
    pub async fn reviews(
        &self,
        id: TemplateId,
        order: reviews::Order,
    ) -> AppResult<Arc<Vec<reviews::Shown>>> {
        let version = self.version();
        if let Some(r) = self.kept().reviews.get(&(id, order)) {
            return Ok(r.clone());
        }
        let shown = Arc::new(reviews::published(&self.db, id, order, REVIEWS_SHOWN).await?);
        self.keep(version, |kept| {
            insert_bounded(&mut kept.reviews, MAX_PAGES, (id, order), shown.clone());
        });
        Ok(shown)
    }

    /// Every bundle's parts (as `Bundles::load`).
    pub async fn bundles(&self) -> AppResult<Arc<Bundles>> {
        let version = self.version();
        if let Some(b) = &self.kept().bundles {
            return Ok(b.clone());
        }
        let bundles = Arc::new(Bundles::load(&self.db, None).await?);
        self.keep(version, |kept| kept.bundles = Some(bundles.clone()));
        Ok(bundles)
    }

    /// A service on sale, or the store's 404 (as `store::get_on_sale`).
    pub async fn get_on_sale(&self, id: TemplateId) -> AppResult<Arc<service_template::Model>> {
        let version = self.version();
        let kept = self.kept().services.get(&id).cloned();
        let found = match kept {
            Some(found) => found,
            None => {
                let found = match store::get_on_sale(&self.db, id).await {
                    Ok(t) => Some(Arc::new(t)),
                    Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => None,
                    Err(e) => return Err(e),
                };
                self.keep(version, |kept| {
                    insert_bounded(&mut kept.services, MAX_PAGES, id, found.clone());
                });
                found
            }
        };
        found.ok_or_else(store::not_in_store)
    }
}

/// Moves the catalogue's version on in the caller's transaction, for a change the store shows
/// that is not a template's (whose writes move it by trigger): every instance drops what it
/// kept.
pub async fn bump_version<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    conn.execute_raw(Statement::from_string(
        conn.get_database_backend(),
        "UPDATE catalog_version SET version = version + 1 WHERE id = 1",
    ))
    .await?;
    Ok(())
}

fn lock(kept: &Mutex<Kept>) -> MutexGuard<'_, Kept> {
    kept.lock().unwrap_or_else(|p| p.into_inner())
}

fn drop_all(kept: &Mutex<Kept>) {
    let mut kept = lock(kept);
    *kept = Kept {
        reads: kept.reads,
        taken: kept.taken,
        ..Kept::default()
    };
}

/// Reads the catalogue's version; what was kept for another version is dropped.
async fn read_version(db: &Db, kept: &Mutex<Kept>) -> Result<(), DbErr> {
    let read = {
        let mut kept = lock(kept);
        kept.reads += 1;
        kept.reads
    };
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM catalog_version WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("catalog_version".into()))?;
    let version: i64 = row.try_get("", "version")?;
    let mut kept = lock(kept);
    if read > kept.taken {
        kept.taken = read;
        if kept.version != Some(version) {
            *kept = Kept {
                version: Some(version),
                reads: kept.reads,
                taken: read,
                ..Kept::default()
            };
        }
    }
    Ok(())
}

async fn check_version(db: Db, kept: Weak<Mutex<Kept>>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tick.tick().await;
        let Some(kept) = kept.upgrade() else { return };
        match read_version(&db, &kept).await {
            Ok(()) => failing = false,
            Err(e) => {
                // Serving what was kept while the database is out would show a catalogue
                // that may have changed: drop it (requests read the database, and fail).
                drop_all(&kept);
                if !failing {
                    tracing::warn!(error = %e, "the catalogue's version could not be read");
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_makes_room_one_entry_at_a_time() {
        let mut map = HashMap::new();
        for i in 0..3 {
            assert_eq!(insert_bounded(&mut map, 3, i, i * 10), None);
        }
        assert_eq!(
            insert_bounded(&mut map, 3, 1, 11),
            None,
            "a key kept is replaced"
        );
        let evicted = insert_bounded(&mut map, 3, 7, 70);
        assert!(evicted.is_some());
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&7), Some(&70));
    }
}
