//! Recommendations, counted as they happen rather than from all orders on a page view:
//! `co_purchases` (for each pair of services, how many client companies bought both),
//! `popularity` (how many bought each), `co_views` (how many people viewed both), `viewed` (who
//! viewed what, once) and the last view event counted.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use super::{index, ts};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000027_recommendations"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, count) in [("co_purchases", "companies"), ("co_views", "people")] {
            m.create_table(
                Table::create()
                    .table(table)
                    .col(big_integer("template_id"))
                    .col(big_integer("other_id"))
                    .col(integer(count))
                    .primary_key(Index::create().col("template_id").col("other_id"))
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table("viewed")
                .col(big_integer("user_id"))
                .col(big_integer("template_id"))
                .col(ts("at"))
                .primary_key(Index::create().col("user_id").col("template_id"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("recommendation_state")
                // Always 1.
                .col(integer("id").primary_key())
                // The last `store_events.id` whose view was counted.
                .col(big_integer("views_until"))
                .to_owned(),
        )
        .await?;
        m.exec_stmt(
            Query::insert()
                .into_table("recommendation_state")
                .columns(["id", "views_until"])
                .values_panic([1.into(), 0.into()])
                .to_owned(),
        )
        .await?;
        // How many companies bought each service: the most bought first.
        m.create_table(
            Table::create()
                .table("popularity")
                .col(big_integer("template_id").primary_key())
                .col(integer("companies"))
                .to_owned(),
        )
        .await?;
        index(m, "popularity", &["companies"], false).await
    }

    async fn down(&self, _m: &SchemaManager) -> Result<(), DbErr> {
        Ok(())
    }
}
