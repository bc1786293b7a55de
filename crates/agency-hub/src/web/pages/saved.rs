//! Saved services (CLIENT): the company's wishlist page, saving from a card or a service's
//! page, taking one off, and moving a cart line to it.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::engagement::wishlist::{self, Saved};
use crate::error::AppResult;
use crate::ids::TemplateId;
use crate::web::auth::RequireClient;
use crate::web::extract::{Form, Path};
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "store/saved.html")]
pub struct SavedPage {
    ctx: PageCtx,
    saved: Vec<Saved>,
}

pub async fn list(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    ctx: PageCtx,
) -> AppResult<SavedPage> {
    let currency = state.billing_currency(client_id).await?;
    Ok(SavedPage {
        ctx,
        saved: wishlist::list(&state.db, client_id, currency).await?,
    })
}

/// Where to go back to after saving: a page of the store, else the saved list.
fn back_to(raw: &str) -> String {
    let ok = raw.starts_with("/store") && !raw.starts_with("//") && !raw.contains("://");
    if ok {
        raw.into()
    } else {
        "/store/saved".into()
    }
}

#[derive(Debug, Deserialize)]
pub struct SaveFields {
    #[serde(default)]
    template_id: String,
    /// The page the button was on.
    #[serde(default)]
    back: String,
}

pub async fn save(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    Form(f): Form<SaveFields>,
) -> AppResult<Response> {
    let id: TemplateId =
        f.template_id.trim().parse().map_err(|_| {
            crate::error::AppError::invalid("template_id", "Choose a service to save.")
        })?;
    let currency = state.billing_currency(client_id).await?;
    let new = state
        .db
        .in_transaction(async |txn| wishlist::save(txn, user.id, client_id, id, currency).await)
        .await?;
    state.saved_changed(client_id);
    let title = state.store.get_on_sale(id).await?.title().to_string();
    let message = if new {
        format!("{title} is saved for later.")
    } else {
        format!("{title} was already saved.")
    };
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to(&back_to(&f.back)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct BackFields {
    #[serde(default)]
    back: String,
}

pub async fn remove(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    session: Session,
    Path(id): Path<TemplateId>,
    Form(f): Form<BackFields>,
) -> AppResult<Response> {
    state
        .db
        .in_transaction(async |txn| wishlist::remove(txn, client_id, id).await)
        .await?;
    state.saved_changed(client_id);
    flash(
        &session,
        FlashKind::Success,
        "Taken off your saved services.",
    )
    .await?;
    Ok(Redirect::to(&back_to(&f.back)).into_response())
}

/// "Move to saved" on a cart line.
pub async fn move_from_cart(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    Path(id): Path<TemplateId>,
) -> AppResult<Response> {
    let currency = state.billing_currency(client_id).await?;
    let title = state
        .db
        .in_transaction(async |txn| {
            wishlist::move_from_cart(txn, user.id, client_id, id, currency).await
        })
        .await?;
    state.cart_changed(client_id);
    state.saved_changed(client_id);
    flash(
        &session,
        FlashKind::Success,
        format!("{title} moved to your saved services."),
    )
    .await?;
    Ok(Redirect::to("/store/cart").into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_store_pages_are_gone_back_to() {
        assert_eq!(super::back_to("/store?q=logo"), "/store?q=logo");
        assert_eq!(super::back_to("/store/12"), "/store/12");
        assert_eq!(super::back_to("https://evil.example/store"), "/store/saved");
        assert_eq!(super::back_to("//evil.example"), "/store/saved");
        assert_eq!(super::back_to("/admin"), "/store/saved");
    }
}
