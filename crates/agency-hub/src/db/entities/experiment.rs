//! An A/B experiment on a store element: its variants and whether it still runs.

use sea_orm::entity::prelude::*;

use crate::ids::UserId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "experiments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// Which element it changes (`engagement::experiments::Element`).
    pub element: String,
    /// `[{"name", "weight", "value"}]`, the first the control.
    pub variants: Json,
    /// `running` or `stopped`.
    pub status: String,
    /// The variant kept for everyone once stopped (none: the store's default).
    pub winner: Option<i32>,
    pub created_by: Option<UserId>,
    pub created_at: DateTimeUtc,
    pub stopped_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
