//! Page views recorded in batches. A view is not worth a write of its own (on SQLite every
//! write waits for the single writer, and the store's reads would queue behind each other's
//! analytics): [`Views::record`] puts the event on a bounded queue, and one task writes all
//! that waits at least every second, as soon as [`BATCH`] are waiting,
//! when asked ([`Views::flush`]) and when the app stops. A full queue makes the view wait, so
//! the count stays exact. A write that fails (the database is out) is tried again at the next
//! tick; past [`KEEP`] waiting events the oldest are dropped, and the log says how many.
//!
//! Under load a write's round trip takes tens of milliseconds (the requests share the cores
//! with it), so a fixed batch capped the views a second (500 per 50 ms on PostgreSQL) and page
//! views waited for the full queue: the writer takes all that waits, so batches grow with the
//! load. On SQLite a batch is written as multi-row `INSERT … VALUES` of [`BATCH`] rows; on
//! PostgreSQL as one statement whatever the count, the rows one JSON parameter
//! (`jsonb_to_recordset`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, Statement};
use tokio::sync::{mpsc, oneshot};

use super::Event;
use crate::db::Db;
use crate::db::entities::store_event;
use crate::ids::{ClientId, TemplateId, UserId};

/// How often waiting views are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How many views one statement writes on SQLite (on PostgreSQL, all that wait).
pub const BATCH: usize = 500;
/// How many views may wait for the database (the queue, and a failed write's rows).
pub const KEEP: usize = 10_000;

// Nearly every message is a view: boxing it would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
enum Msg {
    View(Event),
    Flush(oneshot::Sender<()>),
}

/// The handle requests record views through (cheap to clone).
#[derive(Clone)]
pub struct Views {
    tx: mpsc::Sender<Msg>,
}

impl Views {
    /// Starts the task that writes the views to `db`.
    pub fn start(db: Db) -> Self {
        let (tx, rx) = mpsc::channel(KEEP);
        tokio::spawn(write_batches(db, rx));
        Self { tx }
    }

    /// Queues a view (waiting if the queue is full).
    pub async fn record(&self, event: Event) {
        let event = Event {
            at: Some(event.at.unwrap_or_else(Utc::now)),
            ..event
        };
        if self.tx.send(Msg::View(event)).await.is_err() {
            tracing::warn!("a view was not recorded: the analytics writer has stopped");
        }
    }

    /// Writes every view queued so far; returns when they are written (or the write failed).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Msg::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

async fn write_batches(db: Db, mut rx: mpsc::Receiver<Msg>) {
    let mut waiting: Vec<Event> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else {
                    write(&db, &mut waiting).await;
                    return;
                };
                // Take what is queued already: a write takes longer the busier the machine,
                // so the batches grow with the load instead of the queue filling up. A flush
                // covers every view queued before it.
                let mut flushes = Vec::new();
                let mut next = Some(msg);
                while let Some(msg) = next {
                    match msg {
                        Msg::View(event) => waiting.push(event),
                        Msg::Flush(done) => flushes.push(done),
                    }
                    next = if waiting.len() < KEEP { rx.try_recv().ok() } else { None };
                }
                if waiting.len() >= BATCH || !flushes.is_empty() {
                    write(&db, &mut waiting).await;
                }
                for done in flushes {
                    let _ = done.send(());
                }
            }
            _ = tick.tick() => {
                if !waiting.is_empty() {
                    write(&db, &mut waiting).await;
                }
            }
        }
    }
}

/// Writes the waiting rows; keeps what could not be written.
async fn write(db: &Db, waiting: &mut Vec<Event>) {
    let per_statement = if db.is_sqlite() { BATCH } else { KEEP };
    while !waiting.is_empty() {
        let n = waiting.len().min(per_statement);
        match insert(db, &waiting[..n]).await {
            Ok(()) => {
                waiting.drain(..n);
            }
            Err(e) => {
                tracing::warn!(error = %e, waiting = waiting.len(), "store views not written yet; trying again in a second");
                if waiting.len() > KEEP {
                    let dropped = waiting.len() - KEEP;
                    waiting.drain(..dropped);
                    tracing::error!(
                        dropped,
                        "store views dropped: the database has been out too long"
                    );
                }
                return;
            }
        }
    }
}

async fn insert(db: &Db, events: &[Event]) -> Result<(), DbErr> {
    if db.is_sqlite() {
        store_event::Entity::insert_many(events.iter().cloned().map(Event::row))
            .exec_without_returning(db)
            .await?;
        return Ok(());
    }
    // Serialised straight to text (no JSON tree per row): on a busy machine this runs
    // beside the requests, on the same cores.
    #[derive(serde::Serialize)]
    struct Row<'a> {
        kind: &'static str,
        client_id: Option<ClientId>,
        user_id: Option<UserId>,
        template_id: Option<TemplateId>,
        quantity: Option<i32>,
        amount_minor: Option<i64>,
        currency: Option<&'static str>,
        details: &'a serde_json::Value,
        at: Option<DateTime<Utc>>,
        experiment_id: Option<i64>,
        variant: Option<i32>,
    }
    let rows: Vec<Row<'_>> = events
        .iter()
        .map(|e| Row {
            kind: e.kind.as_str(),
            client_id: e.client_id,
            user_id: e.user_id,
            template_id: e.template_id,
            quantity: e.quantity,
            amount_minor: e.amount.map(|m| m.minor),
            currency: e.amount.map(|m| m.currency.code()),
            details: &e.details,
            at: e.at,
            experiment_id: e.experiment.map(|x| x.0),
            variant: e.experiment.map(|x| x.1),
        })
        .collect();
    let rows = serde_json::to_string(&rows).map_err(|e| DbErr::Custom(e.to_string()))?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO store_events \
           (kind, client_id, user_id, template_id, quantity, amount_minor, currency, details, at, \
            experiment_id, variant) \
         SELECT kind, client_id, user_id, template_id, quantity, amount_minor, currency, details, at, \
           experiment_id, variant \
         FROM jsonb_to_recordset($1::jsonb) AS r(kind text, client_id bigint, user_id bigint, \
           template_id bigint, quantity integer, amount_minor bigint, currency text, \
           details jsonb, at timestamptz, experiment_id bigint, variant integer)",
        [rows.into()],
    ))
    .await?;
    Ok(())
}
