//! Everyone's notifications: the list (newest first), reading one (and going where it leads),
//! and reading them all.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::db::entities::notification;
use crate::error::AppResult;
use crate::notify::inapp;
use crate::web::api::Pagination;
use crate::web::extract::{PageParams, Path, Query};
use crate::web::layout::{FlashKind, PageCtx, flash};

const PER_PAGE: u64 = 30;

#[derive(Template, WebTemplate)]
#[template(path = "pages/notifications.html")]
pub struct NotificationsPage {
    ctx: PageCtx,
    rows: Vec<notification::Model>,
    pagination: Pagination,
    pager_base: String,
}

pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
    Query(paging): Query<PageParams>,
) -> AppResult<NotificationsPage> {
    let page = paging.page()?;
    let (rows, total) = inapp::list(&state.db, user.id, page, PER_PAGE).await?;
    Ok(NotificationsPage {
        ctx,
        rows,
        pagination: Pagination::new(page, PER_PAGE, total),
        pager_base: "/notifications?".into(),
    })
}

/// Reads one notification and goes where it leads; another person's is not found.
pub async fn read_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let n = inapp::read_one(&state.db, user.id, id).await?;
    Ok(Redirect::to(&n.link).into_response())
}

pub async fn read_all(
    State(state): State<AppState>,
    user: CurrentUser,
    session: Session,
) -> AppResult<Response> {
    let n = inapp::read_all(&state.db, user.id).await?;
    let message = match n {
        0 => "Nothing was unread.".to_string(),
        1 => "1 notification marked read.".to_string(),
        n => format!("{n} notifications marked read."),
    };
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to("/notifications").into_response())
}

/// What a browser's stream says: the person's unread counts, and the service that changed.
#[derive(serde::Serialize)]
struct Counts {
    all: i64,
    messages: i64,
    /// The services the news is about (the page of one of them refreshes).
    services: Vec<crate::ids::ServiceId>,
}

/// The longest a live stream runs before the browser opens a new one (which checks the session
/// again: a signed-out person's stream does not go on).
const STREAM_FOR: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The signed-in person's live updates (Server-Sent Events): their unread counts at once, then
/// again whenever something is told to them on any instance, with the services (theirs) it is
/// about. It ends when the person can no longer sign in, and after [`STREAM_FOR`]. Pages work
/// without it.
pub async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
) -> axum::response::sse::Sse<
    impl futures_util::Stream<Item = Result<axum::response::sse::Event, std::convert::Infallible>>,
> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let rx = state.live.subscribe();
    let first = Some(Vec::new());
    let ends = tokio::time::Instant::now() + STREAM_FOR;
    let stream = futures_util::stream::unfold(
        (rx, first, state, user.id),
        move |(mut rx, mut pending, state, me)| async move {
            let services = match pending.take() {
                Some(services) => services,
                None => loop {
                    let next = tokio::time::timeout_at(ends, rx.recv()).await.ok()?;
                    match next {
                        Ok(live) => match live.for_user(me) {
                            Some(mine) => break mine,
                            None => continue,
                        },
                        // Fell behind: look anyway.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            break Vec::new();
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    }
                },
            };
            match crate::auth::active_user(&state.db, me).await {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(e) => tracing::warn!(error = %e, "live updates: reading the user"),
            }
            let event = match inapp::unread(&state.db, me).await {
                Ok(u) => Event::default().event("unread").json_data(Counts {
                    all: u.all,
                    messages: u.messages,
                    services,
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "live updates: reading unread counts");
                    Ok(Event::default().comment("retry"))
                }
            };
            let event = event.unwrap_or_else(|_| Event::default().comment("retry"));
            Some((Ok(event), (rx, pending, state, me)))
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}
