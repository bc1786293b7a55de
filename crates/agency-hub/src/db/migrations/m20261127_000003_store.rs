//! The store: store settings on templates, carts and their items, and tracked store events.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000003_store"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    // Long, as a list of tables and indexes is: one statement after another, in the order the
    // foreign keys need. A released migration is never edited (a new one changes the schema).
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            boolean("is_purchasable").default(false).to_owned(),
            big_integer("price_minor").default(0).to_owned(),
            string_len("currency", 3).default("USD").to_owned(),
            string_len("store_title", 200).default("").to_owned(),
            text("store_description").default("").to_owned(),
            json_binary("store_images").default("[]").to_owned(),
            integer("max_quantity").default(1).to_owned(),
            integer("sort_order").default(0).to_owned(),
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
        // The store lists purchasable templates by sort order, then title.
        index(
            m,
            "service_templates",
            &["is_purchasable", "sort_order", "store_title"],
            false,
        )
        .await?;

        m.create_table(
            Table::create()
                .table("carts")
                .col(big_pk_auto("id"))
                .col(big_integer("client_id").unique_key())
                .col(ts("expires_at"))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("carts", "client_id")
                        .to("clients", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("cart_items")
                .col(big_pk_auto("id"))
                .col(big_integer("cart_id"))
                .col(big_integer("template_id"))
                .col(integer("quantity"))
                // The price when it was put in the cart, to notice a change before checkout.
                .col(big_integer("unit_price_minor"))
                .col(string_len("currency", 3))
                .col(ts("created_at"))
                .col(ts("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .from("cart_items", "cart_id")
                        .to("carts", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("cart_items", "template_id")
                        .to("service_templates", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        index(m, "cart_items", &["cart_id", "template_id"], true).await?;

        m.create_table(
            Table::create()
                .table("store_events")
                .col(big_pk_auto("id"))
                // store_view, product_view, search, add_to_cart, remove_from_cart, checkout_started, …
                .col(string_len("kind", 32))
                .col(big_integer_null("client_id"))
                .col(big_integer_null("user_id"))
                .col(big_integer_null("template_id"))
                .col(integer_null("quantity"))
                .col(big_integer_null("amount_minor"))
                .col(string_len_null("currency", 3))
                .col(json_binary("details"))
                .col(ts("at"))
                .to_owned(),
        )
        .await?;
        index(m, "store_events", &["kind", "at"], false).await?;
        index(m, "store_events", &["client_id", "at"], false).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["store_events", "cart_items", "carts"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
