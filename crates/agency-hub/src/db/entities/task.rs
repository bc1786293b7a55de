//! One task of a service, in its place in the service's list.

use sea_orm::entity::prelude::*;

use crate::ids::ServiceId;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    #[sea_orm(string_value = "TO_DO")]
    ToDo,
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    #[sea_orm(string_value = "DONE")]
    Done,
}

impl TaskStatus {
    pub const ALL: [Self; 3] = [Self::ToDo, Self::InProgress, Self::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ToDo => "TO_DO",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(raw.trim()))
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::ToDo => "To do",
            Self::InProgress => "In progress",
            Self::Done => "Done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub service_id: ServiceId,
    pub position: i32,
    pub name: String,
    pub description: String,
    pub due_on: Option<Date>,
    pub client_visible: bool,
    pub status: TaskStatus,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The subscription period (its paid invoice) that made it; `None` for a service's own.
    pub subscription_invoice_id: Option<i64>,
    /// The staff user it is assigned to.
    pub assignee_id: Option<crate::ids::UserId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::service::Entity",
        from = "Column::ServiceId",
        to = "super::service::Column::Id"
    )]
    Service,
}

impl Related<super::service::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Service.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
