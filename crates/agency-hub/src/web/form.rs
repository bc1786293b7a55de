//! What a form post answers: on success, what the handler says (a message and a redirect,
//! mostly); on an error the person can act on, the form's page again with the error, answered
//! with its status, so nothing typed is lost; any other error as it is.

use axum::response::{IntoResponse, Response};

use crate::error::{AppError, AppResult};

/// Settles a form post's `result`: `done` with its value, or `again` with the error when the
/// person can act on it ([`AppError::is_correctable`]).
pub async fn settle<T, P: IntoResponse>(
    result: AppResult<T>,
    done: impl AsyncFnOnce(T) -> AppResult<Response>,
    again: impl AsyncFnOnce(AppError) -> AppResult<P>,
) -> AppResult<Response> {
    match result {
        Ok(value) => done(value).await,
        Err(e) if e.is_correctable() => {
            let status = e.status;
            Ok((status, again(e).await?).into_response())
        }
        Err(e) => Err(e),
    }
}
