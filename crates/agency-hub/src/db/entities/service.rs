//! A piece of work the agency does for a client company, made from a service template.

use sea_orm::entity::prelude::*;

use crate::ids::{ClientId, OrderItemId, ServiceId, TemplateId, UserId};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceStatus {
    #[sea_orm(string_value = "TO_DO")]
    ToDo,
    #[sea_orm(string_value = "IN_PROGRESS")]
    InProgress,
    #[sea_orm(string_value = "DONE")]
    Done,
    #[sea_orm(string_value = "CANCELLED")]
    Cancelled,
}

impl ServiceStatus {
    pub const ALL: [Self; 4] = [Self::ToDo, Self::InProgress, Self::Done, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ToDo => "TO_DO",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Cancelled => "CANCELLED",
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
            Self::Cancelled => "Cancelled",
        }
    }

    /// Which changes the workflow allows. A cancelled service is reopened to TO_DO before
    /// work resumes on it; any other change is allowed, except to the same status.
    pub fn can_move_to(self, to: Self) -> bool {
        use ServiceStatus::*;
        match (self, to) {
            (a, b) if a == b => false,
            (Cancelled, InProgress | Done) => false,
            _ => true,
        }
    }

    /// Still to be worked on.
    pub fn is_active(self) -> bool {
        matches!(self, Self::ToDo | Self::InProgress)
    }
}

/// How the service came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceOrigin {
    /// Assigned by staff.
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    /// Bought in the store: `order_item_id` and `unit` say which unit of which order item.
    #[sea_orm(string_value = "PURCHASE")]
    Purchase,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "services")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ServiceId,
    pub client_id: ClientId,
    pub template_id: TemplateId,
    pub name: String,
    pub description: String,
    pub status: ServiceStatus,
    pub origin: ServiceOrigin,
    pub order_item_id: Option<OrderItemId>,
    pub unit: Option<i32>,
    pub created_by: Option<UserId>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Set when a manager must decide what becomes of it (its order was refunded while its work
    /// had started).
    pub review_reason: Option<String>,
    /// The intake questions as asked, with their answers (`catalog::Intake`).
    pub intake: Json,
}

impl Model {
    pub fn intake(&self) -> crate::catalog::Intake {
        crate::catalog::Intake::from_json(&self.intake)
    }

    pub fn from_purchase(&self) -> bool {
        self.origin == ServiceOrigin::Purchase
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::client::Entity",
        from = "Column::ClientId",
        to = "super::client::Column::Id"
    )]
    Client,
    #[sea_orm(
        belongs_to = "super::service_template::Entity",
        from = "Column::TemplateId",
        to = "super::service_template::Column::Id"
    )]
    Template,
    #[sea_orm(has_many = "super::task::Entity")]
    Tasks,
}

impl Related<super::client::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Client.def()
    }
}

impl Related<super::service_template::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Template.def()
    }
}

impl Related<super::task::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tasks.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::ServiceStatus::{self, *};

    #[test]
    fn every_status_change_is_decided() {
        let allowed = |a: ServiceStatus, b: ServiceStatus| a.can_move_to(b);
        for a in ServiceStatus::ALL {
            for b in ServiceStatus::ALL {
                let expected = a != b && !(a == Cancelled && matches!(b, InProgress | Done));
                assert_eq!(allowed(a, b), expected, "{a:?} -> {b:?}");
            }
        }
        assert!(
            Cancelled.can_move_to(ToDo),
            "a cancelled service can be reopened"
        );
        assert!(
            Done.can_move_to(InProgress),
            "finished work can be reopened"
        );
    }
}
