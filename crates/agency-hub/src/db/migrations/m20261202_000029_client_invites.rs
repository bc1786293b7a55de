//! Whether a client may invite teammates to their company (the admin's setting; off at first).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::add_columns;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000029_client_invites"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            m,
            "agency_settings",
            [boolean("clients_invite").default(false).to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
