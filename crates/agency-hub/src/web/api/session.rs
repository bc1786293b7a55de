//! `POST /api/session` signs in, `DELETE /api/session` signs out, `GET /api/me` says who.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{self, CurrentUser, csrf};
use crate::error::AppResult;
use crate::web::extract::Json;

#[derive(Deserialize)]
pub struct Credentials {
    email: String,
    password: String,
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(body): Json<Credentials>,
) -> AppResult<axum::Json<CurrentUser>> {
    let user = auth::sign_in(
        &state.db,
        &body.email,
        &body.password,
        &addr.ip().to_string(),
    )
    .await?;
    start_session(&session, user.id).await?;
    tracing::info!(user.id = user.id, "signed in through the API");
    Ok(axum::Json(user.into()))
}

/// A new session id for the signed-in user, so an id planted before sign-in is worthless.
pub async fn start_session(session: &Session, user_id: i64) -> AppResult<()> {
    session.cycle_id().await?;
    session.insert(auth::USER_ID_KEY, user_id).await?;
    csrf::renew(session).await?;
    Ok(())
}

pub async fn delete(session: Session) -> AppResult<StatusCode> {
    session.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(user: CurrentUser) -> axum::Json<CurrentUser> {
    axum::Json(user)
}
