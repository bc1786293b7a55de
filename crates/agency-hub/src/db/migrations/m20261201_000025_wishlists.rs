//! Wishlists: the services a client company saved for later (one row per company and service,
//! with who saved it and its price then, to flag a drop).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000025_wishlists"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("saved_services")
                .col(big_pk_auto("id"))
                .col(big_integer("client_id"))
                .col(big_integer("template_id"))
                // Who saved it (kept when they leave).
                .col(big_integer_null("user_id"))
                // Its price when saved, in the company's currency then.
                .col(big_integer("price_minor"))
                .col(string_len("currency", 3))
                .col(ts("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("saved_services", "client_id")
                        .to("clients", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("saved_services", "template_id")
                        .to("service_templates", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("saved_services", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(m, "saved_services", &["client_id", "template_id"], true).await?;
        // The most saved services (staff's list).
        index(m, "saved_services", &["template_id"], false).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
