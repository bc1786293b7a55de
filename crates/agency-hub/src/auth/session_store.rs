//! tower-sessions' store on the app's own database, so every instance shares the sessions and
//! a user's sessions can be ended server-side (`user_id` is kept in its own column).
//!
//! A session read is kept in memory for a second ([`SESSIONS`]): a page view does not read the
//! database for it. What this instance does to a session (save, sign-out, ending a user's
//! sessions) it forgets at once; another instance's sign-out, deactivation or password change
//! reaches this one within that second.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use std::sync::LazyLock;
use std::time::Duration;

use crate::cache::Fresh;
use crate::db::Db;
use crate::db::entities::session;
use crate::ids::UserId;

/// The session key holding the signed-in user's id.
pub const USER_ID_KEY: &str = "user_id";

/// Sessions read lately, by id (ids are random, so one map serves every app in the process).
static SESSIONS: LazyLock<Fresh<Id, Record>> =
    LazyLock::new(|| Fresh::new(Duration::from_secs(1), 100_000));

/// Forgets every session read (the next read of each goes to the database).
pub fn forget_all() {
    SESSIONS.clear();
}

fn user_of(record: &Record) -> Option<UserId> {
    record
        .data
        .get(USER_ID_KEY)
        .and_then(|v| v.as_i64())
        .map(UserId)
}

#[derive(Clone, Debug)]
pub struct DbSessionStore {
    db: Db,
    /// How long a session lasts unused. A session is saved only when it changes, so a read
    /// moves its expiry forward itself, at most once a day ([`Self::load`]).
    idle: Duration,
}

impl DbSessionStore {
    pub fn new(db: Db, idle: Duration) -> Self {
        Self { db, idle }
    }
}

/// How stale a session's expiry may grow before a read moves it forward.
const EXTEND_AFTER: Duration = Duration::from_secs(24 * 3600);

fn backend(err: DbErr) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

fn to_row(record: &Record) -> session_store::Result<session::ActiveModel> {
    let data = serde_json::to_string(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let expires_at = DateTime::<Utc>::from_timestamp(
        record.expiry_date.unix_timestamp(),
        record.expiry_date.nanosecond(),
    )
    .ok_or_else(|| session_store::Error::Encode("expiry out of range".into()))?;
    Ok(session::ActiveModel {
        id: Set(record.id.to_string()),
        user_id: Set(user_of(record)),
        data: Set(data),
        expires_at: Set(expires_at),
    })
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh id that collides with a stored one gets another id, never the other's row.
        loop {
            let inserted = session::Entity::insert(to_row(record)?)
                .on_conflict(
                    OnConflict::column(session::Column::Id)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map_err(backend)?;
            if inserted == 1 {
                SESSIONS.put(record.id, record.clone());
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        session::Entity::insert(to_row(record)?)
            .on_conflict(
                OnConflict::column(session::Column::Id)
                    .update_columns([
                        session::Column::UserId,
                        session::Column::Data,
                        session::Column::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await
            .map_err(backend)?;
        SESSIONS.put(record.id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = SESSIONS.get(id) {
            return Ok(Some(record));
        }
        let Some(row) = session::Entity::find_by_id(id.to_string())
            .filter(session::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let data = serde_json::from_str(&row.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let mut expires_at = row.expires_at;
        let now = Utc::now();
        if expires_at + EXTEND_AFTER < now + self.idle {
            // Used again: it lasts `idle` from now (one write a day at most, not one a view).
            expires_at = now + self.idle;
            session::Entity::update_many()
                .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
                .filter(session::Column::Id.eq(row.id.clone()))
                .exec(&self.db)
                .await
                .map_err(backend)?;
        }
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires_at.timestamp())
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let record = Record {
            id: *id,
            data,
            expiry_date,
        };
        SESSIONS.put(*id, record.clone());
        Ok(Some(record))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        SESSIONS.remove(id);
        session::Entity::delete_by_id(id.to_string())
            .exec(&self.db)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

/// Ends every session of a user (deactivation, password reset).
pub async fn end_sessions_of<C: ConnectionTrait>(conn: &C, user_id: UserId) -> Result<u64, DbErr> {
    SESSIONS.forget(|_, r| user_of(r) == Some(user_id));
    let res = session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Ends every session of a user but `keep` (the one that asked).
pub async fn end_other_sessions_of<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    keep: Option<&str>,
) -> Result<u64, DbErr> {
    SESSIONS.forget(|id, r| user_of(r) == Some(user_id) && Some(id.to_string().as_str()) != keep);
    let mut q = session::Entity::delete_many().filter(session::Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        q = q.filter(session::Column::Id.ne(keep));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

pub async fn purge_expired<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    let res = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(Utc::now()))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}
