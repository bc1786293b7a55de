//! The email outbox, and one-time set-password links.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000004_emails"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("emails")
                .col(big_pk_auto("id"))
                // Doing the same work twice never queues the same email twice.
                .col(string_len("dedupe_key", 200).unique_key())
                .col(string_len("kind", 40))
                .col(string_len("to_address", 254))
                // What the templates need; rendered by the worker.
                .col(json_binary("payload"))
                .col(string_len("subject", 300).default(""))
                .col(text("html").default(""))
                .col(text("text").default(""))
                .col(string_len("status", 16))
                .col(integer("attempts").default(0))
                .col(text_null("last_error"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("sent_at"))
                .to_owned(),
        )
        .await?;
        index(m, "emails", &["created_at"], false).await?;
        index(m, "emails", &["status", "created_at"], false).await?;

        // One-time links to set a password (a new user's welcome email).
        m.create_table(
            Table::create()
                .table("password_tokens")
                .col(big_pk_auto("id"))
                .col(big_integer("user_id"))
                // SHA-256 of the token: the token itself is only in the email.
                .col(string_len("token_hash", 64).unique_key())
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("used_at"))
                .col(timestamp_with_time_zone("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("password_tokens", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("password_tokens").to_owned())
            .await?;
        m.drop_table(Table::drop().table("emails").to_owned()).await
    }
}
