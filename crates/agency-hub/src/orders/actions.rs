//! What staff do to an order from its page: refund (through Stripe), cancel a pending order,
//! run fulfilment again, note, and clear a review flag. Each is logged with its author. Those
//! that call Stripe take the database itself, to write only after Stripe has answered; the
//! others take the caller's transaction.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::fulfil::{self, Outcome};
use super::refunds;
use crate::activity::{self, Actor, Subject};
use crate::db::Db;
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::order_note;
use crate::db::entities::service::{self, ServiceStatus};
use crate::error::{AppError, AppResult};
use crate::ids::{OrderId, ServiceId};
use crate::stripe::client::{REFUND_REASONS, SessionStatus, StripeClient, StripeError};

fn subject(order: &order::Model) -> Subject<'static> {
    Subject {
        entity_type: "order",
        entity_id: order.id.get(),
        client_id: Some(order.client_id),
    }
}

fn stripe_failed(e: StripeError) -> AppError {
    e.into_app_error("acting on an order", "Nothing changed.", true)
}

async fn find<C: ConnectionTrait>(conn: &C, id: OrderId) -> AppResult<order::Model> {
    order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// What can still be refunded, or why nothing can.
pub fn refundable(order: &order::Model) -> Result<i64, String> {
    if order.status != OrderStatus::Completed || order.stripe_payment_intent_id.is_none() {
        return Err(format!(
            "Only a paid order can be refunded; this one is {}.",
            order.status.label().to_lowercase()
        ));
    }
    let remaining = order.total_minor - order.refunded_minor;
    if remaining <= 0 {
        return Err("This order is refunded in full already.".into());
    }
    Ok(remaining)
}

/// Checks a refund before it is confirmed: its amount (more than remains is refused) and reason.
pub fn check_refund(order: &order::Model, amount: i64, reason: &str) -> AppResult<()> {
    let remaining = refundable(order).map_err(AppError::conflict)?;
    if amount <= 0 {
        return Err(AppError::invalid("amount", "Enter an amount above zero."));
    }
    if amount > remaining {
        return Err(AppError::invalid(
            "amount",
            format!(
                "At most {} remains to refund on this order.",
                order.money(remaining).display()
            ),
        ));
    }
    if !REFUND_REASONS.contains(&reason) {
        return Err(AppError::invalid(
            "reason",
            "Choose a reason: requested by the customer, duplicate or fraudulent.",
        ));
    }
    Ok(())
}

/// The services of `order` named by `ids` (each of the order and not cancelled yet), or which
/// one is not.
pub async fn cancellable<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    ids: &[ServiceId],
) -> AppResult<Vec<service::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let found = service::Entity::find()
        .filter(refunds::services_of(order.id))
        .filter(service::Column::Id.is_in(ids.iter().copied()))
        .filter(service::Column::Status.ne(ServiceStatus::Cancelled))
        .all(conn)
        .await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|s| s.id == **id)) {
        return Err(AppError::invalid(
            "cancel",
            format!("Service {missing} is not one of this order's services still running."),
        ));
    }
    Ok(found)
}

/// Refunds `amount` through Stripe and applies it at once (the `charge.refunded` event that
/// follows finds it applied, or applies it if it comes first), cancelling the services staff
/// chose (`cancel`). Returns the names of the services it cancelled, whichever of this call and
/// the event applied the refund.
pub async fn refund(
    db: &Db,
    stripe: &StripeClient,
    actor: &Actor,
    id: OrderId,
    amount: i64,
    reason: &str,
    cancel: &[ServiceId],
) -> AppResult<Vec<String>> {
    let order = find(db, id).await?;
    check_refund(&order, amount, reason)?;
    cancellable(db, &order, cancel).await?;
    let pi = order.stripe_payment_intent_id.clone().unwrap_or_default();
    // The same refund asked twice (a double click) is one refund at Stripe.
    let key = format!("refund-{}-{}-{amount}", order.id, order.refunded_minor);
    let made = stripe
        .create_refund(&pi, amount, reason, order.id, &key)
        .await
        .map_err(stripe_failed)?;
    let txn = db.write().await?;
    let locked = super::lock(&txn, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    activity::record(
        &txn,
        actor,
        "order.refund_requested",
        subject(&locked),
        json!({"refund_id": made.id, "amount_minor": made.amount, "reason": reason}),
    )
    .await?;
    let applied = refunds::apply(
        &txn,
        &locked,
        order.refunded_minor + made.amount,
        actor,
        cancel,
    )
    .await?;
    let cancelled = match applied {
        Some(applied) => applied.cancelled,
        // Stripe's event applied the refund first (without staff's choice): the services chosen
        // are cancelled here.
        None if !cancel.is_empty() => {
            let names = refunds::cancel_chosen(&txn, &locked, cancel, Utc::now()).await?;
            if !names.is_empty() {
                activity::record(
                    &txn,
                    actor,
                    "order.services_cancelled",
                    subject(&locked),
                    json!({"order_number": locked.order_number, "cancelled": names}),
                )
                .await?;
            }
            names
        }
        None => Vec::new(),
    };
    txn.commit().await?;
    Ok(cancelled)
}

/// Cancels a pending order: its Checkout Session is expired first, so it can no longer be paid.
pub async fn cancel(db: &Db, stripe: &StripeClient, actor: &Actor, id: OrderId) -> AppResult<()> {
    let order = find(db, id).await?;
    if order.status != OrderStatus::Pending {
        return Err(AppError::conflict(format!(
            "Only an order awaiting payment can be cancelled; this one is {}.",
            order.status.label().to_lowercase()
        )));
    }
    if let Some(session) = &order.stripe_session_id {
        let expired = stripe
            .expire_checkout_session(session)
            .await
            .map_err(stripe_failed);
        if let Err(e) = expired {
            // Already expired is fine; already paid is not (the webhook will fulfil it).
            let paid = stripe
                .retrieve_checkout_session(session)
                .await
                .map(|s| s.status == Some(SessionStatus::Complete))
                .unwrap_or(false);
            if paid {
                return Err(AppError::conflict(
                    "The client has just paid this order: it cannot be cancelled. Refund it instead.",
                ));
            }
            if e.status.is_server_error() {
                return Err(e);
            }
        }
    }
    let txn = db.write().await?;
    let locked = super::lock(&txn, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    // A resumed payment gave it a new session meanwhile: that one is still payable.
    if locked.stripe_session_id != order.stripe_session_id {
        return Err(AppError::conflict(
            "The order changed meanwhile (its payment was resumed): look at it again.",
        ));
    }
    // The expiry's webhook may have cancelled it already.
    let cancelled = locked.status == OrderStatus::Cancelled
        || super::transition(
            &txn,
            &locked,
            OrderStatus::Cancelled,
            PaymentStatus::Cancelled,
        )
        .await?;
    if !cancelled {
        return Err(AppError::conflict(
            "The order changed meanwhile and can no longer be cancelled.",
        ));
    }
    activity::record(
        &txn,
        actor,
        "order.cancelled",
        subject(&locked),
        json!({"order_number": locked.order_number}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Runs fulfilment again from Stripe's view of the session (the same idempotent function as the
/// webhook): a paid order gets the services it is missing; anything else changes nothing.
pub async fn rerun_fulfilment(
    db: &Db,
    stripe: &StripeClient,
    actor: &Actor,
    id: OrderId,
) -> AppResult<Outcome> {
    let order = find(db, id).await?;
    let Some(session_id) = order.stripe_session_id.clone() else {
        return Err(AppError::conflict(
            "This order has no Checkout Session: there is nothing to fulfil.",
        ));
    };
    let session = stripe
        .retrieve_checkout_session(&session_id)
        .await
        .map_err(stripe_failed)?;
    let txn = db.write().await?;
    let outcome = fulfil::fulfil_checkout(&txn, &session).await?;
    activity::record(
        &txn,
        actor,
        "order.fulfilment_rerun",
        subject(&order),
        json!({"outcome": format!("{outcome:?}")}),
    )
    .await?;
    txn.commit().await?;
    Ok(outcome)
}

/// Adds an internal note.
pub async fn add_note<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: OrderId,
    body: &str,
) -> AppResult<()> {
    let body = body.trim();
    if body.is_empty() {
        return Err(AppError::invalid("body", "Write the note first."));
    }
    if body.chars().count() > 5000 {
        return Err(AppError::invalid(
            "body",
            "A note has at most 5,000 characters.",
        ));
    }
    let order = find(conn, id).await?;
    let (author_user_id, author_name) = match actor {
        Actor::User { id, name } => (Some(*id), name.clone()),
        Actor::System => (None, "System".to_string()),
    };
    order_note::Entity::insert(order_note::ActiveModel {
        order_id: Set(order.id),
        author_user_id: Set(author_user_id),
        author_name: Set(author_name),
        body: Set(body.to_string()),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Clears the order's review flag once someone has looked at it.
pub async fn mark_reviewed<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: OrderId,
) -> AppResult<()> {
    let order = find(conn, id).await?;
    let Some(reason) = order.review_reason.clone() else {
        return Err(AppError::conflict("This order is not flagged."));
    };
    order::Entity::update_many()
        .col_expr(
            order::Column::ReviewReason,
            Expr::value(Option::<String>::None),
        )
        .filter(order::Column::Id.eq(id))
        .exec(conn)
        .await?;
    activity::record(
        conn,
        actor,
        "order.reviewed",
        subject(&order),
        json!({"reason": reason}),
    )
    .await?;
    Ok(())
}
