//! This installation's own id, made once at the first migration: what tells its requests to
//! Stripe apart from another installation's (a staging and a production on one Stripe account,
//! a database reset), whose local ids are the same numbers. `checked_at` is what the readiness
//! probe writes.

use sea_orm_migration::prelude::*;

use super::ts;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000009_installation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("installation")
                .col(ColumnDef::new("id").string_len(32).not_null().primary_key())
                .col(ts("created_at").not_null())
                .col(sea_orm_migration::schema::timestamp_with_time_zone_null(
                    "checked_at",
                ))
                .to_owned(),
        )
        .await?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        m.exec_stmt(
            Query::insert()
                .into_table("installation")
                .columns(["id", "created_at"])
                .values_panic([id.into(), chrono::Utc::now().into()])
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("installation").to_owned())
            .await
    }
}
