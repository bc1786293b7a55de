//! A recurring order item's subscription: its Stripe ids, its status and current period as
//! Stripe last told us, and the one service it runs.

use sea_orm::entity::prelude::*;

use crate::ids::{ClientId, OrderId, OrderItemId, ServiceId, SubscriptionId, TemplateId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscriptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: SubscriptionId,
    pub client_id: ClientId,
    pub template_id: TemplateId,
    pub order_id: OrderId,
    pub order_item_id: OrderItemId,
    pub service_id: Option<ServiceId>,
    pub stripe_subscription_id: String,
    pub stripe_customer_id: Option<String>,
    pub stripe_item_id: Option<String>,
    /// Stripe's status: trialing, active, past_due, unpaid, canceled, paused, incomplete…
    pub status: String,
    pub quantity: i32,
    pub unit_amount_minor: i64,
    pub currency: String,
    pub interval: String,
    pub interval_count: i32,
    pub current_period_start: Option<DateTimeUtc>,
    pub current_period_end: Option<DateTimeUtc>,
    pub trial_end: Option<DateTimeUtc>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub pause_behavior: Option<String>,
    pub default_payment_method: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub last_event_at: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// Payment is overdue: Stripe could not collect the latest invoice.
    pub fn overdue(&self) -> bool {
        matches!(self.status.as_str(), "past_due" | "unpaid")
    }

    /// A paid invoice makes it active again: it was overdue, or its first payment was pending.
    pub fn revived_by_payment(&self) -> bool {
        self.overdue() || self.status == "incomplete"
    }

    pub fn ended(&self) -> bool {
        self.status == "canceled"
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
