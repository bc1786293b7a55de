//! Webhook health: is Stripe still talking to us, and did anything go wrong? Shown on the admin
//! dashboard and the orders page, so a webhook that stopped arriving is seen within minutes.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::entities::order::{self, OrderStatus};
use crate::db::entities::stripe_event::{self, FAILED};
use crate::db::entities::{order_item, service};

/// How far back paid orders are checked for their services.
pub const PAID_WINDOW_DAYS: i64 = 30;
const LIMIT: u64 = 20;

#[derive(Clone, Debug, Default)]
pub struct WebhookHealth {
    pub last_event_at: Option<DateTime<Utc>>,
    /// Events whose handling failed (newest first, at most 20), and how many in all.
    pub failed: Vec<stripe_event::Model>,
    pub failed_count: u64,
    /// Orders paid in the last 30 days that have no service.
    pub unprovisioned: Vec<order::Model>,
    /// Orders held for a review (Stripe's amount did not match, or paid after cancelling).
    pub flagged: Vec<order::Model>,
}

impl WebhookHealth {
    pub fn has_problems(&self) -> bool {
        self.failed_count > 0 || !self.unprovisioned.is_empty() || !self.flagged.is_empty()
    }

    /// "3 minutes ago", for the last event.
    pub fn last_event_ago(&self) -> Option<String> {
        let ago = Utc::now() - self.last_event_at?;
        Some(match ago {
            a if a < Duration::minutes(1) => "less than a minute ago".into(),
            a if a < Duration::hours(1) => format!("{} min ago", a.num_minutes()),
            a if a < Duration::days(1) => format!("{} h ago", a.num_hours()),
            a => format!("{} days ago", a.num_days()),
        })
    }
}

/// Reads the health in five indexed queries.
pub async fn webhook_health<C: ConnectionTrait>(conn: &C) -> Result<WebhookHealth, DbErr> {
    let last_event_at = stripe_event::Entity::find()
        .select_only()
        .column(stripe_event::Column::ReceivedAt)
        .order_by_desc(stripe_event::Column::ReceivedAt)
        .limit(1)
        .into_tuple::<DateTime<Utc>>()
        .one(conn)
        .await?;
    let failed_q = stripe_event::Entity::find().filter(stripe_event::Column::Outcome.eq(FAILED));
    let failed_count = failed_q.clone().count(conn).await?;
    let failed = failed_q
        .order_by_desc(stripe_event::Column::ReceivedAt)
        .limit(LIMIT)
        .all(conn)
        .await?;
    let unprovisioned = order::Entity::find()
        .filter(order::Column::PaidAt.gte(Utc::now() - Duration::days(PAID_WINDOW_DAYS)))
        .filter(order::Column::Status.eq(OrderStatus::Completed))
        .filter(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(order_item::Entity)
                    .inner_join(
                        service::Entity,
                        Expr::col((service::Entity, service::Column::OrderItemId))
                            .equals((order_item::Entity, order_item::Column::Id)),
                    )
                    .and_where(
                        Expr::col((order_item::Entity, order_item::Column::OrderId))
                            .equals((order::Entity, order::Column::Id)),
                    )
                    .to_owned(),
            )
            .not(),
        )
        .order_by_desc(order::Column::PaidAt)
        .limit(LIMIT)
        .all(conn)
        .await?;
    // Ordered by the flag itself so that SQLite reads its index (ordered by date, it would
    // scan every order for the few flagged); the newest shown first.
    let mut flagged = order::Entity::find()
        .filter(order::Column::ReviewReason.is_not_null())
        .order_by_asc(order::Column::ReviewReason)
        .limit(200)
        .all(conn)
        .await?;
    flagged.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    flagged.truncate(LIMIT as usize);
    Ok(WebhookHealth {
        last_event_at,
        failed,
        failed_count,
        unprovisioned,
        flagged,
    })
}
