//! A Stripe invoice of a subscription. A paid one is a period: its tasks are made once, in the
//! transaction that sets `tasks_made_at`.

use sea_orm::entity::prelude::*;

use crate::ids::SubscriptionId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "subscription_invoices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub subscription_id: SubscriptionId,
    pub stripe_invoice_id: String,
    pub number: Option<String>,
    pub billing_reason: Option<String>,
    /// draft, open, paid, void or uncollectible.
    pub status: String,
    pub currency: String,
    pub amount_due: i64,
    pub amount_paid: i64,
    pub refunded_minor: i64,
    pub period_start: DateTimeUtc,
    pub period_end: DateTimeUtc,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub stripe_charge_id: Option<String>,
    pub attempt_count: i32,
    pub paid_at: Option<DateTimeUtc>,
    pub tasks_made_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
