//! `POST /api/session` signs in, `DELETE /api/session` signs out, `GET /api/me` says who.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{self, CurrentUser};
use crate::error::AppResult;
use crate::web::api::ErrorResponse;
use crate::web::auth::start_session;
use crate::web::extract::Json;

/// An email and password.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    email: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/session",
    tag = "session",
    summary = "Sign in",
    description = "Starts a session (the `agency_hub_session` cookie). Five failures for one email from one address within 15 minutes lock further attempts for that window.",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = CurrentUser),
        (status = 400, description = "The body does not parse", body = ErrorResponse),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = ErrorResponse),
        (status = 403, description = "A cross-site request", body = ErrorResponse),
        (status = 415, description = "Not JSON", body = ErrorResponse),
        (status = 429, description = "Too many failures (`rate_limited`)", body = ErrorResponse),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    client: crate::web::proxy::ClientAddr,
    Json(body): Json<Credentials>,
) -> AppResult<axum::Json<CurrentUser>> {
    let user = auth::sign_in(
        &state.db,
        &body.email,
        &body.password,
        &client.ip.to_string(),
    )
    .await?;
    start_session(&session, user.id).await?;
    tracing::info!(user.id = user.id.get(), "signed in through the API");
    Ok(axum::Json(user.into()))
}

#[utoipa::path(
    delete,
    path = "/api/session",
    tag = "session",
    summary = "Sign out",
    description = "Ends the session on the server; the old cookie opens nothing afterwards.",
    responses(
        (status = 204, description = "Signed out"),
        (status = 403, description = "A cross-site request", body = ErrorResponse),
    ),
)]
pub async fn delete(session: Session) -> AppResult<StatusCode> {
    session.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/me",
    tag = "session",
    summary = "The signed-in user",
    responses(
        (status = 200, description = "The user and their role", body = CurrentUser),
        (status = 401, description = "Not signed in", body = ErrorResponse),
    ),
)]
pub async fn me(user: CurrentUser) -> axum::Json<CurrentUser> {
    axum::Json(user)
}
