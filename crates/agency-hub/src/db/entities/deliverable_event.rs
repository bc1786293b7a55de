//! One step of a deliverable's history: shared, approved, or sent back with a comment.

use sea_orm::entity::prelude::*;

use super::file::DeliverableState;
use crate::ids::{FileId, ServiceId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliverable_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub file_id: FileId,
    pub service_id: ServiceId,
    /// The state it moved to.
    pub action: DeliverableState,
    pub comment: String,
    pub actor_id: Option<UserId>,
    pub actor_name: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
