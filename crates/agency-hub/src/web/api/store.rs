//! The store and the cart as JSON: the same domain functions as the pages.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::analytics::{self, Event, Kind};
use crate::cart::{self, Cart, Problem, Quantity};
use crate::catalog::store::{self, StoreParams};
use crate::db::entities::service_template;
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, TemplateId};
use crate::money::Money;
use crate::orders;
use crate::web::auth::RequireClient;
use crate::web::extract::{Json, Path, Query};

/// An amount in a currency's minor unit (cents; yen for JPY), with its display form.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MoneyBody {
    /// Integer count of the currency's minor unit.
    #[schema(example = 49900)]
    pub amount_minor: i64,
    #[schema(example = "USD")]
    pub currency: String,
    #[schema(example = "$499.00")]
    pub formatted: String,
}

impl From<Money> for MoneyBody {
    fn from(m: Money) -> Self {
        Self {
            amount_minor: m.minor,
            currency: m.currency.code().to_string(),
            formatted: m.display(),
        }
    }
}

/// A service in the store.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreItem {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub category: String,
    /// The price in your company's billing currency; null when the service has none there
    /// (then it cannot be bought: prices are never converted).
    pub price: Option<MoneyBody>,
    /// Whether it can be bought in your company's currency.
    pub available: bool,
    pub images: Vec<String>,
    /// The most one order may hold.
    pub max_quantity: i32,
    /// For a search, the title and description with the matched words in `<mark>` (the rest
    /// HTML-escaped; the description cut to a part around the first match); null otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<HighlightBody>,
}

/// A search result's matches, as HTML.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HighlightBody {
    #[schema(example = "<mark>Logo</mark> Design")]
    pub title: String,
    pub description: String,
}

impl HighlightBody {
    fn of(h: &crate::catalog::search::Highlight) -> Self {
        Self {
            title: h.title.clone(),
            description: h.blurb.clone(),
        }
    }
}

impl StoreItem {
    /// The service as a company paying in `currency` sees it.
    pub(super) fn of(t: &service_template::Model, currency: crate::money::Currency) -> Self {
        let price = t.price_in(currency);
        Self {
            id: t.id.get(),
            title: t.title().to_string(),
            description: t.blurb().to_string(),
            category: t.category.clone(),
            available: price.is_some(),
            price: price.map(MoneyBody::from),
            images: t.images(),
            max_quantity: t.max_quantity,
            highlight: None,
        }
    }
}

/// A step the client will see once the service starts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncludedStep {
    pub name: String,
    pub description: String,
    pub due_in_days: Option<u32>,
}

/// A service's page: the item and what is included.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreItemDetail {
    #[serde(flatten)]
    pub item: StoreItem,
    pub included: Vec<IncludedStep>,
    /// For a bundle, the services it starts (each with how many); empty otherwise.
    pub parts: Vec<BundlePartBody>,
    /// For a bundle, what its services cost separately in your currency (null when one has
    /// no price there, or for a service that is not a bundle).
    pub worth: Option<MoneyBody>,
}

/// A service a bundle is made of.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BundlePartBody {
    /// Its own page in the store, when it is on sale on its own.
    pub service_template_id: i64,
    pub title: String,
    pub quantity: i32,
    pub included: Vec<IncludedStep>,
}

fn included(t: &service_template::Model) -> Vec<IncludedStep> {
    t.client_visible_tasks()
        .into_iter()
        .map(|d| IncludedStep {
            name: d.name,
            description: d.description,
            due_in_days: d.due_in_days,
        })
        .collect()
}

#[utoipa::path(
    get,
    path = "/api/store/services",
    tag = "store",
    summary = "List what is on sale",
    description = "Purchasable services, 24 a page, ordered by the agency's sort order (or `sort`). `q` (or `search`) searches the title, category, description and the steps the client sees, by word stem (\"logos\" finds Logo Design), with one typo forgiven in words of five letters or more, the last word as a prefix while it is typed (unless the query ends with a space), and the agency's synonyms; results come most relevant first (a match in the title above one in the description), then in `sort`, each with `highlight`. Prices are in your company's billing currency; a service without a price there is listed with `available: false` (and last when sorting by price).",
    params(
        ("q" = Option<String>, Query, description = "What to search for"),
        ("search" = Option<String>, Query, description = "The same as `q`"),
        ("category" = Option<String>, Query, description = "Only this category"),
        ("sort" = Option<String>, Query, description = "featured (default), price_asc, price_desc or name"),
        ("page" = Option<u64>, Query, description = "1-based page number"),
    ),
    responses(
        (status = 200, description = "One page of services", body = Paginated<StoreItem>),
        (status = 400, description = "A bad parameter", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "The store is disabled", body = ErrorResponse),
    ),
)]
pub async fn list_services(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Query(params): Query<StoreParams>,
) -> AppResult<Response> {
    let currency = state.billing_currency(client_id).await?;
    let query = params.parse(currency)?;
    let page = state.store.list(&query).await?;
    analytics::record_browse(
        &state.views,
        user.client_id,
        user.id,
        &query.search,
        page.total,
    )
    .await;
    // The same page is the same answer: serialised once while the catalogue is unchanged.
    let body = page.json.get_or_init(|| {
        let answer = Paginated {
            data: page
                .items
                .iter()
                .enumerate()
                .map(|(i, t)| StoreItem {
                    highlight: page.highlights.get(i).map(HighlightBody::of),
                    ..StoreItem::of(t, query.currency)
                })
                .collect(),
            pagination: Pagination::new(query.page, store::PER_PAGE, page.total),
        };
        serde_json::to_vec(&answer)
            .expect("a page of the store serialises")
            .into()
    });
    Ok(([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response())
}

#[utoipa::path(
    get,
    path = "/api/store/services/{id}",
    tag = "store",
    summary = "A service in the store",
    params(("id" = i64, Path, description = "The service template's id")),
    responses(
        (status = 200, description = "The service and what it includes", body = StoreItemDetail),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in the store", body = ErrorResponse),
    ),
)]
pub async fn get_service(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<TemplateId>,
) -> AppResult<axum::Json<StoreItemDetail>> {
    let t = state.store.get_on_sale(id).await?;
    state
        .views
        .record(Event::new(Kind::ProductView, Some(client_id), Some(user.id)).template(id))
        .await;
    let currency = state.billing_currency(client_id).await?;
    let bundles = state.store.bundles().await?;
    Ok(axum::Json(StoreItemDetail {
        item: StoreItem::of(t.as_ref(), currency),
        included: included(&t),
        parts: bundles
            .parts(t.id)
            .iter()
            .map(|p| BundlePartBody {
                service_template_id: p.template.id.get(),
                title: p.template.title().to_string(),
                quantity: p.quantity,
                included: included(&p.template),
            })
            .collect(),
        worth: bundles.worth(t.id, currency).map(Into::into),
    }))
}

/// A line of the cart.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartLineBody {
    pub service_template_id: i64,
    pub title: String,
    pub quantity: i32,
    pub max_quantity: i32,
    /// The current price, which checkout charges.
    pub unit_price: MoneyBody,
    pub total: MoneyBody,
    /// `unavailable` (no longer on sale), `not_in_currency` (no price in the company's
    /// currency) or `price_changed`; null when the line is fine.
    pub problem: Option<String>,
    /// The price when the line was added, if it changed since.
    pub previous_unit_price: Option<MoneyBody>,
    /// The service's questions asked before payment, with this line's answers.
    pub questions: Vec<QuestionBody>,
    /// The ids of the required questions still unanswered: checkout waits for them.
    pub missing_answers: Vec<u32>,
}

/// An intake question with its answer.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuestionBody {
    pub id: u32,
    /// `short_text`, `long_text`, `single_choice`, `multiple_choice`, `number`, `date`, `url` or
    /// `file` (answered with a file; the answer is its name).
    pub kind: &'static str,
    pub label: String,
    pub help: String,
    pub required: bool,
    /// `before_payment` or `after_payment`.
    pub asked: &'static str,
    pub choices: Vec<String>,
    /// A string, or a list of strings for several choices; null when unanswered.
    pub answer: Option<crate::catalog::Answer>,
}

impl QuestionBody {
    pub fn of(intake: &crate::catalog::Intake) -> Vec<Self> {
        intake
            .0
            .iter()
            .map(|a| Self {
                id: a.question.id,
                kind: a.question.kind.as_str(),
                label: a.question.label.clone(),
                help: a.question.help.clone(),
                required: a.question.required,
                asked: a.question.when.as_str(),
                choices: a.question.choices.clone(),
                answer: a.answer.clone(),
            })
            .collect()
    }
}

/// The client's cart.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartBody {
    pub items: Vec<CartLineBody>,
    /// Units in the cart.
    pub count: i64,
    pub total: Option<MoneyBody>,
    /// The promotion code applied (`SPRING24`), its discount, and the total less it (before
    /// any tax Checkout adds).
    pub promotion_code: Option<String>,
    pub discount: Option<MoneyBody>,
    pub total_after_discount: Option<MoneyBody>,
    /// False while a line is unavailable, changed price or has a required question
    /// unanswered.
    pub can_checkout: bool,
}

impl From<Cart> for CartBody {
    fn from(cart: Cart) -> Self {
        Self {
            count: cart.count(),
            total: cart.total().map(Into::into),
            promotion_code: cart.promotion.as_ref().map(|p| p.code.clone()),
            discount: cart.discount().map(Into::into),
            total_after_discount: cart.total_after_discount().map(Into::into),
            can_checkout: cart.can_checkout(),
            items: cart
                .lines
                .iter()
                .map(|l| CartLineBody {
                    service_template_id: l.template.id.get(),
                    title: l.template.title().to_string(),
                    quantity: l.item.quantity,
                    max_quantity: l.template.max_quantity,
                    unit_price: l.unit_price().into(),
                    total: l.total().into(),
                    problem: l.problem.as_ref().map(|p| match p {
                        Problem::Unavailable => "unavailable".to_string(),
                        Problem::NoPrice(_) => "not_in_currency".to_string(),
                        Problem::PriceChanged { .. } => "price_changed".to_string(),
                    }),
                    previous_unit_price: l.price_changed().map(|(was, _)| was.into()),
                    questions: QuestionBody::of(&l.intake()),
                    missing_answers: l.missing_answers().iter().map(|q| q.id).collect(),
                })
                .collect(),
        }
    }
}

pub(super) async fn cart_body(
    state: &AppState,
    client_id: ClientId,
) -> AppResult<axum::Json<CartBody>> {
    Ok(axum::Json(cart::load(&state.db, client_id).await?.into()))
}

#[utoipa::path(
    get,
    path = "/api/cart",
    tag = "cart",
    summary = "The client company's cart",
    responses(
        (status = 200, description = "The cart (empty when there is none)", body = CartBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
    ),
)]
pub async fn get_cart(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
) -> AppResult<axum::Json<CartBody>> {
    cart_body(&state, client_id).await
}

/// What to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddItem {
    #[schema(value_type = i64, minimum = 1)]
    service_template_id: Option<Value>,
    /// 1 to the service's maximum, counting what is already in the cart.
    #[schema(value_type = i64, example = 1, minimum = 1, maximum = 100)]
    quantity: Option<Value>,
}

fn template_id(value: Option<&Value>) -> AppResult<TemplateId> {
    match value {
        None | Some(Value::Null) => Err(AppError::invalid(
            "serviceTemplateId",
            "Give the id of the service to add.",
        )),
        Some(v) => v.as_i64().map(TemplateId).ok_or_else(|| {
            AppError::invalid("serviceTemplateId", format!("{v} is not a service id."))
        }),
    }
}

#[utoipa::path(
    post,
    path = "/api/cart/items",
    tag = "cart",
    summary = "Add a service to the cart",
    description = "Adds to an existing line. The service must be on sale, the quantity within its maximum, and its currency the cart's.",
    request_body = AddItem,
    responses(
        (status = 201, description = "The cart after the change", body = CartBody),
        (status = 400, description = "A bad quantity, a second currency, or a missing field", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 404, description = "No such service in the store", body = ErrorResponse),
        (status = 415, description = "Not JSON", body = ErrorResponse),
    ),
)]
pub async fn add_item(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Json(body): Json<AddItem>,
) -> AppResult<Response> {
    let id = template_id(body.service_template_id.as_ref())?;
    let quantity = Quantity::from_json(body.quantity.as_ref())?;
    state
        .db
        .in_transaction(async |txn| cart::add(txn, user.id, client_id, id, quantity).await)
        .await?;
    state.cart_changed(client_id);
    Ok((StatusCode::CREATED, cart_body(&state, client_id).await?).into_response())
}

/// The new quantity of a line.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetQuantity {
    #[schema(value_type = i64, example = 2, minimum = 1, maximum = 100)]
    quantity: Option<Value>,
}

#[utoipa::path(
    patch,
    path = "/api/cart/items/{serviceTemplateId}",
    tag = "cart",
    summary = "Change a line's quantity",
    params(("serviceTemplateId" = i64, Path, description = "The service's id")),
    request_body = SetQuantity,
    responses(
        (status = 200, description = "The cart after the change", body = CartBody),
        (status = 400, description = "A bad quantity", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in your cart", body = ErrorResponse),
    ),
)]
pub async fn update_item(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<TemplateId>,
    Json(body): Json<SetQuantity>,
) -> AppResult<axum::Json<CartBody>> {
    let quantity = Quantity::from_json(body.quantity.as_ref())?;
    state
        .db
        .in_transaction(async |txn| cart::set_quantity(txn, client_id, id, quantity).await)
        .await?;
    state.cart_changed(client_id);
    cart_body(&state, client_id).await
}

/// A promotion code to apply.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ApplyCode {
    /// As the client typed it; letters are not case-sensitive.
    #[schema(example = "SPRING24")]
    code: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/cart/promotion-code",
    tag = "cart",
    summary = "Apply a promotion code",
    description = "Checks the code with Stripe against the cart as Checkout will (its currency, the services it applies to, a minimum order, first-time customers, its expiry and redemptions) and keeps it with the cart, replacing any other; checkout passes it to Stripe. A code that does not fit is refused with the reason and changes nothing.",
    request_body = ApplyCode,
    responses(
        (status = 200, description = "The cart with the code and its discount", body = CartBody),
        (status = 400, description = "No such code, or it does not fit the cart (the message says why)", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 502, description = "Stripe could not be reached", body = ErrorResponse),
    ),
)]
pub async fn apply_code(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Json(body): Json<ApplyCode>,
) -> AppResult<axum::Json<CartBody>> {
    let current = cart::load(&state.db, client_id).await?;
    let applied = crate::promotions::apply(
        &state.db,
        &state.stripe,
        client_id,
        &current,
        body.code.as_deref().unwrap_or_default(),
    )
    .await
    .map_err(|mut e| {
        // The cart page's field is `promotion_code`; this body's is `code`.
        if e.field.as_deref() == Some("promotion_code") {
            e.field = Some("code".into());
        }
        e
    })?;
    cart::set_promotion(&state.db, client_id, Some(&applied)).await?;
    state.cart_changed(client_id);
    cart_body(&state, client_id).await
}

#[utoipa::path(
    delete,
    path = "/api/cart/promotion-code",
    tag = "cart",
    summary = "Remove the promotion code",
    responses(
        (status = 200, description = "The cart without a code", body = CartBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
    ),
)]
pub async fn remove_code(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
) -> AppResult<axum::Json<CartBody>> {
    cart::set_promotion(&state.db, client_id, None).await?;
    state.cart_changed(client_id);
    cart_body(&state, client_id).await
}

/// A line's answers to its questions asked before payment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SetAnswers {
    /// By question id: a string or number, a list of strings for several choices, or null
    /// for none. Questions left out lose their answer.
    #[schema(value_type = Object, example = json!({"1": "Acme & Sons", "2": ["Blue", "Green"]}))]
    answers: Option<Value>,
}

#[utoipa::path(
    put,
    path = "/api/cart/items/{serviceTemplateId}/answers",
    tag = "cart",
    summary = "Answer a line's questions",
    description = "Replaces the line's answers to the service's questions asked before payment. Every answer is checked; on a mistake nothing is kept and the error names the first question at fault (`q{id}`). The cart's `missingAnswers` lists the required questions still unanswered.",
    params(("serviceTemplateId" = i64, Path, description = "The service's id")),
    request_body = SetAnswers,
    responses(
        (status = 200, description = "The cart after the change", body = CartBody),
        (status = 400, description = "An answer that does not fit its question, an unknown question id, or a service that asks nothing before payment", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in your cart", body = ErrorResponse),
    ),
)]
pub async fn set_answers(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<TemplateId>,
    Json(body): Json<SetAnswers>,
) -> AppResult<axum::Json<CartBody>> {
    let answers = match body.answers {
        Some(Value::Object(map)) => map,
        Some(Value::Null) | None => Default::default(),
        Some(_) => {
            return Err(AppError::invalid(
                "answers",
                "Give the answers as an object by question id.",
            ));
        }
    };
    state
        .db
        .in_transaction(async |txn| {
            cart::set_answers(txn, client_id, id, |questions| {
                crate::catalog::questions::read_json_map(questions, &answers)
                    .map_err(crate::error::FieldErrors)
            })
            .await
        })
        .await?;
    state.cart_changed(client_id);
    cart_body(&state, client_id).await
}

#[utoipa::path(
    delete,
    path = "/api/cart/items/{serviceTemplateId}",
    tag = "cart",
    summary = "Remove a line",
    params(("serviceTemplateId" = i64, Path, description = "The service's id")),
    responses(
        (status = 200, description = "The cart after the change", body = CartBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not in your cart", body = ErrorResponse),
    ),
)]
pub async fn remove_item(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<TemplateId>,
) -> AppResult<axum::Json<CartBody>> {
    state
        .db
        .in_transaction(async |txn| cart::remove(txn, user.id, client_id, id).await)
        .await?;
    state.cart_changed(client_id);
    cart_body(&state, client_id).await
}

#[utoipa::path(
    delete,
    path = "/api/cart",
    tag = "cart",
    summary = "Empty the cart",
    responses(
        (status = 204, description = "The cart is empty"),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
    ),
)]
pub async fn clear_cart(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
) -> AppResult<StatusCode> {
    cart::clear(&state.db, client_id).await?;
    state.cart_changed(client_id);
    Ok(StatusCode::NO_CONTENT)
}

/// Where to send the client to pay.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutStarted {
    pub checkout_url: String,
    pub order_id: i64,
}

#[utoipa::path(
    post,
    path = "/api/store/checkout",
    tag = "cart",
    summary = "Check out the cart",
    description = "Re-reads every price, writes the order, expires the company's earlier open checkout, and answers the Stripe Checkout URL. The cart is emptied when the payment succeeds.",
    request_body(content = Object, content_type = "application/json", description = "Nothing: send `{}` (a write's body is JSON)"),
    responses(
        (status = 200, description = "The order and the URL of the payment page", body = CheckoutStarted),
        (status = 400, description = "An empty cart, one with flagged lines, or a required question unanswered (`field`: `answers`)", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 402, description = "`payment_declined`: the payment provider declined; nothing was charged", body = ErrorResponse),
        (status = 409, description = "`payment_request_conflict`: the payment provider matched this request to an earlier, different one; try again", body = ErrorResponse),
        (status = 502, description = "The payment provider could not be reached (`payment_provider_unavailable`, `payment_provider_busy`: try again) or refused the request (`payment_provider_misconfigured`, `payment_provider_refused`, `payment_provider_error`, with a reference); nothing was charged and the cart is unchanged", body = ErrorResponse),
    ),
)]
pub async fn checkout(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
) -> AppResult<axum::Json<CheckoutStarted>> {
    let (order, url) =
        orders::checkout::start(&state.db, &state.stripe, &state.config, &user, client_id).await?;
    Ok(axum::Json(CheckoutStarted {
        checkout_url: url,
        order_id: order.id.get(),
    }))
}
