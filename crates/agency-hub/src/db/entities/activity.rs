//! One recorded change: who (a user, or the system) did what to which entity, for which client.

use sea_orm::entity::prelude::*;

use crate::ids::{ClientId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub actor_user_id: Option<UserId>,
    /// The actor's name when it happened ("System" for the system).
    pub actor_name: String,
    /// What happened, as `entity.verb`: `service.created`, `task.status_changed`, …
    pub action: String,
    pub entity_type: String,
    pub entity_id: i64,
    pub client_id: Option<ClientId>,
    pub details: Json,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
