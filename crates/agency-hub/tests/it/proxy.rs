//! Behind a reverse proxy: the client's address from a trusted proxy's headers, the peer's
//! own from anyone else.

use agency_hub::db::entities::{login_failure, user::Role};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::harness::{PASSWORD, TestApp, spawn_app_with};

/// Signs in through the API as if forwarded for `forwarded_for`; the answer's status.
async fn sign_in_via(app: &TestApp, password: &str, forwarded_for: &str) -> u16 {
    app.api(reqwest::Method::POST, "/api/session")
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"email": "client@acme.example", "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn failures_from(app: &TestApp, ip: &str) -> u64 {
    login_failure::Entity::find()
        .filter(login_failure::Column::Ip.eq(ip))
        .count(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn through_a_trusted_proxy_sign_in_is_limited_by_the_forwarded_client() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8")]).await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;

    // Five failures of one client behind the proxy (the left entry is forged and ignored: the
    // right-most untrusted hop is the client).
    for _ in 0..5 {
        let status = sign_in_via(&app, "wrong-password", "1.1.1.1, 203.0.113.5, 10.0.0.7").await;
        assert_eq!(status, 401);
    }
    assert_eq!(failures_from(&app, "203.0.113.5").await, 5);
    assert_eq!(failures_from(&app, "127.0.0.1").await, 0);
    assert_eq!(
        sign_in_via(&app, PASSWORD, "203.0.113.5").await,
        429,
        "the client who failed five times is locked out"
    );
    // Another client behind the same proxy is not.
    assert_eq!(sign_in_via(&app, PASSWORD, "198.51.100.20").await, 200);
}

#[tokio::test]
async fn a_forwarding_header_from_an_untrusted_peer_changes_nothing() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    app.create_user(Role::Client, "client@acme.example", Some("Acme Corp"))
        .await;

    // Each try claims another address; all come from 127.0.0.1, which is not a proxy of ours.
    for i in 0..5 {
        let status = sign_in_via(&app, "wrong-password", &format!("203.0.113.{i}")).await;
        assert_eq!(status, 401);
    }
    assert_eq!(failures_from(&app, "127.0.0.1").await, 5);
    assert_eq!(
        sign_in_via(&app, PASSWORD, "198.51.100.20").await,
        429,
        "a spoofed address does not escape the limit"
    );
}
