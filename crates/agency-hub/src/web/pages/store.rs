//! The store (CLIENT): the catalog, a service's page and the cart. Every action is a plain
//! form post with a redirect; bad input shows the page again with the problem, as a 4xx.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};

use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::analytics::{self, Event, Kind};
use crate::cart::{self, Cart, Quantity};
use crate::catalog::bundles::Bundles;
use crate::catalog::questions;
use crate::catalog::store::{self, Sort, StoreParams, StoreQuery};
use crate::db::Txn;
use crate::db::entities::service_template;
use crate::engagement::experiments::Look;
use crate::engagement::reviews;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::{ClientId, TemplateId};
use crate::money::Currency;
use crate::orders::{self, Paid};
use crate::web::api::Pagination;
use crate::web::auth::RequireClient;
use crate::web::extract::{Form, Path, Query};
use crate::web::form::{QuestionField, question_fields, settle};
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "store/index.html")]
pub struct StorePage {
    ctx: PageCtx,
    /// The company's billing currency: prices show in it.
    currency: Currency,
    items: crate::catalog::store_cache::Page,
    categories: std::sync::Arc<Vec<String>>,
    bundles: std::sync::Arc<Bundles>,
    /// The company's saved services, and this page's address to come back to.
    saved: std::sync::Arc<std::collections::HashSet<TemplateId>>,
    back: String,
    sorts: [Sort; 4],
    q: StoreQuery,
    pagination: Pagination,
    pager_base: String,
    /// What the experiments set for this person.
    look: Look,
    /// The service an experiment puts first (the first page, unfiltered).
    featured: Option<std::sync::Arc<service_template::Model>>,
}

impl StorePage {
    fn filtered(&self) -> bool {
        !self.q.search.is_empty() || !self.q.category.is_empty()
    }

    /// No highlights, for a card shown outside the search's results (the featured one).
    fn unmarked(&self) -> Option<&crate::catalog::search::Highlight> {
        None
    }

    /// Whether the service is shown above the list already (not twice).
    fn is_featured(&self, id: &TemplateId) -> bool {
        self.featured.as_ref().is_some_and(|f| f.id == *id)
    }

    /// The cards' button text.
    fn cta(&self) -> &str {
        self.look.cta.as_deref().unwrap_or("Add to cart")
    }
}

pub async fn index(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    ctx: PageCtx,
    Query(params): Query<StoreParams>,
) -> AppResult<StorePage> {
    let currency = state.billing_currency(client_id).await?;
    let mut q = params.parse(currency)?;
    let look = state.store_look(user.id, client_id).await?;
    if params.sort.trim().is_empty()
        && let Some(sort) = look.sort
    {
        q.sort = sort;
    }
    let items = state.store.list(&q).await?;
    let featured = match look.featured {
        Some(id) if q.page == 1 && q.search.is_empty() && q.category.is_empty() => {
            // A featured service no longer on sale is simply not shown.
            match state.store.get_on_sale(id).await {
                Ok(t) => Some(t),
                Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => None,
                Err(e) => return Err(e),
            }
        }
        _ => None,
    };
    let total = items.total;
    analytics::record_browse(&state.views, user.client_id, user.id, &q.search, total).await;
    let query = serde_urlencoded::to_string([
        ("q", q.search.as_str()),
        ("category", q.category.as_str()),
        ("sort", q.sort.as_str()),
    ])
    .unwrap_or_default();
    Ok(StorePage {
        ctx,
        currency,
        items,
        categories: state.store.categories().await?,
        bundles: state.store.bundles().await?,
        saved: state.saved_ids(client_id).await?,
        back: format!("/store?{query}&page={}", q.page),
        sorts: Sort::ALL,
        pagination: Pagination::new(q.page, store::PER_PAGE, total),
        pager_base: format!("/store?{query}&"),
        q,
        look,
        featured,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "store/show.html")]
pub struct ServicePage {
    ctx: PageCtx,
    currency: Currency,
    item: std::sync::Arc<service_template::Model>,
    bundles: std::sync::Arc<Bundles>,
    saved: std::sync::Arc<std::collections::HashSet<TemplateId>>,
    back: String,
    /// Often bought together with it, and also viewed.
    related: std::sync::Arc<crate::engagement::recommendations::Related>,
    /// Its published reviews, in the order asked.
    reviews: std::sync::Arc<Vec<reviews::Shown>>,
    order: reviews::Order,
    orders: [reviews::Order; 3],
    in_cart: i64,
    error: Option<AppError>,
}

impl ServicePage {
    /// A part's price each in the page's currency ("$499.00 each"), when it has one.
    fn part_price(&self, part: &crate::catalog::bundles::Part) -> Option<String> {
        let price = part.template.price_in(self.currency)?;
        Some(if part.quantity == 1 {
            price.display()
        } else {
            format!("{} each", price.display())
        })
    }
}

async fn service_page(
    state: &AppState,
    ctx: PageCtx,
    client_id: ClientId,
    id: TemplateId,
    error: Option<AppError>,
) -> AppResult<ServicePage> {
    service_page_in(state, ctx, client_id, id, error, reviews::Order::default()).await
}

async fn service_page_in(
    state: &AppState,
    ctx: PageCtx,
    client_id: ClientId,
    id: TemplateId,
    error: Option<AppError>,
    order: reviews::Order,
) -> AppResult<ServicePage> {
    let item = state.store.get_on_sale(id).await?;
    let in_cart = state.cart_units(client_id).await?.of(id);
    Ok(ServicePage {
        ctx,
        currency: state.billing_currency(client_id).await?,
        item,
        bundles: state.store.bundles().await?,
        saved: state.saved_ids(client_id).await?,
        back: format!("/store/{id}"),
        reviews: state.store.reviews(id, order).await?,
        related: state.related(id).await?,
        order,
        orders: reviews::Order::ALL,
        in_cart,
        error,
    })
}

#[derive(Debug, Default, Deserialize)]
pub struct ShowQuery {
    /// How the reviews are ordered: newest, highest or lowest.
    #[serde(default)]
    reviews: String,
}

pub async fn show(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    ctx: PageCtx,
    Path(id): Path<TemplateId>,
    Query(q): Query<ShowQuery>,
) -> AppResult<ServicePage> {
    let order = reviews::Order::parse(&q.reviews)?;
    let page = service_page_in(&state, ctx, client_id, id, None, order).await?;
    state
        .views
        .record(Event::new(Kind::ProductView, Some(client_id), Some(user.id)).template(id))
        .await;
    Ok(page)
}

#[derive(Template, WebTemplate)]
#[template(path = "store/cart.html")]
pub struct CartPage {
    ctx: PageCtx,
    cart: Cart,
    /// Often bought together with what is in it.
    picks: Vec<service_template::Model>,
    currency: Currency,
    error: Option<AppError>,
    cancelled: bool,
    /// "Empty the cart" was asked: the page asks first.
    confirm_clear: bool,
    /// The answers form sent back with its mistakes: its line's template and what was typed.
    answering: Option<(TemplateId, Vec<(String, String)>)>,
}

impl CartPage {
    /// A line's question fields: as typed when its form came back with mistakes, else its
    /// answers.
    fn fields(&self, line: &cart::Line) -> Vec<QuestionField> {
        let typed = self
            .answering
            .as_ref()
            .filter(|(id, _)| *id == line.template.id)
            .map(|(_, pairs)| pairs.as_slice());
        let errors = match (&self.error, typed) {
            (Some(e), Some(_)) => FieldErrors::of(e, "answers"),
            _ => FieldErrors::default(),
        };
        question_fields(
            &line
                .template
                .questions_asked(crate::catalog::When::BeforePayment),
            &line.item.answers(),
            typed,
            &errors,
        )
    }
}

async fn cart_page(
    state: &AppState,
    ctx: PageCtx,
    client_id: ClientId,
    error: Option<AppError>,
) -> AppResult<CartPage> {
    let cart = cart::load(&state.db, client_id).await?;
    let ids: Vec<TemplateId> = cart.lines.iter().map(|l| l.template.id).collect();
    Ok(CartPage {
        ctx,
        picks: crate::engagement::recommendations::bought_with_all(
            &state.db,
            &ids,
            crate::engagement::recommendations::SUGGESTED,
        )
        .await?,
        currency: state.billing_currency(client_id).await?,
        cart,
        error,
        cancelled: false,
        confirm_clear: false,
        answering: None,
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
    let started =
        orders::checkout::start(&state.db, &state.stripe, &state.config, &user, client_id).await;
    settle(
        started,
        async |(_, url)| Ok(Redirect::to(&url).into_response()),
        async |e| cart_page(&state, ctx, client_id, Some(e)).await,
    )
    .await
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

/// Where Stripe sends the client after paying (see `orders::checkout::confirm`).
pub async fn success(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    ctx: PageCtx,
    Query(q): Query<SuccessQuery>,
) -> AppResult<SuccessPage> {
    let Paid {
        order,
        items,
        services,
    } = orders::checkout::confirm(&state.db, &state.stripe, client_id, &q.session_id).await?;
    // Paying emptied the cart (in the payment's transaction, maybe on another instance).
    state.cart_changed(client_id);
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

pub async fn add(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<AddFields>,
) -> AppResult<Response> {
    let template_id: TemplateId = f
        .template_id
        .trim()
        .parse()
        .map_err(|_| AppError::invalid("template_id", "Choose a service to add."))?;
    let added = async {
        let quantity = match f.quantity.trim() {
            "" => Quantity::ONE,
            raw => Quantity::parse(raw)?,
        };
        state
            .db
            .in_transaction(async |txn| {
                cart::add(txn, user.id, client_id, template_id, quantity).await
            })
            .await
    }
    .await;
    settle(
        added,
        async |added| {
            state.cart_changed(client_id);
            let units = if added.quantity == 1 {
                String::new()
            } else {
                format!("{} × ", added.quantity)
            };
            let message = format!("{units}{} is in your cart.", added.template.title());
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/store/cart").into_response())
        },
        async |e| service_page(&state, ctx, client_id, template_id, Some(e)).await,
    )
    .await
}

/// Runs a change to the cart: on success a message and back to the cart; on bad input the
/// cart again with the problem, unchanged.
async fn change_cart<F>(
    state: &AppState,
    session: &Session,
    ctx: PageCtx,
    client_id: ClientId,
    change: F,
) -> AppResult<Response>
where
    F: AsyncFnOnce(&Txn) -> AppResult<String>,
{
    settle(
        state.db.in_transaction(change).await,
        async |message| {
            state.cart_changed(client_id);
            flash(session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/store/cart").into_response())
        },
        async |e| cart_page(state, ctx, client_id, Some(e)).await,
    )
    .await
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
    Path(template_id): Path<TemplateId>,
    Form(f): Form<QuantityFields>,
) -> AppResult<Response> {
    change_cart(&state, &session, ctx, client_id, async |txn| {
        let quantity = Quantity::parse(&f.quantity)?;
        let changed = cart::set_quantity(txn, client_id, template_id, quantity).await?;
        Ok(format!(
            "{} × {} in your cart.",
            changed.quantity,
            changed.template.title()
        ))
    })
    .await
}

pub async fn remove(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(template_id): Path<TemplateId>,
) -> AppResult<Response> {
    change_cart(&state, &session, ctx, client_id, async |txn| {
        let line = cart::remove(txn, user.id, client_id, template_id).await?;
        Ok(format!(
            "{} was removed from your cart.",
            line.template.title()
        ))
    })
    .await
}

/// A line's answers to its before-payment questions: kept when each reads, else the cart
/// again with each mistake beside its field and nothing kept.
pub async fn answer(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(template_id): Path<TemplateId>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let result = state
        .db
        .in_transaction(async |txn| {
            cart::set_answers(txn, client_id, template_id, |questions| {
                questions::read_form(questions, &pairs).map_err(FieldErrors)
            })
            .await
        })
        .await;
    settle(
        result,
        async |line| {
            let missing = line.missing_answers().len();
            let message = match missing {
                0 => format!("Your answers for {} are saved.", line.template.title()),
                n => format!(
                    "Your answers for {} are saved; {n} required question{} still to answer before checkout.",
                    line.template.title(),
                    if n == 1 { " is" } else { "s are" }
                ),
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/store/cart").into_response())
        },
        async |e| {
            let mut page = cart_page(&state, ctx, client_id, Some(e)).await?;
            page.answering = Some((template_id, pairs));
            Ok::<_, AppError>(page)
        },
    )
    .await
}

pub async fn accept_price(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Path(template_id): Path<TemplateId>,
) -> AppResult<Response> {
    change_cart(&state, &session, ctx, client_id, async |txn| {
        cart::accept_price(txn, client_id, template_id).await?;
        Ok("The line now has the current price.".to_string())
    })
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    code: String,
}

/// Applies a promotion code to the cart (checked with Stripe, against what is in the cart) or
/// removes it.
pub async fn promotion_code(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<CodeForm>,
) -> AppResult<Response> {
    let done = async {
        if f.action == "remove" {
            cart::set_promotion(&state.db, client_id, None).await?;
            return Ok("The promotion code is removed.".to_string());
        }
        let current = cart::load(&state.db, client_id).await?;
        let applied =
            crate::promotions::apply(&state.db, &state.stripe, client_id, &current, &f.code)
                .await?;
        cart::set_promotion(&state.db, client_id, Some(&applied)).await?;
        Ok(format!("Promotion code {} applied.", applied.code))
    }
    .await;
    settle(
        done,
        async |said| {
            flash(&session, FlashKind::Success, said).await?;
            Ok(Redirect::to("/store/cart").into_response())
        },
        async |e| cart_page(&state, ctx, client_id, Some(e)).await,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
pub struct ClearFields {
    /// `yes` once the person confirmed.
    #[serde(default)]
    confirm: String,
}

/// Empties the cart once confirmed; asked first (the cart again, with the question).
pub async fn clear(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<ClearFields>,
) -> AppResult<Response> {
    if f.confirm != "yes" {
        let mut page = cart_page(&state, ctx, client_id, None).await?;
        page.confirm_clear = !page.cart.lines.is_empty();
        return Ok(page.into_response());
    }
    change_cart(&state, &session, ctx, client_id, async |txn| {
        cart::clear(txn, client_id).await?;
        Ok("Your cart is empty.".to_string())
    })
    .await
}
