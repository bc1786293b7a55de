//! A credit note: what one refund gave back on an invoiced order, under its own number.

use sea_orm::entity::prelude::*;

use crate::ids::OrderId;
use crate::money::Currency;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "credit_notes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub order_id: OrderId,
    #[sea_orm(unique)]
    pub number: String,
    pub amount_minor: i64,
    pub currency: Currency,
    pub created_at: DateTimeUtc,
}

impl Model {
    pub fn money(&self) -> crate::money::Money {
        crate::money::Money::new(self.amount_minor, self.currency)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
