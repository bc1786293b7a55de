//! The agency's settings (ADMIN): its details on invoices, its logo, its default currency and
//! its tax choices. The logo is public (`/agency/logo.png`): it heads invoices and pages.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::TryStreamExt;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::agency::{self, Logo, SettingsForm};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::files;
use crate::money::Currency;
use crate::web::auth::RequireAdmin;
use crate::web::extract::Submitted;
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

/// The logo's largest size, in pixels: wider than tall, as logos are.
const LOGO_WIDTH: u32 = 600;
const LOGO_HEIGHT: u32 = 200;

#[derive(Template, WebTemplate)]
#[template(path = "admin/settings.html")]
pub struct SettingsPage {
    ctx: PageCtx,
    form: SettingsForm,
    errors: FieldErrors,
    has_logo: bool,
    currencies: Vec<Currency>,
}

pub async fn show(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<SettingsPage> {
    let settings = agency::get(&state.db, &state.config).await?;
    Ok(SettingsPage {
        ctx,
        form: SettingsForm::of(&settings),
        errors: FieldErrors::default(),
        has_logo: settings.logo_key.is_some(),
        currencies: Currency::all().collect(),
    })
}

/// Saves the settings; a new logo is checked (an image, within the size allowed), made a PNG
/// of at most 600 × 200 and stored before the row is written (and removed if that fails). Bad
/// input shows the form again with each mistake in place.
pub async fn save(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    mut form: Submitted,
) -> AppResult<Response> {
    let current = agency::get(&state.db, &state.config).await?;
    let typed = SettingsForm {
        legal_name: form.get("legal_name").unwrap_or_default().into(),
        address: form.get("address").unwrap_or_default().into(),
        tax_id: form.get("tax_id").unwrap_or_default().into(),
        invoice_footer: form.get("invoice_footer").unwrap_or_default().into(),
        default_currency: form.get("default_currency").unwrap_or_default().into(),
        prices_include_tax: form.get("prices_include_tax").is_some(),
        stripe_tax: form.get("stripe_tax").is_some(),
        search_synonyms: form.get("search_synonyms").unwrap_or_default().into(),
        clients_invite: form.get("clients_invite").is_some(),
    };
    let remove_logo = form.get("remove_logo").is_some();
    let refused = form.refused.take();
    let upload = form.files.into_iter().find(|f| f.field == "logo");
    let saved = async {
        if let Some(mut e) = refused {
            e.field = Some("logo".into());
            return Err(e);
        }
        let valid = typed.validate()?;
        let logo = match upload {
            Some(u) => {
                let key = store_logo(&state, u).await?;
                Logo::Set(key)
            }
            None if remove_logo => Logo::Remove,
            None => Logo::Keep,
        };
        let new_key = match &logo {
            Logo::Set(k) => Some(k.clone()),
            _ => None,
        };
        let actor = Actor::from(&admin);
        let saved = state
            .db
            .in_transaction(async |txn| agency::save(txn, &state.config, &actor, valid, logo).await)
            .await;
        match &saved {
            Ok((_, Some(unused))) => {
                let _ = state.storage.delete(unused).await;
            }
            Err(_) => {
                if let Some(k) = new_key {
                    let _ = state.storage.delete(&k).await;
                }
            }
            _ => {}
        }
        saved
    }
    .await;
    settle(
        saved,
        async |_| {
            // Synonyms change what the store's search finds.
            state.store.changed().await;
            flash(&session, FlashKind::Success, "Settings saved.").await?;
            Ok(Redirect::to("/admin/settings").into_response())
        },
        async |e| {
            // Nothing was saved: the logo is the one read before.
            Ok(SettingsPage {
                ctx,
                errors: FieldErrors::of(&e, "legal_name"),
                form: typed,
                has_logo: current.logo_key.is_some(),
                currencies: Currency::all().collect(),
            })
        },
    )
    .await
}

/// Checks an uploaded logo and keeps it as a PNG; returns its key.
async fn store_logo(state: &AppState, upload: files::Upload) -> AppResult<String> {
    files::keep_picture(
        &state.storage,
        upload,
        "logo",
        LOGO_WIDTH,
        LOGO_HEIGHT,
        "agency/logo-",
    )
    .await
}

/// The agency's logo, to anyone (it heads invoices and pages); 404 when there is none.
pub async fn logo(State(state): State<AppState>) -> AppResult<Response> {
    let settings = agency::get(&state.db, &state.config).await?;
    let key = settings.logo_key.ok_or_else(AppError::not_found)?;
    let got = state.storage.get(&key).await.map_err(AppError::internal)?;
    let body = axum::body::Body::from_stream(got.into_stream().map_err(std::io::Error::other));
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            // A new logo has a new key, but this address stays: keep it a short while.
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}
