//! Stripe's events, handled exactly once. Each delivery is recorded in `stripe_events`: the
//! event id is inserted in the same transaction as the work, so a duplicate does nothing and a
//! failure leaves nothing behind (but the failed event and its body, for a retry). Each event
//! type is dispatched to the module that owns the change.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

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
    // A new id, or one whose handling failed before, is ours to handle now.
    let inserted = stripe_event::Entity::insert(stripe_event::ActiveModel {
        id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        order_id: Set(None),
        outcome: Set(RECEIVED.into()),
        error: Set(None),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        payload: Set(None),
    })
    .on_conflict(
        OnConflict::column(stripe_event::Column::Id)
            .update_columns([stripe_event::Column::Outcome, stripe_event::Column::Error])
            .action_and_where(
                Expr::col((stripe_event::Entity, stripe_event::Column::Outcome)).eq(FAILED),
            )
            .to_owned(),
    )
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

/// The module that owns the change handles each type; others are recorded and acknowledged.
async fn process<C: ConnectionTrait>(conn: &C, event: &Event) -> AppResult<Effect> {
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let session = session_of(event)?;
            let started = std::time::Instant::now();
            let outcome = orders::fulfil::fulfil_checkout(conn, &session).await?;
            metrics::histogram!(crate::metrics::FULFILMENT_DURATION, "outcome" => format!("{outcome:?}"))
                .record(started.elapsed().as_secs_f64());
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
