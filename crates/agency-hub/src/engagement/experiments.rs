//! A/B experiments on the store. An admin picks an element (the default sort, the cards'
//! call to action, the cards' review stars, a featured service at the top of the store), two or
//! more variants with their share of the traffic, and starts it; the first variant is the
//! control. Each client user sees one variant, the same every time: a hash of (experiment,
//! user) picks it, so every instance agrees without storing an assignment.
//!
//! Seeing the store while an experiment runs is an exposure, an `experiment_exposure` store
//! event naming the experiment and variant (once per person and instance an hour; the results
//! count people, not events). A conversion is an add to cart, a checkout started or a payment
//! by an exposed person after their first exposure and before the experiment stopped, read
//! from the same store events. The report compares each variant's conversion rate with the
//! control's: the uplift (relative to the control's rate) with a 95 % interval of the
//! difference of the rates (normal approximation, unpooled), and a two-sided two-proportion
//! z-test (pooled). Stopping keeps one variant (the winner) for everyone, or none (the store's
//! default again).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::activity::{self, Actor, Subject};
use crate::analytics::Kind;
use crate::catalog::store::Sort;
use crate::db::entities::{experiment, service_template, store_event};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::{TemplateId, UserId};

/// The most variants an experiment has (the form's rows).
pub const MAX_VARIANTS: usize = 4;
/// The longest call to action, in characters.
pub const MAX_CTA: usize = 30;
const RUNNING: &str = "running";
const STOPPED: &str = "stopped";

/// What an experiment changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Element {
    /// The store's order when the client has not chosen one.
    DefaultSort,
    /// The text of the cards' add-to-cart button.
    CtaText,
    /// The average stars on the cards, shown or hidden.
    ReviewStars,
    /// One service shown first, above the store's list.
    Featured,
}

impl Element {
    pub const ALL: [Self; 4] = [
        Self::DefaultSort,
        Self::CtaText,
        Self::ReviewStars,
        Self::Featured,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DefaultSort => "default_sort",
            Self::CtaText => "cta_text",
            Self::ReviewStars => "review_stars",
            Self::Featured => "featured_service",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == raw.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::DefaultSort => "The store's default sort order",
            Self::CtaText => "The cards' call to action",
            Self::ReviewStars => "Review stars on the cards",
            Self::Featured => "A featured service at the top",
        }
    }

    /// What a variant's value is, for the form.
    pub fn hint(self) -> &'static str {
        match self {
            Self::DefaultSort => "featured, price_asc, price_desc or name",
            Self::CtaText => "the button's text, e.g. Add to cart",
            Self::ReviewStars => "show or hide",
            Self::Featured => "a service's number or exact title, or none",
        }
    }
}

/// One variant: its name, its share of the people (percent) and what it sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub name: String,
    pub weight: u32,
    pub value: String,
}

/// What a variant's value sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    Sort(Sort),
    Cta(String),
    Stars(bool),
    Featured(Option<TemplateId>),
}

impl Setting {
    /// A value as typed in the form, checked; a featured service is one on sale, named by
    /// number or exact title (kept as its number).
    fn parse(
        element: Element,
        raw: &str,
        on_sale: &[service_template::Model],
    ) -> Result<Self, String> {
        let raw = raw.trim();
        match element {
            Element::DefaultSort => Sort::parse(raw)
                .ok()
                .filter(|_| !raw.is_empty())
                .map(Self::Sort)
                .ok_or_else(|| "Use featured, price_asc, price_desc or name.".to_string()),
            Element::CtaText => {
                let n = raw.chars().count();
                if n == 0 {
                    Err("Write the button's text.".into())
                } else if n > MAX_CTA {
                    Err(format!("Use at most {MAX_CTA} characters (this has {n})."))
                } else {
                    Ok(Self::Cta(raw.to_string()))
                }
            }
            Element::ReviewStars => match raw.to_lowercase().as_str() {
                "show" => Ok(Self::Stars(true)),
                "hide" => Ok(Self::Stars(false)),
                _ => Err("Use show or hide.".into()),
            },
            Element::Featured => {
                if raw.eq_ignore_ascii_case("none") {
                    return Ok(Self::Featured(None));
                }
                on_sale
                    .iter()
                    .find(|t| {
                        raw.parse::<i64>().is_ok_and(|id| t.id.get() == id)
                            || t.title().eq_ignore_ascii_case(raw)
                    })
                    .map(|t| Self::Featured(Some(t.id)))
                    .ok_or_else(|| {
                        format!("No service on sale is numbered or titled '{raw}' (or use none).")
                    })
            }
        }
    }

    /// A stored value (as [`Setting::value`] wrote it), read leniently: a stored value that no
    /// longer reads sets nothing.
    fn read(element: Element, raw: &str) -> Option<Self> {
        match element {
            Element::Featured if raw != "none" => raw
                .parse::<TemplateId>()
                .ok()
                .map(|id| Self::Featured(Some(id))),
            _ => Self::parse(element, raw, &[]).ok(),
        }
    }

    /// The value kept for it.
    fn value(&self) -> String {
        match self {
            Self::Sort(s) => s.as_str().into(),
            Self::Cta(t) => t.clone(),
            Self::Stars(true) => "show".into(),
            Self::Stars(false) => "hide".into(),
            Self::Featured(Some(id)) => id.to_string(),
            Self::Featured(None) => "none".into(),
        }
    }
}

/// The new-experiment form as typed: up to [`MAX_VARIANTS`] rows of variants.
#[derive(Clone, Debug, Default)]
pub struct ExperimentForm {
    pub name: String,
    pub element: String,
    /// (name, share, value) a row.
    pub variants: Vec<(String, String, String)>,
}

/// An experiment ready to start.
#[derive(Clone, Debug)]
pub struct ValidExperiment {
    pub name: String,
    pub element: Element,
    pub variants: Vec<Variant>,
}

impl ExperimentForm {
    /// Two rows of half the traffic each, and two empty.
    pub fn blank() -> Self {
        let mut variants = vec![
            ("A".into(), "50".into(), String::new()),
            ("B".into(), "50".into(), String::new()),
        ];
        variants.resize(MAX_VARIANTS, Default::default());
        Self {
            name: String::new(),
            element: String::new(),
            variants,
        }
    }

    /// From the form's fields: `name`, `element`, and `variant-{i}-name|weight|value`.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Self {
            name: get("name"),
            element: get("element"),
            variants: (0..MAX_VARIANTS)
                .map(|i| {
                    (
                        get(&format!("variant-{i}-name")),
                        get(&format!("variant-{i}-weight")),
                        get(&format!("variant-{i}-value")),
                    )
                })
                .collect(),
        }
    }

    /// Checks every field; a featured service must be one of `on_sale`.
    pub fn validate(
        &self,
        on_sale: &[service_template::Model],
    ) -> Result<ValidExperiment, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.name.trim().to_string();
        match name.chars().count() {
            0 => errors.add("name", "Name the experiment."),
            n if n > 80 => errors.add("name", format!("Use at most 80 characters (this has {n}).")),
            _ => {}
        }
        let element = Element::parse(&self.element);
        if element.is_none() {
            errors.add("element", "Choose what the experiment changes.");
        }
        let mut variants: Vec<Variant> = Vec::new();
        for (i, (vname, weight, value)) in self.variants.iter().enumerate() {
            let vname = vname.trim();
            if vname.is_empty() && value.trim().is_empty() {
                continue;
            }
            let field = |part: &str| format!("variant-{i}-{part}");
            if vname.is_empty() {
                errors.add(field("name"), "Name the variant.");
            } else if vname.chars().count() > 40 {
                errors.add(field("name"), "Use at most 40 characters.");
            } else if variants.iter().any(|v| v.name.eq_ignore_ascii_case(vname)) {
                errors.add(field("name"), "Another variant has this name.");
            }
            let share = weight
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|w| (1..=99).contains(w));
            if share.is_none() {
                errors.add(field("weight"), "Give a share from 1 to 99 (percent).");
            }
            let setting = element.map(|e| Setting::parse(e, value, on_sale));
            if let Some(Err(message)) = &setting {
                errors.add(field("value"), message.clone());
            }
            variants.push(Variant {
                name: vname.to_string(),
                weight: share.unwrap_or(0),
                value: match setting {
                    Some(Ok(s)) => s.value(),
                    _ => String::new(),
                },
            });
        }
        if variants.len() < 2 {
            errors.add(
                "variants",
                "Give two variants or more: the first is the control.",
            );
        } else if errors.is_empty() {
            let total: u32 = variants.iter().map(|v| v.weight).sum();
            if total != 100 {
                errors.add(
                    "variants",
                    format!("The shares add up to {total} %: make them 100 %."),
                );
            }
            let mut values: Vec<&str> = variants.iter().map(|v| v.value.as_str()).collect();
            values.sort_unstable();
            values.dedup();
            if values.len() < variants.len() {
                errors.add(
                    "variants",
                    "Two variants set the same value: make each differ.",
                );
            }
        }
        match element {
            Some(element) if errors.is_empty() => Ok(ValidExperiment {
                name,
                element,
                variants,
            }),
            _ => Err(errors),
        }
    }
}

/// An experiment as stored, read.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub row: experiment::Model,
    pub element: Element,
    pub variants: Vec<Variant>,
}

impl Experiment {
    fn of(row: experiment::Model) -> Option<Self> {
        let element = Element::parse(&row.element)?;
        let variants = serde_json::from_value(row.variants.clone()).ok()?;
        Some(Self {
            row,
            element,
            variants,
        })
    }

    pub fn running(&self) -> bool {
        self.row.status == RUNNING
    }

    /// The variant kept once it stopped.
    pub fn winner(&self) -> Option<&Variant> {
        let i = usize::try_from(self.row.winner?).ok()?;
        self.variants.get(i)
    }

    /// "Running since 2 December 2026" or "Stopped 3 December 2026, kept B".
    pub fn state(&self) -> String {
        let since = self.row.created_at.format("%-d %B %Y");
        match (self.row.stopped_at, self.winner()) {
            (None, _) => format!("Running since {since}"),
            (Some(at), Some(w)) => format!("Stopped {}, kept {}", at.format("%-d %B %Y"), w.name),
            (Some(at), None) => format!(
                "Stopped {}, back to the store's default",
                at.format("%-d %B %Y")
            ),
        }
    }
}

/// Starts an experiment; one already running on the element is a conflict named at the field.
pub async fn start<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    valid: ValidExperiment,
) -> AppResult<experiment::Model> {
    if let Some(other) = experiment::Entity::find()
        .filter(experiment::Column::Element.eq(valid.element.as_str()))
        .filter(experiment::Column::Status.eq(RUNNING))
        .one(conn)
        .await?
    {
        return Err(AppError::invalid(
            "element",
            format!(
                "The experiment '{}' is running on this element: stop it first.",
                other.name
            ),
        ));
    }
    let row = experiment::ActiveModel {
        name: Set(valid.name),
        element: Set(valid.element.as_str().into()),
        variants: Set(json!(valid.variants)),
        status: Set(RUNNING.into()),
        created_by: Set(actor.user_id()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    activity::record(
        conn,
        actor,
        "experiment.started",
        subject(row.id),
        json!({"name": row.name, "element": row.element, "variants": row.variants}),
    )
    .await?;
    Ok(row)
}

fn subject(id: i64) -> Subject<'static> {
    Subject {
        entity_type: "experiment",
        entity_id: id,
        client_id: None,
    }
}

/// Stops a running experiment, keeping variant `keep` for everyone (none: the default).
pub async fn stop<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: i64,
    keep: Option<usize>,
) -> AppResult<Experiment> {
    let mut found = get(conn, id).await?;
    if !found.running() {
        return Err(AppError::conflict("This experiment has stopped already."));
    }
    if keep.is_some_and(|k| k >= found.variants.len()) {
        return Err(AppError::invalid(
            "keep",
            "Choose one of the experiment's variants.",
        ));
    }
    let winner = keep.map(|k| k as i32);
    let now = Utc::now();
    let stopped = experiment::Entity::update_many()
        .col_expr(experiment::Column::Status, Expr::value(STOPPED))
        .col_expr(experiment::Column::Winner, Expr::value(winner))
        .col_expr(experiment::Column::StoppedAt, Expr::value(now))
        .filter(experiment::Column::Id.eq(id))
        .filter(experiment::Column::Status.eq(RUNNING))
        .exec(conn)
        .await?;
    if stopped.rows_affected == 0 {
        return Err(AppError::conflict("This experiment has stopped already."));
    }
    activity::record(
        conn,
        actor,
        "experiment.stopped",
        subject(id),
        json!({"kept": keep.and_then(|k| found.variants.get(k)).map(|v| &v.name)}),
    )
    .await?;
    // As written: no second read.
    found.row.status = STOPPED.into();
    found.row.winner = winner;
    found.row.stopped_at = Some(now);
    Ok(found)
}

/// One experiment (404 when there is none, or it no longer reads).
pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> AppResult<Experiment> {
    experiment::Entity::find_by_id(id)
        .one(conn)
        .await?
        .and_then(Experiment::of)
        .ok_or_else(AppError::not_found)
}

/// Every experiment, running ones first, then the newest.
pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<Experiment>, DbErr> {
    Ok(experiment::Entity::find()
        .order_by_desc(experiment::Column::Status.eq(RUNNING))
        .order_by_desc(experiment::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter_map(Experiment::of)
        .collect())
}

/// The variant a person sees: a hash of (experiment, user) into 100 slots, the variants'
/// shares taking them in order.
pub fn assign(experiment_id: i64, user_id: UserId, variants: &[Variant]) -> usize {
    let digest = Sha256::digest(format!("{experiment_id}:{}", user_id.get()).as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let slot = u64::from_be_bytes(first) % 100;
    let mut upto = 0u64;
    for (i, v) in variants.iter().enumerate() {
        upto += u64::from(v.weight);
        if slot < upto {
            return i;
        }
    }
    variants.len().saturating_sub(1)
}

/// How the store looks to one person: what running experiments and kept winners set, and
/// the running experiments' variants they were shown (exposures to record).
#[derive(Clone, Debug, Default)]
pub struct Look {
    /// The order when the client chose none.
    pub sort: Option<Sort>,
    /// The cards' button text (none: "Add to cart").
    pub cta: Option<String>,
    pub hide_stars: bool,
    pub featured: Option<TemplateId>,
    /// (experiment, variant) a running experiment.
    pub exposures: Vec<(i64, i32)>,
}

impl Look {
    fn set(&mut self, setting: Setting) {
        match setting {
            Setting::Sort(s) => self.sort = Some(s),
            Setting::Cta(t) => self.cta = Some(t),
            Setting::Stars(show) => self.hide_stars = !show,
            Setting::Featured(id) => self.featured = id,
        }
    }
}

/// The experiments that shape the store now: those running, and for other elements the
/// winner kept by the last one stopped.
#[derive(Debug, Default)]
pub struct Active {
    running: Vec<Experiment>,
    kept: HashMap<Element, Setting>,
}

impl Active {
    pub async fn read<C: ConnectionTrait>(conn: &C) -> Result<Self, DbErr> {
        let rows = experiment::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(experiment::Column::Status.eq(RUNNING))
                    .add(experiment::Column::Winner.is_not_null()),
            )
            .order_by_asc(experiment::Column::StoppedAt)
            .order_by_asc(experiment::Column::Id)
            .all(conn)
            .await?;
        let mut active = Self::default();
        for e in rows.into_iter().filter_map(Experiment::of) {
            if e.running() {
                active.running.push(e);
            } else if let Some(setting) =
                e.winner().and_then(|w| Setting::read(e.element, &w.value))
            {
                // The last stopped wins (in order of stopping).
                active.kept.insert(e.element, setting);
            }
        }
        Ok(active)
    }

    pub fn look(&self, user_id: UserId) -> Look {
        let mut look = Look::default();
        for (element, setting) in &self.kept {
            if !self.running.iter().any(|e| e.element == *element) {
                look.set(setting.clone());
            }
        }
        for e in &self.running {
            let i = assign(e.row.id, user_id, &e.variants);
            if let Some(setting) = Setting::read(e.element, &e.variants[i].value) {
                look.set(setting);
            }
            look.exposures.push((e.row.id, i as i32));
        }
        look
    }
}

/// What counts as converting, in the report's order.
pub const GOALS: [(Kind, &str); 3] = [
    (Kind::AddToCart, "Added to cart"),
    (Kind::CheckoutStarted, "Started checkout"),
    (Kind::Paid, "Paid"),
];

/// One variant's figures: people exposed, and how many of them reached each goal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arm {
    pub name: String,
    pub weight: u32,
    pub users: u64,
    pub converted: [u64; 3],
}

#[derive(Debug, FromQueryResult)]
struct Exposed {
    user_id: i64,
    variant: i32,
    first_at: DateTime<Utc>,
}

#[derive(Debug, FromQueryResult)]
struct Reached {
    user_id: i64,
    kind: String,
    last_at: DateTime<Utc>,
}

/// Each variant's people and conversions, in two indexed reads: the exposed people with their
/// variant and first exposure, then the goals those people reached while it ran (a goal
/// counts when its latest time in that span is after the person's first exposure).
pub async fn results<C: ConnectionTrait>(conn: &C, e: &Experiment) -> Result<Vec<Arm>, DbErr> {
    let exposed: Vec<Exposed> = store_event::Entity::find()
        .select_only()
        .column(store_event::Column::UserId)
        .column_as(store_event::Column::Variant.min(), "variant")
        .column_as(store_event::Column::At.min(), "first_at")
        .filter(store_event::Column::ExperimentId.eq(e.row.id))
        .filter(store_event::Column::UserId.is_not_null())
        .group_by(store_event::Column::UserId)
        .into_model()
        .all(conn)
        .await?;
    let until = e.row.stopped_at.unwrap_or_else(Utc::now);
    let reached: Vec<Reached> = store_event::Entity::find()
        .select_only()
        .column(store_event::Column::UserId)
        .column(store_event::Column::Kind)
        .column_as(store_event::Column::At.max(), "last_at")
        .filter(store_event::Column::Kind.is_in(GOALS.map(|(k, _)| k.as_str())))
        .filter(store_event::Column::At.gte(e.row.created_at))
        .filter(store_event::Column::At.lte(until))
        .filter(
            store_event::Column::UserId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(store_event::Column::UserId)
                    .from(store_event::Entity)
                    .and_where(store_event::Column::ExperimentId.eq(e.row.id))
                    .to_owned(),
            ),
        )
        .group_by(store_event::Column::UserId)
        .group_by(store_event::Column::Kind)
        .into_model()
        .all(conn)
        .await?;
    let mut arms: Vec<Arm> = e
        .variants
        .iter()
        .map(|v| Arm {
            name: v.name.clone(),
            weight: v.weight,
            users: 0,
            converted: [0; 3],
        })
        .collect();
    let mut first: HashMap<i64, (usize, DateTime<Utc>)> = HashMap::new();
    for x in exposed {
        let Some(arm) = usize::try_from(x.variant).ok().filter(|v| *v < arms.len()) else {
            continue;
        };
        arms[arm].users += 1;
        first.insert(x.user_id, (arm, x.first_at));
    }
    for r in reached {
        let Some((arm, at)) = first.get(&r.user_id) else {
            continue;
        };
        let Some(goal) = GOALS.iter().position(|(k, _)| k.as_str() == r.kind) else {
            continue;
        };
        if r.last_at >= *at {
            arms[*arm].converted[goal] += 1;
        }
    }
    Ok(arms)
}

/// A variant against the control on one goal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// The variant's rate less the control's.
    pub difference: f64,
    /// The difference relative to the control's rate (none when the control's is 0).
    pub uplift: Option<f64>,
    /// The 95 % interval of the difference.
    pub low: f64,
    pub high: f64,
    pub z: f64,
    /// Two-sided.
    pub p: f64,
}

/// The two-proportion comparison of `arm` (users, converted) with `control`; none when either
/// has no one, or neither rate varies (everyone or no one converted in both).
pub fn compare(control: (u64, u64), arm: (u64, u64)) -> Option<Comparison> {
    let ((n0, x0), (n1, x1)) = (control, arm);
    if n0 == 0 || n1 == 0 {
        return None;
    }
    let (n0f, n1f) = (n0 as f64, n1 as f64);
    let (p0, p1) = (x0 as f64 / n0f, x1 as f64 / n1f);
    let pooled = (x0 + x1) as f64 / (n0f + n1f);
    let pooled_se = (pooled * (1.0 - pooled) * (1.0 / n0f + 1.0 / n1f)).sqrt();
    if pooled_se == 0.0 {
        return None;
    }
    let difference = p1 - p0;
    let se = (p0 * (1.0 - p0) / n0f + p1 * (1.0 - p1) / n1f).sqrt();
    // The normal distribution's 97.5th percentile.
    const Z95: f64 = 1.959_963_984_540_054;
    let z = difference / pooled_se;
    Some(Comparison {
        difference,
        uplift: (p0 > 0.0).then(|| difference / p0),
        low: difference - Z95 * se,
        high: difference + Z95 * se,
        z,
        // P(|Z| ≥ |z|) = erfc(|z| / √2).
        p: libm::erfc(z.abs() / std::f64::consts::SQRT_2),
    })
}

/// "12.34 %" (a rate as a percentage, two decimals).
pub fn percent(x: f64) -> String {
    format!("{:.2} %", x * 100.0)
}

/// "+1.20 pts" (a difference of rates, in percentage points).
pub fn points(x: f64) -> String {
    format!("{:+.2} pts", x * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(weights: &[u32]) -> Vec<Variant> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| Variant {
                name: format!("V{i}"),
                weight: *w,
                value: format!("v{i}"),
            })
            .collect()
    }

    #[test]
    fn assignment_is_sticky_and_follows_the_shares() {
        let v = variants(&[20, 80]);
        let mut counts = [0u32; 2];
        for u in 1..=10_000 {
            let a = assign(7, UserId(u), &v);
            assert_eq!(a, assign(7, UserId(u), &v), "the same every time");
            counts[a] += 1;
        }
        // 2,000 expected in the first: well within four standard deviations (40).
        assert!((1_840..=2_160).contains(&counts[0]), "{counts:?}");
        // Another experiment splits the same people differently.
        let moved = (1..=1_000)
            .filter(|u| assign(7, UserId(*u), &v) != assign(8, UserId(*u), &v))
            .count();
        assert!(moved > 200, "{moved}");
    }

    #[test]
    fn the_z_test_and_interval_match_the_textbook() {
        // 100 of 1,000 against 150 of 1,000 (checked with Python's math.erfc).
        let c = compare((1_000, 100), (1_000, 150)).unwrap();
        assert!((c.difference - 0.05).abs() < 1e-12);
        assert!((c.uplift.unwrap() - 0.5).abs() < 1e-12);
        assert!((c.z - 3.380_617_018_914_065).abs() < 1e-9, "{}", c.z);
        assert!((c.p - 0.000_723_232_716_430_2).abs() < 1e-12, "{}", c.p);
        assert!((c.low - 0.021_094_683_992_369_6).abs() < 1e-12, "{}", c.low);
        assert!(
            (c.high - 0.078_905_316_007_630_4).abs() < 1e-12,
            "{}",
            c.high
        );
        assert_eq!(compare((0, 0), (10, 1)), None);
        assert_eq!(compare((10, 0), (10, 0)), None, "nothing varies");
    }

    #[test]
    fn the_form_names_each_mistake() {
        let on_sale = vec![crate::catalog::bundles::tests::template(
            3,
            "Logo Design",
            100,
        )];
        let mut f = ExperimentForm::blank();
        f.name = "Featured logo".into();
        f.element = "featured_service".into();
        f.variants[0].2 = "none".into();
        f.variants[1].2 = "logo design".into();
        let valid = f.validate(&on_sale).unwrap();
        assert_eq!(valid.variants[1].value, "3", "kept by number");
        f.variants[1].2 = "Banana".into();
        f.variants[1].1 = "60".into();
        let errors = f.validate(&on_sale).unwrap_err();
        assert!(errors.get("variant-1-value").unwrap().contains("Banana"));
        f.variants[1].2 = "3".into();
        let errors = f.validate(&on_sale).unwrap_err();
        assert_eq!(
            errors.get("variants"),
            Some("The shares add up to 110 %: make them 100 %.")
        );
        f.element = "cta_text".into();
        f.variants[1].1 = "50".into();
        f.variants[0].2 = "Add to cart".into();
        f.variants[1].2 = "add to cart".into();
        assert!(f.validate(&on_sale).is_ok(), "the text differs in case");
        f.variants[1].2 = "Add to cart".into();
        assert!(f.validate(&on_sale).unwrap_err().get("variants").is_some());
    }
}
