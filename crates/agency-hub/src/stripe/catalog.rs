//! Catalog sync: each purchasable template gets a Stripe Product and Price (recurring for a
//! recurring template). Prices are immutable, so a new amount, currency or period makes a new
//! Price and archives the old one; a template
//! that leaves the store deactivates its Product. It runs as a job, so a Stripe outage never
//! blocks saving a template; the admin sees the sync state and the last error.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use super::StripeClient;
use crate::db::Db;
use crate::db::entities::service_template;
use crate::ids::TemplateId;
use crate::jobs::{Enqueue, Job};

/// The job that brings Stripe's Product and Price in line with the template as it is now.
#[derive(Debug, Serialize, Deserialize)]
pub struct SyncTemplate {
    pub template_id: TemplateId,
    /// This sync's attempt id, in its idempotency keys: the job run again after a failure
    /// finds the objects it made, a later sync makes new ones. (A job queued before attempt
    /// ids existed gets one when it is read.)
    #[serde(default = "super::client::new_attempt")]
    pub attempt: String,
    /// Then move the template's running subscriptions to its Price (the admin asked).
    #[serde(default)]
    pub move_subscriptions: bool,
}

impl Job for SyncTemplate {
    const KIND: &'static str = "stripe.sync_template";
    type Env = (Db, StripeClient);

    async fn run(self, (db, stripe): &(Db, StripeClient), _attempt: i32) -> anyhow::Result<()> {
        let id = self.template_id;
        let Some(t) = service_template::Entity::find_by_id(id).one(db).await? else {
            return Ok(());
        };
        match sync(db, stripe, &t, &self.attempt).await {
            Ok(()) => {
                record(db, id, "synced", None).await?;
                if self.move_subscriptions && t.billing().recurring().is_some() {
                    Enqueue::job(&crate::subscriptions::MoveToPrice { template_id: id })
                        .insert(db)
                        .await?;
                }
                Ok(())
            }
            Err(e) => {
                record(db, id, "failed", Some(e.to_string())).await?;
                Err(e)
            }
        }
    }
}

/// Queues the sync of a template that is on sale, or has a Product to update;
/// `move_subscriptions`: then moves its running subscriptions to its Price.
pub async fn enqueue_sync_if_needed<C: ConnectionTrait>(
    conn: &C,
    t: &service_template::Model,
    move_subscriptions: bool,
) -> Result<(), DbErr> {
    if t.on_sale() || t.stripe_product_id.is_some() {
        enqueue(conn, t.id, move_subscriptions).await?;
    }
    Ok(())
}

/// Queues a sync of the template in the caller's transaction and marks it pending.
async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    template_id: TemplateId,
    move_subscriptions: bool,
) -> Result<(), DbErr> {
    service_template::Entity::update_many()
        .col_expr(
            service_template::Column::StripeSyncStatus,
            Expr::value("pending"),
        )
        .filter(service_template::Column::Id.eq(template_id))
        .exec(conn)
        .await?;
    Enqueue::job(&SyncTemplate {
        template_id,
        attempt: super::client::new_attempt(),
        move_subscriptions,
    })
    .insert(conn)
    .await?;
    Ok(())
}

/// The template's Stripe Product, made now if there is none yet (by the sync, or by a coupon
/// limited to the template, which needs it before the sync has run), with `attempt` in its
/// idempotency key. Two callers at once may each make one: the first id stored wins, both use
/// it, and the other Product stays at Stripe unused.
pub async fn product_of(
    db: &Db,
    stripe: &StripeClient,
    t: &service_template::Model,
    attempt: &str,
) -> Result<String, super::StripeError> {
    if let Some(p) = &t.stripe_product_id {
        return Ok(p.clone());
    }
    let made = stripe
        .create_product(attempt, t.id, t.title(), t.blurb(), t.tax_code.as_deref())
        .await?
        .id;
    let stored = async {
        service_template::Entity::update_many()
            .col_expr(
                service_template::Column::StripeProductId,
                Expr::value(Some(made.clone())),
            )
            .filter(service_template::Column::Id.eq(t.id))
            .filter(service_template::Column::StripeProductId.is_null())
            .exec(db)
            .await?;
        service_template::Entity::find_by_id(t.id)
            .one(db)
            .await
            .map(|t| t.and_then(|t| t.stripe_product_id))
    }
    .await
    .map_err(|e| super::StripeError::Decode(format!("storing the product: {e}")))?;
    Ok(stored.unwrap_or(made))
}

async fn record(db: &Db, id: TemplateId, status: &str, error: Option<String>) -> Result<(), DbErr> {
    service_template::Entity::update_many()
        .col_expr(
            service_template::Column::StripeSyncStatus,
            Expr::value(status),
        )
        .col_expr(
            service_template::Column::StripeSyncError,
            Expr::value(error),
        )
        .filter(service_template::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

async fn sync(
    db: &Db,
    stripe: &StripeClient,
    t: &service_template::Model,
    attempt: &str,
) -> anyhow::Result<()> {
    if !t.on_sale() {
        if let Some(product) = &t.stripe_product_id {
            stripe
                .update_product(product, t.title(), false, t.tax_code.as_deref())
                .await?;
        }
        return Ok(());
    }
    let product = match &t.stripe_product_id {
        Some(p) => {
            stripe
                .update_product(p, t.title(), true, t.tax_code.as_deref())
                .await?;
            p.clone()
        }
        None => product_of(db, stripe, t, attempt).await?,
    };
    let price = t.price();
    let billing = t.billing();
    let recurring = billing.recurring().map(|r| (r.interval.as_str(), r.count));
    let count = recurring.map(|(_, c)| c as i32);
    let current = t.stripe_price_minor == Some(price.minor)
        && t.stripe_price_currency == Some(price.currency)
        && t.stripe_price_interval.as_deref() == billing.interval()
        && (recurring.is_none() || t.stripe_price_interval_count == count)
        && t.stripe_price_id.is_some();
    if !current {
        let new_price = stripe
            .create_price(
                attempt,
                t.id,
                &product,
                price.minor,
                price.currency.code(),
                recurring,
            )
            .await?
            .id;
        service_template::Entity::update_many()
            .col_expr(
                service_template::Column::StripePriceId,
                Expr::value(Some(new_price)),
            )
            .col_expr(
                service_template::Column::StripePriceMinor,
                Expr::value(Some(price.minor)),
            )
            .col_expr(
                service_template::Column::StripePriceCurrency,
                Expr::value(Some(price.currency)),
            )
            .col_expr(
                service_template::Column::StripePriceInterval,
                Expr::value(billing.interval()),
            )
            .col_expr(
                service_template::Column::StripePriceIntervalCount,
                Expr::value(count),
            )
            .filter(service_template::Column::Id.eq(t.id))
            .exec(db)
            .await?;
        if let Some(old) = &t.stripe_price_id {
            stripe.archive_price(old).await?;
        }
    }
    Ok(())
}
