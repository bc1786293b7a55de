//! Starting a checkout: the order from the cart, then Stripe's Checkout Session for it. The
//! client's earlier open sessions are expired first, so one cart is never paid twice.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::client::{NewCheckout, StripeError};
use crate::AppState;
use crate::analytics::{Event, Kind};
use crate::auth::CurrentUser;
use crate::db::entities::client;
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::error::{AppError, AppResult};
use crate::{cart, orders};

fn unavailable(e: StripeError) -> AppError {
    tracing::error!(error = %e, "Stripe failed during checkout");
    AppError::new(
        axum::http::StatusCode::BAD_GATEWAY,
        "payment_provider_unavailable",
        "We could not reach the payment provider. Your cart is unchanged: try again in a moment.",
    )
}

/// Makes the order and its Checkout Session; returns the order and the URL to send the client to.
pub async fn start(
    state: &AppState,
    user: &CurrentUser,
    client_id: i64,
) -> AppResult<(order::Model, String)> {
    let stripe = &state.stripe;
    // Check the cart before anything reaches Stripe.
    orders::ready_for_checkout(&cart::load(&state.db, client_id).await?)?;

    for open in orders::open_checkouts(&state.db, client_id).await? {
        let Some(session_id) = open.stripe_session_id.clone() else {
            continue;
        };
        match stripe.expire_checkout_session(&session_id).await {
            Ok(_) => {}
            // Already expired or completed: the webhook tells which.
            Err(StripeError::Api {
                status: 400..=499, ..
            }) => continue,
            Err(e) => return Err(unavailable(e)),
        }
        let txn = state.db.write().await?;
        if let Some(locked) = orders::lock(&txn, open.id).await? {
            orders::transition(
                &txn,
                &locked,
                OrderStatus::Cancelled,
                PaymentStatus::Cancelled,
            )
            .await?;
        }
        txn.commit().await?;
    }

    let company = client::Entity::find_by_id(client_id)
        .one(&state.db)
        .await?
        .ok_or_else(AppError::not_found)?;
    let customer = match company.stripe_customer_id.clone() {
        Some(id) => id,
        None => {
            let email = company
                .billing_email
                .clone()
                .unwrap_or_else(|| user.email.clone());
            let created = stripe
                .create_customer(company.id, &company.name, Some(&email))
                .await
                .map_err(unavailable)?;
            client::Entity::update_many()
                .col_expr(
                    client::Column::StripeCustomerId,
                    Expr::value(created.id.clone()),
                )
                .filter(client::Column::Id.eq(company.id))
                .exec(&state.db)
                .await?;
            created.id
        }
    };

    let txn = state.db.write().await?;
    let current = cart::load(&txn, client_id).await?;
    let (order, items) = orders::create_from_cart(&txn, client_id, user.id, &current).await?;
    txn.commit().await?;

    let request = NewCheckout {
        order_id: order.id,
        order_number: &order.order_number,
        client_id,
        customer: Some(&customer),
        customer_email: None,
        currency: &order.currency,
        lines: items
            .iter()
            .map(|i| {
                (
                    i.service_name.clone(),
                    i.unit_price_minor,
                    i64::from(i.quantity),
                )
            })
            .collect(),
        success_url: state
            .config
            .url_for("/store/success?session_id={CHECKOUT_SESSION_ID}"),
        cancel_url: state.config.url_for("/store/cart?cancelled=1"),
        allow_promotion_codes: state.config.stripe.allow_promotion_codes,
        automatic_tax: state.config.stripe.automatic_tax,
    };
    let session = match stripe.create_checkout_session(&request).await {
        Ok(s) => s,
        Err(e) => {
            // No half-made order: it is cancelled, and the cart stays as it was.
            let txn = state.db.write().await?;
            orders::transition(
                &txn,
                &order,
                OrderStatus::Cancelled,
                PaymentStatus::Cancelled,
            )
            .await?;
            txn.commit().await?;
            return Err(unavailable(e));
        }
    };
    let url = session.url.clone().ok_or_else(|| {
        unavailable(StripeError::Decode(
            "the Checkout Session has no url".into(),
        ))
    })?;
    let txn = state.db.write().await?;
    order::Entity::update(order::ActiveModel {
        id: Set(order.id),
        stripe_session_id: Set(Some(session.id.clone())),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    Event::new(Kind::CheckoutStarted, Some(client_id), Some(user.id))
        .order(&order)
        .record(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(order.id = order.id, stripe.session_id = %session.id, "checkout started");
    Ok((
        order::Model {
            stripe_session_id: Some(session.id),
            ..order
        },
        url,
    ))
}
