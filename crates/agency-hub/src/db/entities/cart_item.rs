//! A line of a cart: a service template and a quantity, with the price it had when added.

use sea_orm::entity::prelude::*;

use crate::money::Currency;

use crate::ids::TemplateId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cart_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub cart_id: i64,
    pub template_id: TemplateId,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub currency: Currency,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The answers to the template's before-payment questions, by question id.
    pub answers: Json,
}

impl Model {
    pub fn answers(&self) -> crate::catalog::Answers {
        serde_json::from_value(self.answers.clone()).unwrap_or_default()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::cart::Entity",
        from = "Column::CartId",
        to = "super::cart::Column::Id"
    )]
    Cart,
}

impl Related<super::cart::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Cart.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
