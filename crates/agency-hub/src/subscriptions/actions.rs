//! What clients and staff do to a subscription: cancel at the period's end or resume before
//! it, change the seats (from the next period, no proration), and for staff cancel now and
//! pause or resume collection. Each calls Stripe first (a key made of the subscription, the
//! change and its last update, so a double submit is one call), then applies the subscription
//! Stripe answers in one transaction, with its activity and email; the event that follows
//! finds it applied.

use chrono::Utc;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use super::{apply, subject};
use crate::activity::{self, Actor};
use crate::db::Db;
use crate::db::entities::{service_template, subscription};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, SubscriptionId};
use crate::stripe::client::{StripeClient, StripeError, SubscriptionChange};

/// A change to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    CancelAtPeriodEnd,
    Resume,
    Seats(i32),
    CancelNow,
    /// `Some(behavior)` pauses collection (`void`, `keep_as_draft`, `mark_uncollectible`);
    /// `None` resumes it.
    Collection(Option<&'static str>),
}

impl Change {
    fn label(self) -> String {
        match self {
            Self::CancelAtPeriodEnd => "cancel_at_period_end".into(),
            Self::Resume => "resume".into(),
            Self::Seats(n) => format!("seats-{n}"),
            Self::CancelNow => "cancel_now".into(),
            Self::Collection(Some(b)) => format!("pause-{b}"),
            Self::Collection(None) => "resume_collection".into(),
        }
    }
}

/// The company's subscription, or a 404 (another company's included).
pub async fn get_for_client<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    id: SubscriptionId,
) -> AppResult<subscription::Model> {
    subscription::Entity::find_by_id(id)
        .filter(subscription::Column::ClientId.eq(client_id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    id: SubscriptionId,
) -> AppResult<subscription::Model> {
    subscription::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The company's subscriptions, newest first, each with its template (two queries).
pub async fn for_client<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> AppResult<Vec<(subscription::Model, Option<service_template::Model>)>> {
    let subs = subscription::Entity::find()
        .filter(subscription::Column::ClientId.eq(client_id))
        .order_by_desc(subscription::Column::CreatedAt)
        .order_by_desc(subscription::Column::Id)
        .all(conn)
        .await?;
    let templates = service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(subs.iter().map(|s| s.template_id)))
        .all(conn)
        .await?;
    Ok(subs
        .into_iter()
        .map(|s| {
            let t = templates.iter().find(|t| t.id == s.template_id).cloned();
            (s, t)
        })
        .collect())
}

/// Why the change cannot be made, if it cannot.
fn check(sub: &subscription::Model, change: Change, max_seats: i32) -> AppResult<()> {
    if sub.ended() {
        return Err(AppError::conflict(
            "This subscription has ended: it cannot be changed.",
        ));
    }
    match change {
        Change::CancelAtPeriodEnd if sub.cancel_at_period_end => Err(AppError::conflict(
            "This subscription is already set to end with its period.",
        )),
        Change::Resume if !sub.cancel_at_period_end => Err(AppError::conflict(
            "This subscription is not set to end: there is nothing to resume.",
        )),
        Change::Seats(n) if !(1..=max_seats).contains(&n) => Err(AppError::invalid(
            "quantity",
            format!("Choose from 1 to {max_seats} seats."),
        )),
        Change::Seats(n) if n == sub.quantity => Err(AppError::invalid(
            "quantity",
            format!("The subscription already has {n} seats."),
        )),
        _ => Ok(()),
    }
}

/// Checks the change against the subscription as stored (for a confirmation page).
pub async fn check_change<C: ConnectionTrait>(
    conn: &C,
    sub: &subscription::Model,
    change: Change,
) -> AppResult<()> {
    let max = service_template::Entity::find_by_id(sub.template_id)
        .one(conn)
        .await?
        .map_or(1, |t| t.max_quantity);
    check(sub, change, max)
}

fn stripe_failed(e: StripeError) -> AppError {
    e.into_app_error("changing the subscription", "Nothing was changed.", false)
}

/// Makes the change at Stripe, then records what Stripe answers.
pub async fn change(
    db: &Db,
    stripe: &StripeClient,
    actor: &Actor,
    sub: &subscription::Model,
    change: Change,
) -> AppResult<subscription::Model> {
    check_change(db, sub, change).await?;
    let key = format!(
        "sub-{}-{}-{}",
        sub.id,
        change.label(),
        sub.updated_at.timestamp_micros()
    );
    let request = match change {
        Change::CancelAtPeriodEnd => SubscriptionChange::CancelAtPeriodEnd(true),
        Change::Resume => SubscriptionChange::CancelAtPeriodEnd(false),
        Change::Seats(n) => SubscriptionChange::Quantity {
            item: sub.stripe_item_id.clone().ok_or_else(|| {
                AppError::conflict(
                    "Stripe has not told us this subscription's item yet: try again in a minute.",
                )
            })?,
            quantity: i64::from(n),
        },
        Change::Collection(behavior) => SubscriptionChange::PauseCollection(behavior),
        Change::CancelNow => SubscriptionChange::CancelNow,
    };
    let snapshot = stripe
        .change_subscription(&sub.stripe_subscription_id, &request, &key)
        .await
        .map_err(stripe_failed)?;
    let txn = db.write().await?;
    let Some(current) = super::lock(&txn, &sub.stripe_subscription_id).await? else {
        return Err(AppError::not_found());
    };
    let updated = apply(&txn, current, &snapshot, None).await?;
    activity::record(
        &txn,
        actor,
        "subscription.changed",
        subject(&updated),
        json!({"change": change.label(), "at": Utc::now()}),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Stripe's customer portal for the subscription's customer, coming back to `return_url`.
pub async fn portal_url(
    stripe: &StripeClient,
    sub: &subscription::Model,
    return_url: &str,
) -> AppResult<String> {
    let customer = sub.stripe_customer_id.as_deref().ok_or_else(|| {
        AppError::conflict(
            "Stripe has not told us this subscription's customer yet: try again in a minute.",
        )
    })?;
    stripe
        .create_portal_session(customer, return_url)
        .await
        .map(|p| p.url)
        .map_err(|e| e.into_app_error("opening the billing portal", "Nothing was changed.", false))
}
