//! Subscriptions: an order item's billing terms as bought, a subscription per recurring item
//! (its Stripe ids, status, period and the one service it runs), each Stripe invoice of it (a
//! paid one is a period, with the tasks it made), and which period a task belongs to.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000013_subscriptions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Long, as a list of tables and indexes is: one statement after another, in the order the
    // foreign keys need.
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            m,
            "order_items",
            [
                // The terms as bought; NULL interval: a one-time item.
                string_len_null("billing_interval", 8).to_owned(),
                integer("billing_interval_count").default(1).to_owned(),
                integer("trial_days").default(0).to_owned(),
                big_integer("setup_fee_minor").default(0).to_owned(),
            ],
        )
        .await?;
        m.create_table(
            Table::create()
                .table("subscriptions")
                .col(big_pk_auto("id"))
                .col(big_integer("client_id"))
                .col(big_integer("template_id"))
                .col(big_integer("order_id"))
                .col(big_integer("order_item_id").unique_key())
                // The service it runs, once made (the first invoice may be paid before).
                .col(big_integer_null("service_id"))
                .col(string_len("stripe_subscription_id", 255).unique_key())
                .col(string_len_null("stripe_customer_id", 255))
                .col(string_len_null("stripe_item_id", 255))
                // trialing, active, past_due, unpaid, canceled, paused, incomplete…
                .col(string_len("status", 24))
                .col(integer("quantity"))
                .col(big_integer("unit_amount_minor"))
                .col(string_len("currency", 3))
                .col(string_len("interval", 8))
                .col(integer("interval_count"))
                .col(timestamp_with_time_zone_null("current_period_start"))
                .col(timestamp_with_time_zone_null("current_period_end"))
                .col(timestamp_with_time_zone_null("trial_end"))
                .col(boolean("cancel_at_period_end").default(false))
                .col(timestamp_with_time_zone_null("canceled_at"))
                .col(timestamp_with_time_zone_null("ended_at"))
                .col(string_len_null("pause_behavior", 24))
                // The saved card Stripe charges, and what the pages show of it.
                .col(string_len_null("default_payment_method", 255))
                .col(string_len_null("card_brand", 24))
                .col(string_len_null("card_last4", 4))
                // `created` of the newest subscription event applied: older ones change nothing.
                .col(big_integer_null("last_event_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriptions", "client_id")
                        .to("clients", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriptions", "order_id")
                        .to("orders", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriptions", "order_item_id")
                        .to("order_items", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriptions", "service_id")
                        .to("services", "id")
                        .on_delete(ForeignKeyAction::SetNull),
                )
                .to_owned(),
        )
        .await?;
        index(m, "subscriptions", &["client_id", "created_at"], false).await?;
        index(m, "subscriptions", &["status", "created_at"], false).await?;
        index(m, "subscriptions", &["template_id", "created_at"], false).await?;
        index(m, "subscriptions", &["service_id"], false).await?;

        m.create_table(
            Table::create()
                .table("subscription_invoices")
                .col(big_pk_auto("id"))
                .col(big_integer("subscription_id"))
                // One row per Stripe invoice: a paid one is one period, whatever is delivered.
                .col(string_len("stripe_invoice_id", 255).unique_key())
                .col(string_len_null("number", 64))
                .col(string_len_null("billing_reason", 40))
                // draft, open, paid, void, uncollectible
                .col(string_len("status", 16))
                .col(string_len("currency", 3))
                .col(big_integer("amount_due"))
                .col(big_integer("amount_paid"))
                .col(big_integer("refunded_minor").default(0))
                // The period its subscription line bills.
                .col(timestamp_with_time_zone("period_start"))
                .col(timestamp_with_time_zone("period_end"))
                .col(text_null("hosted_invoice_url"))
                .col(text_null("invoice_pdf"))
                .col(string_len_null("stripe_payment_intent_id", 255))
                .col(string_len_null("stripe_charge_id", 255))
                .col(integer("attempt_count").default(0))
                .col(timestamp_with_time_zone_null("paid_at"))
                // Set in the transaction that made the period's tasks.
                .col(timestamp_with_time_zone_null("tasks_made_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("subscription_invoices", "subscription_id")
                        .to("subscriptions", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(
            m,
            "subscription_invoices",
            &["subscription_id", "period_start"],
            false,
        )
        .await?;
        index(m, "subscription_invoices", &["stripe_charge_id"], false).await?;
        index(m, "subscription_invoices", &["created_at"], false).await?;

        add_columns(
            m,
            "tasks",
            [big_integer_null("subscription_invoice_id").to_owned()],
        )
        .await?;
        index(m, "tasks", &["subscription_invoice_id"], false).await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
