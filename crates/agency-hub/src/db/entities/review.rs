//! A client company's review of a service it completed: stars, text, held for moderation, with
//! the agency's public reply.

use sea_orm::entity::prelude::*;

use crate::ids::{ClientId, TemplateId, UserId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ReviewStatus {
    /// Waiting for the agency.
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "approved")]
    Approved,
    #[sea_orm(string_value = "hidden")]
    Hidden,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Hidden => "hidden",
        }
    }

    /// In the words of the page that shows it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "Waiting for approval",
            Self::Approved => "Published",
            Self::Hidden => "Hidden",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reviews")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub client_id: ClientId,
    pub template_id: TemplateId,
    /// Who wrote it (or last changed it).
    pub user_id: Option<UserId>,
    /// 1 to 5 stars.
    pub rating: i32,
    pub body: String,
    pub status: ReviewStatus,
    /// The agency's public answer.
    pub reply: Option<String>,
    pub replied_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    /// "★★★★☆"
    pub fn stars(&self) -> String {
        let n = self.rating.clamp(0, 5) as usize;
        format!("{}{}", "★".repeat(n), "☆".repeat(5 - n))
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
