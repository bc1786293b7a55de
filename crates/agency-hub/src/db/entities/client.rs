//! A client company: the agency's customer, whose users are CLIENT users.

use sea_orm::entity::prelude::*;

use crate::ids::ClientId;
use crate::money::Currency;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clients")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ClientId,
    pub name: String,
    pub billing_email: Option<String>,
    pub notes: String,
    pub stripe_customer_id: Option<String>,
    /// What the company's people see prices in and pay.
    pub billing_currency: Currency,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::user::Entity")]
    Users,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
