//! The store dashboard's indexes: its event counts read an index only (kind, time, then the user
//! and company they count), and bought services are found by origin and date.

use sea_orm_migration::prelude::*;

use super::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000008_metrics"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        index(
            m,
            "store_events",
            &["kind", "at", "user_id", "client_id"],
            false,
        )
        .await?;
        // A prefix of the index above.
        m.drop_index(
            Index::drop()
                .name("idx_store_events_kind_at")
                .table("store_events")
                .to_owned(),
        )
        .await?;
        index(m, "services", &["origin", "created_at"], false).await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
