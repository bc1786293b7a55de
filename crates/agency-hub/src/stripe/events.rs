//! Handling a verified Stripe event exactly once: the event id is stored first, in the same
//! transaction as the work, so a duplicate does nothing and a failure leaves nothing behind.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};
use serde::Deserialize;
use serde_json::Value;

use super::client::CheckoutSession;
use super::fulfil::{self, Outcome};
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::{stripe_event, user};
use crate::error::{AppError, AppResult};
use crate::notify::{self, Message};
use crate::orders;

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

/// Records and handles one event.
pub async fn handle(db: &DatabaseConnection, event: &Event) -> AppResult<Handled> {
    let txn = crate::db::begin(db).await?;
    let inserted = stripe_event::Entity::insert(stripe_event::ActiveModel {
        id: Set(event.id.clone()),
        event_type: Set(event.kind.clone()),
        order_id: Set(None),
        outcome: Set("received".into()),
        error: Set(None),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(stripe_event::Column::Id)
            .do_nothing()
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
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(Handled::Processed(outcome))
}

async fn process<C: ConnectionTrait>(
    conn: &C,
    event: &Event,
) -> AppResult<(&'static str, Option<i64>)> {
    match event.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let session = session_of(event)?;
            let outcome = fulfil::fulfill_checkout(conn, &session).await?;
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
            Ok((if moved { "cancelled" } else { "ignored" }, Some(order.id)))
        }
        // A declined card: the session stays open and the client may try again.
        "payment_intent.payment_failed" => {
            let order_id = event.data.object["metadata"]["order_id"]
                .as_str()
                .and_then(|s| s.parse().ok());
            Ok(("recorded", order_id))
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
