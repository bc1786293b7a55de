//! The OpenAPI document of `/api`, gathered from the handlers' annotations as `api::routes`
//! registers them, and a readable page of it rendered on the server (no script, no CDN).

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use serde_json::Value;
use std::sync::Arc;

use axum::Extension;
use utoipa::Modify;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi, Ref, ResponseBuilder};

use super::ErrorResponse;
use crate::web::router::SESSION_COOKIE;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Agency Hub API",
        description = "The JSON API of Agency Hub. Two ways in: an API token (made under Your account → API tokens) sent as `Authorization: Bearer ah_…`, acting as its owner within its scopes (`orders:read`, `services:write`, …: each operation names the one it needs; write includes read), at most `API_TOKEN_RATE_LIMIT` requests a minute (429 with `Retry-After` past it); or a browser's session from `POST /api/session`, whose writes need this site's `Origin` (or, without one, `Sec-Fetch-Site: same-origin`). Writes need `Content-Type: application/json`. Errors share one envelope (`error.fields` holds every field at fault when a whole body was checked); lists share one shape, paged by `page` or, where offered, by `cursor` (see the schemas).",
    ),
    components(schemas(ErrorResponse)),
    modifiers(&SessionCookie),
    tags(
        (name = "session", description = "Signing in and out"),
        (name = "store", description = "What clients can buy"),
        (name = "cart", description = "The client company's cart"),
        (name = "saved", description = "The client company's services saved for later"),
        (name = "orders", description = "The client company's orders"),
        (name = "portal", description = "Working with the agency: messages, deliverables, notifications"),
        (name = "staff", description = "The agency's work: orders, services and tasks, templates"),
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
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Routes anyone may call: the rest need a session.
const PUBLIC: [&str; 4] = [
    "/api/session",
    "/api/openapi.json",
    "/api/docs",
    "/api/webhooks/stripe",
];

/// Completes every operation with the errors the app's layers give it, whatever its handler
/// says: 400 for a bad parameter or body, 401 and the session requirement where one is needed,
/// 403 for a role or a write from elsewhere, 404 for a path id (or the store switched off), 413
/// for a body over the limit, 415 for a write that is not JSON, 429 for sign-in. What a
/// handler documents itself stays as it wrote it.
pub fn complete(doc: &mut OpenApi) {
    let error = Ref::from_schema_name("ErrorResponse");
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        let store = path.starts_with("/api/store/") || path.starts_with("/api/cart");
        let ops = [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let write = method != "get";
            let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let has_body = op.request_body.is_some();
            let mut add = |status: &str, description: &str| {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content("application/json", Content::new(Some(error.clone())))
                            .build()
                            .into()
                    });
            };
            if has_params || has_body {
                add(
                    "400",
                    "A parameter or the body is not valid (`field` names it)",
                );
            }
            if !public {
                add(
                    "401",
                    "Not signed in, or the API token is not valid (revoked, expired)",
                );
                let mut ways = vec![SecurityRequirement::new("session", Vec::<String>::new())];
                if let Ok(area) = crate::auth::tokens::Area::of_path(path) {
                    let scope =
                        area.map(|a| crate::auth::tokens::Scope { area: a, write }.to_string());
                    ways.push(SecurityRequirement::new("token", scope));
                    add(
                        "429",
                        "Too many requests with this API token (see `Retry-After`)",
                    );
                }
                op.security = Some(ways);
            }
            if !public || (write && path != "/api/webhooks/stripe") {
                add(
                    "403",
                    "Not allowed: the role may not, or a write from another site",
                );
            }
            if path.contains('{') || store {
                add("404", "No such record (or the store is switched off)");
            }
            if has_body || (write && path != "/api/webhooks/stripe") {
                add("413", "The body is over 2 MiB");
            }
            if matches!(method, "post" | "put" | "patch") && path != "/api/webhooks/stripe" {
                add(
                    "415",
                    "A write's body must be JSON (`Content-Type: application/json`)",
                );
            }
            if path == "/api/session" && method == "post" {
                add("429", "Too many failed sign-ins");
            }
        }
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
