//! The OpenAPI document of `/api`, gathered from the handlers' annotations as `api::routes`
//! registers them, and a readable page of it rendered on the server (no script, no CDN).

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use serde_json::Value;
use std::sync::Arc;

use axum::Extension;
use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

use super::ErrorResponse;
use crate::web::router::SESSION_COOKIE;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Agency Hub API",
        description = "The JSON API of Agency Hub. Sign in with `POST /api/session`; the session cookie authenticates the other calls. Writes need `Content-Type: application/json` and this site's `Origin` (or, from a browser without `Origin`, `Sec-Fetch-Site: same-origin`). Errors share one envelope; lists share one shape (see the schemas).",
    ),
    components(schemas(ErrorResponse)),
    modifiers(&SessionCookie),
    tags(
        (name = "session", description = "Signing in and out"),
        (name = "store", description = "What clients can buy"),
        (name = "cart", description = "The client company's cart"),
        (name = "orders", description = "The client company's orders"),
        (name = "admin", description = "Administration"),
        (name = "stripe", description = "Stripe's calls to us"),
        (name = "docs", description = "This description"),
    ),
)]
pub struct ApiDoc;

struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(SESSION_COOKIE))),
        );
    }
}

#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "docs",
    summary = "This OpenAPI 3 document",
    responses((status = 200, description = "The document", content_type = "application/json")),
)]
pub async fn openapi_json(Extension(doc): Extension<Arc<OpenApi>>) -> Json<OpenApi> {
    Json(OpenApi::clone(&doc))
}

/// One operation, flattened for the page.
pub struct Operation {
    pub method: String,
    pub path: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<(String, String, String)>,
    pub body: Option<String>,
    pub responses: Vec<(String, String, String)>,
}

fn schema_name(v: &Value) -> String {
    let content = v.get("content").and_then(|c| c.as_object());
    let schema = content
        .and_then(|c| c.values().next())
        .and_then(|m| m.get("schema"));
    match schema {
        Some(s) => s
            .get("$ref")
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
            .unwrap_or_else(|| {
                s.get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("object")
                    .to_string()
            }),
        None => String::new(),
    }
}

fn operations(doc: &OpenApi) -> Vec<Operation> {
    let doc = serde_json::to_value(doc).unwrap_or_default();
    let mut ops = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return ops;
    };
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(op) = item.get(method) else { continue };
            let text = |k: &str| {
                op.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let params = op
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            let s = |k: &str| {
                                p.get(k)
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string()
                            };
                            (s("name"), s("in"), s("description"))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let responses = op
                .get("responses")
                .and_then(Value::as_object)
                .map(|rs| {
                    rs.iter()
                        .map(|(status, r)| {
                            let description = r
                                .get("description")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string();
                            (status.clone(), description, schema_name(r))
                        })
                        .collect()
                })
                .unwrap_or_default();
            ops.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text("summary"),
                description: text("description"),
                params,
                body: op.get("requestBody").map(schema_name),
                responses,
            });
        }
    }
    ops
}

#[derive(Template, WebTemplate)]
#[template(path = "api_docs.html")]
pub struct DocsPage {
    operations: Vec<Operation>,
    css_href: String,
}

#[utoipa::path(
    get,
    path = "/api/docs",
    tag = "docs",
    summary = "A readable page of this document",
    responses((status = 200, description = "HTML", content_type = "text/html")),
)]
pub async fn docs_page(Extension(doc): Extension<Arc<OpenApi>>) -> DocsPage {
    DocsPage {
        operations: operations(&doc),
        css_href: crate::web::assets::href("app.css"),
    }
}
