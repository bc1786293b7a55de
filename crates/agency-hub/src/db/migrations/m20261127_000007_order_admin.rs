//! What happens after payment: internal notes on orders, services a refund leaves for a manager
//! to decide, failed Stripe events kept for a retry, and the indexes the order lists need.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000007_order_admin"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("order_notes")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                .col(big_integer_null("author_user_id"))
                .col(string_len("author_name", 200))
                .col(text("body"))
                .col(ts("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("order_notes", "order_id")
                        .to("orders", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "order_notes", &["order_id", "created_at"], false).await?;

        // Why a manager must look at this service (a refund while its work had started).
        m.alter_table(
            Table::alter()
                .table("services")
                .add_column(text_null("review_reason"))
                .to_owned(),
        )
        .await?;
        // The event as received, kept while it fails so an admin can run it again.
        m.alter_table(
            Table::alter()
                .table("stripe_events")
                .add_column(text_null("payload"))
                .to_owned(),
        )
        .await?;
        index(m, "stripe_events", &["outcome", "received_at"], false).await?;

        // The admin's list: newest first, by payment status, by date.
        index(m, "orders", &["created_at"], false).await?;
        index(m, "orders", &["payment_status", "created_at"], false).await?;
        // Webhook health: paid orders of the last days without services, flagged orders.
        index(m, "orders", &["status", "paid_at"], false).await?;
        index(m, "orders", &["review_reason"], false).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("order_notes").to_owned())
            .await
    }
}
