//! The agency's own details and billing choices (one row), and invoicing: a gapless number
//! sequence per kind and year, each paid order's invoice number, and a credit note per refund.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000018_invoicing"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("agency_settings")
                // Always 1: the one row.
                .col(integer("id").primary_key())
                .col(string_len("legal_name", 200))
                .col(text("address"))
                .col(string_len("tax_id", 60))
                .col(text("invoice_footer"))
                // The logo in the file store (a PNG made from what was sent), if any.
                .col(string_len_null("logo_key", 300))
                .col(string_len("default_currency", 3))
                // Whether prices include tax (Stripe's tax behaviour "inclusive").
                .col(boolean("prices_include_tax").default(false))
                // Stripe Tax computes the tax at checkout.
                .col(boolean("stripe_tax").default(false))
                .col(ts("updated_at"))
                .to_owned(),
        )
        .await?;

        // The last number given per kind (INV, CN) and year; a number is taken by raising it
        // in the transaction that uses it, so a rollback gives it back and none is skipped.
        m.create_table(
            Table::create()
                .table("invoice_sequences")
                .col(string_len("kind", 8))
                .col(integer("year"))
                .col(big_integer("last"))
                .primary_key(Index::create().col("kind").col("year"))
                .to_owned(),
        )
        .await?;

        add_columns(
            m,
            "orders",
            [ColumnDef::new("invoice_number")
                .string_len(32)
                .null()
                .to_owned()],
        )
        .await?;
        index(m, "orders", &["invoice_number"], true).await?;

        m.create_table(
            Table::create()
                .table("credit_notes")
                .col(big_pk_auto("id"))
                .col(big_integer("order_id"))
                .col(string_len("number", 32))
                // What this refund gave back (positive), in the order's currency.
                .col(big_integer("amount_minor"))
                .col(string_len("currency", 3))
                .col(ts("created_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("credit_notes", "order_id")
                        .to("orders", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "credit_notes", &["number"], true).await?;
        index(m, "credit_notes", &["order_id"], false).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
