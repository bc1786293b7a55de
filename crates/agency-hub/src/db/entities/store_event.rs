//! A tracked step of the store journey, for the store's metrics.

use sea_orm::entity::prelude::*;

use crate::money::Currency;

use crate::ids::{ClientId, TemplateId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "store_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub kind: String,
    pub client_id: Option<ClientId>,
    pub user_id: Option<UserId>,
    pub template_id: Option<TemplateId>,
    pub quantity: Option<i32>,
    pub amount_minor: Option<i64>,
    pub currency: Option<Currency>,
    pub details: Json,
    /// An exposure's experiment and the variant shown.
    pub experiment_id: Option<i64>,
    pub variant: Option<i32>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
