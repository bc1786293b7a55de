//! An index of the jobs still to run, in the order the worker claims them (`run_at`, `id`).
//! The claim's `ORDER BY run_at, id LIMIT 1` over `(status, run_at)` read and sorted every
//! waiting job (2 ms a claim with 4,000 waiting); on this partial index it reads the first.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000011_live_jobs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_jobs_live_run_at_id ON jobs (run_at, id) \
                 WHERE status IN ('queued', 'running')",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared("DROP INDEX idx_jobs_live_run_at_id")
            .await?;
        Ok(())
    }
}
