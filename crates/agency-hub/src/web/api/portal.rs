//! The client's portal over JSON: a service's messages (read and write), deliverable decisions
//! and notifications. The same domain functions as the pages, scoped the same way: another
//! company's service, message or file is a 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::conversations::{self, Reader};
use crate::db::entities::file::{self, DeliverableState};
use crate::db::entities::message;
use crate::db::entities::notification::{self, NoticeKind};
use crate::error::{AppError, AppResult};
use crate::files;
use crate::ids::{FileId, ServiceId};
use crate::notify::inapp;
use crate::services;
use crate::web::auth::RequireClient;
use crate::web::extract::{Json, PageParams, Path, Query};

/// Messages one person may send a minute (per instance).
pub const MESSAGES_PER_MINUTE: u32 = 20;

/// A message as the client sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageBody {
    pub id: i64,
    pub author: String,
    /// Written by the agency's staff.
    pub from_agency: bool,
    /// Markdown-lite source.
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    /// The files sent with it.
    pub files: Vec<FileBody>,
}

/// A file of a service.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileBody {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Where to download it (as an attachment).
    pub url: String,
    pub thumbnail_url: Option<String>,
    /// A deliverable's state; none for a plain file.
    pub deliverable_state: Option<DeliverableState>,
}

impl From<file::Model> for FileBody {
    fn from(f: file::Model) -> Self {
        Self {
            id: f.id.get(),
            url: format!("/files/{}", f.id),
            thumbnail_url: f
                .has_thumbnail
                .then(|| format!("/files/{}/thumbnail", f.id)),
            name: f.name,
            content_type: f.content_type,
            size_bytes: f.size_bytes,
            deliverable_state: f.deliverable_state,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessagesBody {
    /// Oldest first (the latest 200).
    pub data: Vec<MessageBody>,
}

#[utoipa::path(
    get,
    path = "/api/services/{id}/messages",
    tag = "portal",
    summary = "A service's messages",
    description = "The conversation with the agency about one of your company's services, oldest first, with the files sent with each message.",
    params(("id" = i64, Path, description = "The service's id")),
    responses(
        (status = 200, description = "The messages", body = MessagesBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not a service of your company", body = ErrorResponse),
    ),
)]
pub async fn list_messages(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<ServiceId>,
) -> AppResult<axum::Json<MessagesBody>> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let messages = conversations::list(&state.db, service.id, Reader::Client).await?;
    let mut all_files = files::of_service(&state.db, service.id).await?;
    let data = messages
        .into_iter()
        .map(|m| {
            let files = all_files
                .extract_if(.., |f| f.message_id == Some(m.id))
                .map(FileBody::from)
                .collect();
            message_body(m, files)
        })
        .collect();
    Ok(axum::Json(MessagesBody { data }))
}

fn message_body(m: message::Model, files: Vec<FileBody>) -> MessageBody {
    MessageBody {
        id: m.id.get(),
        author: m.author_name,
        from_agency: m.from_staff,
        body: m.body,
        created_at: m.created_at,
        edited_at: m.edited_at,
        files,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessage {
    /// Markdown-lite: paragraphs, **bold**, *italics*, lists, links. At most 10000 characters.
    body: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/services/{id}/messages",
    tag = "portal",
    summary = "Write to the agency",
    description = "Sends a message on one of your company's services; the agency is told in the app and by email as each person chose. At most 20 messages a minute per person.",
    params(("id" = i64, Path, description = "The service's id")),
    request_body = NewMessage,
    responses(
        (status = 201, description = "The message sent", body = MessageBody),
        (status = 400, description = "An empty or too long message", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 404, description = "Not a service of your company", body = ErrorResponse),
        (status = 429, description = "Too many messages in a minute", body = ErrorResponse),
        (status = 415, description = "Not JSON (writes send `Content-Type: application/json`, even with no body)", body = ErrorResponse),
    ),
)]
pub async fn post_message(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<ServiceId>,
    Json(body): Json<NewMessage>,
) -> AppResult<Response> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let text = body.body.unwrap_or_default();
    conversations::check(&user, &text, false, false)?;
    if !state.message_limit.allow(user.id) {
        return Err(AppError::too_many_requests(format!(
            "At most {MESSAGES_PER_MINUTE} messages a minute: wait a moment and send it again."
        )));
    }
    let m = state
        .db
        .in_transaction(async |txn| {
            conversations::post(txn, &user, &service, &text, false, false).await
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(message_body(m, Vec::new()))).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Decision {
    /// `approve`, or `changes` to send it back.
    decision: Option<String>,
    /// What should change (required with `changes`).
    comment: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/services/{id}/deliverables/{fileId}/decision",
    tag = "portal",
    summary = "Approve a deliverable, or ask for changes",
    params(
        ("id" = i64, Path, description = "The service's id"),
        ("fileId" = i64, Path, description = "The deliverable's file id"),
    ),
    request_body = Decision,
    responses(
        (status = 200, description = "The deliverable after the decision", body = FileBody),
        (status = 400, description = "An unknown decision, or changes without a comment", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 404, description = "Not a deliverable of your company's service", body = ErrorResponse),
        (status = 409, description = "Approved already", body = ErrorResponse),
        (status = 415, description = "Not JSON (writes send `Content-Type: application/json`, even with no body)", body = ErrorResponse),
    ),
)]
pub async fn decide(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path((id, file_id)): Path<(ServiceId, FileId)>,
    Json(body): Json<Decision>,
) -> AppResult<axum::Json<FileBody>> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let approve = match body.decision.as_deref() {
        Some("approve") => true,
        Some("changes") => false,
        _ => {
            return Err(AppError::invalid(
                "decision",
                "Give the decision: approve, or changes.",
            ));
        }
    };
    let comment = body.comment.unwrap_or_default();
    let f = state
        .db
        .in_transaction(async |txn| {
            files::decide(txn, &user, &service, file_id, approve, &comment).await
        })
        .await?;
    Ok(axum::Json(f.into()))
}

/// A notification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationBody {
    pub id: i64,
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
    /// The page it leads to.
    pub link: String,
    pub service_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub read: bool,
}

impl From<notification::Model> for NotificationBody {
    fn from(n: notification::Model) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            body: n.body,
            link: n.link,
            service_id: n.service_id.map(ServiceId::get),
            created_at: n.created_at,
            read: n.read_at.is_some(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/notifications",
    tag = "portal",
    summary = "Your notifications",
    description = "Newest first, 30 a page.",
    params(("page" = Option<u64>, Query, description = "1-based page number")),
    responses(
        (status = 200, description = "One page of notifications", body = Paginated<NotificationBody>),
        (status = 400, description = "A bad page number", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
    ),
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    RequireClient(user, _): RequireClient,
    Query(paging): Query<PageParams>,
) -> AppResult<axum::Json<Paginated<NotificationBody>>> {
    const PER_PAGE: u64 = 30;
    let page = paging.page()?;
    let (rows, total) = inapp::list(&state.db, user.id, page, PER_PAGE).await?;
    Ok(axum::Json(Paginated {
        data: rows.into_iter().map(NotificationBody::from).collect(),
        pagination: Pagination::new(page, PER_PAGE, total),
    }))
}

#[utoipa::path(
    post,
    path = "/api/notifications/{id}/read",
    tag = "portal",
    summary = "Mark a notification read",
    params(("id" = i64, Path, description = "The notification's id")),
    responses(
        (status = 200, description = "The notification, read", body = NotificationBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 404, description = "Not one of yours", body = ErrorResponse),
        (status = 415, description = "Not JSON (writes send `Content-Type: application/json`, even with no body)", body = ErrorResponse),
    ),
)]
pub async fn read_notification(
    State(state): State<AppState>,
    RequireClient(user, _): RequireClient,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<NotificationBody>> {
    let n = inapp::read_one(&state.db, user.id, id).await?;
    let mut body = NotificationBody::from(n);
    body.read = true;
    Ok(axum::Json(body))
}

/// How many were marked read.
#[derive(Debug, Serialize, ToSchema)]
pub struct Marked {
    pub marked: u64,
}

#[utoipa::path(
    post,
    path = "/api/notifications/read-all",
    tag = "portal",
    summary = "Mark all your notifications read",
    responses(
        (status = 200, description = "How many were unread", body = Marked),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 415, description = "Not JSON (writes send `Content-Type: application/json`, even with no body)", body = ErrorResponse),
    ),
)]
pub async fn read_all(
    State(state): State<AppState>,
    RequireClient(user, _): RequireClient,
) -> AppResult<axum::Json<Marked>> {
    let marked = inapp::read_all(&state.db, user.id).await?;
    Ok(axum::Json(Marked { marked }))
}
