//! The client's orders: the company's history, each order's page and its printable receipt.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::clients;
use crate::error::AppResult;
use crate::ids::OrderId;
use crate::invoicing;
use crate::notify::inapp;
use crate::orders::listing::{self, CLIENT_PER_PAGE, OrderRow};
use crate::orders::{self, Detail};
use crate::web::api::Pagination;
use crate::web::auth::RequireClient;
use crate::web::extract::{PageParams, Path, Query};
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "store/orders.html")]
pub struct OrdersPage {
    ctx: PageCtx,
    /// Orders whose checkout was left unpaid, still open to pay.
    unfinished: Vec<crate::db::entities::order::Model>,
    rows: Vec<OrderRow>,
    pagination: Pagination,
    pager_base: String,
}

pub async fn list(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    ctx: PageCtx,
    Query(paging): Query<PageParams>,
) -> AppResult<OrdersPage> {
    let page = paging.page()?;
    let (rows, total) =
        listing::client_page(&state.db, client_id, true, page, CLIENT_PER_PAGE).await?;
    let unfinished = orders::open_checkouts(&state.db, client_id).await?;
    Ok(OrdersPage {
        ctx,
        unfinished,
        rows,
        pagination: Pagination::new(page, CLIENT_PER_PAGE, total),
        pager_base: "/store/orders?".into(),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "store/order.html")]
pub struct OrderPage {
    ctx: PageCtx,
    d: Detail,
    docs: invoicing::Documents,
    /// Where the order's PDFs are.
    docs_base: String,
}

pub async fn show(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    mut ctx: PageCtx,
    Path(id): Path<OrderId>,
) -> AppResult<OrderPage> {
    let d = orders::client_detail(&state.db, client_id, id).await?;
    // The "order paid" news leads here: seen.
    let link = format!("/store/orders/{id}");
    ctx.seen(inapp::read_link(&state.db, user.id, &link).await?);
    let docs = invoicing::Documents::of(&state.db, id, &d.items).await?;
    Ok(OrderPage {
        ctx,
        d,
        docs,
        docs_base: format!("/store/orders/{id}"),
    })
}

/// The order's invoice (`credit_note` none) or one of its credit notes (`CN-….pdf`), as a PDF
/// to download.
pub(crate) async fn order_pdf(
    state: &AppState,
    order: &crate::db::entities::order::Model,
    credit_note: Option<&str>,
) -> AppResult<Response> {
    let number = credit_note.map(|n| n.strip_suffix(".pdf").unwrap_or(n));
    let pdf = invoicing::pdf(&state.db, &state.config, &state.storage, order, number).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                crate::files::disposition(&pdf.file_name),
            ),
            (header::CACHE_CONTROL, "private, no-cache".to_string()),
        ],
        pdf.bytes,
    )
        .into_response())
}

pub async fn invoice(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<OrderId>,
) -> AppResult<Response> {
    let order = orders::get_for_client(&state.db, id, client_id).await?;
    order_pdf(&state, &order, None).await
}

pub async fn credit_note(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path((id, number)): Path<(OrderId, String)>,
) -> AppResult<Response> {
    let order = orders::get_for_client(&state.db, id, client_id).await?;
    order_pdf(&state, &order, Some(&number)).await
}

#[derive(Template, WebTemplate)]
#[template(path = "store/receipt.html")]
pub struct ReceiptPage {
    /// Its stylesheet (the security policy allows no inline style).
    css_href: String,
    agency: String,
    client_name: String,
    d: Detail,
}

/// The receipt, on a page of its own made to be printed.
pub async fn receipt(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<OrderId>,
) -> AppResult<ReceiptPage> {
    let d = orders::client_detail(&state.db, client_id, id).await?;
    if d.order.paid_at.is_none() {
        return Err(crate::error::AppError::conflict(format!(
            "Order {} is not paid: it has no receipt.",
            d.order.order_number
        )));
    }
    let client_name = clients::get(&state.db, client_id).await?.name;
    Ok(ReceiptPage {
        css_href: crate::web::assets::href("receipt.css"),
        agency: state.config.agency_name.clone(),
        client_name,
        d,
    })
}

/// "Resume payment" of an order left unpaid: to its Checkout Session (see
/// `orders::checkout::resume`), or back to the order with why not.
pub async fn resume(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    Path(id): Path<OrderId>,
) -> AppResult<Redirect> {
    let resumed = orders::checkout::resume(
        &state.db,
        &state.stripe,
        &state.config,
        &user,
        client_id,
        id,
    )
    .await;
    match resumed {
        Ok(url) => Ok(Redirect::to(&url)),
        Err(e) if e.is_correctable() => {
            flash(&session, FlashKind::Error, e.message).await?;
            Ok(Redirect::to(&format!("/store/orders/{id}")))
        }
        Err(e) => Err(e),
    }
}

/// "Cancel" an order left unpaid: its Checkout Session expires, so it can no longer be paid.
pub async fn cancel(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    Path(id): Path<OrderId>,
) -> AppResult<Redirect> {
    let order = orders::get_for_client(&state.db, id, client_id).await?;
    let cancelled = orders::actions::cancel(
        &state.db,
        &state.stripe,
        &crate::activity::Actor::from(&user),
        order.id,
    )
    .await;
    match cancelled {
        Ok(()) => {
            flash(
                &session,
                FlashKind::Success,
                format!(
                    "Order {} is cancelled: nothing was charged.",
                    order.order_number
                ),
            )
            .await?;
            Ok(Redirect::to("/store/orders"))
        }
        Err(e) if e.is_correctable() => {
            flash(&session, FlashKind::Error, e.message).await?;
            Ok(Redirect::to(&format!("/store/orders/{id}")))
        }
        Err(e) => Err(e),
    }
}
