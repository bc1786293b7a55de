//! Users, sign-in (with its rate limit), passwords and the session store. (The extractors that
//! load the signed-in user and enforce roles are `web::auth`'s.)

pub mod password;
pub mod session_store;
pub mod tokens;
pub mod users;

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde::Serialize;

use crate::db::entities::{login_failure, user, user::Role};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, UserId};

pub use session_store::USER_ID_KEY;

/// Failed sign-ins allowed per email and address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u64 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// An email address, trimmed and lower-cased: emails are unique case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter an email address.".into());
        }
        if email.len() > 254 {
            return Err("An email address has at most 254 characters.".into());
        }
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err(format!(
                "'{}' is not an email address (example: ana@example.com).",
                raw.trim()
            ));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's display name: 1 to 200 characters once trimmed.
pub fn parse_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Enter a name.".into());
    }
    if name.chars().count() > 200 {
        return Err("A name has at most 200 characters.".into());
    }
    Ok(name.to_string())
}

/// The signed-in user, as handlers and templates see them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUser {
    #[schema(value_type = i64)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    #[schema(value_type = Option<i64>)]
    pub client_id: Option<ClientId>,
}

impl From<user::Model> for CurrentUser {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            client_id: u.client_id,
        }
    }
}

/// The user with this id, if they may still sign in.
pub async fn active_user<C: ConnectionTrait>(
    conn: &C,
    id: UserId,
) -> Result<Option<user::Model>, sea_orm::DbErr> {
    user::Entity::find_by_id(id)
        .filter(user::Column::Active.eq(true))
        .one(conn)
        .await
}

/// Why a sign-in was refused.
#[derive(Debug)]
pub enum SignInError {
    /// Wrong email or password, or a deactivated account: the same answer for all three.
    Invalid,
    RateLimited,
    Internal(AppError),
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Invalid => AppError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is not right.",
            ),
            SignInError::RateLimited => AppError::too_many_requests(
                "Too many failed sign-ins for this email. Wait 15 minutes and try again.",
            ),
            SignInError::Internal(e) => e,
        }
    }
}

impl From<sea_orm::DbErr> for SignInError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Internal(e.into())
    }
}

/// Checks an email and password, at most [`MAX_FAILURES`] failed tries per email and address
/// within [`FAILURE_WINDOW`]. Each try is written down before the password is checked (a single
/// autocommitted insert), then counted: concurrent tries each see at least the tries committed
/// before theirs, so they cannot all slip under the limit together. Only a failure keeps its
/// row: a success takes it back, and so does a try that could not be checked (hashing busy,
/// the database failing), or a few "busy" answers would lock the account out.
pub async fn sign_in<C: ConnectionTrait>(
    conn: &C,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<user::Model, SignInError> {
    let email = email.trim().to_lowercase();
    let attempt = login_failure::Entity::insert(login_failure::ActiveModel {
        email: Set(email.clone()),
        ip: Set(ip.to_string()),
        at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(conn)
    .await?
    .last_insert_id;
    let outcome = check_try(conn, &email, password, ip).await;
    if !matches!(
        outcome,
        Err(SignInError::Invalid | SignInError::RateLimited)
    ) {
        login_failure::Entity::delete_by_id(attempt)
            .exec(conn)
            .await?;
    }
    outcome
}

async fn check_try<C: ConnectionTrait>(
    conn: &C,
    email: &str,
    password: &str,
    ip: &str,
) -> Result<user::Model, SignInError> {
    let tries = login_failure::Entity::find()
        .filter(login_failure::Column::Email.eq(email))
        .filter(login_failure::Column::Ip.eq(ip))
        .filter(login_failure::Column::At.gt(Utc::now() - FAILURE_WINDOW))
        .count(conn)
        .await?;
    if tries > MAX_FAILURES {
        tracing::warn!(ip, "sign-in refused: too many failures");
        return Err(SignInError::RateLimited);
    }
    let found = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(conn)
        .await?;
    let stored = found.as_ref().map(|u| u.password_hash.clone());
    let matches = password::verify(password.to_string(), stored)
        .await
        .map_err(SignInError::Internal)?;
    match found {
        Some(u) if matches && u.active => {
            user::Entity::update_many()
                .col_expr(user::Column::LastLoginAt, Expr::value(Utc::now()))
                .filter(user::Column::Id.eq(u.id))
                .exec(conn)
                .await?;
            Ok(u)
        }
        _ => Err(SignInError::Invalid),
    }
}

pub async fn purge_login_failures<C: ConnectionTrait>(conn: &C) -> Result<u64, sea_orm::DbErr> {
    let res = login_failure::Entity::delete_many()
        .filter(login_failure::Column::At.lte(Utc::now() - FAILURE_WINDOW))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// A user to create; the password is hashed by the caller (it is slow and must not hold a
/// transaction open).
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub client_id: Option<ClientId>,
    pub password_hash: String,
}

/// Inserts a user's row, and nothing else: no activity, no welcome email (the CLI and the demo
/// seed; an admin's new user is `users::create_and_welcome`). A CLIENT user needs a client
/// company; staff have none.
pub async fn insert_user<C: ConnectionTrait>(conn: &C, new: NewUser) -> AppResult<user::Model> {
    match (new.role, new.client_id) {
        (Role::Client, None) => {
            return Err(AppError::invalid(
                "client",
                "A client user needs a client company.",
            ));
        }
        (Role::Admin | Role::Manager, Some(_)) => {
            return Err(AppError::invalid(
                "client",
                "Only client users belong to a client company.",
            ));
        }
        _ => {}
    }
    let exists = user::Entity::find()
        .filter(user::Column::Email.eq(new.email.as_str()))
        .count(conn)
        .await?;
    if exists > 0 {
        let mut e = AppError::conflict(format!(
            "A user with the email {} already exists.",
            new.email.as_str()
        ));
        e.field = Some("email".into());
        return Err(e);
    }
    let now = Utc::now();
    let model = user::ActiveModel {
        email: Set(new.email.as_str().to_string()),
        name: Set(new.name),
        password_hash: Set(new.password_hash),
        role: Set(new.role),
        client_id: Set(new.client_id),
        active: Set(true),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(user::Entity::insert(model)
        .exec_with_returning(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
    }

    #[test]
    fn bad_emails_are_refused_with_a_reason() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
