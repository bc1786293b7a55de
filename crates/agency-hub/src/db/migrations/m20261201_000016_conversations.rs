//! Working together on a service: its messages (and the staff's internal notes), who of the
//! staff follows it, the in-app notifications every person gets, and how each person wants
//! message emails.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000016_conversations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("messages")
                .col(big_pk_auto("id"))
                .col(big_integer("service_id"))
                .col(big_integer("author_id"))
                // The author's name as it was (the name shows even after the user is gone).
                .col(string_len("author_name", 200))
                // The author was staff: the client's side shows "the agency".
                .col(boolean("from_staff"))
                .col(text("body"))
                // A staff-only note: never in a client's query.
                .col(boolean("internal").default(false))
                .col(ts("created_at"))
                .col(timestamp_with_time_zone_null("edited_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("messages", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "messages", &["service_id", "id"], false).await?;

        m.create_table(
            Table::create()
                .table("service_followers")
                .col(big_integer("service_id"))
                .col(big_integer("user_id"))
                .col(ts("created_at"))
                .primary_key(Index::create().col("service_id").col("user_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("service_followers", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("service_followers", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "service_followers", &["user_id"], false).await?;

        m.create_table(
            Table::create()
                .table("notifications")
                .col(big_pk_auto("id"))
                .col(big_integer("user_id"))
                // message, deliverable_shared, deliverable_approved, changes_requested,
                // task_done, service_status, order_paid, subscription
                .col(string_len("kind", 32))
                .col(big_integer_null("service_id"))
                // A new message's notification: the message a digest email quotes.
                .col(big_integer_null("message_id"))
                .col(string_len("title", 300))
                .col(text("body"))
                // Where it leads, for this person (the client's page or the staff's).
                .col(string_len("link", 300))
                .col(ts("created_at"))
                .col(timestamp_with_time_zone_null("read_at"))
                // Set when a digest email carried it (a message is emailed once at most).
                .col(timestamp_with_time_zone_null("emailed_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("notifications", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("notifications", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        // The bell's count and a service's unread: a person's unread ones.
        index(
            m,
            "notifications",
            &["user_id", "read_at", "service_id"],
            false,
        )
        .await?;
        // The notifications page: a person's, newest first.
        index(m, "notifications", &["user_id", "id"], false).await?;

        // every, digest (at most one email per service per 10 minutes) or off.
        add_columns(
            m,
            "users",
            [string_len("message_email", 8).default("digest").to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
