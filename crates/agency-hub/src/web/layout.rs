//! What every page's layout needs: the user, navigation by role, the CSRF token and flash
//! messages. Pages take a [`PageCtx`] and hand it to their template as `ctx`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::db::entities::user::Role;
use crate::error::AppError;
use crate::notify::inapp::Unread;
use crate::web::csrf;

const FLASH_KEY: &str = "flash";

/// What a flash message tells: it names its CSS class (`flash-success`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlashKind {
    Success,
    Error,
    Info,
}

impl std::fmt::Display for FlashKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Info => "info",
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

/// Shows `message` on the next page this session opens.
pub async fn flash(
    session: &Session,
    kind: FlashKind,
    message: impl Into<String>,
) -> Result<(), AppError> {
    let mut all: Vec<Flash> = session
        .get(FLASH_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    all.push(Flash {
        kind,
        message: message.into(),
    });
    Ok(session.insert(FLASH_KEY, all).await?)
}

pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
    /// A count shown beside the label (the cart's units on "Cart", unread notifications…).
    pub badge: Option<i64>,
    /// What the count counts, for screen readers ("in your cart", "unread").
    pub badge_label: &'static str,
}

pub struct PageCtx {
    pub agency_name: String,
    pub user: Option<CurrentUser>,
    pub csrf: String,
    pub flashes: Vec<Flash>,
    pub nav: Vec<NavItem>,
    pub css_href: String,
    /// The live updates' script.
    pub live_href: String,
    /// The enhancements' script (the phone's menu, …).
    pub app_js_href: String,
    /// Demo accounts exist: the sign-in page shows them.
    pub demo: bool,
    /// Payments go to the built-in emulator.
    pub test_mode: bool,
    /// The signed-in person's unread notifications.
    pub unread: Unread,
    /// A client's units in the cart (none for staff, or without the store).
    pub cart_count: Option<i64>,
    /// The largest file one may upload (the forms say so).
    pub max_file_bytes: u64,
}

impl PageCtx {
    /// The page showed (and read) these notifications: the navigation's counts drop by them.
    pub fn seen(&mut self, read: Unread) {
        if read.all == 0 {
            return;
        }
        self.unread.all -= read.all;
        self.unread.messages -= read.messages;
        for item in &mut self.nav {
            item.badge = match item.href {
                "/notifications" => Some(self.unread.all),
                "/services" | "/my/services" => Some(self.unread.messages),
                _ => item.badge,
            };
        }
    }
}

/// The navigation for a role: (path, label).
fn nav_for(role: Role, store: bool) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Admin => &[
            ("/dashboard", "Dashboard"),
            ("/notifications", "Notifications"),
            ("/services", "Services"),
            ("/tasks", "My tasks"),
            ("/admin/orders", "Orders"),
            ("/admin/subscriptions", "Subscriptions"),
            ("/admin/metrics", "Metrics"),
            ("/admin/clients", "Clients"),
            ("/admin/users", "Users"),
            ("/admin/templates", "Templates"),
            ("/admin/promotions", "Promotions"),
            ("/admin/reviews", "Reviews"),
            ("/admin/experiments", "Experiments"),
            ("/admin/activity", "Activity"),
            ("/admin/emails", "Emails"),
            ("/admin/jobs", "Jobs"),
            ("/admin/integrations", "Integrations"),
            ("/admin/settings", "Settings"),
        ],
        Role::Manager => &[
            ("/dashboard", "Dashboard"),
            ("/notifications", "Notifications"),
            ("/services", "Services"),
            ("/tasks", "My tasks"),
            ("/admin/orders", "Orders"),
            ("/admin/subscriptions", "Subscriptions"),
            ("/admin/reviews", "Reviews"),
        ],
        Role::Client if store => &[
            ("/dashboard", "Dashboard"),
            ("/notifications", "Notifications"),
            ("/store", "Store"),
            ("/store/cart", "Cart"),
            ("/my/services", "My services"),
            ("/store/orders", "Orders"),
            ("/store/subscriptions", "Subscriptions"),
        ],
        Role::Client => &[
            ("/dashboard", "Dashboard"),
            ("/notifications", "Notifications"),
            ("/my/services", "My services"),
        ],
    }
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, msg)| {
                AppError::internal(anyhow::anyhow!("session layer: {msg}")).into_response()
            })?;
        let user = crate::web::auth::load_user(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let csrf = csrf::token(&session)
            .await
            .map_err(IntoResponse::into_response)?;
        // Taking the flashes changes the session (a write when the response goes): only
        // when there are some, so a plain page view writes nothing.
        let flashes: Vec<Flash> = match session.get(FLASH_KEY).await.ok().flatten() {
            Some(flashes) => {
                let _ = session.remove::<Vec<Flash>>(FLASH_KEY).await;
                flashes
            }
            None => Vec::new(),
        };
        let store = state.config.store_enabled;
        let cart_count = match &user {
            Some(CurrentUser {
                role: Role::Client,
                client_id: Some(client_id),
                ..
            }) if store => Some(
                state
                    .cart_units(*client_id)
                    .await
                    .map_err(|e| AppError::from(e).into_response())?
                    .total(),
            ),
            _ => None,
        };
        let unread = match &user {
            Some(u) => state
                .unread(u.id)
                .await
                .map_err(|e| AppError::from(e).into_response())?,
            None => Unread::default(),
        };
        let path = parts.uri.path();
        let under = |href: &str| path == href || path.starts_with(&format!("{href}/"));
        let nav = user
            .as_ref()
            .map(|u| {
                let items = nav_for(u.role, store);
                // The most specific entry is the active one (/store/orders, not /store).
                let active = items
                    .iter()
                    .filter(|(href, _)| under(href))
                    .map(|(href, _)| *href)
                    .max_by_key(|href| href.len());
                items
                    .iter()
                    .map(|&(href, label)| {
                        let (badge, badge_label) = match href {
                            "/store/cart" => (cart_count, "in your cart"),
                            "/notifications" => (Some(unread.all), "unread"),
                            "/services" | "/my/services" => {
                                (Some(unread.messages), "unread messages")
                            }
                            _ => (None, ""),
                        };
                        NavItem {
                            href,
                            label,
                            active: Some(href) == active,
                            badge,
                            badge_label,
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            agency_name: state.config.agency_name.clone(),
            user,
            csrf,
            flashes,
            nav,
            css_href: super::assets::href("app.css"),
            live_href: super::assets::href("live.js"),
            app_js_href: super::assets::href("app.js"),
            demo: state.config.demo_data,
            test_mode: state.test_mode,
            unread,
            cart_count,
            max_file_bytes: state.config.files.max_file_bytes,
        })
    }
}
