//! API tokens: everyone's own (`/account/tokens`: make one, see it once, revoke), and an
//! admin's revoke of anyone's (listed on `/admin/integrations`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::auth::tokens::{self, Area, TokenForm};
use crate::db::entities::{api_token, user};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Form, Path};
use crate::web::layout::{FlashKind, PageCtx, flash};

/// A token in a list, in words.
pub struct TokenRow {
    pub token: api_token::Model,
    /// Active, Expired or Revoked.
    pub state: &'static str,
    pub owner: Option<user::Model>,
}

impl TokenRow {
    pub(crate) fn new(token: api_token::Model, owner: Option<user::Model>) -> Self {
        let state = if token.revoked_at.is_some() {
            "Revoked"
        } else if token.expires_at <= chrono::Utc::now() {
            "Expired"
        } else {
            "Active"
        };
        Self {
            token,
            state,
            owner,
        }
    }

    pub fn is_active(&self) -> bool {
        self.state == "Active"
    }

    /// `orders:read services:write` as a person reads it.
    pub fn scopes(&self) -> String {
        tokens::parse_scopes(&self.token.scopes)
            .iter()
            .map(|s| {
                format!(
                    "{} ({})",
                    s.area.name(),
                    if s.write { "read and write" } else { "read" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One area's choice on the form.
pub struct AreaChoice {
    pub area: Area,
    /// none, read or write
    pub chosen: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/tokens.html")]
pub struct TokensPage {
    ctx: PageCtx,
    rows: Vec<TokenRow>,
    areas: Vec<AreaChoice>,
    name: String,
    days: i64,
    /// The token just made: shown this once.
    created: Option<String>,
    errors: FieldErrors,
    error: Option<AppError>,
}

async fn page(
    state: &AppState,
    ctx: PageCtx,
    user: &CurrentUser,
    typed: Option<&[(String, String)]>,
    error: Option<AppError>,
) -> AppResult<TokensPage> {
    let rows = tokens::of_user(&state.db, user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow::new(t, None))
        .collect();
    let field = |name: &str| {
        typed
            .and_then(|t| t.iter().find(|(k, _)| k == name))
            .map(|(_, v)| v.clone())
    };
    let areas = Area::ALL
        .into_iter()
        .filter(|a| a.open_to(user.role))
        .map(|area| AreaChoice {
            area,
            chosen: field(&format!("scope_{}", area.name())).unwrap_or_else(|| "none".into()),
        })
        .collect();
    Ok(TokensPage {
        ctx,
        rows,
        areas,
        name: field("name").unwrap_or_default(),
        days: field("expires_in_days")
            .and_then(|d| d.parse().ok())
            .unwrap_or(tokens::DEFAULT_DAYS),
        created: None,
        errors: error
            .as_ref()
            .map(|e| FieldErrors::of(e, "name"))
            .unwrap_or_default(),
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
) -> AppResult<TokensPage> {
    page(&state, ctx, &user, None, None).await
}

/// The form as a [`TokenForm`]: a `scope_{area}` field each (none, read or write).
fn read_form(fields: &[(String, String)]) -> TokenForm {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let scopes = Area::ALL
        .into_iter()
        .filter_map(
            |area| match get(&format!("scope_{}", area.name())).as_deref() {
                None | Some("") | Some("none") => None,
                Some(access) => Some(format!("{}:{access}", area.name())),
            },
        )
        .collect();
    TokenForm {
        name: get("name").unwrap_or_default(),
        scopes,
        // A value that is no number is refused by the check, naming it.
        expires_in_days: get("expires_in_days").map(|raw| raw.parse().unwrap_or(-1)),
    }
}

pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = read_form(&fields);
    let made = state
        .db
        .in_transaction(async |txn| tokens::create(txn, &user, &form).await)
        .await;
    match made {
        Ok(created) => {
            // Shown on this answer only: the page is not kept (no-store) and never made again.
            let mut page = page(&state, ctx, &user, None, None).await?;
            page.created = Some(created.token);
            Ok(page.into_response())
        }
        Err(e) if e.is_correctable() => {
            let status = e.status;
            Ok((
                status,
                page(&state, ctx, &user, Some(&fields), Some(e)).await?,
            )
                .into_response())
        }
        Err(e) => Err(e),
    }
}

/// Revokes one of the person's own tokens.
pub async fn revoke(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    revoke_then(&state, &user, &session, id, "/account/tokens").await
}

/// An admin revokes anyone's token.
pub async fn admin_revoke(
    State(state): State<AppState>,
    RequireAdmin(user): RequireAdmin,
    session: Session,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    revoke_then(&state, &user, &session, id, "/admin/integrations").await
}

async fn revoke_then(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    id: i64,
    back: &str,
) -> AppResult<Response> {
    state
        .db
        .in_transaction(async |txn| tokens::revoke(txn, user, id).await)
        .await?;
    flash(
        session,
        FlashKind::Success,
        "The token is revoked: it no longer works.",
    )
    .await?;
    Ok(Redirect::to(back).into_response())
}
