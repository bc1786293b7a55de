//! Intake questions: a template's questions, the answers a cart line holds, and the questions
//! asked with their answers as an order item and a service keep them (see
//! `catalog::questions`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::add_columns;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000014_intake"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            m,
            "service_templates",
            [json_binary("questions").default("[]").to_owned()],
        )
        .await?;
        add_columns(
            m,
            "cart_items",
            [json_binary("answers").default("{}").to_owned()],
        )
        .await?;
        add_columns(
            m,
            "order_items",
            [json_binary("intake").default("[]").to_owned()],
        )
        .await?;
        add_columns(
            m,
            "services",
            [json_binary("intake").default("[]").to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
