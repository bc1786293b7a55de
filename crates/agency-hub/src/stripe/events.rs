//! Handling a verified Stripe event exactly once: the event id is stored first, in the same
//! transaction as the work, so a duplicate does nothing and a failure leaves nothing behind.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use serde_json::Value;

use super::client::{Charge, CheckoutSession};
use super::fulfil::{self, Outcome};
use crate::activity::Actor;
use crate::analytics::{self, Kind};
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::{stripe_event, user};
use crate::error::{AppError, AppResult};
use crate::notify::{self, Message};
use crate::orders;
use crate::orders::refunds;

#[derive(Debug, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: EventData,
}

#[derive(Debug, Deserialize)]
pub struct EventData {
    pub object: Value,
}

/// What became of a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handled {
    Processed(&'static str),
    Duplicate,
}

fn session_of(event: &Event) -> AppResult<CheckoutSession> {
    serde_json::from_value(event.data.object.clone()).map_err(|e| {
        AppError::bad_request(format!("The event's checkout session does not read: {e}"))
    })
}

/// Records and handles one event. `raw` is the event as received: kept with a failure, so an
/// admin can run it again.
pub async fn handle(db: &crate::db::Db, event: &Event, raw: &str) -> AppResult<Handled> {
    let handled = run(db, event).await;
    if let Err(e) = &handled
        && let Err(record) = record_failure(db, event, raw, &e.to_string()).await
    {
        tracing::error!(stripe.event_id = %event.id, error = %record, "could not record the failed event");
    }
    handled
}

async fn run(db: &crate::db::Db, event: &Event) -> AppResult<Handled> {
    let txn = db.write().await?;
    // A new id, or one whose handling failed before, is ours to handle now.
    let inserted = stripe_event::Entity::insert(stripe_event::ActiveModel {
        id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        order_id: Set(None),
        outcome: Set("received".into()),
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
    let (outcome, order_id) = process(&txn, event).await?;
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

/// The outcome of an event whose handling failed (and was rolled back).
pub const FAILED: &str = "failed";

/// Keeps a failed event with its error and body, outside the rolled-back transaction. An event
/// handled meanwhile (by another delivery) stays as it is.
async fn record_failure(
    db: &crate::db::Db,
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
                    .is_in([FAILED, "received"]),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Runs a failed event again from its stored body (the admin's retry button).
pub async fn retry(db: &crate::db::Db, id: &str) -> AppResult<Handled> {
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

async fn process<C: ConnectionTrait>(
    conn: &C,
    event: &Event,
) -> AppResult<(&'static str, Option<i64>)> {
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let session = session_of(event)?;
            let started = std::time::Instant::now();
            let outcome = fulfil::fulfill_checkout(conn, &session).await?;
            metrics::histogram!(crate::metrics::FULFILMENT_DURATION, "outcome" => format!("{outcome:?}"))
                .record(started.elapsed().as_secs_f64());
            let label = match outcome {
                Outcome::Fulfilled => "fulfilled",
                Outcome::AlreadyFulfilled => "already_fulfilled",
                Outcome::Processing => "processing",
                Outcome::NotPaid => "not_paid",
                Outcome::Flagged => "flagged",
                Outcome::UnknownOrder => "unknown_order",
            };
            Ok((label, fulfil::order_id_of(&session)))
        }
        "checkout.session.async_payment_failed" => {
            let session = session_of(event)?;
            let Some(order) = lock_order(conn, &session).await? else {
                return Ok(("unknown_order", None));
            };
            let moved =
                orders::transition(conn, &order, OrderStatus::Cancelled, PaymentStatus::Failed)
                    .await?;
            if moved {
                analytics::Event::new(Kind::PaymentFailed, Some(order.client_id), order.user_id)
                    .order(&order)
                    .record(conn)
                    .await?;
            }
            if moved
                && let Some(user_id) = order.user_id
                && let Some(buyer) = user::Entity::find_by_id(user_id).one(conn).await?
            {
                let message = Message::PaymentFailed {
                    name: buyer.name.clone(),
                    order_number: order.order_number.clone(),
                    reason: "your bank did not complete the debit.".into(),
                };
                notify::enqueue(
                    conn,
                    &buyer.email,
                    &message,
                    &format!("payment-failed:{}", order.id),
                )
                .await?;
            }
            Ok((
                if moved { "payment_failed" } else { "ignored" },
                Some(order.id),
            ))
        }
        "checkout.session.expired" => {
            let session = session_of(event)?;
            let Some(order) = lock_order(conn, &session).await? else {
                return Ok(("unknown_order", None));
            };
            let moved = orders::transition(
                conn,
                &order,
                OrderStatus::Cancelled,
                PaymentStatus::Cancelled,
            )
            .await?;
            if moved {
                analytics::Event::new(Kind::CheckoutExpired, Some(order.client_id), order.user_id)
                    .order(&order)
                    .record(conn)
                    .await?;
            }
            Ok((if moved { "cancelled" } else { "ignored" }, Some(order.id)))
        }
        // A declined card: the session stays open and the client may try again.
        "payment_intent.payment_failed" => {
            let order_id: Option<i64> = event.data.object["metadata"]["order_id"]
                .as_str()
                .and_then(|s| s.parse().ok());
            let order = match order_id {
                Some(id) => order::Entity::find_by_id(id).one(conn).await?,
                None => None,
            };
            if let Some(order) = &order {
                analytics::Event::new(Kind::PaymentFailed, Some(order.client_id), order.user_id)
                    .order(order)
                    .record(conn)
                    .await?;
            }
            Ok(("recorded", order_id))
        }
        // A refund, made by our admin or in Stripe's dashboard: the charge carries the total
        // refunded so far.
        "charge.refunded" => {
            let charge: Charge =
                serde_json::from_value(event.data.object.clone()).map_err(|e| {
                    AppError::bad_request(format!("The event's charge does not read: {e}"))
                })?;
            let Some(pi) = charge.payment_intent else {
                return Ok(("unknown_order", None));
            };
            let Some(found) = order::Entity::find()
                .filter(order::Column::StripePaymentIntentId.eq(pi))
                .one(conn)
                .await?
            else {
                return Ok(("unknown_order", None));
            };
            let Some(order) = orders::lock(conn, found.id).await? else {
                return Ok(("unknown_order", None));
            };
            let applied =
                refunds::apply(conn, &order, charge.amount_refunded, &Actor::System).await?;
            Ok((
                if applied.is_some() {
                    "refunded"
                } else {
                    "ignored"
                },
                Some(order.id),
            ))
        }
        _ => Ok(("ignored", None)),
    }
}

async fn lock_order<C: ConnectionTrait>(
    conn: &C,
    session: &CheckoutSession,
) -> AppResult<Option<order::Model>> {
    match fulfil::order_id_of(session) {
        Some(id) => Ok(orders::lock(conn, id).await?),
        None => Ok(None),
    }
}
