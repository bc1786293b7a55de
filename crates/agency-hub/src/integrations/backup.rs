//! `agency-hub backup FILE` and `agency-hub restore FILE`.
//!
//! On SQLite a backup is `VACUUM INTO`: one read transaction of the live database, so the copy
//! is the database as of one moment, while the app goes on serving (in WAL mode writers do not
//! wait for readers); it is compacted and checked (`PRAGMA quick_check`) before the command
//! says it is done. A restore copies a backup the same way into an empty database file, then
//! migrates it (a backup of an older version comes up to date).
//!
//! On PostgreSQL the database's own tools do it better than an app can (a consistent snapshot
//! of any size, compression, parallel restore): the commands print the `pg_dump` /
//! `pg_restore` lines to run instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::config::DatabaseUrl;

/// What a command did, or why it did nothing (a usage error: exit code 2).
pub enum Done {
    Written(String),
    /// On PostgreSQL: what to run instead.
    UseTheDatabaseTools(String),
}

/// Copies the database at `url` to `to` (a new file).
pub async fn backup(url: &DatabaseUrl, to: &Path) -> anyhow::Result<Done> {
    let path = match url {
        DatabaseUrl::Postgres { url } => {
            return Ok(Done::UseTheDatabaseTools(format!(
                "DATABASE_URL is PostgreSQL: back it up with pg_dump, which takes a consistent snapshot while the app serves:\n  pg_dump --format=custom --file={} '{}'\nand restore it into an empty database with `agency-hub restore` (which shows how).",
                to.display(),
                redacted(url)
            )));
        }
        DatabaseUrl::Sqlite { path, .. } => path,
    };
    if !path.exists() {
        bail!("there is no database at {} (DATABASE_URL)", path.display());
    }
    if to.exists() {
        bail!(
            "{} exists already: a backup never overwrites a file, choose a new name",
            to.display()
        );
    }
    let source = open_read_only(path).await?;
    vacuum_into(&source, to)
        .await
        .with_context(|| format!("copying {} to {}", path.display(), to.display()))?;
    source.close().await.ok();
    let copy = open_read_only(to).await?;
    let tables = check(&copy).await?;
    copy.close().await.ok();
    let bytes = std::fs::metadata(to).map(|m| m.len()).unwrap_or(0);
    Ok(Done::Written(format!(
        "Backed up {} ({tables} tables, {} KB) to {}.",
        path.display(),
        bytes.div_ceil(1024),
        to.display()
    )))
}

/// Copies the backup `from` into the database at `url`, which must be empty.
pub async fn restore(url: &DatabaseUrl, from: &Path) -> anyhow::Result<Done> {
    let path = match url {
        DatabaseUrl::Postgres { url } => {
            return Ok(Done::UseTheDatabaseTools(format!(
                "DATABASE_URL is PostgreSQL: restore a pg_dump backup with pg_restore into the empty database DATABASE_URL names (make one with createdb), then start the app (it migrates an older backup):\n  pg_restore --no-owner --dbname='{}' {}",
                redacted(url),
                from.display()
            )));
        }
        DatabaseUrl::Sqlite { path, .. } => path.clone(),
    };
    if !from.exists() {
        bail!("there is no backup at {}", from.display());
    }
    let backup = open_read_only(from)
        .await
        .with_context(|| format!("{} is not a SQLite database", from.display()))?;
    check(&backup)
        .await
        .with_context(|| format!("{} is not an Agency Hub backup", from.display()))?;
    make_room(&path).await?;
    vacuum_into(&backup, &path)
        .await
        .with_context(|| format!("copying {} to {}", from.display(), path.display()))?;
    backup.close().await.ok();
    let db = crate::db::connect(url).await?;
    let pending = crate::db::pending_migrations(&db).await?;
    crate::db::migrate(&db).await?;
    db.conn().clone().close().await.ok();
    Ok(Done::Written(format!(
        "Restored {} into {}{}.",
        from.display(),
        path.display(),
        match pending {
            0 => String::new(),
            n => format!(" and applied {n} migration(s) to bring it up to date"),
        }
    )))
}

/// The URL without its password, to print.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("PASSWORD"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

async fn open_read_only(path: &Path) -> anyhow::Result<DatabaseConnection> {
    let opts = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let pool = sea_orm::sqlx::SqlitePool::connect_with(opts)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

async fn vacuum_into(source: &DatabaseConnection, to: &Path) -> anyhow::Result<()> {
    let to = to
        .to_str()
        .context("the file name is not valid UTF-8")?
        .to_string();
    source
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [to.into()],
        ))
        .await?;
    Ok(())
}

/// Checks a copy: intact, and an Agency Hub database (it has our migrations table). Returns
/// its number of tables.
async fn check(db: &DatabaseConnection) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA quick_check",
        ))
        .await?
        .context("no answer to the integrity check")?;
    let verdict: String = row.try_get_by_index(0)?;
    if verdict != "ok" {
        bail!("the copy is damaged: {verdict}");
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT count(*), sum(name = 'seaql_migrations') FROM sqlite_master WHERE type = 'table'",
        ))
        .await?
        .context("no answer listing the tables")?;
    let (tables, ours): (i64, Option<i64>) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
    if ours != Some(1) {
        bail!("it has no migrations table");
    }
    Ok(tables)
}

/// Makes sure the restore's target is an empty database (no table), and removes it so the
/// copy can be written in its place.
async fn make_room(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        let db = open_read_only(path).await?;
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            ))
            .await?
            .context("no answer listing the tables")?;
        let tables: i64 = row.try_get_by_index(0)?;
        db.close().await.ok();
        if tables > 0 {
            bail!(
                "the database at {} is not empty ({tables} tables): restore into a new file (set DATABASE_URL to it)",
                path.display()
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            if file.exists() {
                std::fs::remove_file(&file)
                    .with_context(|| format!("removing the empty {}", file.display()))?;
            }
        }
    } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the folder {}", dir.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redacted("postgres://app:s3cret@db.internal:5432/agency"),
            "postgres://app:PASSWORD@db.internal:5432/agency"
        );
        assert_eq!(
            redacted("postgres://postgres@127.0.0.1/agency"),
            "postgres://postgres@127.0.0.1/agency"
        );
    }
}
