//! Orders, their items, and every Stripe event received.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000005_orders"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Long, as a list of tables and indexes is: one statement after another, in the order the
    // foreign keys need. A released migration is never edited (a new one changes the schema).
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("orders")
                .col(big_pk_auto("id"))
                .col(string_len("order_number", 32).unique_key())
                .col(big_integer("client_id"))
                .col(big_integer_null("user_id"))
                .col(string_len("status", 16))
                .col(string_len("payment_status", 16))
                .col(string_len("currency", 3))
                // Money in the currency's minor unit.
                .col(big_integer("subtotal_minor"))
                .col(big_integer("discount_minor").default(0))
                .col(big_integer("tax_minor").default(0))
                .col(big_integer("total_minor"))
                .col(big_integer("refunded_minor").default(0))
                .col(string_len_null("stripe_session_id", 255).unique_key())
                .col(string_len_null("stripe_payment_intent_id", 255).unique_key())
                .col(string_len_null("payment_method", 40))
                .col(timestamp_with_time_zone_null("paid_at"))
                // Set when Stripe's amount or currency does not match the order.
                .col(text_null("review_reason"))
                .col(text("notes").default(""))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("orders", "client_id")
                        .to("clients", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("orders", "user_id")
                        .to("users", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(m, "orders", &["client_id", "created_at"], false).await?;
        index(m, "orders", &["status", "created_at"], false).await?;

        m.create_table(
            Table::create()
                .table("order_items")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                .col(big_integer("template_id"))
                // What was bought, as it was at purchase.
                .col(string_len("service_name", 200))
                .col(big_integer("unit_price_minor"))
                .col(integer("quantity"))
                .col(big_integer("total_minor"))
                .foreign_key(
                    ForeignKey::create()
                        .from("order_items", "order_id")
                        .to("orders", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("order_items", "template_id")
                        .to("service_templates", "id"),
                )
                .to_owned(),
        )
        .await?;
        index(m, "order_items", &["order_id"], false).await?;

        m.create_table(
            Table::create()
                .table("stripe_events")
                // Stripe's event id: the dedupe record of every delivery.
                .col(string_len("id", 255).primary_key())
                .col(string_len("event_type", 100))
                .col(big_integer_null("order_id"))
                .col(string_len("outcome", 32))
                .col(text_null("error"))
                .col(ts("received_at"))
                .col(timestamp_with_time_zone_null("processed_at"))
                .to_owned(),
        )
        .await?;
        index(m, "stripe_events", &["received_at"], false).await?;
        index(m, "stripe_events", &["order_id"], false).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["stripe_events", "order_items", "orders"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
