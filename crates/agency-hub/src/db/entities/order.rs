//! An order: what a client company bought in one checkout, and where its payment stands.

use sea_orm::entity::prelude::*;

use crate::money::Currency;

use crate::ids::{ClientId, OrderId, UserId};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Paid by a method that settles later.
    #[sea_orm(string_value = "PROCESSING")]
    Processing,
    /// Paid and provisioned.
    #[sea_orm(string_value = "COMPLETED")]
    Completed,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
}

impl OrderStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Processing,
        Self::Completed,
        Self::Cancelled,
        Self::Refunded,
    ];

    /// The one place order moves are decided; anything else (an expiry after payment, say) is
    /// recorded and ignored.
    pub fn can_move_to(self, to: Self) -> bool {
        use OrderStatus::*;
        matches!(
            (self, to),
            (Pending, Processing | Completed | Cancelled)
                | (Processing, Completed | Cancelled)
                | (Completed, Refunded)
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Cancelled => "CANCELLED",
            Self::Refunded => "REFUNDED",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Awaiting payment",
            Self::Processing => "Payment processing",
            Self::Completed => "Paid",
            Self::Cancelled => "Cancelled",
            Self::Refunded => "Refunded",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "PROCESSING")]
    Processing,
    #[sea_orm(string_value = "SUCCEEDED")]
    Succeeded,
    #[sea_orm(string_value = "FAILED")]
    Failed,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
    #[sea_orm(string_value = "REFUNDED")]
    Refunded,
}

impl PaymentStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::Refunded,
    ];

    pub fn can_move_to(self, to: Self) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, to),
            (Pending, Processing | Succeeded | Failed | Cancelled)
                | (Processing, Succeeded | Failed)
                | (Succeeded, Refunded)
        )
    }

    /// In words, for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Not paid yet",
            Self::Processing => "Processing",
            Self::Succeeded => "Paid",
            Self::Failed => "Failed",
            Self::Cancelled => "Cancelled",
            Self::Refunded => "Refunded",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Refunded => "REFUNDED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: OrderId,
    #[sea_orm(unique)]
    pub order_number: String,
    pub client_id: ClientId,
    pub user_id: Option<UserId>,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub currency: Currency,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub refunded_minor: i64,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub payment_method: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    /// Our invoice's number (`INV-2026-000123`), given when a one-time payment succeeds.
    pub invoice_number: Option<String>,
    /// The promotion code applied in our cart (`SPRING24`).
    pub promotion_code: Option<String>,
    /// The tax ID the buyer gave at checkout (a VAT number, say).
    pub customer_tax_id: Option<String>,
    pub review_reason: Option<String>,
    pub notes: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// An amount of this order's currency (templates pass references, code passes values).
    pub fn money(&self, minor: impl std::borrow::Borrow<i64>) -> crate::money::Money {
        crate::money::Money::new(*minor.borrow(), self.currency)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::order_item::Entity")]
    Items,
}

impl Related<super::order_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Items.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_move_is_decided() {
        use OrderStatus::*;
        let allowed = [
            (Pending, Processing),
            (Pending, Completed),
            (Pending, Cancelled),
            (Processing, Completed),
            (Processing, Cancelled),
            (Completed, Refunded),
        ];
        for a in OrderStatus::ALL {
            for b in OrderStatus::ALL {
                assert_eq!(
                    a.can_move_to(b),
                    allowed.contains(&(a, b)),
                    "{a:?} -> {b:?}"
                );
            }
        }
        assert!(
            !Completed.can_move_to(Cancelled),
            "an expiry after payment changes nothing"
        );
    }

    #[test]
    fn every_payment_move_is_decided() {
        use PaymentStatus::*;
        let allowed = [
            (Pending, Processing),
            (Pending, Succeeded),
            (Pending, Failed),
            (Pending, Cancelled),
            (Processing, Succeeded),
            (Processing, Failed),
            (Succeeded, Refunded),
        ];
        for a in PaymentStatus::ALL {
            for b in PaymentStatus::ALL {
                assert_eq!(
                    a.can_move_to(b),
                    allowed.contains(&(a, b)),
                    "{a:?} -> {b:?}"
                );
            }
        }
    }
}
