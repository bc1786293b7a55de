//! A service's conversation: messages between the client's people and the agency's staff, and
//! the staff's internal notes, which no client query returns. Posting one tells the service's
//! audience in the app and, as each person chose, by email: at once, in a digest (at most one
//! email per person and service every [`DIGEST_MINUTES`]), or not at all.

pub mod markup;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::auth::CurrentUser;
use crate::config::FileSettings;
use crate::db::Db;
use crate::db::entities::notification::{self, NoticeKind};
use crate::db::entities::user::{self, MessageEmail};
use crate::db::entities::{file, message, service};
use crate::error::{AppError, AppResult};
use crate::files::{self, Attach, Storage, Upload};
use crate::ids::{MessageId, ServiceId, UserId};
use crate::jobs::{Enqueue, Job};
use crate::notify::inapp::{self, Notice, Recipient};
use crate::notify::messages::{NewMessages, Quoted};
use crate::notify::{self, Message, Outgoing};

/// How long after sending its author may still edit a message.
pub const EDIT_MINUTES: i64 = 10;
/// The least time between two digest emails to one person about one service.
pub const DIGEST_MINUTES: i64 = 10;
/// The longest message, in characters.
pub const MAX_CHARS: usize = 10_000;
/// The most messages a service's page shows (the latest).
pub const PAGE_LIMIT: u64 = 200;

/// Who reads: staff see the internal notes, a client's people never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Staff,
    Client,
}

impl Reader {
    pub fn of(user: &CurrentUser) -> Self {
        if user.role.is_staff() {
            Self::Staff
        } else {
            Self::Client
        }
    }
}

/// A message's text as typed: trimmed, not too long, and not empty unless files come with it.
pub fn body(raw: &str, with_files: bool) -> AppResult<String> {
    let body = raw.trim();
    if body.is_empty() && !with_files {
        return Err(AppError::invalid("body", "Write a message first."));
    }
    let chars = body.chars().count();
    if chars > MAX_CHARS {
        return Err(AppError::invalid(
            "body",
            format!("A message holds at most {MAX_CHARS} characters; this one has {chars}."),
        ));
    }
    Ok(body.to_string())
}

/// The service's messages the reader may see, oldest first (the latest [`PAGE_LIMIT`]).
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
    reader: Reader,
) -> Result<Vec<message::Model>, DbErr> {
    let mut q = message::Entity::find()
        .filter(message::Column::ServiceId.eq(service_id))
        .order_by_desc(message::Column::Id)
        .limit(PAGE_LIMIT);
    if reader == Reader::Client {
        q = q.filter(message::Column::Internal.eq(false));
    }
    let mut messages = q.all(conn).await?;
    messages.reverse();
    Ok(messages)
}

/// Whether `user` may still edit `m` at `now`.
pub fn editable(m: &message::Model, user: UserId, now: DateTime<Utc>) -> bool {
    m.author_id == user && now - m.created_at <= Duration::minutes(EDIT_MINUTES)
}

/// What a message as sent may be: its text (see [`body`]), and a note only from staff.
pub fn check(
    author: &CurrentUser,
    raw: &str,
    internal: bool,
    with_files: bool,
) -> AppResult<String> {
    if internal && !author.role.is_staff() {
        return Err(AppError::invalid(
            "internal",
            "Only the agency's staff write internal notes.",
        ));
    }
    body(raw, with_files)
}

/// Sends (or, `editing` one, saves) a message with its files, as the pages and the API do:
/// the files are checked and stored before the message's transaction, and removed again if
/// it fails. Returns the message and its files.
#[allow(clippy::too_many_arguments)]
pub async fn write(
    db: &Db,
    settings: &FileSettings,
    storage: &Storage,
    author: &CurrentUser,
    service: &service::Model,
    raw: &str,
    internal: bool,
    uploads: Vec<Upload>,
    editing: Option<MessageId>,
) -> AppResult<(message::Model, Vec<file::Model>)> {
    if editing.is_some() && !uploads.is_empty() {
        return Err(AppError::invalid(
            files::FIELD,
            "Files cannot be added to a message being edited: send them in a new one.",
        ));
    }
    let with_files = !uploads.is_empty();
    check(author, raw, internal, with_files)?;
    let stored = files::accept(db, settings, storage, service.id, uploads, 0).await?;
    let written = db
        .in_transaction(async |txn| {
            let m = match editing {
                None => post(txn, author, service, raw, internal, with_files).await?,
                Some(id) => edit(txn, author, service, id, raw).await?,
            };
            let kept = files::record(txn, author, service, &stored, Attach::Message(m.id)).await?;
            Ok((m, kept))
        })
        .await;
    if written.is_err() {
        files::remove(storage, &stored).await;
    }
    written
}

/// Posts a message (or, for staff, an internal note) on a service the author may see, and
/// tells its audience. Staff who write on a service follow it. `with_files`: files come with
/// it (attached by the caller), so its text may be empty.
pub async fn post<C: ConnectionTrait>(
    conn: &C,
    author: &CurrentUser,
    service: &service::Model,
    raw: &str,
    internal: bool,
    with_files: bool,
) -> AppResult<message::Model> {
    let staff = author.role.is_staff();
    let body = check(author, raw, internal, with_files)?;
    let now = Utc::now();
    let m = message::Entity::insert(message::ActiveModel {
        service_id: Set(service.id),
        author_id: Set(author.id),
        author_name: Set(author.name.clone()),
        from_staff: Set(staff),
        body: Set(body),
        internal: Set(internal),
        created_at: Set(now),
        edited_at: Set(None),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    if staff {
        inapp::follow(conn, service.id, author.id).await?;
    }
    crate::integrations::webhooks::emit(
        conn,
        vec![crate::integrations::webhooks::Event {
            kind: "message.created",
            object: "message".into(),
            id: m.id.into(),
            client_id: Some(service.client_id),
            actor: Some((author.id.get(), author.name.clone())),
            details: serde_json::json!({"service_id": service.id, "internal": internal,
                "from_staff": staff}),
        }],
    )
    .await?;
    let title = if internal {
        format!("{} added an internal note on {}", author.name, service.name)
    } else {
        format!("{} wrote on {}", author.name, service.name)
    };
    let notice = Notice {
        message_id: Some(m.id),
        ..Notice::service(
            NoticeKind::Message,
            service.id,
            title,
            if m.body.is_empty() {
                "Sent files.".into()
            } else {
                inapp::excerpt(&markup::to_text(&m.body), 200)
            },
        )
    };
    let to = inapp::tell_service(conn, service, &notice, internal, Some(author.id)).await?;
    email(conn, service, &m, &to).await?;
    Ok(m)
}

/// Emails a new message as each recipient chose: now, in the next digest, or not.
async fn email<C: ConnectionTrait>(
    conn: &C,
    service: &service::Model,
    m: &message::Model,
    to: &[Recipient],
) -> Result<(), DbErr> {
    let mut now = Vec::new();
    let mut digests = Vec::new();
    let due = next_digest(m.created_at);
    for r in to {
        match r.message_email {
            MessageEmail::Off => {}
            MessageEmail::Every => now.push(Outgoing {
                to: r.email.clone(),
                dedupe_key: format!("message:{}:{}", m.id, r.id),
                message: Message::NewMessages(NewMessages {
                    name: r.name.clone(),
                    service_id: service.id,
                    service_name: service.name.clone(),
                    staff: r.staff,
                    messages: vec![quote(m)],
                }),
            }),
            MessageEmail::Digest => digests.push(
                Enqueue::job(&Digest {
                    user_id: r.id,
                    service_id: service.id,
                })
                .run_at(due)
                // One digest per person, service and window: later messages of the window
                // join the one queued.
                .dedupe_key(format!(
                    "digest:{}:{}:{}",
                    r.id,
                    service.id,
                    due.timestamp()
                )),
            ),
        }
    }
    // Emailed now: no digest carries them again (should the person switch to digests).
    let emailed: Vec<UserId> = to
        .iter()
        .filter(|r| r.message_email == MessageEmail::Every)
        .map(|r| r.id)
        .collect();
    if !emailed.is_empty() {
        notification::Entity::update_many()
            .col_expr(notification::Column::EmailedAt, Expr::value(Utc::now()))
            .filter(notification::Column::MessageId.eq(m.id))
            .filter(notification::Column::UserId.is_in(emailed))
            .exec(conn)
            .await?;
    }
    notify::enqueue_many(conn, now).await?;
    Enqueue::insert_many(conn, digests).await?;
    Ok(())
}

/// The end of the digest window `at` falls in: windows of [`DIGEST_MINUTES`] from the hour, so
/// two digests to one person about one service are at least that far apart.
pub fn next_digest(at: DateTime<Utc>) -> DateTime<Utc> {
    let window = DIGEST_MINUTES * 60;
    let end = (at.timestamp().div_euclid(window) + 1) * window;
    DateTime::from_timestamp(end, 0).unwrap_or(at)
}

fn quote(m: &message::Model) -> Quoted {
    Quoted {
        author: m.author_name.clone(),
        at: m.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        body: m.body.clone(),
        internal: m.internal,
    }
}

/// Edits the author's own message within [`EDIT_MINUTES`] of sending it.
pub async fn edit<C: ConnectionTrait>(
    conn: &C,
    author: &CurrentUser,
    service: &service::Model,
    id: MessageId,
    raw: &str,
) -> AppResult<message::Model> {
    let m = get(conn, service.id, id, Reader::of(author)).await?;
    if m.author_id != author.id {
        return Err(AppError::forbidden("Only its author can edit a message."));
    }
    let now = Utc::now();
    if !editable(&m, author.id, now) {
        return Err(AppError::invalid(
            "body",
            format!("A message can be edited for {EDIT_MINUTES} minutes after it is sent."),
        ));
    }
    let body = body(raw, false)?;
    if body == m.body {
        return Ok(m);
    }
    let mut active: message::ActiveModel = m.into();
    active.body = Set(body);
    active.edited_at = Set(Some(now));
    Ok(active.update(conn).await?)
}

/// One message of a service, as the reader may see it: an internal note is not found by a
/// client, nor another service's message.
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
    id: MessageId,
    reader: Reader,
) -> AppResult<message::Model> {
    let mut q = message::Entity::find_by_id(id).filter(message::Column::ServiceId.eq(service_id));
    if reader == Reader::Client {
        q = q.filter(message::Column::Internal.eq(false));
    }
    q.one(conn).await?.ok_or_else(AppError::not_found)
}

/// Emails one person the messages of one service they have neither read nor been emailed, in
/// one email; nothing when there are none (read in the app meanwhile, or emailed already).
#[derive(Debug, Serialize, Deserialize)]
pub struct Digest {
    pub user_id: UserId,
    pub service_id: ServiceId,
}

impl Job for Digest {
    const KIND: &'static str = "conversations.digest";
    type Env = Db;

    async fn run(self, db: &Db, _attempt: i32) -> anyhow::Result<()> {
        let Some(person) = user::Entity::find_by_id(self.user_id)
            .filter(user::Column::Active.eq(true))
            .one(db)
            .await?
        else {
            return Ok(());
        };
        // They chose otherwise since it was queued.
        if person.message_email != MessageEmail::Digest {
            return Ok(());
        }
        let Some(service) = service::Entity::find_by_id(self.service_id).one(db).await? else {
            return Ok(());
        };
        let pending: Vec<(i64, Option<MessageId>)> = notification::Entity::find()
            .select_only()
            .column(notification::Column::Id)
            .column(notification::Column::MessageId)
            .filter(notification::Column::UserId.eq(person.id))
            .filter(notification::Column::ServiceId.eq(service.id))
            .filter(notification::Column::Kind.eq(NoticeKind::Message))
            .filter(notification::Column::ReadAt.is_null())
            .filter(notification::Column::EmailedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        let ids: Vec<MessageId> = pending.iter().filter_map(|(_, m)| *m).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = message::Entity::find()
            .filter(message::Column::Id.is_in(ids))
            .order_by_asc(message::Column::Id);
        if !person.role.is_staff() {
            q = q.filter(message::Column::Internal.eq(false));
        }
        let messages = q.all(db).await?;
        let last = pending.iter().map(|(id, _)| *id).max().unwrap_or_default();
        let txn = db.write().await?;
        notification::Entity::update_many()
            .col_expr(notification::Column::EmailedAt, Expr::value(Utc::now()))
            .filter(notification::Column::Id.is_in(pending.iter().map(|(id, _)| *id)))
            .exec(&txn)
            .await?;
        if !messages.is_empty() {
            let message = Message::NewMessages(NewMessages {
                name: person.name.clone(),
                service_id: service.id,
                service_name: service.name.clone(),
                staff: person.role.is_staff(),
                messages: messages.iter().map(quote).collect(),
            });
            let key = format!("digest:{}:{}:{last}", person.id, service.id);
            notify::enqueue(&txn, &person.email, &message, &key).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_windows_end_on_the_tenth_minute() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            next_digest(at("2026-12-01T09:31:05Z")),
            at("2026-12-01T09:40:00Z")
        );
        assert_eq!(
            next_digest(at("2026-12-01T09:40:00Z")),
            at("2026-12-01T09:50:00Z")
        );
    }

    #[test]
    fn bodies_are_trimmed_and_bounded() {
        assert_eq!(body("  hi \n", false).unwrap(), "hi");
        assert_eq!(
            body(" \n ", false).unwrap_err().field.as_deref(),
            Some("body")
        );
        assert_eq!(body(" ", true).unwrap(), "");
        assert!(body(&"x".repeat(MAX_CHARS + 1), false).is_err());
    }
}
