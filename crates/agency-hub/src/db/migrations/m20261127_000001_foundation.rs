//! Clients, users, sessions, sign-in failures, the job queue and service templates.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Long, as a list of tables and indexes is: one statement after another, in the order the
    // foreign keys need. A released migration is never edited (a new one changes the schema).
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("clients")
                .col(big_pk_auto("id"))
                .col(string_len("name", 200))
                .col(string_len_null("billing_email", 254))
                .col(text("notes").default(""))
                .col(string_len_null("stripe_customer_id", 100).unique_key())
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("users")
                .col(big_pk_auto("id"))
                // Stored lower-cased, so the unique index is case-insensitive.
                .col(string_len("email", 254).unique_key())
                .col(string_len("name", 200))
                .col(string("password_hash"))
                .col(string_len("role", 16))
                .col(big_integer_null("client_id"))
                .col(boolean("active").default(true))
                .col(timestamp_with_time_zone_null("last_login_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("users", "client_id")
                        .to("clients", "id")
                        .on_delete(ForeignKeyAction::Restrict),
                )
                .to_owned(),
        )
        .await?;
        index(m, "users", &["client_id"], false).await?;

        m.create_table(
            Table::create()
                .table("sessions")
                .col(string_len("id", 64).primary_key())
                .col(big_integer_null("user_id"))
                .col(text("data"))
                .col(ts("expires_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("sessions", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "sessions", &["user_id"], false).await?;
        index(m, "sessions", &["expires_at"], false).await?;

        m.create_table(
            Table::create()
                .table("login_failures")
                .col(big_pk_auto("id"))
                .col(string_len("email", 254))
                .col(string_len("ip", 64))
                .col(ts("at"))
                .to_owned(),
        )
        .await?;
        index(m, "login_failures", &["email", "ip", "at"], false).await?;
        index(m, "login_failures", &["at"], false).await?;

        m.create_table(
            Table::create()
                .table("jobs")
                .col(big_pk_auto("id"))
                .col(string_len("kind", 100))
                .col(json_binary("payload"))
                .col(string_len("status", 16))
                .col(string_len_null("dedupe_key", 200).unique_key())
                .col(integer("attempts").default(0))
                .col(integer("max_attempts"))
                .col(ts("run_at"))
                .col(timestamp_with_time_zone_null("locked_until"))
                .col(text_null("last_error"))
                .col(ts("created_at"))
                .col(timestamp_with_time_zone_null("finished_at"))
                .to_owned(),
        )
        .await?;
        index(m, "jobs", &["status", "run_at"], false).await?;

        m.create_table(
            Table::create()
                .table("service_templates")
                .col(big_pk_auto("id"))
                .col(string_len("name", 200))
                .col(text("description"))
                .col(string_len("category", 100))
                .col(json_binary("default_tasks"))
                .col(timestamp_with_time_zone_null("archived_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .to_owned(),
        )
        .await?;
        index(m, "service_templates", &["category"], false).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "service_templates",
            "jobs",
            "login_failures",
            "sessions",
            "users",
            "clients",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
