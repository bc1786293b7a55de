//! The database: connecting to SQLite or PostgreSQL from one URL, migrations and entities.

pub mod entities;
pub mod migrations;

use std::time::Duration;

use anyhow::Context;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::DatabaseUrl;

pub use migrations::Migrator;

/// Opens a pool on the configured database. SQLite gets WAL, foreign keys and a busy timeout,
/// and its folder is created when missing.
pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<DatabaseConnection> {
    let mut opts = match url {
        DatabaseUrl::Sqlite { url, path } => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the database folder {}", dir.display()))?;
            }
            let mut opts = ConnectOptions::new(url.clone());
            opts.map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10))
            });
            opts.max_connections(8);
            opts
        }
        DatabaseUrl::Postgres { url } => {
            let mut opts = ConnectOptions::new(url.clone());
            opts.max_connections(16);
            opts
        }
    };
    opts.min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    Database::connect(opts)
        .await
        .context("connecting to the database (is DATABASE_URL right and the server up?)")
}

/// Starts a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`): a deferred transaction that reads first and writes later fails with "database is
/// locked" when another writer committed in between, and the busy timeout cannot help it.
/// PostgreSQL ignores the option.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, sea_orm::DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("running migrations")
}

/// How many migrations are not applied yet (for `/readyz`).
pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<usize> {
    Ok(Migrator::get_pending_migrations(db).await?.len())
}

/// `%text%`, lower-cased, with LIKE's own characters escaped: compare it with `LOWER(column)`
/// for a case-insensitive "contains" on both databases.
pub fn contains(text: &str) -> sea_orm::sea_query::LikeExpr {
    let escaped: String = text
        .to_lowercase()
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('\\')
}
