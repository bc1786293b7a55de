//! User administration (ADMIN) and each user's own account: create, reset a password,
//! deactivate (which ends the user's sessions), change one's own name and password.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::{Email, NewUser, parse_name, password, session_store};
use crate::activity::{self, Actor, Subject};
use crate::db::Db;
use crate::db::entities::{client, password_token, user, user::Role};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::{ClientId, UserId};
use crate::notify::{self, Message};
use sha2::{Digest, Sha256};

/// A user in the admin's list, with their company's name.
#[derive(Clone, Debug)]
pub struct UserRow {
    pub user: user::Model,
    pub client_name: Option<String>,
}

/// One page of users by name (those after the user `after`, when given), and the total: three
/// queries (four after a user).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    after: Option<UserId>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<UserRow>, u64), DbErr> {
    let mut query = user::Entity::find()
        .order_by_asc(user::Column::Name)
        .order_by_asc(user::Column::Id);
    if let Some(after) = after {
        // By (name, id), as the list runs: the people added since stay out of the way.
        let name = user::Entity::find_by_id(after)
            .one(conn)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        query = query.filter(
            sea_orm::Condition::any()
                .add(user::Column::Name.gt(name.clone()))
                .add(
                    sea_orm::Condition::all()
                        .add(user::Column::Name.eq(name))
                        .add(user::Column::Id.gt(after)),
                ),
        );
    }
    let pages = query.paginate(conn, per_page);
    let total = pages.num_items().await?;
    let users = pages.fetch_page(page.saturating_sub(1)).await?;
    let ids: Vec<ClientId> = users.iter().filter_map(|u| u.client_id).collect();
    let names: HashMap<ClientId, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        client::Entity::find()
            .select_only()
            .column(client::Column::Id)
            .column(client::Column::Name)
            .filter(client::Column::Id.is_in(ids))
            .into_tuple::<(ClientId, String)>()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    let rows = users
        .into_iter()
        .map(|u| UserRow {
            client_name: u.client_id.and_then(|id| names.get(&id).cloned()),
            user: u,
        })
        .collect();
    Ok((rows, total))
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: UserId) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The new-user form as typed.
#[derive(Clone, Debug, Default)]
pub struct UserForm {
    pub email: String,
    pub name: String,
    pub role: String,
    pub client_id: String,
    pub password: String,
}

/// A new user that passed validation; the password is still to be hashed.
pub struct ValidUser {
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub client_id: Option<ClientId>,
    /// None: the user sets it through the link in their welcome email.
    pub password: Option<String>,
}

impl UserForm {
    pub fn validate(&self) -> Result<ValidUser, FieldErrors> {
        let mut errors = FieldErrors::default();
        let email = Email::parse(&self.email)
            .map_err(|m| errors.add("email", m))
            .ok();
        let name = parse_name(&self.name)
            .map_err(|m| errors.add("name", m))
            .ok();
        let role = Role::parse(&self.role);
        if role.is_none() {
            errors.add("role", "Choose admin, manager or client.");
        }
        let client_id = match self.client_id.trim() {
            "" => None,
            raw => match raw.parse::<ClientId>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.add("client_id", "Choose a client company.");
                    None
                }
            },
        };
        match (role, client_id) {
            (Some(Role::Client), None) => errors.add(
                "client_id",
                "A client user belongs to a client company: choose one.",
            ),
            (Some(Role::Admin | Role::Manager), Some(_)) => {
                errors.add("client_id", "Staff do not belong to a client company.")
            }
            _ => {}
        }
        if !self.password.is_empty()
            && let Err(m) = password::validate(&self.password)
        {
            errors.add("password", m);
        }
        match (email, name, role) {
            (Some(email), Some(name), Some(role)) if errors.is_empty() => Ok(ValidUser {
                email,
                name,
                role,
                client_id,
                password: (!self.password.is_empty()).then(|| self.password.clone()),
            }),
            _ => Err(errors),
        }
    }
}

fn subject(u: &user::Model) -> Subject<'static> {
    Subject {
        entity_type: "user",
        entity_id: u.id.get(),
        client_id: u.client_id,
    }
}

/// Creates a user as an admin does: the row, the activity, and their welcome email, with a
/// one-time link to set their password when the admin chose none (`password_hash` is then an
/// unusable random one).
pub async fn create_and_welcome<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    v: ValidUser,
    password_hash: String,
) -> AppResult<user::Model> {
    create(conn, actor, v, password_hash, None).await
}

/// [`create_and_welcome`], the welcome saying who invited them when a teammate did.
async fn create<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    v: ValidUser,
    password_hash: String,
    invited_by: Option<&str>,
) -> AppResult<user::Model> {
    let needs_password = v.password.is_none();
    if let Some(id) = v.client_id
        && client::Entity::find_by_id(id).one(conn).await?.is_none()
    {
        return Err(AppError::invalid(
            "client_id",
            "There is no such client company.",
        ));
    }
    let model = super::insert_user(
        conn,
        NewUser {
            email: v.email,
            name: v.name,
            role: v.role,
            client_id: v.client_id,
            password_hash,
        },
    )
    .await?;
    activity::record(
        conn,
        actor,
        "user.created",
        subject(&model),
        json!({"email": model.email, "role": model.role}),
    )
    .await?;
    let set_password_token = if needs_password {
        Some(issue_password_token(conn, model.id).await?)
    } else {
        None
    };
    let welcome = Message::Welcome(crate::notify::messages::Welcome {
        name: model.name.clone(),
        email: model.email.clone(),
        set_password_token,
        invited_by: invited_by.map(str::to_string),
    });
    notify::enqueue(
        conn,
        &model.email,
        &welcome,
        &format!("welcome:{}", model.id),
    )
    .await?;
    Ok(model)
}

/// The active people of a client company, by name.
pub async fn people_of<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find()
        .filter(user::Column::ClientId.eq(client_id))
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Name)
        .order_by_asc(user::Column::Id)
        .all(conn)
        .await
}

/// A client invites a teammate to their own company (when the agency allows it): the new
/// client user sets their password through the welcome email's link, which names who invited
/// them. Logged with the inviter as its author.
pub async fn invite_teammate<C: ConnectionTrait>(
    conn: &C,
    inviter: &super::CurrentUser,
    client_id: ClientId,
    name: &str,
    email: &str,
    password_hash: String,
) -> AppResult<user::Model> {
    let form = UserForm {
        email: email.to_string(),
        name: name.to_string(),
        role: Role::Client.as_str().to_string(),
        client_id: client_id.to_string(),
        password: String::new(),
    };
    let valid = form.validate()?;
    // Each invitation sends the agency's email to an address a client typed: a few a day.
    let recent = crate::db::entities::activity::Entity::find()
        .filter(crate::db::entities::activity::Column::ActorUserId.eq(inviter.id))
        .filter(crate::db::entities::activity::Column::Action.eq("user.created"))
        .filter(
            crate::db::entities::activity::Column::At.gt(Utc::now() - chrono::Duration::days(1)),
        )
        .count(conn)
        .await?;
    if recent >= INVITES_A_DAY {
        return Err(AppError::too_many_requests(format!(
            "You have invited {INVITES_A_DAY} people today: invite more tomorrow, or ask the agency."
        )));
    }
    create(
        conn,
        &Actor::from(inviter),
        valid,
        password_hash,
        Some(&inviter.name),
    )
    .await
    .map_err(|e| {
        // Whether an address has an account is not a client's to learn.
        if e.status == axum::http::StatusCode::CONFLICT {
            AppError::invalid(
                "email",
                "This address cannot be invited from here: ask the agency to add them.",
            )
        } else {
            e
        }
    })
}

/// At most this many teammates a client invites a day.
const INVITES_A_DAY: u64 = 10;

/// How long a welcome email's set-password link works.
pub const TOKEN_LIFETIME: chrono::Duration = chrono::Duration::days(7);

/// How long a "forgot password" link works.
pub const RESET_LIFETIME: chrono::Duration = chrono::Duration::hours(1);

/// At most this many "forgot password" links an hour for one account (each asking sends an
/// email: no one can flood a person's inbox through the form).
const RESETS_AN_HOUR: u64 = 3;

/// A secret token as kept: its SHA-256, hex (password links, API tokens).
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new one-time set-password token for the user, working for [`TOKEN_LIFETIME`]; only its
/// hash is stored.
pub async fn issue_password_token<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
) -> Result<String, DbErr> {
    issue_token(conn, user_id, TOKEN_LIFETIME).await
}

/// "Forgot password": emails an active user with `email` a one-time link working for an hour.
/// Says nothing of whether the account exists (the page answers the same either way); returns
/// whether an email was queued.
pub async fn request_reset(db: &Db, email: &str) -> AppResult<bool> {
    let Ok(email) = Email::parse(email) else {
        return Err(AppError::invalid(
            "email",
            "Enter the email address you sign in with.",
        ));
    };
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(email.as_str()))
        .filter(user::Column::Active.eq(true))
        .one(db)
        .await?
    else {
        return Ok(false);
    };
    let recent = password_token::Entity::find()
        .filter(password_token::Column::UserId.eq(user.id))
        .filter(password_token::Column::CreatedAt.gt(Utc::now() - chrono::Duration::hours(1)))
        .count(db)
        .await?;
    if recent >= RESETS_AN_HOUR {
        tracing::info!(
            user.id = user.id.get(),
            "password reset not sent: too many this hour"
        );
        return Ok(false);
    }
    // Only an email to send takes the write transaction.
    db.in_transaction(async |txn| {
        let token = issue_token(txn, user.id, RESET_LIFETIME).await?;
        let message = Message::PasswordReset(crate::notify::messages::PasswordReset {
            name: user.name.clone(),
            token,
        });
        let key = format!(
            "password-reset:{}:{}",
            user.id,
            Utc::now().timestamp_millis()
        );
        notify::enqueue(txn, &user.email, &message, &key).await?;
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(true)
}

async fn issue_token<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    lifetime: chrono::Duration,
) -> Result<String, DbErr> {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let now = Utc::now();
    password_token::Entity::insert(password_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token_hash(&token)),
        expires_at: Set(now + lifetime),
        used_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(token)
}

/// The user a set-password token is for, if it is unused and unexpired.
pub async fn token_user<C: ConnectionTrait>(conn: &C, token: &str) -> AppResult<user::Model> {
    let expired = || {
        AppError::invalid(
            "token",
            "This link has expired or was used already. Ask for a new one: \"Forgot your password?\" on the sign-in page.",
        )
    };
    let row = password_token::Entity::find()
        .filter(password_token::Column::TokenHash.eq(token_hash(token)))
        .filter(password_token::Column::UsedAt.is_null())
        .filter(password_token::Column::ExpiresAt.gt(Utc::now()))
        .one(conn)
        .await?
        .ok_or_else(expired)?;
    let user = get(conn, row.user_id).await?;
    if !user.active {
        return Err(expired());
    }
    Ok(user)
}

/// Sets the password through a one-time link and spends the link.
pub async fn set_password_with_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    password_hash: String,
) -> AppResult<user::Model> {
    let user = token_user(conn, token).await?;
    // This link is spent, and any other the user still has (a new password is chosen).
    password_token::Entity::update_many()
        .col_expr(
            password_token::Column::UsedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(password_token::Column::UserId.eq(user.id))
        .filter(password_token::Column::UsedAt.is_null())
        .exec(conn)
        .await?;
    let mut active: user::ActiveModel = user.into();
    active.password_hash = Set(password_hash);
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    session_store::end_sessions_of(conn, model.id).await?;
    let actor = Actor::User {
        id: model.id,
        name: model.name.clone(),
    };
    activity::record(
        conn,
        &actor,
        "user.password_set",
        subject(&model),
        json!({}),
    )
    .await?;
    Ok(model)
}

/// Sets a new password chosen by an admin, and ends the user's sessions.
pub async fn reset_password<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: UserId,
    password_hash: String,
) -> AppResult<user::Model> {
    let current = get(conn, id).await?;
    let mut active: user::ActiveModel = current.into();
    active.password_hash = Set(password_hash);
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    let ended = session_store::end_sessions_of(conn, id).await?;
    activity::record(
        conn,
        actor,
        "user.password_reset",
        subject(&model),
        json!({"sessions_ended": ended}),
    )
    .await?;
    Ok(model)
}

/// Deactivates (the user can no longer sign in; their sessions end) or reactivates a user.
pub async fn set_active<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: UserId,
    active_now: bool,
) -> AppResult<user::Model> {
    if !active_now && actor.user_id() == Some(id) {
        return Err(AppError::invalid(
            "active",
            "You cannot deactivate your own account.",
        ));
    }
    let current = get(conn, id).await?;
    if current.active == active_now {
        return Ok(current);
    }
    let mut active: user::ActiveModel = current.into();
    active.active = Set(active_now);
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    let ended = if active_now {
        0
    } else {
        session_store::end_sessions_of(conn, id).await?
    };
    let action = if active_now {
        "user.reactivated"
    } else {
        "user.deactivated"
    };
    activity::record(
        conn,
        actor,
        action,
        subject(&model),
        json!({"sessions_ended": ended}),
    )
    .await?;
    Ok(model)
}

/// A user chooses how new messages reach them by email.
pub async fn set_message_email<C: ConnectionTrait>(
    conn: &C,
    id: UserId,
    choice: user::MessageEmail,
) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(user::Column::MessageEmail, Expr::value(choice))
        .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// A user renames themselves.
pub async fn rename<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: UserId,
    name: String,
) -> AppResult<user::Model> {
    let current = get(conn, id).await?;
    let old = current.name.clone();
    let mut active: user::ActiveModel = current.into();
    active.name = Set(name);
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    activity::record(
        conn,
        actor,
        "user.renamed",
        subject(&model),
        json!({"from": old, "to": model.name}),
    )
    .await?;
    Ok(model)
}

/// A user changes their own password, proving the current one; their other sessions end (a
/// password changed because it leaked must lock out whoever used it), `this_session` stays.
/// The hashing is slow, so it happens before the write transaction begins.
pub async fn change_password(
    db: &Db,
    actor: &Actor,
    id: UserId,
    this_session: Option<&str>,
    current_password: &str,
    new_password: &str,
) -> AppResult<()> {
    let user = get(db, id).await?;
    if !password::verify(
        current_password.to_string(),
        Some(user.password_hash.clone()),
    )
    .await?
    {
        return Err(AppError::invalid(
            "current_password",
            "Your current password is not right.",
        ));
    }
    password::validate(new_password).map_err(|m| AppError::invalid("new_password", m))?;
    let hash = password::hash(new_password.to_string()).await?;
    let txn = db.write().await?;
    let mut active: user::ActiveModel = user.clone().into();
    active.password_hash = Set(hash);
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    let ended = session_store::end_other_sessions_of(&txn, id, this_session).await?;
    activity::record(
        &txn,
        actor,
        "user.password_changed",
        subject(&user),
        json!({"sessions_ended": ended}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
