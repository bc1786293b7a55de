//! A message on a service's conversation, or a staff-only internal note.

use sea_orm::entity::prelude::*;

use crate::ids::{MessageId, ServiceId, UserId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: MessageId,
    pub service_id: ServiceId,
    pub author_id: UserId,
    pub author_name: String,
    pub from_staff: bool,
    /// Markdown-lite source (rendered by `conversations::markup`).
    pub body: String,
    /// Staff only: never in a client's query.
    pub internal: bool,
    pub created_at: DateTimeUtc,
    pub edited_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
