//! Prices in several currencies: a template's prices in other currencies than its own (JSON by
//! currency code, see `catalog::prices`), and each client company's billing currency (what the
//! store, cart and checkout use for its people).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::add_columns;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000019_currencies"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            m,
            "service_templates",
            [json_binary("prices").default("{}").to_owned()],
        )
        .await?;
        add_columns(
            m,
            "clients",
            [string_len("billing_currency", 3).default("USD").to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
