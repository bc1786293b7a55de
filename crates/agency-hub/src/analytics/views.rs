//! Page views recorded in batches. A view is not worth a write of its own (on SQLite every
//! write waits for the single writer, and the store's reads would queue behind each other's
//! analytics): [`Views::record`] puts the event on a bounded queue, and one task writes what
//! waits with one multi-row `INSERT` at least every second, as soon as [`BATCH`] are waiting,
//! when asked ([`Views::flush`]) and when the app stops. A full queue makes the view wait, so
//! the count stays exact. A write that fails (the database is out) is tried again at the next
//! tick; past [`KEEP`] waiting events the oldest are dropped, and the log says how many.

use std::time::Duration;

use sea_orm::EntityTrait;
use tokio::sync::{mpsc, oneshot};

use super::Event;
use crate::db::Db;
use crate::db::entities::store_event;

/// How often waiting views are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// How many views one statement writes.
pub const BATCH: usize = 500;
/// How many views may wait for the database (the queue, and a failed write's rows).
pub const KEEP: usize = 10_000;

// Nearly every message is a view: boxing it would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
enum Msg {
    View(store_event::ActiveModel),
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
        if self.tx.send(Msg::View(event.row())).await.is_err() {
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
    let mut waiting: Vec<store_event::ActiveModel> = Vec::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::View(row)) => {
                    waiting.push(row);
                    if waiting.len() >= BATCH {
                        write(&db, &mut waiting).await;
                    }
                }
                Some(Msg::Flush(done)) => {
                    // Take what is already queued too, so a flush covers every view before it.
                    while let Ok(Msg::View(row)) = rx.try_recv() {
                        waiting.push(row);
                    }
                    write(&db, &mut waiting).await;
                    let _ = done.send(());
                }
                None => {
                    write(&db, &mut waiting).await;
                    return;
                }
            },
            _ = tick.tick() => {
                if !waiting.is_empty() {
                    write(&db, &mut waiting).await;
                }
            }
        }
    }
}

/// Writes the waiting rows, [`BATCH`] per statement; keeps what could not be written.
async fn write(db: &Db, waiting: &mut Vec<store_event::ActiveModel>) {
    while !waiting.is_empty() {
        let n = waiting.len().min(BATCH);
        let rows: Vec<_> = waiting[..n].to_vec();
        match store_event::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
        {
            Ok(_) => {
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
