//! Store analytics: each step of the store journey recorded as it happens, for the metrics
//! dashboard.

pub mod charts;
pub mod dashboard;
mod views;

pub use views::Views;

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};
use serde_json::{Value, json};

use crate::db::entities::store_event;
use crate::ids::{ClientId, TemplateId, UserId};
use crate::money::Money;

/// What happened in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    StoreView,
    ProductView,
    Search,
    AddToCart,
    RemoveFromCart,
    /// An order and its Checkout Session were made.
    CheckoutStarted,
    /// An order was paid (and provisioned).
    Paid,
    /// A payment was declined or a bank debit failed.
    PaymentFailed,
    /// A Checkout Session expired unpaid.
    CheckoutExpired,
    /// Money went back (the amount of this refund).
    Refunded,
    /// A subscription's renewal invoice was paid (its amount).
    RenewalPaid,
    /// The recurring part of a subscription's paid invoice, its first included (of the money
    /// in `Paid` and `RenewalPaid`).
    RecurringPaid,
    /// A subscription started, for a client who had none that ended before.
    SubscriptionStarted,
    /// A subscription started, for a client one of whose subscriptions had ended.
    SubscriptionReactivated,
    /// A subscription ended (churn).
    SubscriptionEnded,
    /// A client saved a service for later (its wishlist).
    Saved,
    /// A client wrote or rewrote a review.
    Reviewed,
    /// A client was shown a running experiment's variant (the store).
    Exposure,
}

impl Kind {
    pub const ALL: [Self; 18] = [
        Self::StoreView,
        Self::ProductView,
        Self::Search,
        Self::AddToCart,
        Self::RemoveFromCart,
        Self::CheckoutStarted,
        Self::Paid,
        Self::PaymentFailed,
        Self::CheckoutExpired,
        Self::Refunded,
        Self::RenewalPaid,
        Self::RecurringPaid,
        Self::SubscriptionStarted,
        Self::SubscriptionReactivated,
        Self::SubscriptionEnded,
        Self::Saved,
        Self::Reviewed,
        Self::Exposure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StoreView => "store_view",
            Self::ProductView => "product_view",
            Self::Search => "search",
            Self::AddToCart => "add_to_cart",
            Self::RemoveFromCart => "remove_from_cart",
            Self::CheckoutStarted => "checkout_started",
            Self::Paid => "paid",
            Self::PaymentFailed => "payment_failed",
            Self::CheckoutExpired => "checkout_expired",
            Self::Refunded => "refunded",
            Self::RenewalPaid => "renewal_paid",
            Self::RecurringPaid => "recurring_paid",
            Self::SubscriptionStarted => "subscription_started",
            Self::SubscriptionReactivated => "subscription_reactivated",
            Self::SubscriptionEnded => "subscription_ended",
            Self::Saved => "saved",
            Self::Reviewed => "reviewed",
            Self::Exposure => "experiment_exposure",
        }
    }
}

/// Records that the store was browsed (and searched, with how many results).
pub async fn record_browse(
    views: &Views,
    client_id: Option<ClientId>,
    user_id: UserId,
    search: &str,
    results: u64,
) {
    views
        .record(Event::new(Kind::StoreView, client_id, Some(user_id)))
        .await;
    if !search.is_empty() {
        views
            .record(
                Event::new(Kind::Search, client_id, Some(user_id))
                    .details(json!({"query": search, "results": results})),
            )
            .await;
    }
}

/// One event; the optional parts are set with the builder methods.
#[derive(Clone, Debug)]
pub struct Event {
    kind: Kind,
    client_id: Option<ClientId>,
    user_id: Option<UserId>,
    template_id: Option<TemplateId>,
    quantity: Option<i32>,
    amount: Option<Money>,
    details: Value,
    at: Option<chrono::DateTime<Utc>>,
    /// An exposure's experiment and variant.
    experiment: Option<(i64, i32)>,
}

impl Event {
    pub fn new(kind: Kind, client_id: Option<ClientId>, user_id: Option<UserId>) -> Self {
        Self {
            kind,
            client_id,
            user_id,
            template_id: None,
            quantity: None,
            amount: None,
            details: json!({}),
            at: None,
            experiment: None,
        }
    }

    pub fn template(mut self, id: TemplateId) -> Self {
        self.template_id = Some(id);
        self
    }

    pub fn quantity(mut self, n: i32) -> Self {
        self.quantity = Some(n);
        self
    }

    pub fn amount(mut self, m: Money) -> Self {
        self.amount = Some(m);
        self
    }

    /// The experiment and variant an exposure is of.
    pub fn experiment(mut self, id: i64, variant: i32) -> Self {
        self.experiment = Some((id, variant));
        self
    }

    /// When it happened, if not now (imports, tests).
    pub fn at(mut self, at: chrono::DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// The order it is about (kept in the details).
    pub fn order(self, order: &crate::db::entities::order::Model) -> Self {
        let amount = order.money(order.total_minor);
        self.amount(amount)
            .details(json!({"order_id": order.id, "order_number": order.order_number}))
    }

    pub fn details(mut self, d: Value) -> Self {
        self.details = d;
        self
    }

    /// Writes it now, in the caller's transaction (a view goes through [`Views`] instead).
    pub async fn record<C: ConnectionTrait>(self, conn: &C) -> Result<(), DbErr> {
        Self::record_many(conn, vec![self]).await
    }

    /// Records several events in one statement a chunk.
    pub async fn record_many<C: ConnectionTrait>(conn: &C, events: Vec<Self>) -> Result<(), DbErr> {
        let rows: Vec<store_event::ActiveModel> = events.into_iter().map(Self::row).collect();
        for chunk in rows.chunks(crate::db::ROWS_PER_INSERT) {
            store_event::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(conn)
                .await?;
        }
        Ok(())
    }

    fn row(self) -> store_event::ActiveModel {
        store_event::ActiveModel {
            kind: Set(self.kind.as_str().to_string()),
            client_id: Set(self.client_id),
            user_id: Set(self.user_id),
            template_id: Set(self.template_id),
            quantity: Set(self.quantity),
            amount_minor: Set(self.amount.map(|m| m.minor)),
            currency: Set(self.amount.map(|m| m.currency)),
            details: Set(self.details),
            at: Set(self.at.unwrap_or_else(Utc::now)),
            experiment_id: Set(self.experiment.map(|e| e.0)),
            variant: Set(self.experiment.map(|e| e.1)),
            ..Default::default()
        }
    }
}
