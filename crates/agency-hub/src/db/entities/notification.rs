//! Something that happened, told to one person in the app (the bell), and for new messages
//! perhaps by email.

use sea_orm::entity::prelude::*;
use serde::Serialize;

use crate::ids::{MessageId, ServiceId, UserId};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    #[sea_orm(string_value = "message")]
    Message,
    #[sea_orm(string_value = "deliverable_shared")]
    DeliverableShared,
    #[sea_orm(string_value = "deliverable_approved")]
    DeliverableApproved,
    #[sea_orm(string_value = "changes_requested")]
    ChangesRequested,
    #[sea_orm(string_value = "task_done")]
    TaskDone,
    #[sea_orm(string_value = "service_status")]
    ServiceStatus,
    #[sea_orm(string_value = "order_paid")]
    OrderPaid,
    #[sea_orm(string_value = "subscription")]
    Subscription,
    /// The client answered (or changed answers to) the service's questions.
    #[sea_orm(string_value = "answers")]
    Answers,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: UserId,
    pub kind: NoticeKind,
    pub service_id: Option<ServiceId>,
    pub message_id: Option<MessageId>,
    pub title: String,
    pub body: String,
    pub link: String,
    pub created_at: DateTimeUtc,
    pub read_at: Option<DateTimeUtc>,
    pub emailed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
