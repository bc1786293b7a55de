//! Bundles: a template made of other templates, each with a quantity (one row a part, in the
//! order shown), and what an order line of a bundle was made of when it was bought.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{add_columns, index};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000023_bundles"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("bundle_parts")
                .col(big_pk_auto("id"))
                .col(big_integer("bundle_id"))
                .col(big_integer("template_id"))
                .col(integer("quantity"))
                .col(integer("position"))
                .foreign_key(
                    ForeignKey::create()
                        .from("bundle_parts", "bundle_id")
                        .to("service_templates", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("bundle_parts", "template_id")
                        .to("service_templates", "id"),
                )
                .to_owned(),
        )
        .await?;
        index(m, "bundle_parts", &["bundle_id", "template_id"], true).await?;
        // The bundles a template is part of (archiving it warns of them).
        index(m, "bundle_parts", &["template_id"], false).await?;
        // `[{"template_id": …, "quantity": …}]`: empty for a line that is not a bundle.
        add_columns(
            m,
            "order_items",
            [json_binary("parts").default("[]").to_owned()],
        )
        .await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
