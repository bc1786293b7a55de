//! Promotions (ADMIN): the promotion codes at Stripe with their coupons' offers, limits and
//! redemptions; a new coupon with its first code; a code turned off or on again.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::analytics::dashboard;
use crate::catalog;
use crate::db::entities::service_template;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::promotions::{PromotionForm, Row, Valid};
use crate::stripe::StripeError;
use crate::stripe::catalog as catalog_sync;
use crate::web::auth::RequireAdmin;
use crate::web::extract::Path;
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "admin/promotions.html")]
pub struct PromotionsPage {
    ctx: PageCtx,
    rows: Vec<Row>,
    /// The templates a coupon may be limited to: those on sale.
    templates: Vec<service_template::Model>,
    form: PromotionForm,
    errors: FieldErrors,
}

/// What the page shows: Stripe's codes and the templates on sale.
async fn page(
    state: &AppState,
    ctx: PageCtx,
    form: PromotionForm,
    errors: FieldErrors,
) -> AppResult<PromotionsPage> {
    let templates: Vec<service_template::Model> = catalog::list(&state.db, false)
        .await?
        .into_iter()
        .filter(service_template::Model::on_sale)
        .collect();
    let codes = state
        .stripe
        .list_promotion_codes()
        .await
        .map_err(|e| refused(e, "reading the promotion codes"))?;
    let sales = dashboard::sales_by_code(&state.db, None).await?;
    let now = chrono::Utc::now().timestamp();
    let rows = codes
        .iter()
        .map(|p| Row::of(p, &templates, &sales, now))
        .collect();
    Ok(PromotionsPage {
        ctx,
        rows,
        templates,
        form,
        errors,
    })
}

fn refused(e: StripeError, doing: &str) -> AppError {
    e.into_app_error(doing, "Nothing was changed.", true)
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<PromotionsPage> {
    page(&state, ctx, PromotionForm::blank(), FieldErrors::default()).await
}

/// Makes the coupon, then its code, at Stripe. A code Stripe refuses (one already active with
/// the same text) is shown at its field; the coupon made for it stays at Stripe, unused.
pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = PromotionForm::from_pairs(&pairs);
    let made = async {
        let templates = catalog::list(&state.db, false).await?;
        let Valid {
            mut coupon,
            code,
            templates,
        } = form.validate(&templates)?;
        for t in &templates {
            let attempt = crate::stripe::client::new_attempt();
            let product = catalog_sync::product_of(&state.db, &state.stripe, t, &attempt)
                .await
                .map_err(|e| field(refused(e, "putting the service on Stripe"), "templates"))?;
            coupon.products.push(product);
        }
        let coupon = state
            .stripe
            .create_coupon(&coupon)
            .await
            .map_err(|e| field(refused(e, "making the coupon"), "name"))?;
        state
            .stripe
            .create_promotion_code(&coupon.id, &code)
            .await
            .map_err(|e| field(refused(e, "making the promotion code"), "code"))
    }
    .await;
    settle(
        made,
        async |code| {
            tracing::info!(user.id = admin.id.get(), promotion_code = %code.code, "promotion code made");
            flash(
                &session,
                FlashKind::Success,
                format!("Promotion code {} made.", code.code),
            )
            .await?;
            Ok(Redirect::to("/admin/promotions").into_response())
        },
        async |e| page(&state, ctx, form, FieldErrors::of(&e, "code")).await,
    )
    .await
}

/// A refusal of Stripe's shown at `name`'s field.
fn field(mut e: AppError, name: &str) -> AppError {
    if e.is_correctable() && e.field.is_none() {
        e.field = Some(name.to_string());
    }
    e
}

#[derive(serde::Deserialize)]
pub struct ActiveForm {
    active: String,
}

/// Turns a code off (clients can no longer use it) or on again.
pub async fn set_active(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<ActiveForm>,
) -> AppResult<Redirect> {
    let active = match f.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(AppError::invalid("active", "Say true or false.")),
    };
    match state.stripe.set_promotion_code_active(&id, active).await {
        Ok(code) => {
            tracing::info!(user.id = admin.id.get(), promotion_code = %code.code, active, "promotion code turned");
            let said = if active { "on" } else { "off" };
            flash(
                &session,
                FlashKind::Success,
                format!("Promotion code {} is {said}.", code.code),
            )
            .await?;
        }
        Err(StripeError::Api { status: 404, .. }) => return Err(AppError::not_found()),
        Err(e) => {
            let e = refused(e, "changing the promotion code");
            if !e.is_correctable() {
                return Err(e);
            }
            flash(&session, FlashKind::Error, e.message).await?;
        }
    }
    Ok(Redirect::to("/admin/promotions"))
}
