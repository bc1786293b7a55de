//! Live updates: who was just notified, told to the browsers connected to any instance (the
//! bell's count, and the page of a service that changed, refresh without a reload).
//!
//! On PostgreSQL the transaction that writes notifications also runs `pg_notify` on
//! [`CHANNEL`]: PostgreSQL delivers it when (and only if) the transaction commits, to every
//! instance listening, this one included. On SQLite there is one process and one writer, whose
//! notification ids commit in order: a task reads the rows past the last one it saw, a few times
//! a second. Either way each instance hands what it hears to its browsers' streams through one
//! broadcast channel.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::db::Db;
use crate::db::entities::notification;
use crate::ids::{ServiceId, UserId};

pub const CHANNEL: &str = "agency_hub_live";
/// How often SQLite's reader looks for new notifications.
const POLL: Duration = Duration::from_millis(300);
/// PostgreSQL refuses payloads past 8000 bytes: past this, everyone is told to look.
const MAX_PAYLOAD: usize = 7_000;

/// Who was notified, each about which service (a person hears only of their own).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    pub told: Vec<(UserId, Option<ServiceId>)>,
    /// Too many to name: every connected person looks (and is told of no service).
    #[serde(default)]
    pub everyone: bool,
}

impl Live {
    /// Adds a person told (once per person and service).
    pub fn add(&mut self, user: UserId, service: Option<ServiceId>) {
        if !self.told.contains(&(user, service)) {
            self.told.push((user, service));
        }
    }

    /// Whether `user` is concerned, and the services they were told about.
    pub fn for_user(&self, user: UserId) -> Option<Vec<ServiceId>> {
        let mine: Vec<ServiceId> = self
            .told
            .iter()
            .filter(|(u, _)| *u == user)
            .filter_map(|(_, s)| *s)
            .collect();
        (self.everyone || self.told.iter().any(|(u, _)| *u == user)).then_some(mine)
    }
}

/// This instance's end of the live updates.
#[derive(Clone)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Live>>,
}

impl Hub {
    /// Starts hearing: PostgreSQL's notifications, or SQLite's new rows.
    pub async fn start(db: Db, database_url: &str) -> anyhow::Result<Self> {
        let (tx, _) = broadcast::channel(256);
        let hub = Self { tx };
        if db.is_sqlite() {
            let last = last_id(&db).await?;
            tokio::spawn(poll(db, hub.clone(), last));
        } else {
            // The first connection is made before the instance serves, so nothing written
            // once it serves goes unheard; later ones are made again by `listen`.
            let first = connect(database_url).await?;
            tokio::spawn(listen(database_url.to_string(), hub.clone(), first));
        }
        Ok(hub)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Live>> {
        self.tx.subscribe()
    }

    fn publish(&self, live: Live) {
        // Committed notifications: unread counts kept in memory are read again.
        super::inapp::written();
        // No browser connected: nobody to tell.
        let _ = self.tx.send(Arc::new(live));
    }
}

/// Tells every instance, at commit, who this transaction notifies (PostgreSQL; SQLite's
/// reader finds the rows itself).
pub async fn announce<C: ConnectionTrait>(conn: &C, live: Live) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres || live.told.is_empty() {
        return Ok(());
    }
    let mut payload = serde_json::to_string(&live).unwrap_or_default();
    if payload.len() > MAX_PAYLOAD {
        payload = serde_json::to_string(&Live {
            everyone: true,
            ..Live::default()
        })
        .unwrap_or_default();
    }
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), payload.into()],
    ))
    .await?;
    Ok(())
}

async fn connect(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut l = PgListener::connect(url).await?;
    l.listen(CHANNEL).await?;
    Ok(l)
}

async fn listen(url: String, hub: Hub, first: PgListener) {
    let mut wait = Duration::from_millis(200);
    let mut first = Some(first);
    loop {
        let listener = match first.take() {
            Some(l) => Ok(l),
            None => connect(&url).await,
        };
        let mut listener = match listener {
            Ok(l) => {
                wait = Duration::from_millis(200);
                // What was announced while this instance was not listening is not delivered
                // again: every connected person looks at their counts now.
                hub.publish(Live {
                    everyone: true,
                    ..Live::default()
                });
                l
            }
            Err(e) => {
                tracing::warn!(error = %e, "live updates: cannot listen on PostgreSQL; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        loop {
            match listener.recv().await {
                Ok(n) => match serde_json::from_str::<Live>(n.payload()) {
                    Ok(live) => hub.publish(live),
                    Err(e) => tracing::warn!(error = %e, "live updates: an unreadable payload"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "live updates: the listening connection failed; reconnecting");
                    break;
                }
            }
        }
    }
}

async fn last_id(db: &Db) -> Result<i64, DbErr> {
    Ok(notification::Entity::find()
        .select_only()
        .column(notification::Column::Id)
        .order_by_desc(notification::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .unwrap_or(0))
}

async fn poll(db: Db, hub: Hub, mut last: i64) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if hub.tx.receiver_count() == 0 {
            // Nobody listens: keep up with the newest id without reading the rows. (Not
            // skipping the read altogether: a stream opening between two ticks must still hear
            // of what is written before the next one.)
            match last_id(&db).await {
                Ok(id) => last = id,
                Err(e) => {
                    tracing::warn!(error = %e, "live updates: reading the newest notification")
                }
            }
            continue;
        }
        let rows: Result<Vec<(i64, UserId, Option<ServiceId>)>, DbErr> =
            notification::Entity::find()
                .select_only()
                .column(notification::Column::Id)
                .column(notification::Column::UserId)
                .column(notification::Column::ServiceId)
                .filter(notification::Column::Id.gt(last))
                .order_by_asc(notification::Column::Id)
                .limit(1_000)
                .into_tuple()
                .all(&db)
                .await;
        match rows {
            Ok(rows) if !rows.is_empty() => {
                let mut live = Live::default();
                for (id, user, service) in rows {
                    last = last.max(id);
                    live.add(user, service);
                }
                hub.publish(live);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "live updates: reading new notifications"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_hears_only_of_their_own_services() {
        let (ana, gus) = (UserId(1), UserId(2));
        let mut live = Live::default();
        live.add(ana, Some(ServiceId(10)));
        live.add(gus, Some(ServiceId(20)));
        live.add(ana, Some(ServiceId(10)));
        live.add(ana, None);
        assert_eq!(live.for_user(ana), Some(vec![ServiceId(10)]));
        assert_eq!(live.for_user(gus), Some(vec![ServiceId(20)]));
        assert_eq!(live.for_user(UserId(3)), None);
        let everyone = Live {
            everyone: true,
            ..Live::default()
        };
        assert_eq!(everyone.for_user(UserId(3)), Some(Vec::new()));
    }
}
