//! A line of an order: the service and its price as they were at purchase.

use sea_orm::entity::prelude::*;

use crate::ids::{OrderId, OrderItemId, TemplateId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: OrderItemId,
    pub order_id: OrderId,
    pub template_id: TemplateId,
    pub service_name: String,
    pub unit_price_minor: i64,
    pub quantity: i32,
    pub total_minor: i64,
    /// The billing terms as bought (`None`: one-time).
    pub billing_interval: Option<String>,
    pub billing_interval_count: i32,
    pub trial_days: i32,
    pub setup_fee_minor: i64,
    /// The template's questions as asked, with their answers (`catalog::Intake`).
    pub intake: Json,
    /// The template's tax code at purchase.
    pub tax_code: Option<String>,
    /// What Stripe computed for the line (its setup fee line included), read after payment:
    /// its share of the discount, its tax, and that tax by rate (`invoicing::LineTax`).
    pub discount_minor: i64,
    pub tax_minor: i64,
    pub taxes: Json,
    /// For a bundle, its parts as bought (`catalog::bundles::Part`s): a service is made for
    /// each unit of each part. Empty for any other line.
    pub parts: Json,
}

impl Model {
    pub fn billing(&self) -> crate::catalog::Billing {
        crate::catalog::Billing::from_columns(
            self.billing_interval.as_deref(),
            self.billing_interval_count,
            self.trial_days,
            self.setup_fee_minor,
        )
    }

    pub fn intake(&self) -> crate::catalog::Intake {
        crate::catalog::Intake::from_json(&self.intake)
    }

    /// A bundle's parts as bought (none for any other line).
    pub fn parts(&self) -> Vec<crate::catalog::bundles::PartOf> {
        serde_json::from_value(self.parts.clone()).unwrap_or_default()
    }

    pub fn is_recurring(&self) -> bool {
        self.billing_interval.is_some()
    }

    /// A recurring item's terms in the store's words ("$298.00 today, then $298.00 every
    /// month"); `None` for a one-time item.
    pub fn terms(&self, currency: &crate::money::Currency) -> Option<String> {
        self.billing().describe(
            crate::money::Money::new(self.unit_price_minor, *currency),
            u32::try_from(self.quantity).unwrap_or(1),
        )
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::order::Entity",
        from = "Column::OrderId",
        to = "super::order::Column::Id"
    )]
    Order,
}

impl Related<super::order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
