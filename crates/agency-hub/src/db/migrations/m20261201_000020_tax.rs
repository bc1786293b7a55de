//! Tax: a template's Stripe tax code (copied onto each order item), and what Stripe computed
//! for each line of a paid order (its discount, its tax and the rates behind it, read from the
//! Checkout Session's line items after payment), with the tax ID the buyer gave at checkout.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::add_columns;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000020_tax"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            m,
            "service_templates",
            [string_len_null("tax_code", 16).to_owned()],
        )
        .await?;
        add_columns(
            m,
            "order_items",
            [
                string_len_null("tax_code", 16).to_owned(),
                big_integer("discount_minor").default(0).to_owned(),
                big_integer("tax_minor").default(0).to_owned(),
                json_binary("taxes").default("[]").to_owned(),
            ],
        )
        .await?;
        add_columns(
            m,
            "orders",
            [string_len_null("customer_tax_id", 40).to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
