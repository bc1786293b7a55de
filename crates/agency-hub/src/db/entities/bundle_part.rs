//! One part of a bundle: another template, bought this many times with each bundle.

use sea_orm::entity::prelude::*;

use crate::ids::TemplateId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bundle_parts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bundle_id: TemplateId,
    pub template_id: TemplateId,
    pub quantity: i32,
    /// The order the parts are shown in.
    pub position: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
