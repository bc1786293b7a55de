//! The client's portal over JSON: a service's messages (read and write, with files), its files
//! (listed, downloaded), its questions (answered, with files), deliverable decisions and
//! notifications. The same domain functions as the pages, scoped the same way: another
//! company's service, message or file is a 404. Writes that carry files are
//! `multipart/form-data`; the rest JSON.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::store::QuestionBody;
use super::{ErrorResponse, Paginated, Pagination};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::catalog::When;
use crate::catalog::questions::{read_form, read_json_map};
use crate::conversations::{self, Reader};
use crate::db::entities::file::{self, DeliverableState};
use crate::db::entities::notification::{self, NoticeKind};
use crate::db::entities::service;
use crate::db::entities::{deliverable_event, message};
use crate::error::FieldErrors;
use crate::error::{AppError, AppResult};
use crate::files;
use crate::ids::{FileId, ServiceId};
use crate::notify::inapp;
use crate::services;
use crate::web::auth::RequireClient;
use crate::web::extract::{Json, JsonOrForm, PageParams, Path, Query};

/// Messages one person may send a minute (per instance).
pub const MESSAGES_PER_MINUTE: u32 = 20;
/// Files one person may send a minute (per instance), with messages and answers.
pub const FILES_PER_MINUTE: u32 = 30;

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
    /// Where to download it (as an attachment): `/api/files/{id}`.
    pub url: String,
    pub thumbnail_url: Option<String>,
    /// Who sent it.
    pub uploaded_by: String,
    /// Sent by the agency's staff.
    pub from_agency: bool,
    pub created_at: DateTime<Utc>,
    /// The message it came with, if any.
    pub message_id: Option<i64>,
    /// The question it answers, if any.
    pub question_id: Option<i64>,
    /// A deliverable's state; none for a plain file.
    pub deliverable_state: Option<DeliverableState>,
    /// A deliverable's history, oldest first (empty for a plain file).
    pub history: Vec<DeliverableEventBody>,
}

/// One step of a deliverable's history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliverableEventBody {
    /// `shared`, `approved` or `changes_requested`.
    pub action: DeliverableState,
    /// What should change (with `changes_requested`).
    pub comment: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl FileBody {
    /// The file, with the steps of `history` that are its own.
    fn of(f: file::Model, history: &mut Vec<deliverable_event::Model>) -> Self {
        let steps = history
            .extract_if(.., |e| e.file_id == f.id)
            .map(|e| DeliverableEventBody {
                action: e.action,
                comment: e.comment,
                by: e.actor_name,
                at: e.created_at,
            })
            .collect();
        Self {
            id: f.id.get(),
            url: format!("/api/files/{}", f.id),
            thumbnail_url: f
                .has_thumbnail
                .then(|| format!("/files/{}/thumbnail", f.id)),
            name: f.name,
            content_type: f.content_type,
            size_bytes: f.size_bytes,
            uploaded_by: f.uploader_name,
            from_agency: f.from_staff,
            created_at: f.created_at,
            message_id: f.message_id.map(|m| m.get()),
            question_id: f.question_id.map(i64::from),
            deliverable_state: f.deliverable_state,
            history: steps,
        }
    }
}

impl From<file::Model> for FileBody {
    fn from(f: file::Model) -> Self {
        Self::of(f, &mut Vec::new())
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

/// A message with files (`multipart/form-data`).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct NewMessageForm {
    /// The text (may be empty when files come with it).
    body: Option<String>,
    /// A file to send with it; repeat the part for several.
    #[schema(value_type = Option<String>, format = Binary)]
    files: Option<Vec<u8>>,
}

#[utoipa::path(
    post,
    path = "/api/services/{id}/messages",
    tag = "portal",
    summary = "Write to the agency",
    description = "Sends a message on one of your company's services; the agency is told in the app and by email as each person chose. Files come with it in a `multipart/form-data` body (parts `body` and `files`); each is checked before anything is kept (size, the service's room, its type by content). At most 20 messages and 30 files a minute per person.",
    params(("id" = i64, Path, description = "The service's id")),
    request_body(content(
        (NewMessage = "application/json"),
        (NewMessageForm = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "The message sent, with its files", body = MessageBody),
        (status = 400, description = "An empty or too long message, or an empty file", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 404, description = "Not a service of your company", body = ErrorResponse),
        (status = 413, description = "A file past the size allowed, or past the service's room", body = ErrorResponse),
        (status = 415, description = "Neither JSON nor a multipart form, or a file of a type not accepted (its name says which)", body = ErrorResponse),
        (status = 429, description = "Too many messages or files in a minute", body = ErrorResponse),
    ),
)]
pub async fn post_message(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<ServiceId>,
    body: JsonOrForm<NewMessage>,
) -> AppResult<Response> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let (text, uploads) = match body {
        JsonOrForm::Json(b) => (b.body.unwrap_or_default(), Vec::new()),
        JsonOrForm::Form(mut form) => {
            if let Some(e) = form.refused.take() {
                return Err(e);
            }
            let text = form.get("body").unwrap_or_default().to_string();
            (text, form.files)
        }
    };
    conversations::check(&user, &text, false, !uploads.is_empty())?;
    if !state.message_limit.allow(user.id) {
        return Err(AppError::too_many_requests(format!(
            "At most {MESSAGES_PER_MINUTE} messages a minute: wait a moment and send it again."
        )));
    }
    uploads_allowed(&state, &user, uploads.len())?;
    let (db, settings, storage) = (&state.db, &state.config.files, &state.storage);
    let (m, files) = conversations::write(
        db, settings, storage, &user, &service, &text, false, uploads, None,
    )
    .await?;
    let files = files.into_iter().map(FileBody::from).collect();
    Ok((StatusCode::CREATED, axum::Json(message_body(m, files))).into_response())
}

/// Counts `n` files sent by `user` against the limit: a 429 past it.
fn uploads_allowed(state: &AppState, user: &CurrentUser, n: usize) -> AppResult<()> {
    if n > 0 && !state.upload_limit.allow_n(user.id, n as u32) {
        return Err(AppError::too_many_requests(format!(
            "At most {FILES_PER_MINUTE} files a minute: wait a moment and send them again."
        )));
    }
    Ok(())
}

/// A service's files.
#[derive(Debug, Serialize, ToSchema)]
pub struct FilesBody {
    /// Oldest first.
    pub data: Vec<FileBody>,
}

#[utoipa::path(
    get,
    path = "/api/services/{id}/files",
    tag = "portal",
    summary = "A service's files",
    description = "Every file of one of your company's services: those sent with messages, those answering its questions, and the deliverables the agency shared, each deliverable with its state and history.",
    params(("id" = i64, Path, description = "The service's id")),
    responses(
        (status = 200, description = "The files", body = FilesBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not a service of your company", body = ErrorResponse),
    ),
)]
pub async fn list_files(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<ServiceId>,
) -> AppResult<axum::Json<FilesBody>> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let found = files::of_service_for_client(&state.db, service.id).await?;
    let mut history = files::history(&state.db, service.id).await?;
    let data = found
        .into_iter()
        .map(|f| FileBody::of(f, &mut history))
        .collect();
    Ok(axum::Json(FilesBody { data }))
}

#[utoipa::path(
    get,
    path = "/api/files/{id}",
    tag = "portal",
    summary = "Download a file",
    description = "The file's bytes, always as an attachment (`Content-Disposition`), typed as its content was found to be. Only to the people who may see its service.",
    params(("id" = i64, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file", content_type = "*/*", body = Vec<u8>),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 404, description = "No file of yours by this id", body = ErrorResponse),
    ),
)]
pub async fn download(
    state: State<AppState>,
    user: CurrentUser,
    id: Path<FileId>,
) -> AppResult<Response> {
    crate::web::pages::files::download(state, user, id).await
}

/// The questions asked of a service, with their answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnswersBody {
    /// Every question asked, before payment (answered in the cart) and after.
    pub questions: Vec<QuestionBody>,
    /// The ids of the required questions asked after payment still unanswered.
    pub missing_answers: Vec<u32>,
    /// The files given as answers (the latest per question is its answer).
    pub files: Vec<FileBody>,
}

async fn answers_body(state: &AppState, service: &service::Model) -> AppResult<AnswersBody> {
    let intake = service.intake();
    let files = files::of_service_for_client(&state.db, service.id)
        .await?
        .into_iter()
        .filter(|f| f.question_id.is_some())
        .map(FileBody::from)
        .collect();
    Ok(AnswersBody {
        questions: QuestionBody::of(&intake),
        missing_answers: intake
            .missing(When::AfterPayment)
            .iter()
            .map(|q| q.id)
            .collect(),
        files,
    })
}

#[utoipa::path(
    get,
    path = "/api/services/{id}/answers",
    tag = "portal",
    summary = "A service's questions and answers",
    params(("id" = i64, Path, description = "The service's id")),
    responses(
        (status = 200, description = "The questions with their answers", body = AnswersBody),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user", body = ErrorResponse),
        (status = 404, description = "Not a service of your company", body = ErrorResponse),
    ),
)]
pub async fn get_answers(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    Path(id): Path<ServiceId>,
) -> AppResult<axum::Json<AnswersBody>> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    Ok(axum::Json(answers_body(&state, &service).await?))
}

/// The answers to a service's questions asked after payment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ServiceAnswers {
    /// By question id: a string or number, a list of strings for several choices, or null
    /// for none. Questions left out lose their answer, except file questions, which keep
    /// their file (send files as `multipart/form-data`).
    #[schema(value_type = Object, example = json!({"3": "https://acme.example", "4": "2027-03-31"}))]
    answers: Option<Value>,
}

/// The answers as a form (`multipart/form-data`): a part `q{id}` per question (one per
/// choice for several), a file part `q{id}` for a file question.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct ServiceAnswersForm {
    /// An answer, as the part of its question's `q{id}` (this one shows the shape).
    q1: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/services/{id}/answers",
    tag = "portal",
    summary = "Answer a service's questions",
    description = "Replaces the answers to the questions asked after payment (as the service's page does). Every answer and file is checked; on a mistake nothing is kept and the error names the question at fault (`q{id}`). Once work has started, answers given can no longer change (unanswered ones still can). Files count against the limit of 30 a minute per person.",
    params(("id" = i64, Path, description = "The service's id")),
    request_body(content(
        (ServiceAnswers = "application/json"),
        (ServiceAnswersForm = "multipart/form-data"),
    )),
    responses(
        (status = 200, description = "The questions with their answers", body = AnswersBody),
        (status = 400, description = "An answer that does not fit its question, an unknown question, a service asking nothing after payment or done, or an answer that can no longer change", body = ErrorResponse),
        (status = 401, description = "Not signed in", body = ErrorResponse),
        (status = 403, description = "Not a client user, or a cross-site request", body = ErrorResponse),
        (status = 404, description = "Not a service of your company", body = ErrorResponse),
        (status = 413, description = "A file past the size allowed, or past the service's room", body = ErrorResponse),
        (status = 415, description = "Neither JSON nor a multipart form, or a file of a type not accepted", body = ErrorResponse),
        (status = 429, description = "Too many files in a minute", body = ErrorResponse),
    ),
)]
pub async fn set_answers(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    Path(id): Path<ServiceId>,
    body: JsonOrForm<ServiceAnswers>,
) -> AppResult<axum::Json<AnswersBody>> {
    let service = services::get_for_client(&state.db, id, client_id).await?;
    let (db, settings, storage) = (&state.db, &state.config.files, &state.storage);
    let (service, _) = match body {
        JsonOrForm::Json(b) => {
            let answers = match b.answers {
                Some(Value::Object(map)) => map,
                Some(Value::Null) | None => Default::default(),
                Some(_) => {
                    return Err(AppError::invalid(
                        "answers",
                        "Give the answers as an object by question id.",
                    ));
                }
            };
            services::intake::answer_with_files(
                db,
                settings,
                storage,
                &user,
                service,
                Vec::new(),
                |questions| read_json_map(questions, &answers).map_err(FieldErrors),
            )
            .await?
        }
        JsonOrForm::Form(mut form) => {
            if let Some(e) = form.refused.take() {
                return Err(e);
            }
            // Each file under its question's field; one under any other name is a mistake.
            let mut uploads = Vec::with_capacity(form.files.len());
            for upload in form.files {
                let Some(qid) = upload
                    .field
                    .strip_prefix('q')
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    return Err(AppError::invalid(
                        &upload.field,
                        format!(
                            "'{}' is not a question's field: send a file as q{{id}} of its question.",
                            upload.field
                        ),
                    ));
                };
                uploads.push((qid, upload));
            }
            uploads_allowed(&state, &user, uploads.len())?;
            let pairs = form.fields;
            services::intake::answer_with_files(
                db,
                settings,
                storage,
                &user,
                service,
                uploads,
                |questions| read_form(questions, &pairs).map_err(FieldErrors),
            )
            .await?
        }
    };
    Ok(axum::Json(answers_body(&state, &service).await?))
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
    let mut history = files::history(&state.db, service.id).await?;
    Ok(axum::Json(FileBody::of(f, &mut history)))
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
