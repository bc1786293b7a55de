//! Orders: made from the cart with every price read again from the database, paid through
//! Stripe Checkout and fulfilled exactly once, refunded, and read back scoped to their client.
//! Stripe's events about an order are dispatched here (`crate::stripe_events`).

pub mod actions;
pub mod checkout;
pub mod fulfil;
pub mod health;
pub mod lines;
pub mod listing;
pub mod refunds;

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::activity;
use crate::cart::Cart;
use crate::catalog::Intake;
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::user::Role;
use crate::db::entities::{activity as activity_entity, order_note, stripe_event};
use crate::db::entities::{client, order_item, service, user};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, OrderId, TemplateId, UserId};

/// What a Stripe event did to an order: the outcome recorded with the event, and the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effect {
    pub outcome: &'static str,
    pub order_id: Option<OrderId>,
}

impl Effect {
    fn on(order: &order::Model, outcome: &'static str) -> Self {
        Self {
            outcome,
            order_id: Some(order.id),
        }
    }

    /// The event names no order of ours.
    fn unknown_order() -> Self {
        Self {
            outcome: "unknown_order",
            order_id: None,
        }
    }
}

/// An order as the success page shows it after payment: its items and the services made.
#[derive(Clone, Debug)]
pub struct Paid {
    pub order: order::Model,
    pub items: Vec<order_item::Model>,
    pub services: Vec<service::Model>,
}

/// The cart's currency if it can go to checkout: not empty, no flagged line.
pub fn ready_for_checkout(cart: &Cart) -> AppResult<crate::money::Currency> {
    if cart.has_problems() {
        return Err(AppError::invalid(
            "cart",
            "Resolve the flagged items in your cart before checkout.",
        ));
    }
    let missing: Vec<String> = cart
        .lines
        .iter()
        .filter_map(|l| {
            let missing = l.missing_answers();
            (!missing.is_empty()).then(|| {
                let labels: Vec<&str> = missing.iter().map(|q| q.label.as_str()).collect();
                format!("{} ({})", l.template.title(), labels.join("; "))
            })
        })
        .collect();
    if !missing.is_empty() {
        return Err(AppError::invalid(
            "answers",
            format!(
                "Answer the required questions before checkout: {}.",
                missing.join(", ")
            ),
        ));
    }
    // One subscription a checkout (a template may have become recurring while in the cart).
    let recurring: Vec<&str> = cart
        .lines
        .iter()
        .filter(|l| l.recurring().is_some())
        .map(|l| l.template.title())
        .collect();
    if recurring.len() > 1 {
        return Err(AppError::invalid(
            "cart",
            format!(
                "Your cart holds {} subscriptions ({}): check out one at a time, removing the others.",
                recurring.len(),
                recurring.join(", ")
            ),
        ));
    }
    cart.currency()
        .ok_or_else(|| AppError::invalid("cart", "Your cart is empty."))
}

/// Writes the order and its items from the cart (prices as they are now), in the caller's
/// transaction. The cart must be checkout-ready.
pub async fn create_from_cart<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    user_id: UserId,
    cart: &Cart,
) -> AppResult<(order::Model, Vec<order_item::Model>)> {
    let currency = ready_for_checkout(cart)?;
    // What checkout charges today: a subscription's first period (none in a trial) and setup
    // fee with the one-time lines; Stripe's session subtotal is checked against it.
    let subtotal = cart
        .lines
        .iter()
        .try_fold(0i64, |sum, l| sum.checked_add(l.due_today().minor))
        .ok_or_else(|| AppError::invalid("cart", "The order is too large."))?;
    let now = Utc::now();
    // The readable number comes from the id, so the row is written first with a placeholder.
    // Fits order_number (32 characters) on PostgreSQL, where the length is enforced.
    let placeholder = format!("new-{}", &uuid::Uuid::new_v4().simple().to_string()[..24]);
    let order = order::Entity::insert(order::ActiveModel {
        order_number: Set(placeholder),
        client_id: Set(client_id),
        user_id: Set(Some(user_id)),
        status: Set(OrderStatus::Pending),
        payment_status: Set(PaymentStatus::Pending),
        currency: Set(currency),
        subtotal_minor: Set(subtotal),
        discount_minor: Set(0),
        tax_minor: Set(0),
        total_minor: Set(subtotal),
        refunded_minor: Set(0),
        stripe_session_id: Set(None),
        stripe_payment_intent_id: Set(None),
        payment_method: Set(None),
        paid_at: Set(None),
        review_reason: Set(None),
        promotion_code: Set(cart.promotion.as_ref().map(|p| p.code.clone())),
        notes: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    let number = format!("AH-{:06}", order.id);
    order::Entity::update_many()
        .col_expr(order::Column::OrderNumber, Expr::value(number.clone()))
        .filter(order::Column::Id.eq(order.id))
        .exec(conn)
        .await?;
    // A bundle's line keeps what the bundle is made of now: its services are made from that.
    let ids: Vec<TemplateId> = cart.lines.iter().map(|l| l.template.id).collect();
    let bundles = crate::catalog::bundles::Bundles::load(conn, Some(&ids)).await?;
    let items: Vec<order_item::ActiveModel> = cart
        .lines
        .iter()
        .map(|l| order_item::ActiveModel {
            parts: Set(serde_json::json!(bundles.parts_of(l.template.id))),
            order_id: Set(order.id),
            template_id: Set(l.template.id),
            service_name: Set(l.template.title().to_string()),
            unit_price_minor: Set(l.unit_price().minor),
            quantity: Set(l.item.quantity),
            total_minor: Set(l.total().minor),
            billing_interval: Set(l.recurring().map(|(r, _)| r.interval.as_str().to_string())),
            billing_interval_count: Set(l.recurring().map_or(1, |(r, _)| r.count as i32)),
            trial_days: Set(l.recurring().map_or(0, |(r, _)| r.trial_days as i32)),
            setup_fee_minor: Set(l.recurring().map_or(0, |(r, _)| r.setup_fee_minor)),
            // Every question of the template, the cart's answers to those asked before payment.
            intake: Set(Intake::of(&l.template.questions(), &l.item.answers()).to_json()),
            tax_code: Set(l.template.tax_code.clone()),
            ..Default::default()
        })
        .collect();
    order_item::Entity::insert_many(items)
        .exec_without_returning(conn)
        .await?;
    let order = order::Model {
        order_number: number,
        ..order
    };
    let items = items_of(conn, order.id).await?;
    Ok((order, items))
}

pub async fn items_of<C: ConnectionTrait>(
    conn: &C,
    order_id: OrderId,
) -> Result<Vec<order_item::Model>, DbErr> {
    items_of_orders(conn, [order_id]).await
}

/// The items of several orders, in one query, in id order.
pub async fn items_of_orders<C: ConnectionTrait>(
    conn: &C,
    order_ids: impl IntoIterator<Item = OrderId>,
) -> Result<Vec<order_item::Model>, DbErr> {
    order_item::Entity::find()
        .filter(order_item::Column::OrderId.is_in(order_ids))
        .order_by_asc(order_item::Column::Id)
        .all(conn)
        .await
}

/// A step in an order's life, for its timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub at: chrono::DateTime<Utc>,
    pub label: String,
}

/// An order with its items, the services it made and its timeline.
#[derive(Clone, Debug)]
pub struct Detail {
    pub order: order::Model,
    pub items: Vec<order_item::Model>,
    pub services: Vec<service::Model>,
    pub timeline: Vec<Step>,
}

impl Detail {
    /// The order's tax lines ("VAT 20%", or "Includes VAT 20%" when in the prices).
    pub fn tax_rows(&self) -> Vec<(String, crate::money::Money)> {
        lines::tax_rows(&self.order, &self.items)
    }

    /// Services a refund left for a manager to decide on.
    pub fn services_to_review(&self) -> Vec<&service::Model> {
        self.services
            .iter()
            .filter(|s| s.review_reason.is_some())
            .collect()
    }
}

/// Reads everything an order page shows, in four queries.
pub async fn detail<C: ConnectionTrait>(conn: &C, order: order::Model) -> Result<Detail, DbErr> {
    let items = items_of(conn, order.id).await?;
    let services = service::Entity::find()
        .filter(refunds::services_of(order.id))
        .order_by_asc(service::Column::Id)
        .all(conn)
        .await?;
    let mut timeline = vec![Step {
        at: order.created_at,
        label: format!(
            "Order placed ({})",
            order.money(order.total_minor).display()
        ),
    }];
    if let Some(paid) = order.paid_at {
        timeline.push(Step {
            at: paid,
            label: format!(
                "Paid by {}",
                order.payment_method.as_deref().unwrap_or("card")
            ),
        });
    }
    let events = activity::for_entity(conn, "order", order.id.get(), 100).await?;
    for e in events.iter().rev() {
        let label = match e.action.as_str() {
            "order.refunded" => format!(
                "Refunded {}",
                order
                    .money(e.details["amount_minor"].as_i64().unwrap_or(0))
                    .display()
            ),
            "order.cancelled" => "Cancelled".to_string(),
            _ => continue,
        };
        timeline.push(Step { at: e.at, label });
    }
    if order.status == OrderStatus::Cancelled && !timeline.iter().any(|s| s.label == "Cancelled") {
        timeline.push(Step {
            at: order.updated_at,
            label: "Cancelled".into(),
        });
    }
    timeline.sort_by_key(|s| s.at);
    Ok(Detail {
        order,
        items,
        services,
        timeline,
    })
}

/// The company's order `id`, with everything its pages show; another company's is not found.
pub async fn client_detail<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    id: OrderId,
) -> AppResult<Detail> {
    let order = get_for_client(conn, id, client_id).await?;
    Ok(detail(conn, order).await?)
}

/// An order as the staff's page shows it: the detail, who bought it, Stripe's events about it,
/// its activity and its internal notes.
#[derive(Clone, Debug)]
pub struct StaffDetail {
    pub detail: Detail,
    pub client_name: String,
    pub buyer: Option<user::Model>,
    pub events: Vec<stripe_event::Model>,
    pub activity: Vec<activity_entity::Model>,
    pub notes: Vec<order_note::Model>,
}

/// Reads what the staff's order page shows (the events and activity, 50 of each at most).
pub async fn staff_detail<C: ConnectionTrait>(conn: &C, id: OrderId) -> AppResult<StaffDetail> {
    let order = order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    let detail = detail(conn, order).await?;
    let client_name = client::Entity::find_by_id(detail.order.client_id)
        .one(conn)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let buyer = match detail.order.user_id {
        Some(uid) => user::Entity::find_by_id(uid).one(conn).await?,
        None => None,
    };
    let events = stripe_event::Entity::find()
        .filter(stripe_event::Column::OrderId.eq(id))
        .order_by_desc(stripe_event::Column::ReceivedAt)
        .limit(50)
        .all(conn)
        .await?;
    let activity = activity::for_entity(conn, "order", id.get(), 50).await?;
    let notes = order_note::Entity::find()
        .filter(order_note::Column::OrderId.eq(id))
        .order_by_desc(order_note::Column::CreatedAt)
        .all(conn)
        .await?;
    Ok(StaffDetail {
        detail,
        client_name,
        buyer,
        events,
        activity,
        notes,
    })
}

/// Who hears about an order: the client (the buyer, else the company's billing address) and the
/// active staff, read in two queries.
#[derive(Clone, Debug, Default)]
pub struct Audience {
    /// (email, name)
    pub client: Option<(String, String)>,
    pub client_name: String,
    /// Active admins and managers.
    pub staff: Vec<user::Model>,
}

pub async fn audience<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
) -> Result<Audience, DbErr> {
    let mut all = audiences(conn, [order]).await?;
    Ok(all.remove(&order.id).unwrap_or_default())
}

/// Each order's [`Audience`], read in two queries however many orders there are.
pub async fn audiences<'a, C: ConnectionTrait>(
    conn: &C,
    orders: impl IntoIterator<Item = &'a order::Model>,
) -> Result<HashMap<OrderId, Audience>, DbErr> {
    let orders: Vec<&order::Model> = orders.into_iter().collect();
    let companies: HashMap<ClientId, client::Model> = client::Entity::find()
        .filter(client::Column::Id.is_in(orders.iter().map(|o| o.client_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let buyers: Vec<UserId> = orders.iter().filter_map(|o| o.user_id).collect();
    let mut who = Condition::any().add(
        Condition::all()
            .add(user::Column::Role.is_in([Role::Admin, Role::Manager]))
            .add(user::Column::Active.eq(true)),
    );
    if !buyers.is_empty() {
        who = who.add(user::Column::Id.is_in(buyers));
    }
    let people = user::Entity::find().filter(who).all(conn).await?;
    let staff: Vec<user::Model> = people
        .iter()
        .filter(|u| u.active && matches!(u.role, Role::Admin | Role::Manager))
        .cloned()
        .collect();
    Ok(orders
        .iter()
        .map(|order| {
            let company = companies.get(&order.client_id);
            let client = people
                .iter()
                .find(|u| Some(u.id) == order.user_id)
                .map(|u| (u.email.clone(), u.name.clone()))
                .or_else(|| {
                    company.and_then(|c| c.billing_email.clone().map(|e| (e, c.name.clone())))
                });
            let audience = Audience {
                client,
                client_name: company.map(|c| c.name.clone()).unwrap_or_default(),
                staff: staff.clone(),
            };
            (order.id, audience)
        })
        .collect())
}

/// An order (for staff).
pub async fn get<C: ConnectionTrait>(conn: &C, id: OrderId) -> AppResult<order::Model> {
    order::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// An order of this client; another client's is not found.
pub async fn get_for_client<C: ConnectionTrait>(
    conn: &C,
    id: OrderId,
    client_id: ClientId,
) -> AppResult<order::Model> {
    order::Entity::find_by_id(id)
        .filter(order::Column::ClientId.eq(client_id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The client's orders still waiting on an open Checkout Session.
pub async fn open_checkouts<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<Vec<order::Model>, DbErr> {
    order::Entity::find()
        .filter(order::Column::ClientId.eq(client_id))
        .filter(order::Column::Status.eq(OrderStatus::Pending))
        .filter(order::Column::StripeSessionId.is_not_null())
        .order_by_desc(order::Column::Id)
        .all(conn)
        .await
}

/// Moves an order (and its payment) if the status machines allow it; returns whether it moved.
pub async fn transition<C: ConnectionTrait>(
    conn: &C,
    order: &order::Model,
    status: OrderStatus,
    payment: PaymentStatus,
) -> Result<bool, DbErr> {
    if !order.status.can_move_to(status) || !order.payment_status.can_move_to(payment) {
        tracing::info!(
            order.id = order.id.get(),
            from = order.status.as_str(),
            to = status.as_str(),
            "order move refused"
        );
        return Ok(false);
    }
    order::Entity::update_many()
        .col_expr(order::Column::Status, Expr::value(status))
        .col_expr(order::Column::PaymentStatus, Expr::value(payment))
        .col_expr(order::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(order::Column::Id.eq(order.id))
        .exec(conn)
        .await?;
    Ok(true)
}

/// Reads the order holding its lock for the rest of the transaction: `SELECT … FOR UPDATE` on
/// PostgreSQL. SQLite has no row locks and ignores the clause: there the transaction must be
/// begun with `Db::write` (IMMEDIATE), which holds the database's write lock from its start.
pub async fn lock<C: ConnectionTrait>(
    conn: &C,
    id: OrderId,
) -> Result<Option<order::Model>, DbErr> {
    order::Entity::find_by_id(id)
        .lock_exclusive()
        .one(conn)
        .await
}

/// [`lock`] for several orders in one statement, taking the locks in id order (so two
/// transactions locking overlapping sets wait for each other rather than deadlock).
pub async fn lock_many<C: ConnectionTrait>(
    conn: &C,
    ids: &[OrderId],
) -> Result<Vec<order::Model>, DbErr> {
    order::Entity::find()
        .filter(order::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(order::Column::Id)
        .lock_exclusive()
        .all(conn)
        .await
}
