//! The store (CLIENT): the catalog, a service's page and the cart. Every action is a plain
//! form post with a redirect; bad input shows the page again with the problem, as a 4xx.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use serde::Deserialize;
use serde_json::{Value, json};
use tower_sessions::Session;

use crate::AppState;
use crate::analytics::{Event, Kind};
use crate::auth::{CurrentUser, RequireClient};
use crate::cart::{self, Cart};
use crate::catalog::store::{self, Sort, StoreQuery};
use crate::db::entities::service_template;
use crate::error::{AppError, AppResult};
use crate::web::api::Pagination;
use crate::web::extract::{Form, Query};
use crate::web::layout::{PageCtx, flash};

#[derive(Debug, Default, Deserialize)]
pub struct StoreParams {
    /// `q` on the page, `search` in the API.
    #[serde(default, alias = "search")]
    pub q: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub sort: String,
    pub page: Option<u64>,
}

impl StoreParams {
    pub fn parse(&self) -> AppResult<StoreQuery> {
        if self.q.chars().count() > 200 {
            return Err(AppError::invalid("q", "Search for at most 200 characters."));
        }
        Ok(StoreQuery {
            search: self.q.trim().to_string(),
            category: self.category.trim().to_string(),
            sort: Sort::parse(&self.sort)?,
            page: self.page.unwrap_or(1).max(1),
        })
    }
}

/// Records that the store was browsed (and searched), in one transaction with nothing else.
pub async fn track_browse(
    state: &AppState,
    user: &CurrentUser,
    q: &StoreQuery,
    results: u64,
) -> AppResult<()> {
    Event::new(Kind::StoreView, user.client_id, Some(user.id))
        .record(&state.db)
        .await?;
    if !q.search.is_empty() {
        Event::new(Kind::Search, user.client_id, Some(user.id))
            .details(json!({"query": q.search, "results": results}))
            .record(&state.db)
            .await?;
    }
    Ok(())
}

#[derive(Template, WebTemplate)]
#[template(path = "store/index.html")]
pub struct StorePage {
    ctx: PageCtx,
    items: Vec<service_template::Model>,
    categories: Vec<String>,
    sorts: [Sort; 4],
    q: StoreQuery,
    pagination: Pagination,
    pager_base: String,
}

impl StorePage {
    fn filtered(&self) -> bool {
        !self.q.search.is_empty() || !self.q.category.is_empty()
    }
}

pub async fn index(
    State(state): State<AppState>,
    RequireClient(user, _): RequireClient,
    ctx: PageCtx,
    Query(params): Query<StoreParams>,
) -> AppResult<StorePage> {
    let q = params.parse()?;
    let (items, total) = store::list(&state.db, &q).await?;
    track_browse(&state, &user, &q, total).await?;
    let query = serde_urlencoded::to_string([
        ("q", q.search.as_str()),
        ("category", q.category.as_str()),
        ("sort", q.sort.as_str()),
    ])
    .unwrap_or_default();
    Ok(StorePage {
        ctx,
        items,
        categories: store::categories(&state.db).await?,
        sorts: Sort::ALL,
        pagination: Pagination::new(q.page, store::PER_PAGE, total),
        pager_base: format!("/store?{query}&"),
        q,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "store/show.html")]
pub struct ServicePage {
    ctx: PageCtx,
    item: service_template::Model,
    in_cart: i64,
    error: Option<AppError>,
}

async fn service_page(
    state: &AppState,
    ctx: PageCtx,
    client_id: i64,
    id: i64,
    error: Option<AppError>,
) -> AppResult<ServicePage> {
    let item = store::get_on_sale(&state.db, id).await?;
    let in_cart = cart::load(&state.db, client_id)
        .await?
        .lines
        .iter()
        .find(|l| l.template.id == id)
        .map_or(0, |l| i64::from(l.item.quantity));
    Ok(ServicePage {
        ctx,
        item,
        in_cart,
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    ctx: PageCtx,
    Path(id): Path<i64>,
) -> AppResult<ServicePage> {
    let page = service_page(&state, ctx, client_id, id, None).await?;
    Event::new(Kind::ProductView, Some(client_id), Some(user.id))
        .template(id)
        .record(&state.db)
        .await?;
    Ok(page)
}

#[derive(Template, WebTemplate)]
#[template(path = "store/cart.html")]
pub struct CartPage {
    ctx: PageCtx,
    cart: Cart,
    error: Option<AppError>,
    cancelled: bool,
}

async fn cart_page(
    state: &AppState,
    ctx: PageCtx,
    client_id: i64,
    error: Option<AppError>,
) -> AppResult<CartPage> {
    Ok(CartPage {
        ctx,
        cart: cart::load(&state.db, client_id).await?,
        error,
        cancelled: false,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct CartQuery {
    #[serde(default)]
    cancelled: Option<String>,
}

pub async fn show_cart(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    ctx: PageCtx,
    Query(q): Query<CartQuery>,
) -> AppResult<CartPage> {
    let mut page = cart_page(&state, ctx, client_id, None).await?;
    page.cancelled = q.cancelled.is_some();
    Ok(page)
}

/// The cart's Checkout button: to Stripe's payment page, or back to the cart with the reason.
pub async fn checkout(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    ctx: PageCtx,
) -> AppResult<Response> {
    match crate::stripe::checkout::start(&state, &user, client_id).await {
        Ok((_, url)) => Ok(Redirect::to(&url).into_response()),
        Err(e) if e.status.is_client_error() || e.status == StatusCode::BAD_GATEWAY => {
            let status = e.status;
            Ok((status, cart_page(&state, ctx, client_id, Some(e)).await?).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "store/success.html")]
pub struct SuccessPage {
    ctx: PageCtx,
    order: crate::db::entities::order::Model,
    items: Vec<crate::db::entities::order_item::Model>,
    services: Vec<crate::db::entities::service::Model>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SuccessQuery {
    #[serde(default)]
    session_id: String,
}

/// Where Stripe sends the client after paying: it fulfils the order itself if the webhook has
/// not yet (the same idempotent function), then shows the order.
pub async fn success(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    ctx: PageCtx,
    Query(q): Query<SuccessQuery>,
) -> AppResult<SuccessPage> {
    use crate::db::entities::{order, service};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let order = order::Entity::find()
        .filter(order::Column::StripeSessionId.eq(q.session_id.trim()))
        .filter(order::Column::ClientId.eq(client_id))
        .one(&state.db)
        .await?
        .ok_or_else(AppError::not_found)?;
    match state.stripe.retrieve_checkout_session(&q.session_id).await {
        Ok(session) => {
            let txn = state.db.write().await?;
            crate::stripe::fulfil::fulfill_checkout(&txn, &session).await?;
            txn.commit().await?;
        }
        // The webhook will do it; the page shows what is known.
        Err(e) => {
            tracing::warn!(error = %e, order.id = order.id, "success page: the session could not be read")
        }
    }
    let order = order::Entity::find_by_id(order.id)
        .one(&state.db)
        .await?
        .ok_or_else(AppError::not_found)?;
    let items = crate::orders::items_of(&state.db, order.id).await?;
    let item_ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let services = service::Entity::find()
        .filter(service::Column::OrderItemId.is_in(item_ids))
        .all(&state.db)
        .await?;
    Ok(SuccessPage {
        ctx,
        order,
        items,
        services,
    })
}

#[derive(Debug, Deserialize)]
pub struct AddFields {
    #[serde(default)]
    template_id: String,
    #[serde(default)]
    quantity: String,
}

/// Adds to the cart and records it, in one transaction.
pub async fn add_to_cart(
    state: &AppState,
    user: &CurrentUser,
    client_id: i64,
    template_id: i64,
    quantity: i64,
) -> AppResult<cart::Added> {
    let txn = state.db.write().await?;
    let added = cart::add(&txn, client_id, template_id, quantity).await?;
    Event::new(Kind::AddToCart, Some(client_id), Some(user.id))
        .template(template_id)
        .quantity(added.quantity)
        .amount(added.template.price())
        .record(&txn)
        .await?;
    txn.commit().await?;
    Ok(added)
}

pub async fn add(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<AddFields>,
) -> AppResult<Response> {
    let template_id: i64 = f
        .template_id
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("template_id", "Choose a service to add."))?;
    let quantity = match f.quantity.trim() {
        "" => 1,
        raw => match cart::parse_quantity(Some(&Value::String(raw.to_string()))) {
            Ok(q) => q,
            Err(e) => return refuse_on_service_page(&state, ctx, client_id, template_id, e).await,
        },
    };
    match add_to_cart(&state, &user, client_id, template_id, quantity).await {
        Ok(added) => {
            let units = if added.quantity == 1 {
                String::new()
            } else {
                format!("{} × ", added.quantity)
            };
            flash(
                &session,
                "success",
                format!("{units}{} is in your cart.", added.template.title()),
            )
            .await?;
            Ok(Redirect::to("/store/cart").into_response())
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            refuse_on_service_page(&state, ctx, client_id, template_id, e).await
        }
        Err(e) => Err(e),
    }
}

async fn refuse_on_service_page(
    state: &AppState,
    ctx: PageCtx,
    client_id: i64,
    template_id: i64,
    e: AppError,
) -> AppResult<Response> {
    let status = e.status;
    Ok((
        status,
        service_page(state, ctx, client_id, template_id, Some(e)).await?,
    )
        .into_response())
}

/// Runs a change to the cart: on success a message and back to the cart; on bad input the
/// cart again with the problem, unchanged.
async fn change_cart<F>(
    state: &AppState,
    session: &Session,
    ctx: PageCtx,
    client_id: i64,
    change: F,
) -> AppResult<Response>
where
    F: AsyncFnOnce(&crate::db::Txn) -> AppResult<String>,
{
    let txn = state.db.write().await?;
    match change(&txn).await {
        Ok(message) => {
            txn.commit().await?;
            flash(session, "success", message).await?;
            Ok(Redirect::to("/store/cart").into_response())
        }
        Err(e) if e.status.is_client_error() => {
            txn.rollback().await?;
            let status = e.status;
            Ok((status, cart_page(state, ctx, client_id, Some(e)).await?).into_response())
        }
        Err(e) => Err(e),
    }
}

#[derive(Debug, Deserialize)]
pub struct QuantityFields {
    #[serde(default)]
    quantity: String,
}

pub async fn update(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(template_id): Path<i64>,
    Form(f): Form<QuantityFields>,
) -> AppResult<Response> {
    change_cart(&state, &session, ctx, client_id, async |txn| {
        let quantity = cart::parse_quantity(Some(&Value::String(f.quantity)))?;
        let changed = cart::set_quantity(txn, client_id, template_id, quantity).await?;
        Ok(format!(
            "{} × {} in your cart.",
            changed.quantity,
            changed.template.title()
        ))
    })
    .await
}

/// Removes a line and records it.
pub async fn remove_line<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user: &CurrentUser,
    client_id: i64,
    template_id: i64,
) -> AppResult<cart::Line> {
    let line = cart::remove(conn, client_id, template_id).await?;
    Event::new(Kind::RemoveFromCart, Some(client_id), Some(user.id))
        .template(template_id)
        .quantity(line.item.quantity)
        .record(conn)
        .await?;
    Ok(line)
}

pub async fn remove(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(template_id): Path<i64>,
) -> AppResult<Response> {
    change_cart(&state, &session, ctx, client_id, async |txn| {
        let line = remove_line(txn, &user, client_id, template_id).await?;
        Ok(format!(
            "{} was removed from your cart.",
            line.template.title()
        ))
    })
    .await
}

pub async fn accept_price(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(template_id): Path<i64>,
) -> AppResult<Response> {
    change_cart(&state, &session, ctx, client_id, async |txn| {
        cart::accept_price(txn, client_id, template_id).await?;
        Ok("The line now has the current price.".to_string())
    })
    .await
}

pub async fn clear(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
) -> AppResult<Response> {
    change_cart(&state, &session, ctx, client_id, async |txn| {
        cart::clear(txn, client_id).await?;
        Ok("Your cart is empty.".to_string())
    })
    .await
}
