//! Stripe's events, handled exactly once. Each delivery is recorded in `stripe_events`: the
//! event id is inserted in the same transaction as the work, so a duplicate does nothing and a
//! failure leaves nothing behind (but the failed event and its body, for a retry). Each event
//! type is dispatched to the module that owns the change.
//!
//! The webhook hands its events to a [`Batcher`]: what arrives while a transaction runs is
//! handled together in the next one (a few statements for all their orders, one commit), and
//! a batch that fails is handled again one event at a time, so one bad event fails alone.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::sea_query::{CaseStatement, Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::db::entities::stripe_event::{self, FAILED, RECEIVED};
use crate::error::{AppError, AppResult};
use crate::orders::{self, Effect};
use crate::stripe::client::{Charge, CheckoutSession};
use crate::stripe::events::Event;

/// What became of a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    Processed(&'static str),
    Duplicate,
}

/// Events handled together at most (a transaction's worth: each is a few rows).
const MAX_BATCH: usize = 64;

/// Hands events to one task that handles what has arrived meanwhile in one transaction.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Delivery>,
}

struct Delivery {
    event: Event,
    raw: String,
    reply: oneshot::Sender<AppResult<Handled>>,
}

impl Batcher {
    /// Starts the task (on the current runtime; it ends when every handle is dropped). One
    /// batch runs at a time: what arrives meanwhile makes the next one (SQLite writes one
    /// transaction at a time anyway; on PostgreSQL, batches in parallel measured slower, being
    /// smaller: the fixed statements of a batch cost more than its orders).
    pub fn start(db: Db) -> Self {
        let (tx, mut rx) = mpsc::channel::<Delivery>(1024);
        tokio::spawn(async move {
            let mut waiting = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut waiting, MAX_BATCH).await > 0 {
                let batch = std::mem::take(&mut waiting);
                let db = db.clone();
                // Its own task: a panic drops the replies (the deliveries answer 500) and the
                // next batch still runs.
                let run = tokio::spawn(async move {
                    let (events, replies): (Vec<_>, Vec<_>) = batch
                        .into_iter()
                        .map(|d| ((d.event, d.raw), d.reply))
                        .unzip();
                    let handled = handle_many(&db, &events).await;
                    for (reply, handled) in replies.into_iter().zip(handled) {
                        let _ = reply.send(handled);
                    }
                });
                if let Err(e) = run.await {
                    tracing::error!(error = %e, "a batch of Stripe events panicked");
                }
            }
        });
        Self { tx }
    }

    /// Handles the event with whatever else has arrived (see [`handle`]).
    pub async fn handle(&self, event: Event, raw: String) -> AppResult<Handled> {
        let stopped = || AppError::internal(anyhow::anyhow!("the Stripe event handler stopped"));
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Delivery { event, raw, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Handles several events: payments together in one transaction when that succeeds; else, and
/// when other kinds are among them (handled in the order they came), each alone (its own
/// transaction, a failure recorded with it).
pub async fn handle_many(db: &Db, events: &[(Event, String)]) -> Vec<AppResult<Handled>> {
    if events.len() > 1 && events.iter().all(|(e, _)| is_payment(&e.kind)) {
        match run_many(db, events).await {
            Ok(handled) => return handled.into_iter().map(Ok).collect(),
            Err(e) => tracing::warn!(
                events = events.len(),
                error = %e,
                "a batch of Stripe events failed: handling each alone"
            ),
        }
    }
    let mut handled = Vec::with_capacity(events.len());
    for (event, raw) in events {
        handled.push(handle(db, event, raw).await);
    }
    handled
}

/// The batch's transaction (payments only): every event's row, written as fulfilled (what
/// nearly all become; the transaction hides it until the work commits with it), then their
/// orders fulfilled together, then the outcome of those that became something else.
async fn run_many(db: &Db, events: &[(Event, String)]) -> AppResult<Vec<Handled>> {
    let sessions = events
        .iter()
        .map(|(e, _)| session_of(e))
        .collect::<AppResult<Vec<_>>>()?;
    let fulfilled = orders::fulfil::Outcome::Fulfilled.label();
    let now = Utc::now();
    // Each id once, in id order: two instances' batches insert the same ids in the same order.
    let mut rows: Vec<(&str, stripe_event::ActiveModel)> = events
        .iter()
        .zip(&sessions)
        .map(|((event, _), session)| {
            let mut row = received(event.id.clone(), event.kind.clone());
            row.outcome = Set(fulfilled.into());
            row.order_id = Set(orders::fulfil::order_id_of(session));
            row.processed_at = Set(Some(now));
            (event.id.as_str(), row)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    rows.dedup_by(|a, b| a.0 == b.0);
    let txn = db.write().await?;
    let inserted = stripe_event::Entity::insert_many(rows.into_iter().map(|(_, row)| row))
        .on_conflict(on_conflict_unless_failed())
        .exec_with_returning_keys(&txn)
        .await;
    let mut new: HashSet<String> = match inserted {
        Ok(ids) => ids.into_iter().collect(),
        Err(DbErr::RecordNotInserted) => HashSet::new(),
        Err(e) => return Err(e.into()),
    };
    // Ours to handle: the first delivery of each new id; the rest are duplicates.
    let mine: Vec<usize> = (0..events.len())
        .filter(|&i| new.remove(&events[i].0.id))
        .collect();
    let started = std::time::Instant::now();
    let checkout: Vec<_> = mine.iter().map(|&i| sessions[i].clone()).collect();
    let outcomes = orders::fulfil::fulfil_many(&txn, &checkout).await?;
    let mut handled = vec![Handled::Duplicate; events.len()];
    let mut otherwise = Vec::new();
    for (&i, outcome) in mine.iter().zip(outcomes) {
        fulfilment_took(outcome, started);
        handled[i] = Handled::Processed(outcome.label());
        if outcome.label() != fulfilled {
            otherwise.push((events[i].0.id.as_str(), outcome.label()));
        }
    }
    if !otherwise.is_empty() {
        let outcome = otherwise
            .iter()
            .fold(CaseStatement::new(), |case, (id, outcome)| {
                case.case(stripe_event::Column::Id.eq(*id), *outcome)
            });
        stripe_event::Entity::update_many()
            .col_expr(stripe_event::Column::Outcome, outcome.into())
            .filter(stripe_event::Column::Id.is_in(otherwise.iter().map(|(id, _)| *id)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(handled)
}

/// The events that pay for an order (fulfilled together in a batch).
fn is_payment(kind: &str) -> bool {
    matches!(
        kind,
        "checkout.session.completed" | "checkout.session.async_payment_succeeded"
    )
}

/// How long a fulfilment took, by outcome (`/metrics`).
fn fulfilment_took(outcome: orders::fulfil::Outcome, started: std::time::Instant) {
    metrics::histogram!(crate::metrics::FULFILMENT_DURATION, "outcome" => format!("{outcome:?}"))
        .record(started.elapsed().as_secs_f64());
}

/// A new delivery's row.
fn received(id: String, kind: String) -> stripe_event::ActiveModel {
    stripe_event::ActiveModel {
        id: Set(id),
        event_type: Set(kind),
        order_id: Set(None),
        outcome: Set(RECEIVED.into()),
        error: Set(None),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        payload: Set(None),
    }
}

/// A new id, or one whose handling failed before, is ours to handle now.
fn on_conflict_unless_failed() -> OnConflict {
    OnConflict::column(stripe_event::Column::Id)
        .update_columns([
            stripe_event::Column::Outcome,
            stripe_event::Column::Error,
            stripe_event::Column::OrderId,
            stripe_event::Column::ProcessedAt,
            stripe_event::Column::Payload,
        ])
        .action_and_where(
            Expr::col((stripe_event::Entity, stripe_event::Column::Outcome)).eq(FAILED),
        )
        .to_owned()
}

fn session_of(event: &Event) -> AppResult<CheckoutSession> {
    event.object().map_err(|e| {
        AppError::bad_request(format!("The event's checkout session does not read: {e}"))
    })
}

/// Records and handles one event. `raw` is the event as received: kept with a failure, so an
/// admin can run it again.
pub async fn handle(db: &Db, event: &Event, raw: &str) -> AppResult<Handled> {
    let handled = run(db, event).await;
    if let Err(e) = &handled
        && let Err(record) = record_failure(db, event, raw, &e.to_string()).await
    {
        tracing::error!(stripe.event_id = %event.id, error = %record, "could not record the failed event");
    }
    handled
}

async fn run(db: &Db, event: &Event) -> AppResult<Handled> {
    let txn = db.write().await?;
    let inserted = stripe_event::Entity::insert(received(event.id.clone(), event.kind.clone()))
        .on_conflict(on_conflict_unless_failed())
        .exec_without_returning(&txn)
        .await?;
    if inserted == 0 {
        // Processed by an earlier delivery (its transaction committed the row with the work).
        txn.commit().await?;
        return Ok(Handled::Duplicate);
    }
    let Effect { outcome, order_id } = process(&txn, event).await?;
    stripe_event::Entity::update(stripe_event::ActiveModel {
        id: Set(event.id.clone()),
        order_id: Set(order_id),
        outcome: Set(outcome.to_string()),
        processed_at: Set(Some(Utc::now())),
        payload: Set(None),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(Handled::Processed(outcome))
}

/// Keeps a failed event with its error and body, outside the rolled-back transaction. An event
/// handled meanwhile (by another delivery) stays as it is.
async fn record_failure(
    db: &Db,
    event: &Event,
    raw: &str,
    error: &str,
) -> Result<(), sea_orm::DbErr> {
    stripe_event::Entity::insert(stripe_event::ActiveModel {
        id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        order_id: Set(None),
        outcome: Set(FAILED.into()),
        error: Set(Some(error.to_string())),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        payload: Set(Some(raw.to_string())),
    })
    .on_conflict(
        OnConflict::column(stripe_event::Column::Id)
            .update_columns([
                stripe_event::Column::Outcome,
                stripe_event::Column::Error,
                stripe_event::Column::Payload,
            ])
            .action_and_where(
                Expr::col((stripe_event::Entity, stripe_event::Column::Outcome))
                    .is_in([FAILED, RECEIVED]),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Runs a failed event again from its stored body (the admin's retry button).
pub async fn retry(db: &Db, id: &str) -> AppResult<Handled> {
    let row = stripe_event::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(AppError::not_found)?;
    let payload = match (row.outcome.as_str(), row.payload) {
        (FAILED, Some(p)) => p,
        _ => {
            return Err(AppError::conflict(format!(
                "Event {id} did not fail (it is {}): there is nothing to retry.",
                row.outcome
            )));
        }
    };
    let event: Event = serde_json::from_str(&payload)
        .map_err(|e| AppError::bad_request(format!("The stored event does not read: {e}")))?;
    handle(db, &event, &payload).await
}

/// The event's object as `T`, or a 400 saying why it does not read as `what`.
fn object_of<T: serde::de::DeserializeOwned>(event: &Event, what: &str) -> AppResult<T> {
    event
        .object()
        .map_err(|e| AppError::bad_request(format!("The event's {what} does not read: {e}")))
}

/// The module that owns the change handles each type; others are recorded and acknowledged.
async fn process<C: ConnectionTrait>(conn: &C, event: &Event) -> AppResult<Effect> {
    match event.kind.as_str() {
        kind if is_payment(kind) => {
            let session = session_of(event)?;
            let started = std::time::Instant::now();
            let outcome = orders::fulfil::fulfil_checkout(conn, &session).await?;
            fulfilment_took(outcome, started);
            Ok(Effect {
                outcome: outcome.label(),
                order_id: orders::fulfil::order_id_of(&session),
            })
        }
        "checkout.session.async_payment_failed" => {
            orders::checkout::debit_failed(conn, &session_of(event)?).await
        }
        "checkout.session.expired" => orders::checkout::expired(conn, &session_of(event)?).await,
        "payment_intent.payment_failed" => {
            orders::checkout::card_declined(conn, event.metadata_order_id()).await
        }
        "invoice.paid" => {
            crate::subscriptions::invoice_paid(conn, &object_of(event, "invoice")?).await
        }
        "invoice.payment_failed" => {
            crate::subscriptions::invoice_payment_failed(conn, &object_of(event, "invoice")?).await
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let snapshot = object_of(event, "subscription")?;
            crate::subscriptions::apply_snapshot(conn, &snapshot, event.created).await
        }
        "charge.refunded" => {
            let charge: Charge = event.object().map_err(|e| {
                AppError::bad_request(format!("The event's charge does not read: {e}"))
            })?;
            orders::refunds::charge_refunded(conn, &charge).await
        }
        _ => Ok(Effect {
            outcome: "ignored",
            order_id: None,
        }),
    }
}
