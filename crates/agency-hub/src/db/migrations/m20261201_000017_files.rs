//! Files on a service (attached to a message or an answer, or shared as deliverables) and each
//! deliverable's history. The bytes live in the file store; here is what is known of them.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000017_files"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("files")
                .col(big_pk_auto("id"))
                .col(big_integer("service_id"))
                .col(big_integer("uploader_id"))
                .col(string_len("uploader_name", 200))
                .col(boolean("from_staff"))
                // The name as sent, made safe to show and to download under.
                .col(string_len("name", 200))
                // What the content is (sniffed), which downloads are served as.
                .col(string_len("content_type", 100))
                .col(big_integer("size_bytes"))
                .col(string_len("storage_key", 300))
                .col(boolean("has_thumbnail").default(false))
                .col(big_integer_null("message_id"))
                // An answer's file: the question's id within the service's intake.
                .col(integer_null("question_id"))
                // NULL: a plain file; shared, approved or changes_requested: a deliverable.
                .col(string_len_null("deliverable_state", 24))
                .col(ts("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("files", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("files", "message_id")
                        .to("messages", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(m, "files", &["service_id", "id"], false).await?;
        index(m, "files", &["message_id"], false).await?;

        m.create_table(
            Table::create()
                .table("deliverable_events")
                .col(big_pk_auto("id"))
                .col(big_integer("file_id"))
                .col(big_integer("service_id"))
                // shared, approved, changes_requested
                .col(string_len("action", 24))
                .col(text("comment"))
                .col(big_integer_null("actor_id"))
                .col(string_len("actor_name", 200))
                .col(ts("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("deliverable_events", "file_id")
                        .to("files", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "deliverable_events", &["service_id", "id"], false).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
