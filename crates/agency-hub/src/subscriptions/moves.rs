//! Moving a template's running subscriptions to its new Price when the admin asks (Stripe's
//! `proration_behavior=none`: the new price is charged from each one's next period).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{apply, lock, subject};
use crate::activity::{self, Actor};
use crate::db::Db;
use crate::db::entities::{service_template, subscription};
use crate::ids::TemplateId;
use crate::jobs::Job;
use crate::stripe::StripeClient;
use crate::stripe::client::SubscriptionChange;

/// Subscriptions moved per page.
const PAGE: u64 = 100;

/// Moves each running subscription of the template whose price differs from the template's
/// synced Price (same currency and period: Stripe cannot move a subscription to another
/// period without proration). Run again after a failure, it skips those already moved.
#[derive(Debug, Serialize, Deserialize)]
pub struct MoveToPrice {
    pub template_id: TemplateId,
}

impl Job for MoveToPrice {
    const KIND: &'static str = "subscriptions.move_to_price";
    type Env = (Db, StripeClient);

    async fn run(self, (db, stripe): &(Db, StripeClient), _attempt: i32) -> anyhow::Result<()> {
        let Some(t) = service_template::Entity::find_by_id(self.template_id)
            .one(db)
            .await?
        else {
            return Ok(());
        };
        let (Some(price), Some(amount), Some(currency), Some(interval)) = (
            t.stripe_price_id.clone(),
            t.stripe_price_minor,
            t.stripe_price_currency,
            t.stripe_price_interval.clone(),
        ) else {
            return Ok(());
        };
        let count = t.stripe_price_interval_count.unwrap_or(1);
        let mut after = None;
        loop {
            let mut q = subscription::Entity::find()
                .filter(subscription::Column::TemplateId.eq(t.id))
                .filter(subscription::Column::Status.is_in(["trialing", "active", "past_due"]))
                .filter(subscription::Column::Currency.eq(currency.code()))
                .filter(subscription::Column::Interval.eq(interval.as_str()))
                .filter(subscription::Column::IntervalCount.eq(count))
                .filter(subscription::Column::UnitAmountMinor.ne(amount))
                .filter(subscription::Column::StripeItemId.is_not_null())
                .order_by_asc(subscription::Column::Id)
                .limit(PAGE);
            if let Some(last) = after {
                q = q.filter(subscription::Column::Id.gt(last));
            }
            let page = q.all(db).await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.id);
            for sub in page {
                let change = SubscriptionChange::Price {
                    item: sub.stripe_item_id.clone().unwrap_or_default(),
                    price: price.clone(),
                };
                let snapshot = stripe
                    .change_subscription(
                        &sub.stripe_subscription_id,
                        &change,
                        &format!("move-{}-{price}", sub.id),
                    )
                    .await?;
                let txn = db.write().await?;
                if let Some(current) = lock(&txn, &sub.stripe_subscription_id).await? {
                    let updated = apply(&txn, current, &snapshot, None).await?;
                    activity::record(
                        &txn,
                        &Actor::System,
                        "subscription.price_moved",
                        subject(&updated),
                        json!({
                            "price": price, "from_minor": sub.unit_amount_minor,
                            "to_minor": updated.unit_amount_minor,
                        }),
                    )
                    .await?;
                }
                txn.commit().await?;
            }
        }
    }
}
