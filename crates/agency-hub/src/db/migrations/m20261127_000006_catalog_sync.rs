//! Each purchasable template's Stripe Product and Price, and how their sync went.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000006_catalog_sync"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            string_len_null("stripe_product_id", 255).to_owned(),
            string_len_null("stripe_price_id", 255).to_owned(),
            // The amount and currency of that Price: prices are immutable, so a change makes a new one.
            big_integer_null("stripe_price_minor").to_owned(),
            string_len_null("stripe_price_currency", 3).to_owned(),
            // none, pending, synced or failed.
            string_len("stripe_sync_status", 16)
                .default("none")
                .to_owned(),
            text_null("stripe_sync_error").to_owned(),
        ];
        for col in columns {
            m.alter_table(
                Table::alter()
                    .table("service_templates")
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        index(m, "service_templates", &["stripe_price_id"], true).await?;
        Ok(())
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
