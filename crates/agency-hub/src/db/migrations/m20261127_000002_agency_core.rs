//! Services and their tasks, and the activity log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000002_agency_core"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Long, as a list of tables and indexes is: one statement after another, in the order the
    // foreign keys need. A released migration is never edited (a new one changes the schema).
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("services")
                .col(big_pk_auto("id"))
                .col(big_integer("client_id"))
                .col(big_integer("template_id"))
                .col(string_len("name", 200))
                .col(text("description"))
                .col(string_len("status", 16))
                .col(string_len("origin", 16))
                // A purchase makes one service per unit bought: (order item, unit) is unique.
                .col(big_integer_null("order_item_id"))
                .col(integer_null("unit"))
                .col(big_integer_null("created_by"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("services", "client_id")
                        .to("clients", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("services", "template_id")
                        .to("service_templates", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("services", "created_by")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(m, "services", &["client_id", "created_at"], false).await?;
        index(m, "services", &["status", "created_at"], false).await?;
        index(m, "services", &["template_id"], false).await?;
        index(m, "services", &["order_item_id", "unit"], true).await?;

        m.create_table(
            Table::create()
                .table("tasks")
                .col(big_pk_auto("id"))
                .col(big_integer("service_id"))
                .col(integer("position"))
                .col(string_len("name", 200))
                .col(text("description"))
                .col(date_null("due_on"))
                .col(boolean("client_visible"))
                .col(string_len("status", 16))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("tasks", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "tasks", &["service_id", "position"], false).await?;
        index(m, "tasks", &["due_on"], false).await?;

        m.create_table(
            Table::create()
                .table("activity_log")
                .col(big_pk_auto("id"))
                // Null for the system (a job, the webhook, the demo seed).
                .col(big_integer_null("actor_user_id"))
                .col(string_len("actor_name", 200))
                .col(string_len("action", 64))
                .col(string_len("entity_type", 32))
                .col(big_integer("entity_id"))
                .col(big_integer_null("client_id"))
                .col(json_binary("details"))
                .col(ts("at"))
                .to_owned(),
        )
        .await?;
        index(m, "activity_log", &["at"], false).await?;
        index(
            m,
            "activity_log",
            &["entity_type", "entity_id", "at"],
            false,
        )
        .await?;
        index(m, "activity_log", &["client_id", "at"], false).await?;
        index(m, "activity_log", &["action", "at"], false).await?;
        index(m, "activity_log", &["actor_user_id", "at"], false).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["activity_log", "tasks", "services"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
