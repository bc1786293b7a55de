//! Downloads: a file (always as an attachment, as the type its content is) and an image's
//! thumbnail, to the people who may see its service; to anyone else it does not exist.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::db::entities::file;
use crate::error::{AppError, AppResult};
use crate::files;
use crate::ids::FileId;
use crate::web::extract::Path;

/// The file, if this person may see it.
async fn visible(state: &AppState, user: &CurrentUser, id: FileId) -> AppResult<file::Model> {
    let client = if user.role.is_staff() {
        None
    } else {
        Some(user.client_id.ok_or_else(AppError::not_found)?)
    };
    files::visible(&state.db, id, client).await
}

/// Streams a stored object with these headers.
async fn stream(
    state: &AppState,
    key: &str,
    headers: [(header::HeaderName, String); 3],
) -> AppResult<Response> {
    let got = state.storage.get(key).await.map_err(AppError::internal)?;
    let body = Body::from_stream(got.into_stream().map_err(std::io::Error::other));
    let mut res = body.into_response();
    for (name, value) in headers {
        let value = HeaderValue::from_str(&value).map_err(AppError::internal)?;
        res.headers_mut().insert(name, value);
    }
    Ok(res)
}

pub async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<FileId>,
) -> AppResult<Response> {
    let f = visible(&state, &user, id).await?;
    let content_type = if f.content_type.starts_with("text/") {
        format!("{}; charset=utf-8", f.content_type)
    } else {
        f.content_type.clone()
    };
    let mut res = stream(
        &state,
        &f.storage_key,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, files::disposition(&f.name)),
            (header::CONTENT_LENGTH, f.size_bytes.to_string()),
        ],
    )
    .await?;
    // Opened anyway, it runs nothing and reaches nothing.
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(res)
}

pub async fn thumbnail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<FileId>,
) -> AppResult<Response> {
    let f = visible(&state, &user, id).await?;
    if !f.has_thumbnail {
        return Err(AppError::not_found());
    }
    stream(
        &state,
        &files::thumb_key(&f.storage_key),
        [
            (header::CONTENT_TYPE, "image/png".into()),
            (header::CONTENT_DISPOSITION, "inline".into()),
            // A file's thumbnail never changes; only its people may fetch it.
            (header::CACHE_CONTROL, "private, max-age=86400".into()),
        ],
    )
    .await
}
