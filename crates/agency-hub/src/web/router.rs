//! Every route of the app, and the layers around them. The pages' routes are listed here; the
//! JSON API's are registered in `api::routes` with their OpenAPI descriptions.

use std::time::Duration;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum::{Extension, Router};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use super::csrf;
use super::{api, assets, health, middleware, pages};
use crate::AppState;
use crate::auth::session_store::DbSessionStore;
use crate::error::AppError;

pub const SESSION_COOKIE: &str = "agency_hub_session";
/// A session ends after this long without a change (sign-in, a form, a flash message).
const SESSION_IDLE: Duration = Duration::from_secs(14 * 24 * 3600);
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

const CSP: &str = "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

pub fn build(state: AppState) -> Router {
    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone(), SESSION_IDLE))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies())
        .with_expiry(Expiry::OnInactivity(
            time::Duration::try_from(SESSION_IDLE).expect("a small duration"),
        ));

    let (api, mut api_doc) = api::routes(&state).split_for_parts();
    api::docs::complete(&mut api_doc);
    let routes = Router::new()
        .merge(page_routes())
        .merge(store_page_routes(&state))
        .merge(api.layer(Extension(Arc::new(api_doc))))
        .fallback(|| async { AppError::not_found() })
        .layer(from_fn(csrf::guard_forms))
        .layer(from_fn_with_state(state.clone(), csrf::guard_api))
        .layer(from_fn_with_state(state.clone(), super::auth::bearer))
        .layer(sessions)
        // Outside the session layer: these need no session.
        .route("/metrics", get(super::metrics::serve))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/favicon.svg", get(assets::favicon))
        .route("/favicon.ico", get(assets::favicon))
        .route("/static/{name}", get(assets::serve))
        .route("/static/img/{name}", get(assets::serve_image))
        .route("/static/icons/{name}", get(assets::serve_icon))
        .route("/manifest.webmanifest", get(assets::manifest));
    with_outer_layers(routes, state)
}

/// The layers every response passes through, whatever made it (a handler, a rejection, a
/// panic, the body limit): our error envelope or page, compression, the request's id, its log
/// span and metrics, and the security headers. Public so a test can put a route of its own inside.
pub fn with_outer_layers(routes: Router<AppState>, state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    // A browser keeps an https site https for two years once it has seen this.
    let hsts = (state.config.app_url.scheme() == "https").then(|| {
        header_if_missing(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        )
    });
    routes
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        // Uploads may carry two files of the largest size; every other body has its own,
        // smaller limit (forms 1 MB, JSON 2 MB).
        .layer(RequestBodyLimitLayer::new(
            MAX_BODY_BYTES + 2 * state.config.files.max_file_bytes as usize,
        ))
        .layer(from_fn(middleware::error_responses))
        // gzip or brotli, as the client accepts (brotli at a fast level): pages, JSON, CSS,
        // the CSV export; not what is already compressed (images) or too small to gain.
        .layer(CompressionLayer::new())
        .layer(from_fn(super::metrics::track_http))
        .layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(state.clone(), super::proxy::find_client))
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(header_if_missing(header::CONTENT_SECURITY_POLICY, CSP))
                .layer(header_if_missing(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                .layer(header_if_missing(header::X_FRAME_OPTIONS, "DENY"))
                .layer(header_if_missing(
                    header::REFERRER_POLICY,
                    "strict-origin-when-cross-origin",
                ))
                // Pages, receipts, exports and API answers are someone's own: no cache keeps
                // them. Static files set their own (long) lifetime.
                .layer(header_if_missing(header::CACHE_CONTROL, "no-store"))
                .option_layer(hsts),
        )
        .with_state(state)
}

/// Each request's log span, with its id.
fn request_span(req: &axum::extract::Request) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let client = req.extensions().get::<super::proxy::ClientAddr>();
    let ip = client.map(|c| c.ip.to_string()).unwrap_or_default();
    let scheme = if client.is_some_and(|c| c.https) {
        "https"
    } else {
        "http"
    };
    tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id, client_ip = %ip, scheme)
}

// A route table: one line a route, read against the pages it names, so it stays whole.
fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route(
            "/login",
            get(pages::auth::show_login).post(pages::auth::login),
        )
        .route("/logout", post(pages::auth::logout))
        .route("/dashboard", get(pages::dashboard::show))
        .route(
            "/password/set",
            get(pages::password::show).post(pages::password::set),
        )
        .route(
            "/password/forgot",
            get(pages::password::show_forgot).post(pages::password::forgot),
        )
        .route("/account", get(pages::account::show))
        .route("/account/name", post(pages::account::rename))
        .route("/account/password", post(pages::account::change_password))
        .route("/account/invites", post(pages::account::invite))
        .route(
            "/account/tokens",
            get(pages::tokens::show).post(pages::tokens::create),
        )
        .route("/account/tokens/{id}/revoke", post(pages::tokens::revoke))
        .route("/admin/integrations", get(pages::integrations::show))
        .route(
            "/admin/integrations/private-networks",
            post(pages::integrations::set_private_networks),
        )
        .route("/admin/webhooks", post(pages::integrations::create))
        .route("/admin/webhooks/new", get(pages::integrations::new))
        .route(
            "/admin/webhooks/{id}",
            get(pages::integrations::show_endpoint).post(pages::integrations::update),
        )
        .route(
            "/admin/webhooks/{id}/roll-secret",
            post(pages::integrations::roll_secret),
        )
        .route(
            "/admin/webhooks/{id}/delete",
            post(pages::integrations::delete),
        )
        .route(
            "/admin/webhooks/{id}/deliveries/{delivery_id}/resend",
            post(pages::integrations::resend),
        )
        .route(
            "/admin/tokens/{id}/revoke",
            post(pages::tokens::admin_revoke),
        )
        .route(
            "/account/notifications",
            post(pages::account::set_message_email),
        )
        .route("/notifications", get(pages::notifications::list))
        .route("/events", get(pages::notifications::events))
        .route(
            "/notifications/read-all",
            post(pages::notifications::read_all),
        )
        .route(
            "/notifications/{id}/read",
            post(pages::notifications::read_one),
        )
        // Staff: the service workflow.
        .route(
            "/services",
            get(pages::services::list).post(pages::services::assign),
        )
        .route("/services/new", get(pages::services::show_assign))
        .route("/services/{id}", get(pages::services::show))
        .route("/services/{id}/status", post(pages::services::set_status))
        .route("/services/{id}/keep", post(pages::services::keep))
        .route("/services/{id}/tasks", post(pages::services::add_task))
        .route(
            "/services/{id}/tasks/{task_id}/status",
            post(pages::services::set_task_status),
        )
        .route(
            "/services/{id}/tasks/{task_id}",
            get(pages::services::edit_task).post(pages::services::update_task),
        )
        .route(
            "/services/{id}/tasks/{task_id}/delete",
            post(pages::services::delete_task),
        )
        .route(
            "/services/{id}/messages",
            post(pages::services::post_message).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/services/{id}/deliverables",
            post(pages::services::share_deliverables).layer(DefaultBodyLimit::disable()),
        )
        .route("/files/{id}", get(pages::files::download))
        .route("/files/{id}/thumbnail", get(pages::files::thumbnail))
        .route(
            "/services/{id}/messages/{message_id}",
            post(pages::services::edit_message),
        )
        .route("/services/{id}/follow", post(pages::services::follow))
        .route("/services/{id}/unfollow", post(pages::services::unfollow))
        .route("/tasks", get(pages::services::my_tasks))
        .route("/search", get(pages::search::show))
        // Clients: their own services.
        .route("/my/services", get(pages::services::mine))
        .route("/my/services/{id}", get(pages::services::my_service))
        .route("/my/services/{id}/review", post(pages::services::review))
        .route("/admin/reviews", get(pages::admin_reviews::list))
        .route(
            "/admin/experiments",
            get(pages::admin_experiments::list).post(pages::admin_experiments::create),
        )
        .route(
            "/admin/experiments/{id}",
            get(pages::admin_experiments::show),
        )
        .route(
            "/admin/experiments/{id}/stop",
            post(pages::admin_experiments::stop),
        )
        .route(
            "/admin/reviews/{id}/decide",
            post(pages::admin_reviews::decide),
        )
        .route(
            "/admin/reviews/{id}/reply",
            post(pages::admin_reviews::reply),
        )
        .route(
            "/my/services/{id}/answers",
            post(pages::services::answer).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/my/services/{id}/messages",
            post(pages::services::my_post_message).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/my/services/{id}/deliverables/{file_id}",
            post(pages::services::decide),
        )
        .route(
            "/my/services/{id}/messages/{message_id}",
            post(pages::services::my_edit_message),
        )
        // Admin.
        .route(
            "/admin/settings",
            get(pages::admin_settings::show)
                .post(pages::admin_settings::save)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/agency/logo.png", get(pages::admin_settings::logo))
        .route("/store/images/{name}", get(pages::admin_templates::image))
        .route(
            "/admin/promotions",
            get(pages::admin_promotions::list).post(pages::admin_promotions::create),
        )
        .route(
            "/admin/promotions/{id}/active",
            post(pages::admin_promotions::set_active),
        )
        .route(
            "/admin/clients",
            get(pages::admin_clients::list).post(pages::admin_clients::create),
        )
        .route("/admin/clients/new", get(pages::admin_clients::show_new))
        .route(
            "/admin/clients/{id}",
            get(pages::admin_clients::show_edit).post(pages::admin_clients::update),
        )
        .route(
            "/admin/clients/{id}/export",
            post(pages::admin_clients::export),
        )
        .route(
            "/admin/users",
            get(pages::admin_users::list).post(pages::admin_users::create),
        )
        .route("/admin/users/new", get(pages::admin_users::show_new))
        .route("/admin/users/{id}", get(pages::admin_users::show))
        .route(
            "/admin/users/{id}/password",
            post(pages::admin_users::reset_password),
        )
        .route(
            "/admin/users/{id}/active",
            post(pages::admin_users::set_active),
        )
        .route(
            "/admin/templates",
            get(pages::admin_templates::list)
                .post(pages::admin_templates::create)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/admin/templates/new",
            get(pages::admin_templates::show_new),
        )
        .route(
            "/admin/templates/{id}",
            get(pages::admin_templates::show_edit)
                .post(pages::admin_templates::update)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/admin/templates/{id}/archive",
            post(pages::admin_templates::set_archived),
        )
        .route("/admin/metrics", get(pages::admin_metrics::show_page))
        .route(
            "/admin/subscriptions",
            get(pages::admin_subscriptions::list),
        )
        .route(
            "/admin/subscriptions/{id}",
            get(pages::admin_subscriptions::show),
        )
        .route(
            "/admin/subscriptions/{id}/{action}",
            post(pages::admin_subscriptions::act),
        )
        .route("/admin/orders", get(pages::admin_orders::list))
        .route(
            "/admin/orders/export.csv",
            get(pages::admin_orders::export_csv),
        )
        .route("/admin/orders/{id}", get(pages::admin_orders::show))
        .route(
            "/admin/orders/{id}/invoice.pdf",
            get(pages::admin_orders::invoice),
        )
        .route(
            "/admin/orders/{id}/credit-notes/{number}",
            get(pages::admin_orders::credit_note),
        )
        .route(
            "/admin/orders/{id}/notes",
            post(pages::admin_orders::add_note),
        )
        .route(
            "/admin/orders/{id}/refund",
            post(pages::admin_orders::refund),
        )
        .route(
            "/admin/orders/{id}/cancel",
            post(pages::admin_orders::cancel),
        )
        .route(
            "/admin/orders/{id}/fulfil",
            post(pages::admin_orders::rerun),
        )
        .route(
            "/admin/orders/{id}/reviewed",
            post(pages::admin_orders::reviewed),
        )
        .route(
            "/admin/stripe-events/{id}/retry",
            post(pages::admin_orders::retry_event),
        )
        .route("/admin/activity", get(pages::admin_activity::list))
        .route("/admin/emails", get(pages::admin_emails::list))
        .route("/admin/emails/{id}", get(pages::admin_emails::show))
        .route("/admin/emails/{id}/html", get(pages::admin_emails::html))
        .route(
            "/admin/emails/{id}/resend",
            post(pages::admin_emails::resend),
        )
        .route("/admin/jobs", get(pages::admin_jobs::list))
        .route("/admin/jobs/{id}/retry", post(pages::admin_jobs::retry))
}

/// The store's pages: every one answers 404 when STORE_ENABLED=false.
fn store_page_routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/store", get(pages::store::index))
        .route("/store/{id}", get(pages::store::show))
        .route("/store/cart", get(pages::store::show_cart))
        .route("/store/cart/items", post(pages::store::add))
        .route(
            "/store/cart/items/{template_id}",
            post(pages::store::update),
        )
        .route(
            "/store/cart/items/{template_id}/remove",
            post(pages::store::remove),
        )
        .route(
            "/store/cart/items/{template_id}/answers",
            post(pages::store::answer),
        )
        .route(
            "/store/cart/items/{template_id}/accept-price",
            post(pages::store::accept_price),
        )
        .route("/store/cart/clear", post(pages::store::clear))
        .route(
            "/store/cart/items/{template_id}/save",
            post(pages::saved::move_from_cart),
        )
        .route(
            "/store/saved",
            get(pages::saved::list).post(pages::saved::save),
        )
        .route(
            "/store/saved/{template_id}/remove",
            post(pages::saved::remove),
        )
        .route(
            "/store/cart/promotion-code",
            post(pages::store::promotion_code),
        )
        .route("/store/checkout", post(pages::store::checkout))
        .route("/store/success", get(pages::store::success))
        .route("/store/orders", get(pages::orders::list))
        .route("/store/subscriptions", get(pages::subscriptions::list))
        .route(
            "/store/subscriptions/{id}/{action}",
            post(pages::subscriptions::change),
        )
        .route(
            "/store/subscriptions/{id}/billing",
            post(pages::subscriptions::billing),
        )
        .route("/store/orders/{id}", get(pages::orders::show))
        .route("/store/orders/{id}/receipt", get(pages::orders::receipt))
        .route("/store/orders/{id}/resume", post(pages::orders::resume))
        .route("/store/orders/{id}/cancel", post(pages::orders::cancel))
        .route(
            "/store/orders/{id}/invoice.pdf",
            get(pages::orders::invoice),
        )
        .route(
            "/store/orders/{id}/credit-notes/{number}",
            get(pages::orders::credit_note),
        )
        .route_layer(from_fn_with_state(state.clone(), middleware::store_enabled))
}

fn header_if_missing(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}
