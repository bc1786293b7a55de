//! Who is asking: the signed-in user loaded from the session, the extractors that require a
//! role, and starting a session at sign-in.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{self, CurrentUser, USER_ID_KEY};
use crate::db::entities::user::Role;
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, UserId};
use crate::web::csrf;

/// The user of this request, loaded once and kept in the request's extensions.
#[derive(Clone)]
struct Loaded(Option<CurrentUser>);

/// The signed-in user, if any. A session whose user is gone or deactivated is ended.
pub async fn load_user(parts: &mut Parts, state: &AppState) -> AppResult<Option<CurrentUser>> {
    if let Some(Loaded(user)) = parts.extensions.get::<Loaded>() {
        return Ok(user.clone());
    }
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(_, msg)| AppError::internal(anyhow::anyhow!("session layer: {msg}")))?;
    let user_id: Option<UserId> = session.get(USER_ID_KEY).await?;
    let user = match user_id {
        None => None,
        Some(id) => match state.users.get(&id) {
            Some(user) => Some(user),
            None => {
                let found = auth::active_user(&state.db, id).await?;
                match found {
                    Some(u) => {
                        let user = CurrentUser::from(u);
                        state.users.put(id, user.clone());
                        Some(user)
                    }
                    None => {
                        session.flush().await.map_err(|e| {
                            AppError::internal(anyhow::anyhow!("ending a session: {e}"))
                        })?;
                        None
                    }
                }
            }
        },
    };
    parts.extensions.insert(Loaded(user.clone()));
    Ok(user)
}

fn is_api(parts: &Parts) -> bool {
    parts.uri.path().starts_with("/api/")
}

/// Not signed in: pages go to the sign-in page (and come back), the API answers 401.
fn sign_in_required(parts: &Parts) -> Response {
    if is_api(parts) {
        return AppError::unauthorized().into_response();
    }
    let next = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    Redirect::to(&format!("/login?{query}")).into_response()
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match load_user(parts, state).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) => Err(sign_in_required(parts)),
            Err(e) => Err(e.into_response()),
        }
    }
}

async fn require(
    parts: &mut Parts,
    state: &AppState,
    allowed: fn(Role) -> bool,
) -> Result<CurrentUser, Response> {
    let user = CurrentUser::from_request_parts(parts, state).await?;
    if allowed(user.role) {
        Ok(user)
    } else {
        Err(AppError::forbidden("Your account cannot open this page.").into_response())
    }
}

/// An ADMIN.
pub struct RequireAdmin(pub CurrentUser);

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        require(parts, state, |r| r == Role::Admin).await.map(Self)
    }
}

/// Agency staff: a MANAGER or an ADMIN.
pub struct RequireStaff(pub CurrentUser);

impl FromRequestParts<AppState> for RequireStaff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        require(parts, state, Role::is_staff).await.map(Self)
    }
}

/// A CLIENT user, with their client company's id.
pub struct RequireClient(pub CurrentUser, pub ClientId);

impl FromRequestParts<AppState> for RequireClient {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let user = require(parts, state, |r| r == Role::Client).await?;
        match user.client_id {
            Some(client_id) => Ok(Self(user, client_id)),
            None => Err(
                AppError::forbidden("Your account belongs to no client company.").into_response(),
            ),
        }
    }
}

/// A new session id for the signed-in user, so an id planted before sign-in is worthless.
pub async fn start_session(session: &Session, user_id: UserId) -> AppResult<()> {
    session.cycle_id().await?;
    session.insert(USER_ID_KEY, user_id).await?;
    csrf::renew(session).await?;
    Ok(())
}
