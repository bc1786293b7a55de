//! Bundles: a store item made of other templates, each bought a number of times with it, sold
//! at the bundle's own price. A template is a bundle when it has parts (`bundle_parts`). A
//! part is a one-time service that is not itself a bundle; a bundle is one-time and brings no
//! tasks or questions of its own: buying one makes a service of each unit of each part, with
//! that part's tasks and questions (see `orders::fulfil`).

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};

use crate::db::entities::{bundle_part, service_template};
use crate::error::{AppResult, FieldErrors};
use crate::ids::TemplateId;
use crate::money::{Currency, Money};

/// The most of one part a bundle holds.
pub const MAX_PART_QUANTITY: i32 = 20;
/// The most parts a bundle has.
pub const MAX_PARTS: usize = 20;

/// A part as saved and as an order line keeps it: which template, how many a bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartOf {
    pub template_id: TemplateId,
    pub quantity: i32,
}

/// A part with its template.
#[derive(Clone, Debug)]
pub struct Part {
    pub template: service_template::Model,
    pub quantity: i32,
}

impl Part {
    /// "Logo Design" or "Social Media Kit × 2".
    pub fn label(&self) -> String {
        if self.quantity == 1 {
            self.template.title().to_string()
        } else {
            format!("{} × {}", self.template.title(), self.quantity)
        }
    }
}

/// Bundles' parts, by bundle, in their order.
#[derive(Debug, Default)]
pub struct Bundles(HashMap<TemplateId, Vec<Part>>);

impl Bundles {
    /// Every bundle's parts (`only`: just these templates'), in two queries.
    pub async fn load<C: ConnectionTrait>(
        conn: &C,
        only: Option<&[TemplateId]>,
    ) -> Result<Self, DbErr> {
        let mut q = bundle_part::Entity::find()
            .order_by_asc(bundle_part::Column::BundleId)
            .order_by_asc(bundle_part::Column::Position);
        if let Some(ids) = only {
            q = q.filter(bundle_part::Column::BundleId.is_in(ids.iter().copied()));
        }
        let rows = q.all(conn).await?;
        if rows.is_empty() {
            return Ok(Self::default());
        }
        let ids: HashSet<TemplateId> = rows.iter().map(|r| r.template_id).collect();
        let templates = super::by_id(conn, ids).await?;
        let mut bundles: HashMap<TemplateId, Vec<Part>> = HashMap::new();
        for row in rows {
            if let Some(t) = templates.get(&row.template_id) {
                bundles.entry(row.bundle_id).or_default().push(Part {
                    template: t.clone(),
                    quantity: row.quantity,
                });
            }
        }
        Ok(Self(bundles))
    }

    /// The parts of `id`: none when it is not a bundle.
    pub fn parts(&self, id: TemplateId) -> &[Part] {
        self.0.get(&id).map_or(&[], Vec::as_slice)
    }

    pub fn is_bundle(&self, id: TemplateId) -> bool {
        !self.parts(id).is_empty()
    }

    /// What the parts cost one by one in `currency`: `None` for a template that is not a
    /// bundle, or when a part has no price there.
    pub fn worth(&self, id: TemplateId, currency: Currency) -> Option<Money> {
        let parts = self.parts(id);
        if parts.is_empty() {
            return None;
        }
        let mut sum = 0i64;
        for p in parts {
            let each = p.template.price_in(currency)?.minor;
            sum = sum.checked_add(each.checked_mul(i64::from(p.quantity))?)?;
        }
        Some(Money::new(sum, currency))
    }

    /// "Worth $1,250.00 separately: save $210.00", when the bundle costs less than its parts.
    pub fn saving(&self, bundle: &service_template::Model, currency: Currency) -> Option<String> {
        let worth = self.worth(bundle.id, currency)?;
        let price = bundle.price_in(currency)?;
        (worth.minor > price.minor).then(|| {
            format!(
                "Worth {worth} separately: save {}",
                Money::new(worth.minor - price.minor, currency)
            )
        })
    }

    /// "Bundle of 3 services: Logo Design, Website × 2", for a bundle.
    pub fn summary(&self, id: TemplateId) -> Option<String> {
        let parts = self.parts(id);
        if parts.is_empty() {
            return None;
        }
        let services: i32 = parts.iter().map(|p| p.quantity).sum();
        let names: Vec<String> = parts.iter().map(Part::label).collect();
        Some(format!(
            "Bundle of {services} service{}: {}",
            if services == 1 { "" } else { "s" },
            names.join(", ")
        ))
    }

    /// The parts as an order line keeps them.
    pub fn parts_of(&self, id: TemplateId) -> Vec<PartOf> {
        self.parts(id)
            .iter()
            .map(|p| PartOf {
                template_id: p.template.id,
                quantity: p.quantity,
            })
            .collect()
    }
}

/// The bundles `template_id` is part of, by name.
pub async fn containing<C: ConnectionTrait>(
    conn: &C,
    template_id: TemplateId,
) -> Result<Vec<service_template::Model>, DbErr> {
    let ids: Vec<TemplateId> = bundle_part::Entity::find()
        .filter(bundle_part::Column::TemplateId.eq(template_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.bundle_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(ids))
        .order_by_asc(service_template::Column::Name)
        .all(conn)
        .await
}

/// The names of `bundles`, quoted and joined: "“Brand Starter” and “Launch Pack”".
pub fn names(bundles: &[service_template::Model]) -> String {
    let quoted: Vec<String> = bundles.iter().map(|b| format!("“{}”", b.name)).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Locks the parts' rows against a change of their keys until the transaction ends, before the
/// transaction writes a template (PostgreSQL; SQLite has one writer). A template's write moves
/// the catalogue's version (a trigger), and the Stripe sync changes a part's Stripe ids (keys: they
/// are unique) and then moves the version too: taking the parts first, as the sync does, keeps
/// the two from waiting on each other when the parts' references are checked.
pub async fn lock_parts<C: ConnectionTrait>(conn: &C, parts: &[PartOf]) -> Result<(), DbErr> {
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::LockType;
    if parts.is_empty() || conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    service_template::Entity::find()
        .select_only()
        .column(service_template::Column::Id)
        .filter(service_template::Column::Id.is_in(parts.iter().map(|p| p.template_id)))
        .lock(LockType::KeyShare)
        .into_tuple::<TemplateId>()
        .all(conn)
        .await?;
    Ok(())
}

/// Saves `bundle`'s parts (replacing those it had) after checking them against the
/// catalogue: each part exists, is one-time, is not a bundle or the bundle itself, and is not
/// archived (unless it was a part already); a bundle is not a part of another. Errors name the
/// form's row (`part-{i}-template`). A template that is part of a bundle can't become
/// recurring either (`billing`).
pub async fn save_parts<C: ConnectionTrait>(
    conn: &C,
    bundle: &service_template::Model,
    parts: &[PartOf],
) -> AppResult<()> {
    let mut errors = FieldErrors::default();
    let holders = containing(conn, bundle.id).await?;
    if !holders.is_empty() {
        if !parts.is_empty() {
            errors.add(
                "parts",
                format!(
                    "This service is part of {}: a bundle can't be part of another bundle.",
                    names(&holders)
                ),
            );
        }
        if bundle.billing_interval.is_some() {
            errors.add(
                "billing",
                format!(
                    "This service is part of {}, which is bought once: it must stay one-time.",
                    names(&holders)
                ),
            );
        }
    }
    let before: Vec<bundle_part::Model> = bundle_part::Entity::find()
        .filter(bundle_part::Column::BundleId.eq(bundle.id))
        .all(conn)
        .await?;
    let ids: Vec<TemplateId> = parts.iter().map(|p| p.template_id).collect();
    let templates = super::by_id(conn, ids.iter().copied()).await?;
    let nested: HashSet<TemplateId> = bundle_part::Entity::find()
        .filter(bundle_part::Column::BundleId.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.bundle_id)
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let field = format!("part-{i}-template");
        let Some(t) = templates.get(&part.template_id) else {
            errors.add(field, "Choose a service from the list.");
            continue;
        };
        let problem = if t.id == bundle.id {
            Some("A bundle can't contain itself.".to_string())
        } else if nested.contains(&t.id) {
            Some(format!("{} is a bundle: add its services instead.", t.name))
        } else if t.billing_interval.is_some() {
            Some(format!(
                "{} is recurring: a bundle holds one-time services only.",
                t.name
            ))
        } else if t.archived_at.is_some() && !before.iter().any(|b| b.template_id == t.id) {
            Some(format!("{} is archived: restore it first.", t.name))
        } else {
            None
        };
        if let Some(problem) = problem {
            errors.add(field, problem);
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    if before
        .iter()
        .map(|b| PartOf {
            template_id: b.template_id,
            quantity: b.quantity,
        })
        .eq(parts.iter().copied())
    {
        return Ok(());
    }
    bundle_part::Entity::delete_many()
        .filter(bundle_part::Column::BundleId.eq(bundle.id))
        .exec(conn)
        .await?;
    if !parts.is_empty() {
        bundle_part::Entity::insert_many(parts.iter().enumerate().map(|(i, p)| {
            bundle_part::ActiveModel {
                bundle_id: Set(bundle.id),
                template_id: Set(p.template_id),
                quantity: Set(p.quantity),
                position: Set(i as i32),
                ..Default::default()
            }
        }))
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn template(id: i64, name: &str, price: i64) -> service_template::Model {
        service_template::Model {
            id: TemplateId(id),
            name: name.into(),
            description: String::new(),
            category: "Design".into(),
            default_tasks: serde_json::json!([]),
            archived_at: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            is_purchasable: true,
            price_minor: price,
            currency: Currency::USD,
            store_title: String::new(),
            store_description: String::new(),
            store_images: serde_json::json!([]),
            max_quantity: 1,
            sort_order: 0,
            stripe_product_id: None,
            stripe_price_id: None,
            stripe_price_minor: None,
            stripe_price_currency: None,
            stripe_sync_status: "none".into(),
            stripe_sync_error: None,
            billing_interval: None,
            billing_interval_count: 1,
            trial_days: 0,
            setup_fee_minor: 0,
            stripe_price_interval: None,
            stripe_price_interval_count: None,
            questions: serde_json::json!([]),
            prices: serde_json::json!({}),
            tax_code: None,
            review_count: 0,
            rating_sum: 0,
        }
    }

    #[test]
    fn a_bundle_is_worth_its_parts_and_says_what_it_saves() {
        let bundle = template(1, "Brand Starter", 100_000);
        let bundles = Bundles(HashMap::from([(
            bundle.id,
            vec![
                Part {
                    template: template(2, "Logo Design", 50_000),
                    quantity: 1,
                },
                Part {
                    template: template(3, "Social Kit", 30_000),
                    quantity: 2,
                },
            ],
        )]));
        assert_eq!(
            bundles.worth(bundle.id, Currency::USD),
            Some(Money::new(110_000, Currency::USD))
        );
        assert_eq!(
            bundles.saving(&bundle, Currency::USD).as_deref(),
            Some("Worth $1,100.00 separately: save $100.00")
        );
        assert_eq!(
            bundles.summary(bundle.id).as_deref(),
            Some("Bundle of 3 services: Logo Design, Social Kit × 2")
        );
        // No price in EUR for a part: no worth, no saving claimed.
        assert_eq!(bundles.worth(bundle.id, Currency::EUR), None);
        assert_eq!(bundles.saving(&bundle, Currency::EUR), None);
        assert!(!bundles.is_bundle(TemplateId(2)));
    }
}
