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

/// An intake question's field as a form shows it: what is in it (the answer kept, or what was
/// typed when the form comes back with mistakes) and its mistake.
pub struct QuestionField {
    pub question: crate::catalog::Question,
    /// The field's name (`q{id}`).
    pub name: String,
    /// `text`, `textarea`, `radio`, `checkbox`, `number`, `date`, `url` or `file`.
    pub input: &'static str,
    pub value: String,
    /// The choices ticked.
    pub picked: Vec<String>,
    pub error: Option<String>,
}

impl QuestionField {
    pub fn is_picked(&self, choice: &str) -> bool {
        self.picked.iter().any(|c| c == choice)
    }
}

/// The fields of `questions`: `typed` (the form as sent, when it comes back with `errors`)
/// or else the answers kept.
pub fn question_fields(
    questions: &[crate::catalog::Question],
    answers: &crate::catalog::Answers,
    typed: Option<&[(String, String)]>,
    errors: &crate::error::FieldErrors,
) -> Vec<QuestionField> {
    use crate::catalog::questions::Kind;
    questions
        .iter()
        .map(|q| {
            let name = q.field();
            let picked: Vec<String> = match typed {
                Some(pairs) => pairs
                    .iter()
                    .filter(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
                    .collect(),
                None => match answers.get(&q.id) {
                    Some(crate::catalog::Answer::Choices(c)) => c.clone(),
                    Some(crate::catalog::Answer::Text(t)) => vec![t.clone()],
                    None => Vec::new(),
                },
            };
            QuestionField {
                input: match q.kind {
                    Kind::ShortText => "text",
                    Kind::LongText => "textarea",
                    Kind::SingleChoice => "radio",
                    Kind::MultipleChoice => "checkbox",
                    Kind::Number => "number",
                    Kind::Date => "date",
                    Kind::Url => "url",
                    Kind::File => "file",
                },
                value: picked.first().cloned().unwrap_or_default(),
                error: errors.get(&name).map(str::to_string),
                question: q.clone(),
                name,
                picked,
            }
        })
        .collect()
}
