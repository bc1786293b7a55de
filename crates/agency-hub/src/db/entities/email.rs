//! One email of the outbox: what to send to whom, and what became of it.

use sea_orm::entity::prelude::*;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum EmailStatus {
    /// Waiting for the worker (or for its next attempt).
    #[sea_orm(string_value = "queued")]
    Queued,
    /// Accepted by the SMTP server.
    #[sea_orm(string_value = "sent")]
    Sent,
    /// No SMTP server is configured: kept for the admin's Emails page instead.
    #[sea_orm(string_value = "stored")]
    Stored,
    /// Every attempt failed; an admin may resend it.
    #[sea_orm(string_value = "failed")]
    Failed,
}

impl EmailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Stored => "stored",
            Self::Failed => "failed",
        }
    }

    /// A list's `?status=` filter: none when empty, a 400 naming it when unknown.
    pub fn filter(raw: &str) -> Result<Option<Self>, crate::error::AppError> {
        match raw.trim() {
            "" => Ok(None),
            raw => Self::parse(raw).map(Some).ok_or_else(|| {
                crate::error::AppError::invalid(
                    "status",
                    format!("Unknown status '{raw}': use queued, sent, stored or failed."),
                )
            }),
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Queued, Self::Sent, Self::Stored, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "emails")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub kind: String,
    pub to_address: String,
    pub payload: Json,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub status: EmailStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
