//! The database: connecting to SQLite or PostgreSQL from one URL, migrations and entities.

pub mod entities;
pub mod migrations;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, ExecResult, QueryResult, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::DatabaseUrl;

pub use migrations::Migrator;

/// Rows a multi-row `INSERT` takes at most: well under both databases' limits on bound
/// parameters (SQLite 32,766, PostgreSQL 65,535) at a dozen columns a row.
pub const ROWS_PER_INSERT: usize = 1000;

/// How long a SQLite write waits for the lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The database: a connection pool for reads and single statements, and [`Db::write`], the one
/// way to begin a transaction that writes.
///
/// The rule it keeps: on SQLite a write transaction begins `IMMEDIATE` and waits its turn in
/// this process first. A deferred transaction that reads first and writes later fails with
/// "database is locked" when another writer committed in between (the busy timeout cannot help
/// it); and SQLite's busy handler sleeps in growing steps, so writers queued there make slow
/// outliers under load, where a queue in the process hands the lock on at once. PostgreSQL
/// needs neither: row locks (`SELECT … FOR UPDATE`) order its writers.
///
/// A single statement that writes (anything but a `SELECT`) takes the same turn on SQLite: left
/// to the busy handler, the job worker's and the session store's writes made the transactions
/// that met them sleep (the fulfilment bench's bound, the same statements in one piece, ran at
/// 178 orders/s with a p50 of 90 ms). A statement through the pool while this task holds a
/// [`Txn`] would wait for itself: write through the transaction.
///
/// `clippy.toml` forbids beginning a transaction any other way.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    /// SQLite's writers take turns here; None on PostgreSQL.
    writers: Option<Arc<Mutex<()>>>,
}

/// A write transaction from [`Db::write`]: commit it, or drop it to roll back. On SQLite it
/// holds the process's writer turn until then.
pub struct Txn {
    // Declared first, so dropped first: the turn passes on after the transaction has ended.
    txn: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl Db {
    pub fn new(conn: DatabaseConnection) -> Self {
        let writers =
            (conn.get_database_backend() == DbBackend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Self { conn, writers }
    }

    /// The pool itself, for what only it does (ping, migrations).
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn is_sqlite(&self) -> bool {
        self.writers.is_some()
    }

    /// Calls `callback` after every statement (query counts and slow-query logs).
    pub fn set_metric_callback<F>(&mut self, callback: F)
    where
        F: Fn(&sea_orm::metric::Info<'_>) + Send + Sync + 'static,
    {
        self.conn.set_metric_callback(callback);
    }

    /// SQLite's writer turn, for a statement that may write; none for a read or on PostgreSQL.
    async fn turn_for(&self, sql: &str) -> Option<OwnedMutexGuard<()>> {
        let writers = self.writers.as_ref()?;
        let head = sql.trim_start().get(..6).unwrap_or_default();
        if head.eq_ignore_ascii_case("select") {
            return None;
        }
        // As long as SQLite's own busy timeout: a statement that waits longer goes to the
        // busy handler as it did before (a deadlock would otherwise be silent).
        tokio::time::timeout(BUSY_TIMEOUT, writers.clone().lock_owned())
            .await
            .ok()
    }

    /// Begins a transaction that writes (see [`Db`] for the rule it keeps).
    pub async fn write(&self) -> Result<Txn, DbErr> {
        let turn = match &self.writers {
            Some(writers) => Some(writers.clone().lock_owned().await),
            None => None,
        };
        #[allow(clippy::disallowed_methods)] // the one place a transaction begins
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(Txn { txn, _turn: turn })
    }

    /// Runs `change` in a write transaction, committed when it returns `Ok` and rolled back
    /// when it returns `Err`.
    pub async fn in_transaction<T, E: From<DbErr>>(
        &self,
        change: impl AsyncFnOnce(&Txn) -> Result<T, E>,
    ) -> Result<T, E> {
        let txn = self.write().await?;
        let done = change(&txn).await?;
        txn.commit().await?;
        Ok(done)
    }
}

impl Txn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// Reads and single statements go to the pool (on SQLite, one that writes in the writer turn).
#[async_trait::async_trait]
impl ConnectionTrait for Db {
    fn get_database_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let _turn = self.turn_for(&stmt.sql).await;
        self.conn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        let _turn = self.turn_for(sql).await;
        self.conn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        let _turn = self.turn_for(&stmt.sql).await;
        self.conn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let _turn = self.turn_for(&stmt.sql).await;
        self.conn.query_all_raw(stmt).await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// Opens a pool on the configured database. SQLite gets WAL, foreign keys and a busy timeout,
/// and its folder is created when missing.
pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<Db> {
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
                    .busy_timeout(BUSY_TIMEOUT)
            });
            opts.max_connections(8);
            opts.map_sqlx_sqlite_pool_opts(|o| o.after_release(close_if_left_in_a_transaction));
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
    let conn = Database::connect(opts)
        .await
        .context("connecting to the database (is DATABASE_URL right and the server up?)")?;
    Ok(Db::new(conn))
}

/// Whether a SQLite connection may go back to the pool: not if sqlx still counts a
/// transaction open on it once the rollback of a dropped transaction has run. That happens when
/// a transaction's end failed (SQLITE_FULL or an I/O error at COMMIT; a ROLLBACK after SQLite
/// had already rolled back by itself): reused, the next `BEGIN` on it would become a SAVEPOINT
/// inside a transaction that never ends, and its "commit" would commit nothing while the app
/// answered success. Closed instead, SQLite rolls back whatever it still held. (PostgreSQL's
/// driver counts its rollback at once and the server ends a failed transaction itself.)
fn close_if_left_in_a_transaction(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sea_orm::sqlx::Error>> {
    use sea_orm::sqlx::Connection;
    Box::pin(async move {
        if conn.is_in_transaction() {
            // Runs the rollback the dropped transaction queued, then counts again.
            conn.ping().await?;
        }
        let clean = !conn.is_in_transaction();
        if !clean {
            tracing::warn!("closing a database connection left inside a transaction");
        }
        Ok(clean)
    })
}

/// Whether the database takes a write now (the readiness probe): it commits one small write
/// (the installation's `checked_at`), so a full disk, a read-only server or a connection reset
/// fails it; on SQLite the database also needs a free page (its own "full", which a change
/// that only rewrites a row in place would not meet).
pub async fn check_writable(db: &Db) -> anyhow::Result<()> {
    use sea_orm::sea_query::{Alias, Expr, Query};
    let txn = db.write().await?;
    if db.is_sqlite() {
        let room = txn
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT (SELECT max_page_count FROM pragma_max_page_count()) \
                 - (SELECT page_count FROM pragma_page_count()) \
                 + (SELECT freelist_count FROM pragma_freelist_count()) AS room",
            ))
            .await?
            .context("SQLite did not say how much room it has")?
            .try_get::<i64>("", "room")?;
        anyhow::ensure!(room > 0, "the database is full");
    }
    let stmt = Query::update()
        .table(Alias::new("installation"))
        .value(Alias::new("checked_at"), Expr::value(chrono::Utc::now()))
        .to_owned();
    txn.execute(&stmt).await?;
    txn.commit().await?;
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate(db: &Db) -> anyhow::Result<()> {
    Migrator::up(db.conn(), None)
        .await
        .context("running migrations")
}

/// This installation's id (made by the first migration; see `m20261130_000009_installation`).
pub async fn installation_id(db: &Db) -> anyhow::Result<String> {
    use sea_orm::sea_query::{Alias, Query};
    let stmt = Query::select()
        .column(Alias::new("id"))
        .from(Alias::new("installation"))
        .limit(1)
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .context("the installation table is empty (was the database migrated?)")?;
    Ok(row.try_get::<String>("", "id")?)
}

/// How many migrations are not applied yet (for `/readyz`).
pub async fn pending_migrations(db: &Db) -> anyhow::Result<usize> {
    Ok(Migrator::get_pending_migrations(db.conn()).await?.len())
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
