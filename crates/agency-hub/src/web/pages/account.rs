//! Every user's own account: their name and password.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::auth::{CurrentUser, parse_name, users};
use crate::db::entities::user::MessageEmail;
use crate::error::{AppError, AppResult};
use crate::web::auth::RequireClient;
use crate::web::extract::Form;
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "pages/account.html")]
pub struct AccountPage {
    ctx: PageCtx,
    user: CurrentUser,
    message_email: MessageEmail,
    choices: [MessageEmail; 3],
    /// A client's company and its people; whether they may invite teammates.
    team: Option<Team>,
    /// The invitation as typed, when it comes back with a mistake.
    invite_name: String,
    invite_email: String,
    error: Option<AppError>,
}

pub struct Team {
    company: String,
    people: Vec<crate::db::entities::user::Model>,
    can_invite: bool,
}

async fn page(
    state: &AppState,
    ctx: PageCtx,
    user: CurrentUser,
    error: Option<AppError>,
) -> AppResult<AccountPage> {
    let message_email = users::get(&state.db, user.id).await?.message_email;
    let team = match user.client_id {
        Some(client_id) => Some(Team {
            company: crate::clients::get(&state.db, client_id).await?.name,
            people: users::people_of(&state.db, client_id).await?,
            can_invite: crate::agency::get(&state.db, &state.config)
                .await?
                .clients_invite,
        }),
        None => None,
    };
    Ok(AccountPage {
        ctx,
        user,
        message_email,
        choices: MessageEmail::ALL,
        team,
        invite_name: String::new(),
        invite_email: String::new(),
        error,
    })
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
) -> AppResult<AccountPage> {
    page(&state, ctx, user, None).await
}

/// The page again with what was wrong.
async fn again(
    state: &AppState,
    ctx: PageCtx,
    user: CurrentUser,
    e: AppError,
) -> AppResult<AccountPage> {
    page(state, ctx, user, Some(e)).await
}

#[derive(Debug, Deserialize)]
pub struct MessageEmailFields {
    #[serde(default)]
    message_email: String,
}

/// How the person wants emails about new messages.
pub async fn set_message_email(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<MessageEmailFields>,
) -> AppResult<Response> {
    let saved = match MessageEmail::parse(&f.message_email) {
        None => Err(AppError::invalid(
            "message_email",
            format!(
                "Unknown choice '{}': use every, digest or off.",
                f.message_email
            ),
        )),
        Some(choice) => users::set_message_email(&state.db, user.id, choice)
            .await
            .map(|()| choice),
    };
    settle(
        saved,
        async |choice| {
            let message = format!("Saved: {}.", choice.label());
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/account").into_response())
        },
        async |e| again(&state, ctx, user, e).await,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct NameFields {
    #[serde(default)]
    name: String,
}

pub async fn rename(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<NameFields>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    let renamed = match parse_name(&f.name) {
        Err(m) => Err(AppError::invalid("name", m)),
        Ok(name) => {
            state
                .db
                .in_transaction(async |txn| users::rename(txn, &actor, user.id, name).await)
                .await
        }
    };
    state.users.remove(&user.id);
    settle(
        renamed,
        async |_| {
            flash(&session, FlashKind::Success, "Your name was saved.").await?;
            Ok(Redirect::to("/account").into_response())
        },
        async |e| again(&state, ctx, user, e).await,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct PasswordFields {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<PasswordFields>,
) -> AppResult<Response> {
    let changed = if f.new_password != f.confirm_password {
        Err(AppError::invalid(
            "confirm_password",
            "The two new passwords differ.",
        ))
    } else {
        let this_session = session.id().map(|id| id.to_string());
        users::change_password(
            &state.db,
            &Actor::from(&user),
            user.id,
            this_session.as_deref(),
            &f.current_password,
            &f.new_password,
        )
        .await
    };
    settle(
        changed,
        async |()| {
            flash(&session, FlashKind::Success, "Your password was changed.").await?;
            Ok(Redirect::to("/account").into_response())
        },
        async |e| again(&state, ctx, user, e).await,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct InviteFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

/// A client invites a teammate to their company, when the agency allows it.
pub async fn invite(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    session: Session,
    ctx: PageCtx,
    Form(f): Form<InviteFields>,
) -> AppResult<Response> {
    let invited = async {
        if !crate::agency::get(&state.db, &state.config)
            .await?
            .clients_invite
        {
            return Err(AppError::forbidden(
                "The agency adds the people of your company: ask them to invite your teammate.",
            ));
        }
        // An unusable random password until they set theirs through the link (hashed before
        // the write transaction: it takes a while).
        let hash = crate::auth::password::unusable_hash().await?;
        state
            .db
            .in_transaction(async |txn| {
                users::invite_teammate(txn, &user, client_id, &f.name, &f.email, hash).await
            })
            .await
    }
    .await;
    settle(
        invited,
        async |teammate| {
            let message = format!(
                "{} is invited: we emailed {} a link to choose a password.",
                teammate.name, teammate.email
            );
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/account#team").into_response())
        },
        async |e| {
            let mut page = again(&state, ctx, user.clone(), e).await?;
            page.invite_name = f.name.trim().to_string();
            page.invite_email = f.email.trim().to_string();
            Ok(page)
        },
    )
    .await
}
