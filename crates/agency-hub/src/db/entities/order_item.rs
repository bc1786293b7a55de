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
