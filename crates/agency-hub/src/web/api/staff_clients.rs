//! Client companies and their people (`/api/clients`), for admins: the Clients pages' data and
//! forms, checked by the same form.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ErrorResponse;
use crate::AppState;
use crate::activity::Actor;
use crate::auth::users;
use crate::clients::{self, ClientForm};
use crate::db::entities::client;
use crate::error::{AppError, AppResult};
use crate::ids::ClientId;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Json, Path};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientBody {
    pub id: i64,
    pub name: String,
    pub billing_email: Option<String>,
    /// USD, EUR, GBP or JPY.
    pub billing_currency: String,
    pub notes: String,
    pub created_at: DateTime<Utc>,
}

impl From<&client::Model> for ClientBody {
    fn from(c: &client::Model) -> Self {
        Self {
            id: c.id.get(),
            name: c.name.clone(),
            billing_email: c.billing_email.clone(),
            billing_currency: c.billing_currency.code().into(),
            notes: c.notes.clone(),
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientListBody {
    #[serde(flatten)]
    pub client: ClientBody,
    pub users: i64,
    pub services: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonBody {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientDetailBody {
    #[serde(flatten)]
    pub client: ClientBody,
    pub people: Vec<PersonBody>,
}

#[utoipa::path(
    get,
    path = "/api/clients",
    tag = "staff",
    summary = "Every client company, by name",
    description = "With how many people and services each has. Admins only. Token scope: `clients:read`.",
    responses(
        (status = 200, description = "The clients", body = Vec<ClientListBody>,
            example = json!([{"id": 1, "name": "Acme Corp", "billingEmail": "billing@acme.example", "billingCurrency": "USD", "notes": "", "createdAt": "2026-11-27T09:00:00Z", "users": 2, "services": 4}])),
        (status = 403, description = "Not an admin", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
) -> AppResult<axum::Json<Vec<ClientListBody>>> {
    let rows = clients::list(&state.db).await?;
    Ok(axum::Json(
        rows.iter()
            .map(|r| ClientListBody {
                client: ClientBody::from(&r.client),
                users: r.users,
                services: r.services,
            })
            .collect(),
    ))
}

async fn detail(state: &AppState, id: ClientId) -> AppResult<ClientDetailBody> {
    let c = clients::get(&state.db, id).await?;
    let people = users::people_of(&state.db, id).await?;
    Ok(ClientDetailBody {
        client: ClientBody::from(&c),
        people: people
            .into_iter()
            .map(|u| PersonBody {
                id: u.id.get(),
                name: u.name,
                email: u.email,
                active: u.active,
                last_login_at: u.last_login_at,
            })
            .collect(),
    })
}

#[utoipa::path(
    get,
    path = "/api/clients/{id}",
    tag = "staff",
    summary = "One client company, with its people",
    description = "Admins only. Token scope: `clients:read`.",
    params(("id" = i64, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client", body = ClientDetailBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such client", body = ErrorResponse),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    Path(id): Path<ClientId>,
) -> AppResult<axum::Json<ClientDetailBody>> {
    Ok(axum::Json(detail(&state, id).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"name": "Initech", "billingEmail": "ap@initech.example", "billingCurrency": "USD"}))]
pub struct ClientInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub billing_email: String,
    #[serde(default)]
    pub notes: String,
    /// USD (when absent), EUR, GBP or JPY.
    #[serde(default)]
    pub billing_currency: String,
}

impl ClientInput {
    fn form(&self) -> ClientForm {
        ClientForm {
            name: self.name.clone(),
            billing_email: self.billing_email.clone(),
            notes: self.notes.clone(),
            billing_currency: if self.billing_currency.is_empty() {
                "USD".into()
            } else {
                self.billing_currency.clone()
            },
        }
    }
}

/// The form's field names, as this body names them.
fn camel(mut e: AppError) -> AppError {
    let renamed = match e.field.as_deref() {
        Some("billing_email") => "billingEmail",
        Some("billing_currency") => "billingCurrency",
        _ => return e,
    };
    e.field = Some(renamed.into());
    e
}

#[utoipa::path(
    post,
    path = "/api/clients",
    tag = "staff",
    summary = "Adds a client company",
    description = "Admins only. Token scope: `clients:write`.",
    request_body = ClientInput,
    responses(
        (status = 201, description = "The new client", body = ClientDetailBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 409, description = "A client of that name exists", body = ErrorResponse),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Json(input): Json<ClientInput>,
) -> AppResult<(StatusCode, axum::Json<ClientDetailBody>)> {
    let valid = input.form().validate().map_err(|e| camel(e.into()))?;
    let actor = Actor::from(&admin);
    let made = state
        .db
        .in_transaction(async |txn| clients::create(txn, &actor, valid).await)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(detail(&state, made.id).await?),
    ))
}

#[utoipa::path(
    put,
    path = "/api/clients/{id}",
    tag = "staff",
    summary = "Changes a client company",
    description = "Every field, as the form saves them. Admins only. Token scope: `clients:write`.",
    params(("id" = i64, Path, description = "The client's id")),
    request_body = ClientInput,
    responses(
        (status = 200, description = "The client", body = ClientDetailBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such client", body = ErrorResponse),
        (status = 409, description = "Another client has that name", body = ErrorResponse),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<ClientId>,
    Json(input): Json<ClientInput>,
) -> AppResult<axum::Json<ClientDetailBody>> {
    clients::get(&state.db, id).await?;
    let valid = input.form().validate().map_err(|e| camel(e.into()))?;
    let actor = Actor::from(&admin);
    state
        .db
        .in_transaction(async |txn| clients::update(txn, &actor, id, valid).await)
        .await?;
    // Its people see prices in its currency from their next page.
    state.billing_currencies.remove(&id);
    Ok(axum::Json(detail(&state, id).await?))
}
