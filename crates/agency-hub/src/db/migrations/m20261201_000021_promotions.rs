//! Promotion codes in our cart: the code a cart holds with the coupon's terms as Stripe gave
//! them when it was applied (JSON, `promotions::Applied`), and the code an order was paid with.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::add_columns;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000021_promotions"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        add_columns(m, "carts", [json_binary_null("promotion").to_owned()]).await?;
        add_columns(
            m,
            "orders",
            [string_len_null("promotion_code", 40).to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
