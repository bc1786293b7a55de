//! Paying for the cart: the order and its Checkout Session, the success page's confirmation,
//! and what Stripe's events say of a checkout that did not pay (a declined card, a failed bank
//! debit, an expiry). The client's earlier open sessions are expired first, so one cart is never
//! paid twice.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::fulfil::{self, order_id_of};
use super::{Effect, Paid};
use crate::analytics::{Event, Kind};
use crate::auth::CurrentUser;
use crate::cart;
use crate::config::Config;
use crate::db::Db;
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::{client, order_item, service, service_template, user};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, OrderId, OrderItemId};
use crate::notify::{self, Message};
use crate::stripe::client::{
    CheckoutLine, CheckoutSession, NewCheckout, SessionStatus, StripeClient, StripeError,
    SubscriptionTerms,
};

fn stripe_failed(e: StripeError) -> AppError {
    e.into_app_error("starting a checkout", "Your cart is unchanged.", false)
}

/// Makes the order and its Checkout Session; returns the order and the URL to send the client to.
pub async fn start(
    db: &Db,
    stripe: &StripeClient,
    config: &Config,
    user: &CurrentUser,
    client_id: ClientId,
) -> AppResult<(order::Model, String)> {
    // Check the cart before anything reaches Stripe, its promotion code with Stripe again.
    let checked = cart::load(db, client_id).await?;
    super::ready_for_checkout(&checked)?;
    let promotion = match &checked.promotion {
        Some(p) => Some(crate::promotions::apply(db, stripe, client_id, &checked, &p.code).await?),
        None => None,
    };
    expire_open_checkouts(db, stripe, client_id).await?;
    let customer = stripe_customer(db, stripe, user, client_id).await?;
    let settings = crate::agency::get(db, config).await?;

    let txn = db.write().await?;
    let current = cart::load(&txn, client_id).await?;
    let (order, items) = super::create_from_cart(&txn, client_id, user.id, &current).await?;
    txn.commit().await?;

    // Each line of a template with a Stripe Product is of that Product.
    let products = current
        .lines
        .iter()
        .filter_map(|l| Some((l.template.id, l.template.stripe_product_id.clone()?)))
        .collect();
    let request = new_checkout(
        config,
        &settings,
        &order,
        &items,
        &customer,
        &products,
        promotion.as_ref(),
    );
    let session = match stripe.create_checkout_session(&request).await {
        Ok(s) => s,
        Err(e) => {
            // No half-made order: it is cancelled, and the cart stays as it was.
            let txn = db.write().await?;
            super::transition(
                &txn,
                &order,
                OrderStatus::Cancelled,
                PaymentStatus::Cancelled,
            )
            .await?;
            txn.commit().await?;
            return Err(stripe_failed(e));
        }
    };
    let url = session.url.clone().ok_or_else(|| {
        stripe_failed(StripeError::Decode(
            "the Checkout Session has no url".into(),
        ))
    })?;
    let txn = db.write().await?;
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
    tracing::info!(order.id = order.id.get(), stripe.session_id = %session.id, "checkout started");
    Ok((
        order::Model {
            stripe_session_id: Some(session.id),
            ..order
        },
        url,
    ))
}

/// Where a client resumes paying an order they left unpaid: its Checkout Session while it is
/// open; once it has expired, a new session for the same order if every price it was made with
/// still holds (the service on sale, its price in the order's currency unchanged, no promotion
/// to apply again). Otherwise the order is cancelled and the client told to check out again.
pub async fn resume(
    db: &Db,
    stripe: &StripeClient,
    config: &Config,
    user: &CurrentUser,
    client_id: ClientId,
    id: OrderId,
) -> AppResult<String> {
    let order = super::get_for_client(db, id, client_id).await?;
    let Some(session_id) = order
        .stripe_session_id
        .clone()
        .filter(|_| order.status == OrderStatus::Pending)
    else {
        return Err(AppError::conflict(format!(
            "Order {} is not waiting for payment: it is {}.",
            order.order_number,
            order.status.label().to_lowercase()
        )));
    };
    let session = stripe
        .retrieve_checkout_session(&session_id)
        .await
        .map_err(|e| e.into_app_error("resuming a payment", "Nothing was charged.", false))?;
    match (session.status, session.url) {
        (Some(SessionStatus::Open), Some(url)) => return Ok(url),
        // Paid meanwhile: the success page confirms it.
        (Some(SessionStatus::Complete), _) => {
            return Ok(config.url_for(&format!("/store/success?session_id={session_id}")));
        }
        _ => {}
    }
    let items = super::items_of(db, order.id).await?;
    let ids: Vec<_> = items.iter().map(|i| i.template_id).collect();
    let templates: std::collections::HashMap<_, _> = service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    let holds = order.promotion_code.is_none()
        && items.iter().all(|item| {
            templates.get(&item.template_id).is_some_and(|t| {
                t.on_sale()
                    && t.price_in(order.currency).map(|p| p.minor) == Some(item.unit_price_minor)
            })
        });
    if !holds {
        cancel_unpaid(db, order.id).await?;
        return Err(AppError::conflict(format!(
            "Order {} can no longer be paid as it was made (a price or a promotion changed): \
             it is cancelled. Your cart still holds its services: check out again from the cart.",
            order.order_number
        )));
    }
    let customer = stripe_customer(db, stripe, user, client_id).await?;
    let settings = crate::agency::get(db, config).await?;
    let products = templates
        .values()
        .filter_map(|t| Some((t.id, t.stripe_product_id.clone()?)))
        .collect();
    let request = new_checkout(
        config, &settings, &order, &items, &customer, &products, None,
    );
    let session = stripe
        .create_checkout_session(&request)
        .await
        .map_err(stripe_failed)?;
    let url = session.url.clone().ok_or_else(|| {
        stripe_failed(StripeError::Decode(
            "the Checkout Session has no url".into(),
        ))
    })?;
    // The expired session's event, if it comes later, no longer cancels the order (`expired`).
    let txn = db.write().await?;
    let moved = order::Entity::update_many()
        .col_expr(
            order::Column::StripeSessionId,
            Expr::value(session.id.clone()),
        )
        .filter(order::Column::Id.eq(order.id))
        .filter(order::Column::Status.eq(OrderStatus::Pending))
        // Not if another resume or a cancel got there first.
        .filter(order::Column::StripeSessionId.eq(session_id.as_str()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    if moved.rows_affected == 0 {
        // The session just made must not stay payable beside the order's own.
        if let Err(e) = stripe.expire_checkout_session(&session.id).await {
            tracing::warn!(error = %e, stripe.session_id = %session.id, "an unused session could not be expired");
        }
        return Err(AppError::conflict(format!(
            "Order {} changed meanwhile: look at it again.",
            order.order_number
        )));
    }
    tracing::info!(order.id = order.id.get(), stripe.session_id = %session.id, "payment resumed with a new session");
    Ok(url)
}

/// The Checkout Session for `order`: every line priced as the order was written (`price_data`,
/// so no price comes from anywhere but our database). A recurring item makes it a
/// subscription-mode session: the item recurs, its setup fee is a one-time line.
fn new_checkout<'a>(
    config: &Config,
    settings: &crate::db::entities::agency_settings::Model,
    order: &'a order::Model,
    items: &[order_item::Model],
    customer: &'a str,
    products: &std::collections::HashMap<crate::ids::TemplateId, String>,
    promotion: Option<&crate::promotions::Applied>,
) -> NewCheckout<'a> {
    let mut lines = Vec::with_capacity(items.len() + 1);
    let mut subscription = None;
    for item in items {
        let recurring = item.billing().recurring().copied();
        lines.push(CheckoutLine {
            order_item_id: item.id,
            tax_code: item.tax_code.clone(),
            product: products.get(&item.template_id).cloned(),
            name: item.service_name.clone(),
            unit_amount: item.unit_price_minor,
            quantity: i64::from(item.quantity),
            recurring: recurring.map(|r| (r.interval.as_str(), r.count)),
        });
        if let Some(r) = recurring {
            if r.setup_fee_minor > 0 {
                lines.push(CheckoutLine {
                    order_item_id: item.id,
                    tax_code: item.tax_code.clone(),
                    product: None,
                    name: format!("Setup fee: {}", item.service_name),
                    unit_amount: r.setup_fee_minor,
                    quantity: 1,
                    recurring: None,
                });
            }
            subscription = Some(SubscriptionTerms {
                trial_days: r.trial_days,
                order_item_id: item.id,
            });
        }
    }
    NewCheckout {
        order_id: order.id,
        order_number: &order.order_number,
        client_id: order.client_id,
        customer: Some(customer),
        customer_email: None,
        currency: order.currency.code(),
        lines,
        subscription,
        success_url: config.url_for("/store/success?session_id={CHECKOUT_SESSION_ID}"),
        cancel_url: config.url_for("/store/cart?cancelled=1"),
        allow_promotion_codes: config.stripe.allow_promotion_codes,
        automatic_tax: settings.stripe_tax,
        tax_inclusive: settings.prices_include_tax,
        promotion_code: promotion.map(|p| p.id.clone()),
    }
}

/// Expires the company's open Checkout Sessions at Stripe and cancels their orders.
async fn expire_open_checkouts(
    db: &Db,
    stripe: &StripeClient,
    client_id: ClientId,
) -> AppResult<()> {
    for open in super::open_checkouts(db, client_id).await? {
        let Some(session_id) = open.stripe_session_id.clone() else {
            continue;
        };
        match stripe.expire_checkout_session(&session_id).await {
            Ok(_) => {}
            // Already expired or completed: the webhook tells which.
            Err(StripeError::Api {
                status: 400..=499, ..
            }) => continue,
            Err(e) => return Err(stripe_failed(e)),
        }
        cancel_unpaid(db, open.id).await?;
    }
    Ok(())
}

/// Cancels an order that was not paid (the status machine refuses it for one that was).
async fn cancel_unpaid(db: &Db, id: OrderId) -> AppResult<()> {
    let txn = db.write().await?;
    if let Some(locked) = super::lock(&txn, id).await? {
        super::transition(
            &txn,
            &locked,
            OrderStatus::Cancelled,
            PaymentStatus::Cancelled,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The company's Stripe Customer, made on its first checkout.
async fn stripe_customer(
    db: &Db,
    stripe: &StripeClient,
    user: &CurrentUser,
    client_id: ClientId,
) -> AppResult<String> {
    let company = client::Entity::find_by_id(client_id)
        .one(db)
        .await?
        .ok_or_else(AppError::not_found)?;
    if let Some(id) = company.stripe_customer_id {
        return Ok(id);
    }
    let email = company
        .billing_email
        .clone()
        .unwrap_or_else(|| user.email.clone());
    let created = stripe
        .create_customer(company.id, &company.name, Some(&email))
        .await
        .map_err(stripe_failed)?;
    client::Entity::update_many()
        .col_expr(
            client::Column::StripeCustomerId,
            Expr::value(created.id.clone()),
        )
        .filter(client::Column::Id.eq(company.id))
        .exec(db)
        .await?;
    Ok(created.id)
}

/// Where Stripe sends the client after paying: the order is fulfilled here if the webhook has
/// not done it yet (the same idempotent function), then read back as it now is.
pub async fn confirm(
    db: &Db,
    stripe: &StripeClient,
    client_id: ClientId,
    session_id: &str,
) -> AppResult<Paid> {
    let order = order::Entity::find()
        .filter(order::Column::StripeSessionId.eq(session_id.trim()))
        .filter(order::Column::ClientId.eq(client_id))
        .one(db)
        .await?
        .ok_or_else(AppError::not_found)?;
    match stripe.retrieve_checkout_session(session_id).await {
        Ok(session) => {
            db.in_transaction(async |txn| fulfil::fulfil_checkout(txn, &session).await)
                .await?;
        }
        // The webhook will do it; the page shows what is known.
        Err(e) => {
            tracing::warn!(error = %e, order.id = order.id.get(), "success page: the session could not be read")
        }
    }
    let order = order::Entity::find_by_id(order.id)
        .one(db)
        .await?
        .ok_or_else(AppError::not_found)?;
    let items = super::items_of(db, order.id).await?;
    let item_ids: Vec<OrderItemId> = items.iter().map(|i| i.id).collect();
    let services = service::Entity::find()
        .filter(service::Column::OrderItemId.is_in(item_ids))
        .all(db)
        .await?;
    Ok(Paid {
        order,
        items,
        services,
    })
}

/// The locked order a session is for, if it is ours.
async fn lock_order_of<C: ConnectionTrait>(
    conn: &C,
    session: &CheckoutSession,
) -> AppResult<Option<order::Model>> {
    match order_id_of(session) {
        Some(id) => Ok(super::lock(conn, id).await?),
        None => Ok(None),
    }
}

/// `checkout.session.async_payment_failed`: the bank debit did not go through. The order is
/// cancelled and the buyer told.
pub async fn debit_failed<C: ConnectionTrait>(
    conn: &C,
    session: &CheckoutSession,
) -> AppResult<Effect> {
    let Some(order) = lock_order_of(conn, session).await? else {
        return Ok(Effect::unknown_order());
    };
    let moved =
        super::transition(conn, &order, OrderStatus::Cancelled, PaymentStatus::Failed).await?;
    if !moved {
        return Ok(Effect::on(&order, "ignored"));
    }
    Event::new(Kind::PaymentFailed, Some(order.client_id), order.user_id)
        .order(&order)
        .record(conn)
        .await?;
    if let Some(user_id) = order.user_id
        && let Some(buyer) = user::Entity::find_by_id(user_id).one(conn).await?
    {
        let message = Message::PaymentFailed(crate::notify::messages::PaymentFailed {
            name: buyer.name.clone(),
            order_number: order.order_number.clone(),
            reason: "your bank did not complete the debit.".into(),
        });
        notify::enqueue(
            conn,
            &buyer.email,
            &message,
            &format!("payment-failed:{}", order.id),
        )
        .await?;
    }
    Ok(Effect::on(&order, "payment_failed"))
}

/// `checkout.session.expired`: the session was left unpaid; its order is cancelled, unless the
/// client resumed paying it with a newer session (`resume`).
pub async fn expired<C: ConnectionTrait>(conn: &C, session: &CheckoutSession) -> AppResult<Effect> {
    let Some(order) = lock_order_of(conn, session).await? else {
        return Ok(Effect::unknown_order());
    };
    if order
        .stripe_session_id
        .as_deref()
        .is_some_and(|current| current != session.id)
    {
        return Ok(Effect::on(&order, "ignored"));
    }
    let moved = super::transition(
        conn,
        &order,
        OrderStatus::Cancelled,
        PaymentStatus::Cancelled,
    )
    .await?;
    if !moved {
        return Ok(Effect::on(&order, "ignored"));
    }
    Event::new(Kind::CheckoutExpired, Some(order.client_id), order.user_id)
        .order(&order)
        .record(conn)
        .await?;
    Ok(Effect::on(&order, "cancelled"))
}

/// `payment_intent.payment_failed`: a declined card. The session stays open and the client may
/// try again, so only the metrics hear of it.
pub async fn card_declined<C: ConnectionTrait>(
    conn: &C,
    order_id: Option<OrderId>,
) -> AppResult<Effect> {
    let order = match order_id {
        Some(id) => order::Entity::find_by_id(id).one(conn).await?,
        None => None,
    };
    if let Some(order) = &order {
        Event::new(Kind::PaymentFailed, Some(order.client_id), order.user_id)
            .order(order)
            .record(conn)
            .await?;
    }
    Ok(Effect {
        outcome: "recorded",
        order_id,
    })
}
