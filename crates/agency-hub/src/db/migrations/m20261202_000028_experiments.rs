//! A/B experiments on the store: each with its element, variants (name, share of traffic,
//! value) and whether it runs; exposures are store events naming the experiment and variant.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000028_experiments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("experiments")
                .col(big_pk_auto("id"))
                .col(string_len("name", 80))
                // default_sort, cta_text, review_stars or featured_service.
                .col(string_len("element", 32))
                // [{"name", "weight", "value"}], the first the control.
                .col(json_binary("variants"))
                // running or stopped.
                .col(string_len("status", 16))
                // The variant kept for everyone when it stopped (none: the store's default).
                .col(integer_null("winner"))
                .col(big_integer_null("created_by"))
                .col(ts("created_at"))
                .col(timestamp_with_time_zone_null("stopped_at"))
                .to_owned(),
        )
        .await?;
        // One running experiment an element: two would each claim the same element.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_experiments_running ON experiments (element) \
                 WHERE status = 'running'",
            )
            .await?;
        add_columns(
            m,
            "store_events",
            [
                big_integer_null("experiment_id").to_owned(),
                integer_null("variant").to_owned(),
            ],
        )
        .await?;
        // An experiment's exposures by person, and a person's conversions after theirs.
        index(m, "store_events", &["experiment_id", "user_id"], false).await?;
        index(m, "store_events", &["user_id", "kind", "at"], false).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
