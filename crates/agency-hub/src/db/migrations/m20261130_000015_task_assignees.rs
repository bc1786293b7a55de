//! A task's assignee (a staff user), and the index "My tasks" reads: a person's open tasks by
//! due date.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000015_task_assignees"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(m, "tasks", [big_integer_null("assignee_id").to_owned()]).await?;
        index(m, "tasks", &["assignee_id", "status", "due_on"], false).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
