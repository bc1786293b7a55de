//! A file on a service: its name, sniffed type, size and where its bytes are kept.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::ids::{FileId, MessageId, ServiceId, UserId};

/// A deliverable's state: shared with the client, then approved or sent back.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
#[serde(rename_all = "snake_case")]
pub enum DeliverableState {
    #[sea_orm(string_value = "shared")]
    Shared,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "changes_requested")]
    ChangesRequested,
}

impl DeliverableState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Approved => "approved",
            Self::ChangesRequested => "changes_requested",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Shared => "Waiting for your review",
            Self::Approved => "Approved",
            Self::ChangesRequested => "Changes requested",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: FileId,
    pub service_id: ServiceId,
    pub uploader_id: UserId,
    pub uploader_name: String,
    pub from_staff: bool,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub storage_key: String,
    pub has_thumbnail: bool,
    pub message_id: Option<MessageId>,
    pub question_id: Option<i32>,
    pub deliverable_state: Option<DeliverableState>,
    pub created_at: DateTimeUtc,
}

impl Model {
    pub fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }

    /// "2.4 MB", "830 KB", "120 bytes".
    pub fn size_label(&self) -> String {
        crate::files::size_label(self.size_bytes.max(0) as u64)
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
