//! Static files, compiled into the binary and served with long cache lifetimes: their URLs
//! carry a hash of their content, so a new build is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

macro_rules! svg {
    ($name:literal) => {
        (
            concat!("img/", $name, ".svg"),
            "image/svg+xml",
            include_bytes!(concat!("../../static/img/", $name, ".svg")),
        )
    };
}

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/app.css"),
    ),
    (
        "receipt.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/receipt.css"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/live.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/app.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../static/favicon.svg"),
    ),
    // The app's icons on a phone's home screen (web app manifest): the favicon drawn at the
    // sizes asked for, and one with room around the mark for the shapes a phone cuts.
    (
        "icons/icon-192.png",
        "image/png",
        include_bytes!("../../static/icons/icon-192.png"),
    ),
    (
        "icons/icon-512.png",
        "image/png",
        include_bytes!("../../static/icons/icon-512.png"),
    ),
    (
        "icons/maskable-512.png",
        "image/png",
        include_bytes!("../../static/icons/maskable-512.png"),
    ),
    (
        "icons/apple-touch-icon.png",
        "image/png",
        include_bytes!("../../static/icons/apple-touch-icon.png"),
    ),
    // Pictures of the demo store.
    svg!("logo-design"),
    svg!("brand-identity"),
    svg!("launch-kit"),
    svg!("website-mockups"),
    svg!("landing-page"),
    svg!("wordpress-website"),
    svg!("website-maintenance"),
    svg!("seo-audit"),
    svg!("social-media"),
];

/// FNV-1a of each file, as the `?v=` of its URL.
static VERSIONS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, bytes)| {
            let hash = bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
            });
            format!("{:08x}", hash as u32)
        })
        .collect()
});

/// The versioned URL of a static file.
pub fn href(name: &str) -> String {
    match FILES.iter().position(|(n, _, _)| *n == name) {
        Some(i) => format!("/static/{name}?v={}", VERSIONS[i]),
        None => format!("/static/{name}"),
    }
}

pub async fn serve(Path(name): Path<String>) -> Response {
    serve_file(&name)
}

/// `/favicon.svg`, and `/favicon.ico` for the browsers and pages that ask there (an SVG: every
/// browser that asks reads the type, not the name).
pub async fn favicon() -> Response {
    serve_file("favicon.svg")
}

/// `/static/icons/{name}`.
pub async fn serve_icon(Path(name): Path<String>) -> Response {
    serve_file(&format!("icons/{name}"))
}

/// The theme colour: the browser's bar and the home screen's splash (the brand's blue).
pub const THEME_COLOUR: &str = "#3b5bdb";

/// `/manifest.webmanifest`: what makes the portal installable on a phone's home screen, named
/// after the agency, opening at the dashboard.
pub async fn manifest(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
) -> Response {
    let name = &state.config.agency_name;
    let body = serde_json::json!({
        "name": name,
        "short_name": name.chars().take(12).collect::<String>(),
        "description": format!("{name}'s client portal: services, orders and messages."),
        "id": "/",
        "start_url": "/dashboard",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": "#f6f7f9",
        "icons": [
            {"src": "/favicon.svg", "type": "image/svg+xml", "sizes": "any"},
            {"src": "/static/icons/icon-192.png", "type": "image/png", "sizes": "192x192"},
            {"src": "/static/icons/icon-512.png", "type": "image/png", "sizes": "512x512"},
            {"src": "/static/icons/maskable-512.png", "type": "image/png", "sizes": "512x512", "purpose": "maskable"},
        ],
    });
    (
        [
            (header::CONTENT_TYPE, "application/manifest+json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `/static/img/{name}`: the router's path segments stop at slashes.
pub async fn serve_image(Path(name): Path<String>) -> Response {
    serve_file(&format!("img/{name}"))
}

fn serve_file(name: &str) -> Response {
    // The stylesheet's links carry its hash; images are linked by name from the database.
    let cache = if name.starts_with("img/") || name.starts_with("icons/") {
        "public, max-age=86400"
    } else {
        "public, max-age=31536000, immutable"
    };
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, bytes)) => (
            [
                (header::CONTENT_TYPE, *mime),
                (header::CACHE_CONTROL, cache),
            ],
            *bytes,
        )
            .into_response(),
        None => AppError::not_found().into_response(),
    }
}
