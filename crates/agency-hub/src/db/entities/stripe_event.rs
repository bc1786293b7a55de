//! A Stripe event as received: the dedupe record and the audit log of every delivery.

use sea_orm::entity::prelude::*;

use crate::ids::OrderId;

/// The outcome of a delivery being handled (in the transaction of its work).
pub const RECEIVED: &str = "received";
/// The outcome of an event whose handling failed (and was rolled back).
pub const FAILED: &str = "failed";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stripe_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_type: String,
    pub order_id: Option<OrderId>,
    /// What handling it did (`fulfilled`, `refunded`, `ignored`…), or `failed` (with `error` and
    /// the `payload` to run it again).
    pub outcome: String,
    pub error: Option<String>,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    pub payload: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
