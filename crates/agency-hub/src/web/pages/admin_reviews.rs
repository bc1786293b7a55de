//! Reviews (STAFF): the moderation queue and what was decided, approving, hiding and replying
//! in public.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::db::entities::review::ReviewStatus;
use crate::engagement::reviews::{self, Decision, Shown};
use crate::error::{AppError, AppResult};
use crate::web::auth::RequireStaff;
use crate::web::extract::{Form, Path, Query};
use crate::web::layout::{FlashKind, PageCtx, flash};

/// The most reviews a list shows.
const SHOWN: u64 = 200;

#[derive(Template, WebTemplate)]
#[template(path = "admin/reviews.html")]
pub struct ReviewsPage {
    ctx: PageCtx,
    status: ReviewStatus,
    statuses: [ReviewStatus; 3],
    /// Each review with its service's name.
    rows: Vec<(Shown, String)>,
}

#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    #[serde(default)]
    status: String,
}

fn parse_status(raw: &str) -> AppResult<ReviewStatus> {
    match raw.trim() {
        "" | "pending" => Ok(ReviewStatus::Pending),
        "approved" => Ok(ReviewStatus::Approved),
        "hidden" => Ok(ReviewStatus::Hidden),
        other => Err(AppError::invalid(
            "status",
            format!("Unknown status '{other}': use pending, approved or hidden."),
        )),
    }
}

pub async fn list(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    ctx: PageCtx,
    Query(q): Query<StatusQuery>,
) -> AppResult<ReviewsPage> {
    let status = parse_status(&q.status)?;
    Ok(ReviewsPage {
        ctx,
        status,
        statuses: [
            ReviewStatus::Pending,
            ReviewStatus::Approved,
            ReviewStatus::Hidden,
        ],
        rows: reviews::for_staff(&state.db, status, SHOWN).await?,
    })
}

#[derive(Debug, Deserialize)]
pub struct DecideFields {
    #[serde(default)]
    decision: String,
    /// The list to go back to.
    #[serde(default)]
    back: String,
}

fn back_to(status: &str) -> String {
    match parse_status(status) {
        Ok(s) => format!("/admin/reviews?status={}", s.as_str()),
        Err(_) => "/admin/reviews".into(),
    }
}

pub async fn decide(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    Path(id): Path<i64>,
    Form(f): Form<DecideFields>,
) -> AppResult<Response> {
    let decision = match f.decision.as_str() {
        "approve" => Decision::Approve,
        "hide" => Decision::Hide,
        other => {
            return Err(AppError::invalid(
                "decision",
                format!("Unknown decision '{other}': approve or hide."),
            ));
        }
    };
    let actor = Actor::from(&user);
    state
        .db
        .in_transaction(async |txn| reviews::decide(txn, &actor, id, decision).await)
        .await?;
    state.store.changed().await;
    let message = match decision {
        Decision::Approve => "The review is published in the store.",
        Decision::Hide => "The review is hidden from the store.",
    };
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to(&back_to(&f.back)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct ReplyFields {
    #[serde(default)]
    reply: String,
    #[serde(default)]
    back: String,
}

pub async fn reply(
    State(state): State<AppState>,
    RequireStaff(user): RequireStaff,
    session: Session,
    Path(id): Path<i64>,
    Form(f): Form<ReplyFields>,
) -> AppResult<Response> {
    let actor = Actor::from(&user);
    let saved = state
        .db
        .in_transaction(async |txn| reviews::reply(txn, &actor, id, &f.reply).await)
        .await?;
    state.store.changed().await;
    let message = if saved.reply.is_some() {
        "Your reply is saved; it shows under the review when the review is published."
    } else {
        "The reply is removed."
    };
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to(&back_to(&f.back)).into_response())
}
