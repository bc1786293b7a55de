//! Who is asking: the signed-in user loaded from the session (or from an API token), the
//! extractors that require a role, and starting a session at sign-in.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::tokens::{self, Area};
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

/// The token of an `Authorization: Bearer …` header, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `Authorization: Bearer` on `/api`: the token's owner is the request's user (the session is
/// not read), within the token's scopes, at most `API_TOKEN_RATE_LIMIT` requests a minute. A
/// request without a token goes on to the session as before. (The Stripe webhook has its own
/// signature and is not looked at.)
pub async fn bearer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !path.starts_with("/api/") || path.starts_with("/api/webhooks/") {
        return next.run(req).await;
    }
    let Some(token) = bearer_token(req.headers()) else {
        return next.run(req).await;
    };
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    match token_user(&state, token, path, write).await {
        Ok(user) => {
            req.extensions_mut().insert(Loaded(Some(user)));
            next.run(req).await
        }
        Err(refused) => refused,
    }
}

async fn token_user(
    state: &AppState,
    token: &str,
    path: &str,
    write: bool,
) -> Result<CurrentUser, Response> {
    let challenge = |error: &str| {
        HeaderValue::from_str(&format!("Bearer error=\"{error}\"")).expect("a plain header")
    };
    let (row, owner) = match tokens::authenticate(&state.db, token).await {
        Ok(Ok(found)) => found,
        Ok(Err(refused)) => {
            let mut res = AppError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_token",
                refused.message(),
            )
            .into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge("invalid_token"));
            return Err(res);
        }
        Err(e) => return Err(e.into_response()),
    };
    if let Err(wait) = state.token_limit.check(row.id, 1) {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let mut res = AppError::too_many_requests(format!(
            "This token made too many requests: {} a minute at most. Try again in {seconds} s.",
            state.config.api_token_rate_limit
        ))
        .into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        return Err(res);
    }
    match Area::of_path(path) {
        Err(why) => return Err(AppError::forbidden(why).into_response()),
        Ok(Some(area)) if !tokens::allows(&tokens::parse_scopes(&row.scopes), area, write) => {
            let needed = tokens::Scope { area, write };
            let mut res = AppError::new(
                axum::http::StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("This token lacks the {needed} scope."),
            )
            .into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge("insufficient_scope"));
            return Err(res);
        }
        Ok(_) => {}
    }
    Ok(CurrentUser::from(owner))
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
