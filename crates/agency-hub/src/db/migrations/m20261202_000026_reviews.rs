//! Reviews: one per client company and service it completed, held for moderation, with the
//! agency's public reply; each template keeps the count and sum of its approved reviews' stars
//! (the store card's average, read with the catalogue).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000026_reviews"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("reviews")
                .col(big_pk_auto("id"))
                .col(big_integer("client_id"))
                .col(big_integer("template_id"))
                .col(big_integer_null("user_id"))
                .col(integer("rating"))
                .col(text("body"))
                // pending, approved or hidden.
                .col(string_len("status", 16))
                .col(text_null("reply"))
                .col(timestamp_with_time_zone_null("replied_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("reviews", "client_id")
                        .to("clients", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("reviews", "template_id")
                        .to("service_templates", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("reviews", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(m, "reviews", &["client_id", "template_id"], true).await?;
        // A service's published reviews, and the moderation queue.
        index(
            m,
            "reviews",
            &["template_id", "status", "created_at"],
            false,
        )
        .await?;
        index(m, "reviews", &["status", "created_at"], false).await?;
        add_columns(
            m,
            "service_templates",
            [
                integer("review_count").default(0).to_owned(),
                big_integer("rating_sum").default(0).to_owned(),
            ],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
