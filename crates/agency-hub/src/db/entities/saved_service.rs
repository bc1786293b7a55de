//! A service a client company saved for later (its wishlist is the company's).

use sea_orm::entity::prelude::*;

use crate::ids::{ClientId, TemplateId, UserId};
use crate::money::Currency;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "saved_services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub client_id: ClientId,
    pub template_id: TemplateId,
    /// Who saved it.
    pub user_id: Option<UserId>,
    /// Its price when saved, in the company's currency then.
    pub price_minor: i64,
    pub currency: Currency,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
