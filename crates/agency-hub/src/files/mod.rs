//! Files on a service: attached to messages and answers, or shared by staff as deliverables the
//! client approves or sends back. An upload is checked whole before anything is kept: its size
//! (per file and per service), its type by its content (not its name: an executable named
//! `logo.png` is refused), its name made safe; an image gets a thumbnail. The bytes go to the
//! [`Storage`], the row in the caller's transaction; a file is reached only through its
//! service, so another company's file id is simply not found.

pub mod storage;

use bytes::Bytes;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::auth::CurrentUser;
use crate::config::FileSettings;
use crate::db::entities::file::{self, DeliverableState};
use crate::db::entities::notification::NoticeKind;
use crate::db::entities::{deliverable_event, service};
use crate::error::{AppError, AppResult};
use crate::ids::{FileId, MessageId, ServiceId};
use crate::notify::inapp::{self, Notice};

pub use storage::Storage;

/// The form field (and API part) uploads come in.
pub const FIELD: &str = "files";
/// The longest side of a thumbnail, in pixels.
const THUMB_PX: u32 = 320;
/// The largest side of an image decoded for its thumbnail.
const MAX_IMAGE_PX: u32 = 12_000;
/// The most memory one image's decoding may take.
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// The kinds of file accepted, by their sniffed type: (content type, what people call it).
const ACCEPTED: [(&str, &str); 12] = [
    ("image/png", "PNG image"),
    ("image/jpeg", "JPEG image"),
    ("image/gif", "GIF image"),
    ("image/webp", "WebP image"),
    ("application/pdf", "PDF document"),
    ("application/zip", "ZIP archive"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word document",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "Excel workbook",
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "PowerPoint presentation",
    ),
    (
        "application/vnd.oasis.opendocument.text",
        "OpenDocument text",
    ),
    (
        "application/vnd.oasis.opendocument.spreadsheet",
        "OpenDocument spreadsheet",
    ),
    ("text/plain", "plain text"),
];

const ACCEPTED_SUMMARY: &str =
    "images (PNG, JPEG, GIF, WebP), PDF, Word, Excel, PowerPoint, OpenDocument, ZIP and plain text";

/// A file as it came in a form or the API.
#[derive(Clone, Debug)]
pub struct Upload {
    /// The form field it came in ([`FIELD`], or an answer's `q{id}`).
    pub field: String,
    pub name: String,
    pub bytes: Bytes,
}

/// An upload that passed every check, ready to keep.
#[derive(Clone, Debug)]
pub struct Checked {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Bytes,
    pub thumbnail: Option<Bytes>,
}

/// What a file is attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    Message(MessageId),
    /// An answer to the service's question with this id.
    Answer(u32),
    /// Shared by staff for the client to approve.
    Deliverable,
}

/// "2.4 MB", "830 KB", "120 bytes".
pub fn size_label(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    match bytes {
        b if b >= MB => format!("{:.1} MB", b as f64 / MB as f64),
        b if b >= 1024 => format!("{} KB", b.div_ceil(1024)),
        b => format!("{b} bytes"),
    }
}

/// A name safe to show and to download under: its last path part, without control characters
/// or characters file systems refuse, at most 150 characters (keeping its extension).
pub fn safe_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | '<' | '>' | ':' | '|' | '?' | '*' | ';' => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        return "file".into();
    }
    if cleaned.chars().count() <= 150 {
        return cleaned.to_string();
    }
    let (stem, ext) = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if ext.chars().count() <= 10 => (stem, format!(".{ext}")),
        _ => (cleaned, String::new()),
    };
    let keep = 150 - ext.chars().count();
    format!("{}{ext}", stem.chars().take(keep).collect::<String>())
}

/// The file's type, read from its content. Refused: anything not in [`ACCEPTED`], with what it
/// is, and, when its name pretends otherwise, that too.
pub fn sniff(name: &str, bytes: &[u8]) -> Result<&'static str, String> {
    let claimed = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let refuse = |what: String| {
        let pretends = match claimed.as_str() {
            "png" | "jpg" | "jpeg" | "gif" | "webp" => " (its name says it is an image; it is not)",
            "pdf" => " (its name says it is a PDF; it is not)",
            "txt" | "csv" | "md" => " (its name says it is text; it is not)",
            _ => "",
        };
        Err(format!(
            "{name} is {what}{pretends}: it cannot be shared here. Accepted: {ACCEPTED_SUMMARY}."
        ))
    };
    match infer::get(bytes) {
        Some(t) => match ACCEPTED.iter().find(|(mime, _)| *mime == t.mime_type()) {
            Some((mime, _)) => Ok(mime),
            None if t.matcher_type() == infer::MatcherType::App => refuse("a program".into()),
            None => refuse(format!("of a type not accepted ({})", t.mime_type())),
        },
        // No signature: text when it reads as text, else nothing we know.
        None if !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok() => Ok("text/plain"),
        None => refuse("of an unknown type".into()),
    }
}

/// What people call a content type ("PDF document").
pub fn kind_label(content_type: &str) -> &'static str {
    ACCEPTED
        .iter()
        .find(|(mime, _)| *mime == content_type)
        .map_or("file", |(_, label)| label)
}

/// Checks uploads for a service before anything is kept: not empty, not too large, of an
/// accepted type, within the service's room (with `pending` bytes already accepted in the same
/// request); images get their thumbnails. The first mistake is the error (field `files`),
/// naming the file.
pub async fn check<C: ConnectionTrait>(
    conn: &C,
    settings: &FileSettings,
    service_id: ServiceId,
    uploads: Vec<Upload>,
    pending: u64,
) -> AppResult<Vec<Checked>> {
    let mut checked = Vec::with_capacity(uploads.len());
    let mut adding = pending;
    for upload in uploads {
        let name = safe_name(&upload.name);
        let size = upload.bytes.len() as u64;
        if size == 0 {
            return Err(AppError::invalid(FIELD, format!("{name} is empty.")));
        }
        if size > settings.max_file_bytes {
            return Err(too_large(format!(
                "{name} is {}: a file may be at most {}.",
                size_label(size),
                size_label(settings.max_file_bytes)
            )));
        }
        let content_type = sniff(&name, &upload.bytes).map_err(|m| {
            let mut e = AppError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_type",
                m,
            );
            e.field = Some(FIELD.into());
            e
        })?;
        let thumbnail = if content_type.starts_with("image/") {
            Some(thumbnail(&name, upload.bytes.clone()).await?)
        } else {
            None
        };
        adding += size;
        checked.push(Checked {
            name,
            content_type,
            bytes: upload.bytes,
            thumbnail,
        });
    }
    if !checked.is_empty() {
        let held = held_bytes(conn, service_id).await?;
        if held + adding > settings.max_service_bytes {
            return Err(too_large(format!(
                "This service's files take {} of the {} it may hold: {} more do not fit.",
                size_label(held),
                size_label(settings.max_service_bytes),
                size_label(adding)
            )));
        }
    }
    Ok(checked)
}

fn too_large(message: String) -> AppError {
    let mut e = AppError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        message,
    );
    e.field = Some(FIELD.into());
    e
}

/// The bytes a service's files take, from one summing query.
async fn held_bytes<C: ConnectionTrait>(conn: &C, service_id: ServiceId) -> Result<u64, DbErr> {
    // PostgreSQL sums bigints as numeric: cast back.
    let sum: Option<i64> = file::Entity::find()
        .select_only()
        .column_as(
            sea_orm::sea_query::Expr::cust("CAST(COALESCE(SUM(\"size_bytes\"), 0) AS BIGINT)"),
            "held",
        )
        .filter(file::Column::ServiceId.eq(service_id))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(sum.unwrap_or(0).max(0) as u64)
}

/// A PNG at most [`THUMB_PX`] on its longer side; an image that does not decode is refused.
async fn thumbnail(name: &str, bytes: Bytes) -> AppResult<Bytes> {
    shrunk_png(name, bytes, THUMB_PX, THUMB_PX).await
}

/// A picture sent in a form's `field` (a PNG, JPEG, GIF or WebP), made to fit `width` ×
/// `height` and kept as a PNG in the file store under `prefix` and a new name; returns its key.
/// Anything else is refused with 415, naming the field.
pub async fn keep_picture(
    storage: &Storage,
    upload: Upload,
    field: &str,
    width: u32,
    height: u32,
    prefix: &str,
) -> AppResult<String> {
    let name = safe_name(&upload.name);
    let refuse = |message: String| {
        let mut e = AppError::invalid(field, message);
        e.status = axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
        e
    };
    match sniff(&name, &upload.bytes) {
        Ok(t) if t.starts_with("image/") => {}
        Ok(_) => {
            return Err(refuse(format!(
                "{name} is not an image: use a PNG, JPEG, GIF or WebP."
            )));
        }
        Err(m) => return Err(refuse(m)),
    }
    let png = shrunk_png(&name, upload.bytes, width, height)
        .await
        .map_err(|mut e| {
            e.field = Some(field.into());
            e
        })?;
    let key = format!("{prefix}{}.png", uuid::Uuid::new_v4().simple());
    storage.put(&key, png).await.map_err(AppError::internal)?;
    Ok(key)
}

/// The image as a PNG that fits `width` × `height` (a smaller one keeps its size), decoded in
/// a blocking task within bounds; one that does not decode is refused (field [`FIELD`]).
pub async fn shrunk_png(name: &str, bytes: Bytes, width: u32, height: u32) -> AppResult<Bytes> {
    let made = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, image::ImageError> {
        // A small file may claim a huge picture: decode only what a camera makes.
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_PX);
        limits.max_image_height = Some(MAX_IMAGE_PX);
        limits.max_alloc = Some(MAX_DECODE_BYTES);
        let mut reader = image::ImageReader::new(std::io::Cursor::new(&bytes[..]))
            .with_guessed_format()
            .map_err(image::ImageError::IoError)?;
        reader.limits(limits);
        let img = reader.decode()?;
        let img = if img.width() > width || img.height() > height {
            img.thumbnail(width, height)
        } else {
            img
        };
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)?;
        Ok(out.into_inner())
    })
    .await
    .map_err(AppError::internal)?;
    made.map(Bytes::from).map_err(|e| {
        AppError::invalid(
            FIELD,
            format!("{name} could not be read as an image ({e})."),
        )
    })
}

/// Keeps checked uploads in the store under new keys (and their thumbnails beside them).
/// Returns each with its key; on a failure, what was written is removed.
pub async fn put(
    storage: &Storage,
    service_id: ServiceId,
    checked: Vec<Checked>,
) -> AppResult<Vec<(Checked, String)>> {
    let mut kept: Vec<(Checked, String)> = Vec::with_capacity(checked.len());
    for c in checked {
        let key = format!("services/{service_id}/{}", uuid::Uuid::new_v4().simple());
        let mut written = storage.put(&key, c.bytes.clone()).await;
        if written.is_ok()
            && let Some(thumb) = &c.thumbnail
        {
            written = storage.put(&thumb_key(&key), thumb.clone()).await;
        }
        if let Err(e) = written {
            kept.push((c, key));
            remove(storage, &kept).await;
            return Err(AppError::internal(e));
        }
        kept.push((c, key));
    }
    Ok(kept)
}

/// Checks uploads ([`check`]) and keeps them ([`put`]): what the forms and the API call before
/// the transaction that writes the files' rows.
pub async fn accept<C: ConnectionTrait>(
    conn: &C,
    settings: &FileSettings,
    storage: &Storage,
    service_id: ServiceId,
    uploads: Vec<Upload>,
    pending: u64,
) -> AppResult<Vec<(Checked, String)>> {
    let checked = check(conn, settings, service_id, uploads, pending).await?;
    put(storage, service_id, checked).await
}

/// Removes stored files whose rows were never written (best effort: a leftover is only bytes
/// nothing points to).
pub async fn remove(storage: &Storage, kept: &[(Checked, String)]) {
    for (c, key) in kept {
        if let Err(e) = storage.delete(key).await {
            tracing::warn!(
                key,
                error = format!("{e:#}"),
                "an unused file was not removed"
            );
        }
        if c.thumbnail.is_some() {
            let _ = storage.delete(&thumb_key(key)).await;
        }
    }
}

pub fn thumb_key(key: &str) -> String {
    format!("{key}.thumb.png")
}

/// Writes the rows of stored files, attached as asked, in the caller's transaction. A
/// deliverable starts shared and tells the client.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    uploader: &CurrentUser,
    service: &service::Model,
    stored: &[(Checked, String)],
    attach: Attach,
) -> AppResult<Vec<file::Model>> {
    let staff = uploader.role.is_staff();
    if attach == Attach::Deliverable && !staff {
        return Err(AppError::forbidden(
            "Only the agency's staff share deliverables.",
        ));
    }
    let now = Utc::now();
    let mut files = Vec::with_capacity(stored.len());
    for (c, key) in stored {
        let f = file::Entity::insert(file::ActiveModel {
            service_id: Set(service.id),
            uploader_id: Set(uploader.id),
            uploader_name: Set(uploader.name.clone()),
            from_staff: Set(staff),
            name: Set(c.name.clone()),
            content_type: Set(c.content_type.to_string()),
            size_bytes: Set(c.bytes.len() as i64),
            storage_key: Set(key.clone()),
            has_thumbnail: Set(c.thumbnail.is_some()),
            message_id: Set(match attach {
                Attach::Message(m) => Some(m),
                _ => None,
            }),
            question_id: Set(match attach {
                Attach::Answer(q) => Some(q as i32),
                _ => None,
            }),
            deliverable_state: Set(
                (attach == Attach::Deliverable).then_some(DeliverableState::Shared)
            ),
            created_at: Set(now),
            ..Default::default()
        })
        .exec_with_returning(conn)
        .await?;
        if attach == Attach::Deliverable {
            event(conn, &f, uploader, DeliverableState::Shared, "").await?;
            let notice = Notice::service(
                NoticeKind::DeliverableShared,
                service.id,
                format!("New deliverable on {}: {}", service.name, f.name),
                "Review it, then approve it or ask for changes.".into(),
            );
            inapp::tell_service(conn, service, &notice, false, Some(uploader.id)).await?;
        }
        files.push(f);
    }
    Ok(files)
}

async fn event<C: ConnectionTrait>(
    conn: &C,
    f: &file::Model,
    actor: &CurrentUser,
    action: DeliverableState,
    comment: &str,
) -> Result<(), DbErr> {
    deliverable_event::Entity::insert(deliverable_event::ActiveModel {
        file_id: Set(f.id),
        service_id: Set(f.service_id),
        action: Set(action),
        comment: Set(comment.to_string()),
        actor_id: Set(Some(actor.id)),
        actor_name: Set(actor.name.clone()),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The client decides on a deliverable: approves it, or sends it back with a comment saying
/// what to change. The client may change their mind (the history keeps every decision), but
/// approving twice is refused.
pub async fn decide<C: ConnectionTrait>(
    conn: &C,
    person: &CurrentUser,
    service: &service::Model,
    id: FileId,
    approve: bool,
    comment: &str,
) -> AppResult<file::Model> {
    let f = get(conn, service.id, id).await?;
    if f.deliverable_state.is_none() {
        return Err(AppError::not_found());
    }
    let comment = comment.trim();
    if !approve && comment.is_empty() {
        return Err(AppError::invalid(
            "comment",
            "Say what should change, so the agency can act on it.",
        ));
    }
    if comment.chars().count() > 5_000 {
        return Err(AppError::invalid(
            "comment",
            "A comment holds at most 5000 characters.",
        ));
    }
    let to = if approve {
        DeliverableState::Approved
    } else {
        DeliverableState::ChangesRequested
    };
    if approve && f.deliverable_state == Some(to) {
        return Err(AppError::conflict(format!(
            "{} is approved already.",
            f.name
        )));
    }
    let mut active: file::ActiveModel = f.into();
    active.deliverable_state = Set(Some(to));
    let f = active.update(conn).await?;
    event(conn, &f, person, to, comment).await?;
    let (kind, title) = if approve {
        (
            NoticeKind::DeliverableApproved,
            format!("{} approved {} ({})", person.name, f.name, service.name),
        )
    } else {
        (
            NoticeKind::ChangesRequested,
            format!(
                "{} asked for changes to {} ({})",
                person.name, f.name, service.name
            ),
        )
    };
    let notice = Notice::service(kind, service.id, title, inapp::excerpt(comment, 200));
    inapp::tell_service(conn, service, &notice, false, Some(person.id)).await?;
    Ok(f)
}

/// A file as a reader may see it: staff any, a client's person only their company's, and never
/// one sent with an internal note. Anything else is not found.
pub async fn visible<C: ConnectionTrait>(
    conn: &C,
    id: FileId,
    client: Option<crate::ids::ClientId>,
) -> AppResult<file::Model> {
    let f = file::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    if let Some(client_id) = client {
        crate::services::get_for_client(conn, f.service_id, client_id).await?;
        if let Some(m) = f.message_id {
            crate::conversations::get(conn, f.service_id, m, crate::conversations::Reader::Client)
                .await?;
        }
    }
    Ok(f)
}

/// One file of a service (the caller has checked the reader may see the service).
pub async fn get<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
    id: FileId,
) -> AppResult<file::Model> {
    file::Entity::find_by_id(id)
        .filter(file::Column::ServiceId.eq(service_id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// A service's files, oldest first.
pub async fn of_service<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
) -> Result<Vec<file::Model>, DbErr> {
    file::Entity::find()
        .filter(file::Column::ServiceId.eq(service_id))
        .order_by_asc(file::Column::Id)
        .all(conn)
        .await
}

/// A service's files a client's person may see, oldest first: all but those sent with an
/// internal note (one query).
pub async fn of_service_for_client<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
) -> Result<Vec<file::Model>, DbErr> {
    let notes = sea_orm::sea_query::Query::select()
        .column(crate::db::entities::message::Column::Id)
        .from(crate::db::entities::message::Entity)
        .and_where(crate::db::entities::message::Column::ServiceId.eq(service_id))
        .and_where(crate::db::entities::message::Column::Internal.eq(true))
        .to_owned();
    file::Entity::find()
        .filter(file::Column::ServiceId.eq(service_id))
        .filter(
            sea_orm::Condition::any()
                .add(file::Column::MessageId.is_null())
                .add(file::Column::MessageId.not_in_subquery(notes)),
        )
        .order_by_asc(file::Column::Id)
        .all(conn)
        .await
}

/// A service's deliverables' history, oldest first.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
) -> Result<Vec<deliverable_event::Model>, DbErr> {
    deliverable_event::Entity::find()
        .filter(deliverable_event::Column::ServiceId.eq(service_id))
        .order_by_asc(deliverable_event::Column::Id)
        .all(conn)
        .await
}

/// `Content-Disposition` for a download: always an attachment, under its safe name (ASCII for
/// old clients, UTF-8 for the rest).
pub fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .map(|c| if c == '"' || c == '\\' { '_' } else { c })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Bytes {
        let img = image::GrayImage::new(width, height);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner().into()
    }

    #[tokio::test]
    async fn a_small_file_claiming_a_huge_picture_is_not_decoded() {
        let thumb = thumbnail("a.png", png(640, 480)).await.unwrap();
        let img = image::load_from_memory(&thumb).unwrap();
        assert_eq!((img.width(), img.height()), (320, 240));
        let wide = png(MAX_IMAGE_PX + 1, 2);
        assert!(wide.len() < 10_000, "a few KB: {}", wide.len());
        let e = thumbnail("wide.png", wide).await.unwrap_err();
        assert!(
            e.message.contains("wide.png could not be read as an image"),
            "{}",
            e.message
        );
        assert!(e.message.contains("limit"), "{}", e.message);
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(
            safe_name("C:\\Users\\ana\\logo final.png"),
            "logo final.png"
        );
        assert_eq!(safe_name("a\"b<c>.pdf"), "a_b_c_.pdf");
        assert_eq!(safe_name("..."), "file");
        assert_eq!(safe_name("bad\u{0}\nname.txt"), "badname.txt");
        let long = format!("{}.pdf", "x".repeat(300));
        let safe = safe_name(&long);
        assert_eq!(safe.chars().count(), 150);
        assert!(safe.ends_with(".pdf"));
    }

    #[test]
    fn types_come_from_the_content_not_the_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff("photo.jpg", png), Ok("image/png"));
        assert_eq!(sniff("notes.md", b"# Notes\nHello"), Ok("text/plain"));
        let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";
        let refused = sniff("logo.png", exe).unwrap_err();
        assert!(
            refused.starts_with("logo.png is a program (its name says it is an image; it is not)"),
            "{refused}"
        );
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        assert!(sniff("run.txt", &elf).unwrap_err().contains("a program"));
        assert!(
            sniff("blob.bin", &[0, 1, 2, 3, 0, 255])
                .unwrap_err()
                .contains("unknown type")
        );
    }

    #[test]
    fn downloads_are_attachments_under_their_name() {
        assert_eq!(
            disposition("Logo – final.png"),
            "attachment; filename=\"Logo _ final.png\"; filename*=UTF-8''Logo%20%E2%80%93%20final.png"
        );
        assert_eq!(size_label(2_516_582), "2.4 MB");
        assert_eq!(size_label(2048), "2 KB");
        assert_eq!(size_label(12), "12 bytes");
    }
}
