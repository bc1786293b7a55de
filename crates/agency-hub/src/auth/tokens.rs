//! Personal API tokens: a person's key for scripts and other tools, sent as
//! `Authorization: Bearer ah_…`. Each has scopes (read or write per area), an expiry and a name;
//! it is shown once and stored as its SHA-256 (the token is 244 random bits, so a fast hash is
//! as safe as a slow one). A token acts as its owner, within its scopes: a client's token sees
//! only its company, as the client does.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::activity::{self, Actor, Subject};
use crate::auth::CurrentUser;
use crate::db::entities::{api_token, user, user::Role};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::UserId;

/// What a token's scope opens, by the API's paths (see [`Area::of_path`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// Client companies and their people (`/api/clients`).
    Clients,
    /// Service templates: store settings, questions, tasks (`/api/templates`).
    Templates,
    /// Services and their tasks, messages, files and notifications.
    Services,
    /// Orders and refunds; for a client, the store, cart and checkout too.
    Orders,
    /// Subscriptions.
    Subscriptions,
    /// Read-only operations: emails, background jobs, the activity log; webhooks.
    Operations,
}

impl Area {
    pub const ALL: [Area; 6] = [
        Area::Clients,
        Area::Templates,
        Area::Services,
        Area::Orders,
        Area::Subscriptions,
        Area::Operations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Clients => "clients",
            Self::Templates => "templates",
            Self::Services => "services",
            Self::Orders => "orders",
            Self::Subscriptions => "subscriptions",
            Self::Operations => "operations",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Clients => "Clients and their people",
            Self::Templates => "Service templates",
            Self::Services => "Services and tasks",
            Self::Orders => "Orders and refunds",
            Self::Subscriptions => "Subscriptions",
            Self::Operations => "Emails, jobs, activity and webhooks",
        }
    }

    /// The areas a role's tokens may have: a client's are those a client uses.
    pub fn open_to(self, role: Role) -> bool {
        match role {
            Role::Client => matches!(self, Self::Services | Self::Orders | Self::Subscriptions),
            Role::Manager => self != Self::Operations,
            Role::Admin => true,
        }
    }

    /// The area of an `/api` path. `Ok(None)`: any token may use it (who am I, the document);
    /// `Err`: tokens may not (signing in and out is for browsers).
    pub fn of_path(path: &str) -> Result<Option<Area>, &'static str> {
        let rest = path.strip_prefix("/api/").unwrap_or(path);
        let first = rest.split('/').next().unwrap_or_default();
        Ok(Some(match first {
            "me" | "openapi.json" | "docs" => return Ok(None),
            "session" => return Err("An API token cannot start or end a session."),
            "clients" => Area::Clients,
            "templates" => Area::Templates,
            "services" | "tasks" | "files" | "notifications" => Area::Services,
            "orders" | "store" | "cart" | "saved" | "recommendations" => Area::Orders,
            "subscriptions" => Area::Subscriptions,
            // People include the staff: making an admin is an operations matter.
            "admin" | "emails" | "jobs" | "activity" | "webhook-endpoints" | "users" => {
                Area::Operations
            }
            _ => return Err("API tokens cannot use this address."),
        }))
    }
}

/// One scope: an area, read or write (write includes read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub area: Area,
    pub write: bool,
}

impl Scope {
    pub fn parse(raw: &str) -> Option<Self> {
        let (area, access) = raw.trim().split_once(':')?;
        let area = Area::ALL.into_iter().find(|a| a.name() == area)?;
        let write = match access {
            "read" => false,
            "write" => true,
            _ => return None,
        };
        Some(Self { area, write })
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let access = if self.write { "write" } else { "read" };
        write!(f, "{}:{access}", self.area.name())
    }
}

/// A token's scopes, as stored (space-separated).
pub fn parse_scopes(raw: &str) -> Vec<Scope> {
    raw.split_whitespace().filter_map(Scope::parse).collect()
}

/// Whether `scopes` allow reading (or, with `write`, changing) `area`.
pub fn allows(scopes: &[Scope], area: Area, write: bool) -> bool {
    scopes.iter().any(|s| s.area == area && (s.write || !write))
}

/// How long a new token may live, in days.
pub const MAX_DAYS: i64 = 366;
pub const DEFAULT_DAYS: i64 = 90;
/// Tokens one person may hold at once (revoked and expired ones aside).
const MAX_PER_PERSON: usize = 50;

/// A new token as asked for, from the form or the API.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenForm {
    /// What it is for, e.g. "Accounting sync".
    #[serde(default)]
    pub name: String,
    /// e.g. `["orders:read", "services:write"]`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Days until it expires: 1 to 366 (90 when absent).
    pub expires_in_days: Option<i64>,
}

struct ValidToken {
    name: String,
    scopes: Vec<Scope>,
    expires_at: DateTime<Utc>,
}

impl TokenForm {
    fn validate(&self, role: Role) -> Result<ValidToken, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.add("name", "Name the token after what will use it.");
        } else if name.chars().count() > 100 {
            errors.add("name", "A token's name has at most 100 characters.");
        }
        let mut scopes: Vec<Scope> = Vec::new();
        for raw in &self.scopes {
            match Scope::parse(raw) {
                None => errors.add(
                    "scopes",
                    format!("'{raw}' is not a scope (example: orders:read or services:write)."),
                ),
                Some(s) if !s.area.open_to(role) => errors.add(
                    "scopes",
                    format!("Your account cannot give a token the {} scope.", s),
                ),
                Some(s) => {
                    // One scope an area: write includes read.
                    match scopes.iter_mut().find(|t| t.area == s.area) {
                        Some(t) => t.write |= s.write,
                        None => scopes.push(s),
                    }
                }
            }
        }
        if self.scopes.is_empty() {
            errors.add("scopes", "Choose at least one scope.");
        }
        let days = self.expires_in_days.unwrap_or(DEFAULT_DAYS);
        if !(1..=MAX_DAYS).contains(&days) {
            errors.add(
                "expiresInDays",
                format!("{days} is not a lifetime: a token lives 1 to {MAX_DAYS} days."),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidToken {
            name: name.to_string(),
            scopes,
            expires_at: Utc::now() + Duration::days(days),
        })
    }
}

fn scopes_text(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(Scope::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A token just made: the only time its secret is known.
pub struct Created {
    pub token: String,
    pub row: api_token::Model,
}

/// Makes a token for `owner` (logged in the activity log).
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    owner: &CurrentUser,
    form: &TokenForm,
) -> AppResult<Created> {
    let valid = form.validate(owner.role)?;
    let live = live_of(conn, owner.id).await?;
    if live.len() >= MAX_PER_PERSON {
        return Err(AppError::conflict(format!(
            "You hold {MAX_PER_PERSON} tokens: revoke one you no longer use first."
        )));
    }
    let token = format!(
        "ah_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let now = Utc::now();
    let row = api_token::Entity::insert(api_token::ActiveModel {
        user_id: Set(owner.id),
        name: Set(valid.name),
        prefix: Set(token[..11].to_string()),
        token_hash: Set(super::users::token_hash(&token)),
        scopes: Set(scopes_text(&valid.scopes)),
        expires_at: Set(valid.expires_at),
        last_used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    activity::record(
        conn,
        &Actor::from(owner),
        "token.created",
        subject(&row),
        serde_json::json!({"name": row.name, "scopes": row.scopes}),
    )
    .await?;
    Ok(Created { token, row })
}

fn subject(row: &api_token::Model) -> Subject<'static> {
    Subject {
        entity_type: "user",
        entity_id: row.user_id.get(),
        client_id: None,
    }
}

/// A person's tokens that still work, newest first.
async fn live_of<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> Result<Vec<api_token::Model>, sea_orm::DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user))
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(api_token::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(api_token::Column::Id)
        .all(conn)
        .await
}

/// A person's tokens (revoked and expired ones too, for their record), newest first.
pub async fn of_user<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> Result<Vec<api_token::Model>, sea_orm::DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user))
        .order_by_desc(api_token::Column::Id)
        .all(conn)
        .await
}

/// Every token that still works, with its owner (the admin's list), newest first.
pub async fn all_live<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(api_token::Model, Option<user::Model>)>, sea_orm::DbErr> {
    api_token::Entity::find()
        .find_also_related(user::Entity)
        .filter(api_token::Column::RevokedAt.is_null())
        .filter(api_token::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(api_token::Column::Id)
        .all(conn)
        .await
}

/// Revokes a token: its owner's own, or anyone's for an admin. Revoking twice is no error.
pub async fn revoke<C: ConnectionTrait>(conn: &C, actor: &CurrentUser, id: i64) -> AppResult<()> {
    let row = api_token::Entity::find_by_id(id)
        .one(conn)
        .await?
        .filter(|t| t.user_id == actor.id || actor.role == Role::Admin)
        .ok_or_else(AppError::not_found)?;
    if row.revoked_at.is_some() {
        return Ok(());
    }
    api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_token::Column::Id.eq(id))
        .exec(conn)
        .await?;
    activity::record(
        conn,
        &Actor::from(actor),
        "token.revoked",
        subject(&row),
        serde_json::json!({"name": row.name}),
    )
    .await?;
    Ok(())
}

/// Why a token was not accepted (each a 401).
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Revoked,
    Expired,
}

impl Refused {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Unknown => "This API token is not valid.",
            Self::Revoked => "This API token has been revoked.",
            Self::Expired => "This API token has expired: make a new one.",
        }
    }
}

/// The token's row and its owner, if the token may be used now. Marks its last use at most
/// once a minute (the only write on a token's read requests).
pub async fn authenticate<C: ConnectionTrait>(
    conn: &C,
    token: &str,
) -> AppResult<Result<(api_token::Model, user::Model), Refused>> {
    let found = api_token::Entity::find()
        .find_also_related(user::Entity)
        .filter(api_token::Column::TokenHash.eq(super::users::token_hash(token.trim())))
        .one(conn)
        .await?;
    let Some((row, Some(owner))) = found else {
        return Ok(Err(Refused::Unknown));
    };
    let now = Utc::now();
    if row.revoked_at.is_some() || !owner.active {
        return Ok(Err(Refused::Revoked));
    }
    if row.expires_at <= now {
        return Ok(Err(Refused::Expired));
    }
    let stale = now - Duration::seconds(60);
    if row.last_used_at.is_none_or(|at| at < stale) {
        api_token::Entity::update_many()
            .col_expr(api_token::Column::LastUsedAt, Expr::value(now))
            .filter(api_token::Column::Id.eq(row.id))
            .exec(conn)
            .await?;
    }
    Ok(Ok((row, owner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_includes_read_and_areas_stay_apart() {
        let scopes = parse_scopes("orders:read services:write");
        assert!(allows(&scopes, Area::Orders, false));
        assert!(!allows(&scopes, Area::Orders, true));
        assert!(allows(&scopes, Area::Services, false));
        assert!(allows(&scopes, Area::Services, true));
        assert!(!allows(&scopes, Area::Clients, false));
    }

    #[test]
    fn a_client_cannot_give_a_token_staff_scopes() {
        let form = TokenForm {
            name: "Sync".into(),
            scopes: vec!["clients:read".into(), "orders:write".into()],
            expires_in_days: Some(30),
        };
        let errors = form.validate(Role::Client).err().unwrap();
        assert!(errors.get("scopes").unwrap().contains("clients:read"));
        assert!(form.validate(Role::Admin).is_ok());
    }

    #[test]
    fn bad_forms_name_each_field() {
        let form = TokenForm {
            name: " ".into(),
            scopes: vec!["orders:delete".into()],
            expires_in_days: Some(400),
        };
        let errors = form.validate(Role::Admin).err().unwrap();
        assert!(errors.get("name").is_some());
        assert!(errors.get("scopes").unwrap().contains("'orders:delete'"));
        assert!(errors.get("expiresInDays").unwrap().contains("400"));
    }

    #[test]
    fn paths_map_to_areas() {
        assert_eq!(Area::of_path("/api/store/orders"), Ok(Some(Area::Orders)));
        assert_eq!(
            Area::of_path("/api/services/3/messages"),
            Ok(Some(Area::Services))
        );
        assert_eq!(Area::of_path("/api/me"), Ok(None));
        assert!(Area::of_path("/api/session").is_err());
        assert!(Area::of_path("/api/unheard-of").is_err());
    }
}
