//! A service the agency offers, with the tasks a new service of it starts with.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One task a service made from the template starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultTask {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Due this many days after the service is created; no due date when absent.
    #[serde(default)]
    pub due_in_days: Option<u32>,
    #[serde(default)]
    pub client_visible: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    /// A JSON list of [`DefaultTask`].
    pub default_tasks: Json,
    pub archived_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    pub fn tasks(&self) -> Vec<DefaultTask> {
        serde_json::from_value(self.default_tasks.clone()).unwrap_or_default()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
