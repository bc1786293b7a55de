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

/// Batches running at once on PostgreSQL.
const PG_LANES: usize = 2;

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
    /// Starts the task (on the current runtime; it ends when every handle is dropped). What
    /// arrives while batches run makes the next one. SQLite writes one transaction at a time,
    /// so one batch runs at a time there; PostgreSQL runs [`PG_LANES`] at once, so a batch's
    /// round trips overlap another's (two batches naming the same order or subscription wait
    /// on its row lock, as two instances' would).
    pub fn start(db: Db) -> Self {
        let lanes = if db.is_sqlite() { 1 } else { PG_LANES };
        let (tx, mut rx) = mpsc::channel::<Delivery>(1024);
        let free = std::sync::Arc::new(tokio::sync::Semaphore::new(lanes));
        tokio::spawn(async move {
            let mut waiting = Vec::with_capacity(MAX_BATCH);
            loop {
                let Ok(lane) = free.clone().acquire_owned().await else {
                    return;
                };
                if rx.recv_many(&mut waiting, MAX_BATCH).await == 0 {
                    return;
                }
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
                tokio::spawn(async move {
                    if let Err(e) = run.await {
                        tracing::error!(error = %e, "a batch of Stripe events panicked");
                    }
                    drop(lane);
                });
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

/// Handles several events: those a batch can take (payments, paid invoices, and the types
/// nothing handles) together in one transaction when that succeeds, else each alone; the others
/// each alone (its own transaction, a failure recorded with it), in the order they came. Events
/// may be handled in any order: each handler is correct whatever came before it.
pub async fn handle_many(db: &Db, events: &[(Event, String)]) -> Vec<AppResult<Handled>> {
    let mut handled: Vec<Option<AppResult<Handled>>> = events.iter().map(|_| None).collect();
    let together: Vec<usize> = (0..events.len())
        .filter(|&i| route(&events[i].0.kind) != Route::Alone)
        .collect();
    if together.len() > 1 {
        let batch: Vec<&(Event, String)> = together.iter().map(|&i| &events[i]).collect();
        match run_many(db, &batch).await {
            Ok(done) => {
                for (&i, done) in together.iter().zip(done) {
                    handled[i] = Some(Ok(done));
                }
            }
            Err(e) => tracing::warn!(
                events = batch.len(),
                error = %e,
                "a batch of Stripe events failed: handling each alone"
            ),
        }
    }
    let mut answers = Vec::with_capacity(events.len());
    for ((event, raw), done) in events.iter().zip(handled) {
        answers.push(match done {
            Some(done) => done,
            None => handle(db, event, raw).await,
        });
    }
    answers
}

/// How an event type is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// A checkout paid: the order fulfilled (together in a batch).
    Payment,
    /// A subscription's period paid (together in a batch).
    InvoicePaid,
    /// Handled alone, by the module that owns the change.
    Alone,
    /// Only recorded.
    Ignored,
}

fn route(kind: &str) -> Route {
    match kind {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => Route::Payment,
        "invoice.paid" => Route::InvoicePaid,
        "checkout.session.async_payment_failed"
        | "checkout.session.expired"
        | "payment_intent.payment_failed"
        | "invoice.payment_failed"
        | "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "charge.refunded" => Route::Alone,
        _ => Route::Ignored,
    }
}

/// The batch's transaction: every event's row, written with the outcome nearly all get (the
/// transaction hides it until the work commits with it), then the orders of the payments
/// fulfilled together and the paid invoices' periods made together, then the outcome of those
/// that became something else.
async fn run_many(db: &Db, events: &[&(Event, String)]) -> AppResult<Vec<Handled>> {
    let sessions = events
        .iter()
        .map(|(e, _)| match route(&e.kind) {
            Route::Payment => session_of(e).map(Some),
            _ => Ok(None),
        })
        .collect::<AppResult<Vec<_>>>()?;
    let invoices = events
        .iter()
        .map(|(e, _)| match route(&e.kind) {
            Route::InvoicePaid => object_of(e, "invoice").map(Some),
            _ => Ok(None),
        })
        .collect::<AppResult<Vec<_>>>()?;
    let usual = |i: usize| match (&sessions[i], &invoices[i]) {
        (Some(_), _) => orders::fulfil::Outcome::Fulfilled.label(),
        (_, Some(_)) => PERIOD_PAID,
        _ => IGNORED,
    };
    let now = Utc::now();
    // Each id once, in id order: two instances' batches insert the same ids in the same order.
    let mut rows: Vec<(&str, stripe_event::ActiveModel)> = events
        .iter()
        .enumerate()
        .map(|(i, (event, _))| {
            let mut row = received(event.id.clone(), event.kind.clone());
            row.outcome = Set(usual(i).into());
            row.order_id = Set(sessions[i].as_ref().and_then(orders::fulfil::order_id_of));
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
    let mut handled = vec![Handled::Duplicate; events.len()];
    let mut effects: Vec<(usize, Effect)> = Vec::with_capacity(mine.len());

    let paying: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| sessions[i].is_some())
        .collect();
    let started = std::time::Instant::now();
    let checkout: Vec<_> = paying.iter().filter_map(|&i| sessions[i].clone()).collect();
    // Each only when it has work: even empty, they would run their statements.
    let outcomes = if checkout.is_empty() {
        Vec::new()
    } else {
        orders::fulfil::fulfil_many(&txn, &checkout).await?
    };
    for (&i, outcome) in paying.iter().zip(outcomes) {
        fulfilment_took(outcome, started);
        let order_id = sessions[i].as_ref().and_then(orders::fulfil::order_id_of);
        effects.push((
            i,
            Effect {
                outcome: outcome.label(),
                order_id,
            },
        ));
    }
    let renewing: Vec<usize> = mine
        .iter()
        .copied()
        .filter(|&i| invoices[i].is_some())
        .collect();
    let paid: Vec<_> = renewing
        .iter()
        .filter_map(|&i| invoices[i].clone())
        .collect();
    let outcomes = if paid.is_empty() {
        Vec::new()
    } else {
        crate::subscriptions::invoices_paid(&txn, &paid).await?
    };
    effects.extend(renewing.iter().copied().zip(outcomes));
    for &i in &mine {
        handled[i] = Handled::Processed(usual(i));
    }
    // The rows whose outcome or order differ from what was written.
    let mut otherwise = Vec::new();
    for (i, effect) in effects {
        handled[i] = Handled::Processed(effect.outcome);
        let written = sessions[i].as_ref().and_then(orders::fulfil::order_id_of);
        if effect.outcome != usual(i) || effect.order_id != written {
            otherwise.push((events[i].0.id.as_str(), effect));
        }
    }
    if !otherwise.is_empty() {
        let (outcome, order) = otherwise.iter().fold(
            (CaseStatement::new(), CaseStatement::new()),
            |(outcome, order), (id, effect)| {
                (
                    outcome.case(stripe_event::Column::Id.eq(*id), effect.outcome),
                    order.case(stripe_event::Column::Id.eq(*id), effect.order_id),
                )
            },
        );
        stripe_event::Entity::update_many()
            .col_expr(stripe_event::Column::Outcome, outcome.into())
            .col_expr(stripe_event::Column::OrderId, order.into())
            .filter(stripe_event::Column::Id.is_in(otherwise.iter().map(|(id, _)| *id)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(handled)
}

/// The outcomes a batch writes first (the usual ones).
const PERIOD_PAID: &str = "period_paid";
const IGNORED: &str = "ignored";

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
    match (route(&event.kind), event.kind.as_str()) {
        (Route::Payment, _) => {
            let session = session_of(event)?;
            let started = std::time::Instant::now();
            let outcome = orders::fulfil::fulfil_checkout(conn, &session).await?;
            fulfilment_took(outcome, started);
            Ok(Effect {
                outcome: outcome.label(),
                order_id: orders::fulfil::order_id_of(&session),
            })
        }
        (Route::InvoicePaid, _) => {
            crate::subscriptions::invoice_paid(conn, &object_of(event, "invoice")?).await
        }
        (_, "checkout.session.async_payment_failed") => {
            orders::checkout::debit_failed(conn, &session_of(event)?).await
        }
        (_, "checkout.session.expired") => {
            orders::checkout::expired(conn, &session_of(event)?).await
        }
        (_, "payment_intent.payment_failed") => {
            orders::checkout::card_declined(conn, event.metadata_order_id()).await
        }
        (_, "invoice.payment_failed") => {
            crate::subscriptions::invoice_payment_failed(conn, &object_of(event, "invoice")?).await
        }
        (
            _,
            "customer.subscription.created"
            | "customer.subscription.updated"
            | "customer.subscription.deleted",
        ) => {
            let snapshot = object_of(event, "subscription")?;
            crate::subscriptions::apply_snapshot(conn, &snapshot, event.created).await
        }
        (_, "charge.refunded") => {
            let charge: Charge = object_of(event, "charge")?;
            orders::refunds::charge_refunded(conn, &charge).await
        }
        // `Route::Ignored` (`route` names the types with an arm here).
        _ => Ok(Effect {
            outcome: IGNORED,
            order_id: None,
        }),
    }
}

/// A received event in words, for the staff's pages (the codes stay below them, small).
impl stripe_event::Model {
    /// What the event was: "Checkout completed", "Refund", …
    pub fn what(&self) -> &str {
        match self.event_type.as_str() {
            "checkout.session.completed" => "Checkout completed",
            "checkout.session.expired" => "Checkout expired unpaid",
            "checkout.session.async_payment_succeeded" => "Bank payment arrived",
            "checkout.session.async_payment_failed" => "Bank payment failed",
            "payment_intent.payment_failed" => "Card declined",
            "charge.refunded" => "Refund",
            "invoice.paid" => "Invoice paid",
            "invoice.payment_failed" => "Invoice payment failed",
            "customer.subscription.created" => "Subscription started",
            "customer.subscription.updated" => "Subscription changed",
            "customer.subscription.deleted" => "Subscription ended",
            other => other,
        }
    }

    /// What handling it did, in words: "Services made", "Already up to date", …
    pub fn did(&self) -> &str {
        match self.outcome.as_str() {
            "fulfilled" => "Services made",
            "already_fulfilled" => "Already done: nothing to do",
            "processing" => "Payment still processing",
            "not_paid" => "Not paid: nothing made",
            "flagged" => "Held for a review",
            "unknown_order" => "Not one of this store's orders",
            "cancelled" => "Order cancelled",
            "payment_failed" => "Payment failed: the buyer was told",
            "recorded" => "Noted in the metrics",
            "refunded" => "Refund applied",
            "period_paid" => "Period paid: its tasks made",
            IGNORED => "Already up to date: nothing to change",
            RECEIVED => "Being handled",
            FAILED => "Failed: see the error",
            other => other,
        }
    }
}
