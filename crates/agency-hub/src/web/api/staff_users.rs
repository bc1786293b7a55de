//! People (`/api/users`), for admins: the Users pages' list, a new user (welcomed by email, with
//! a link to set their password unless one is given), and deactivating or reactivating one.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{CursorParam, ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::activity::Actor;
use crate::auth::password;
use crate::auth::users::{self, UserForm};
use crate::db::entities::user;
use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Json, PageParams, Path, Query};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// ADMIN, MANAGER or CLIENT.
    pub role: String,
    pub client_id: Option<i64>,
    pub client_name: Option<String>,
    pub active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl UserBody {
    fn new(u: &user::Model, client_name: Option<String>) -> Self {
        Self {
            id: u.id.get(),
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.as_str().to_string(),
            client_id: u.client_id.map(|c| c.get()),
            client_name,
            active: u.active,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
        }
    }
}

async fn body(state: &AppState, u: &user::Model) -> AppResult<UserBody> {
    let client_name = match u.client_id {
        Some(c) => Some(crate::clients::get(&state.db, c).await?.name),
        None => None,
    };
    Ok(UserBody::new(u, client_name))
}

#[utoipa::path(
    get,
    path = "/api/users",
    tag = "staff",
    summary = "Everyone who signs in, by name",
    description = "Admins only. Token scope: `operations:read`.",
    params(
        ("page" = Option<u64>, Query, description = "1-based page number"),
        ("perPage" = Option<u64>, Query, description = "Page size, 1 to 200 (default 50)"),
        ("cursor" = Option<String>, Query, description = "Go on after this `nextCursor` (stable while rows arrive)"),
    ),
    responses(
        (status = 200, description = "One page of people", body = Paginated<UserBody>),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Query(paging): Query<PageParams>,
    Query(cursor): Query<CursorParam>,
) -> AppResult<axum::Json<Paginated<UserBody>>> {
    let (page, per_page, after) = cursor.window(&paging, 50, 200)?;
    let (rows, total) = users::list(&state.db, after.map(UserId), page, per_page).await?;
    let last = rows.last().map(|r| r.user.id.get());
    Ok(axum::Json(Paginated {
        data: rows
            .into_iter()
            .map(|r| UserBody::new(&r.user, r.client_name))
            .collect(),
        pagination: Pagination::with_next(page, per_page, total, last),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"email": "dana@acme.example", "name": "Dana Scully", "role": "client", "clientId": 1}))]
pub struct UserInput {
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: String,
    /// admin, manager or client.
    #[serde(default)]
    pub role: String,
    /// The company of a client user.
    #[serde(default)]
    pub client_id: Option<i64>,
    /// Leave it out to let them choose theirs through the welcome email's link.
    #[serde(default)]
    pub password: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/users",
    tag = "staff",
    summary = "Adds a person who signs in",
    description = "Checked as the New user form checks it; they are emailed a welcome (with a link to set their password when none is given). Admins only. Token scope: `operations:write`.",
    request_body = UserInput,
    responses(
        (status = 201, description = "The new user", body = UserBody),
        (status = 400, description = "A field is wrong (`fields` names each)", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 409, description = "Someone has that email", body = ErrorResponse),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Json(input): Json<UserInput>,
) -> AppResult<(StatusCode, axum::Json<UserBody>)> {
    let form = UserForm {
        email: input.email,
        name: input.name,
        role: input.role,
        client_id: input.client_id.map(|c| c.to_string()).unwrap_or_default(),
        password: input.password.unwrap_or_default(),
    };
    let valid = form.validate().map_err(|e| camel(e.into()))?;
    let hash = match valid.password.clone() {
        Some(chosen) => password::hash(chosen).await?,
        None => password::unusable_hash().await?,
    };
    let made = state
        .db
        .in_transaction(async |txn| {
            users::create_and_welcome(txn, &Actor::from(&admin), valid, hash).await
        })
        .await
        .map_err(camel)?;
    Ok((StatusCode::CREATED, axum::Json(body(&state, &made).await?)))
}

/// The form's field names, as this body names them.
fn camel(mut e: AppError) -> AppError {
    if e.field.as_deref() == Some("client_id") {
        e.field = Some("clientId".into());
    }
    e
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"active": false}))]
pub struct UserChange {
    /// false deactivates them (they can no longer sign in; their sessions and their API
    /// tokens stop working), true lets them in again.
    pub active: bool,
}

#[utoipa::path(
    patch,
    path = "/api/users/{id}",
    tag = "staff",
    summary = "Deactivates or reactivates a user",
    description = "Nobody deactivates themselves. Admins only. Token scope: `operations:write`.",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserChange,
    responses(
        (status = 200, description = "The user", body = UserBody),
        (status = 400, description = "Your own account", body = ErrorResponse),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such user", body = ErrorResponse),
    ),
)]
pub async fn set_active(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<UserId>,
    Json(change): Json<UserChange>,
) -> AppResult<axum::Json<UserBody>> {
    let changed = state
        .db
        .in_transaction(async |txn| {
            users::set_active(txn, &Actor::from(&admin), id, change.active).await
        })
        .await?;
    Ok(axum::Json(body(&state, &changed).await?))
}
