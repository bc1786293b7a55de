//! The agency's search synonyms: one group a line ("website = web site = landing page"), read
//! by the store's search index (`catalog::search`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::add_columns;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000024_search_synonyms"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            m,
            "agency_settings",
            [text("search_synonyms").default("").to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
