//! One migration set for SQLite and PostgreSQL. Never edit a migration that has shipped: add one.

use sea_orm_migration::prelude::*;

mod m20261127_000001_foundation;
mod m20261127_000002_agency_core;
mod m20261127_000003_store;
mod m20261127_000004_emails;
mod m20261127_000005_orders;
mod m20261127_000006_catalog_sync;
mod m20261127_000007_order_admin;
mod m20261127_000008_metrics;
mod m20261130_000009_installation;
mod m20261130_000010_catalog_version;
mod m20261130_000011_live_jobs;
mod m20261130_000012_recurring_templates;
mod m20261130_000013_subscriptions;
mod m20261130_000014_intake;
mod m20261130_000015_task_assignees;
mod m20261201_000016_conversations;
mod m20261201_000017_files;
mod m20261201_000018_invoicing;
mod m20261201_000019_currencies;
mod m20261201_000020_tax;
mod m20261201_000021_promotions;
mod m20261201_000022_promotion_revenue;
mod m20261201_000023_bundles;
mod m20261201_000024_search_synonyms;
mod m20261201_000025_wishlists;
mod m20261202_000026_reviews;
mod m20261202_000027_recommendations;
mod m20261202_000028_experiments;
mod m20261202_000029_client_invites;
mod m20261202_000030_integrations;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_foundation::Migration),
            Box::new(m20261127_000002_agency_core::Migration),
            Box::new(m20261127_000003_store::Migration),
            Box::new(m20261127_000004_emails::Migration),
            Box::new(m20261127_000005_orders::Migration),
            Box::new(m20261127_000006_catalog_sync::Migration),
            Box::new(m20261127_000007_order_admin::Migration),
            Box::new(m20261127_000008_metrics::Migration),
            Box::new(m20261130_000009_installation::Migration),
            Box::new(m20261130_000010_catalog_version::Migration),
            Box::new(m20261130_000011_live_jobs::Migration),
            Box::new(m20261130_000012_recurring_templates::Migration),
            Box::new(m20261130_000013_subscriptions::Migration),
            Box::new(m20261130_000014_intake::Migration),
            Box::new(m20261130_000015_task_assignees::Migration),
            Box::new(m20261201_000016_conversations::Migration),
            Box::new(m20261201_000017_files::Migration),
            Box::new(m20261201_000018_invoicing::Migration),
            Box::new(m20261201_000019_currencies::Migration),
            Box::new(m20261201_000020_tax::Migration),
            Box::new(m20261201_000021_promotions::Migration),
            Box::new(m20261201_000022_promotion_revenue::Migration),
            Box::new(m20261201_000023_bundles::Migration),
            Box::new(m20261201_000024_search_synonyms::Migration),
            Box::new(m20261201_000025_wishlists::Migration),
            Box::new(m20261202_000026_reviews::Migration),
            Box::new(m20261202_000027_recommendations::Migration),
            Box::new(m20261202_000028_experiments::Migration),
            Box::new(m20261202_000029_client_invites::Migration),
            Box::new(m20261202_000030_integrations::Migration),
        ]
    }
}

/// `CREATE INDEX idx_{table}_{cols}` on both databases.
pub(crate) async fn index(
    m: &SchemaManager<'_>,
    table: &'static str,
    cols: &[&'static str],
    unique: bool,
) -> Result<(), DbErr> {
    let mut stmt = Index::create();
    stmt.name(format!("idx_{table}_{}", cols.join("_")))
        .table(table);
    if unique {
        stmt.unique();
    }
    for col in cols {
        stmt.col(*col);
    }
    m.create_index(stmt.to_owned()).await
}

/// Adds columns to an existing table, one `ALTER TABLE` each (SQLite adds one at a time).
pub(crate) async fn add_columns(
    m: &SchemaManager<'_>,
    table: &'static str,
    columns: impl IntoIterator<Item = ColumnDef>,
) -> Result<(), DbErr> {
    for col in columns {
        m.alter_table(Table::alter().table(table).add_column(col).to_owned())
            .await?;
    }
    Ok(())
}

/// A `timestamp with time zone` column that is required.
pub(crate) fn ts(col: &'static str) -> ColumnDef {
    sea_orm_migration::schema::timestamp_with_time_zone(col)
}
