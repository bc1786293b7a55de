//! A person who signs in: agency staff (ADMIN, MANAGER) or a client company's user (CLIENT).

use sea_orm::entity::prelude::*;

use crate::ids::{ClientId, UserId};
use serde::{Deserialize, Serialize};

#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    #[sea_orm(string_value = "ADMIN")]
    Admin,
    #[sea_orm(string_value = "MANAGER")]
    Manager,
    #[sea_orm(string_value = "CLIENT")]
    Client,
}

impl Role {
    /// Parses `admin`, `manager` or `client` in any case.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "ADMIN" => Some(Self::Admin),
            "MANAGER" => Some(Self::Manager),
            "CLIENT" => Some(Self::Client),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::Manager => "MANAGER",
            Self::Client => "CLIENT",
        }
    }

    /// Agency staff: managers and admins.
    pub fn is_staff(self) -> bool {
        matches!(self, Self::Admin | Self::Manager)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Admin => "Admin",
            Self::Manager => "Manager",
            Self::Client => "Client",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: Role,
    pub client_id: Option<ClientId>,
    pub active: bool,
    pub last_login_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// How this person wants emails about new messages.
    pub message_email: MessageEmail,
}

/// Emails about new messages on a person's services.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "lowercase")]
pub enum MessageEmail {
    /// One email for each message.
    #[sea_orm(string_value = "every")]
    Every,
    /// At most one email per service every 10 minutes, with the messages still unread.
    #[default]
    #[sea_orm(string_value = "digest")]
    Digest,
    /// None: the app's notifications only.
    #[sea_orm(string_value = "off")]
    Off,
}

impl MessageEmail {
    pub const ALL: [Self; 3] = [Self::Every, Self::Digest, Self::Off];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Every => "every",
            Self::Digest => "digest",
            Self::Off => "off",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Every => "An email for every message",
            Self::Digest => "A digest: at most one email per service every 10 minutes",
            Self::Off => "No emails: notifications in the app only",
        }
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
}

impl Related<super::client::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Client.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
