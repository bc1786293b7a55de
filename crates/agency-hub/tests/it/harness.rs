//! The test harness: a fresh database per test (a temporary SQLite file, or on PostgreSQL a
//! database created for the test and dropped after, when `TEST_DATABASE_URL` is set), and the
//! real app on 127.0.0.1:0 with an HTTP client that keeps cookies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agency_hub::auth::{self, Email, NewUser};
use agency_hub::clients;
use agency_hub::db::entities::user::{self, Role};
use agency_hub::jobs::WorkerConfig;
use agency_hub::{App, Config, db};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use sea_orm::{ConnectionTrait, Database};
use std::time::Duration;

/// A database of its own for one test, gone when dropped.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) => {
                let name = format!("ah_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url)
                    .await
                    .expect("connecting to TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("creating a test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    _dir: None,
                    pg: Some((admin_url, name)),
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                Self {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
        }
    }

    /// A migrated connection of its own.
    pub async fn connect(&self) -> db::Db {
        let conn = db::connect(&agency_hub::config::DatabaseUrl::parse(&self.url).unwrap())
            .await
            .expect("connecting to the test database");
        db::migrate(&conn)
            .await
            .expect("migrating the test database");
        conn
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.pg.take() else {
            return;
        };
        // Drop runs outside async code: a thread with its own runtime drops the database.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(admin) = Database::connect(&admin_url).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The built-in Stripe emulator's base URL.
    pub emulator: String,
    pub queries: Arc<AtomicU64>,
    pub client: reqwest::Client,
    /// The app's own origin, which its API writes must carry (as a browser's would).
    pub origin: String,
    pub db: db::Db,
    /// The app's state: its views (`flush` before counting them), its caches (the store's:
    /// `changed` after writing templates straight to the database, as the app's own pages do,
    /// to see the change at once).
    pub state: agency_hub::AppState,
    /// Dropped last: the database outlives the app's use of it.
    _test_db: TestDb,
}

/// The configuration a test app runs with; `extra` overrides or adds variables.
pub fn test_config(db_url: &str, extra: &[(&str, &str)]) -> Config {
    let files_dir = std::env::temp_dir()
        .join(format!(
            "agency-hub-test-files-{}",
            uuid::Uuid::new_v4().simple()
        ))
        .display()
        .to_string();
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", db_url),
        ("BIND", "127.0.0.1:0"),
        ("APP_URL", "http://127.0.0.1:3001"),
        ("DEMO_DATA", "false"),
        // Tests sign their own events with it (the built-in emulator's secret is added to it).
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        // Files go to a folder of this app's own (services' ids repeat across test databases).
        ("FILES_URL", &files_dir),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("a valid test configuration")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    start(extra, true).await
}

/// The app whose APP_URL is its real address, so redirects from Stripe's page come back to
/// it (browser journeys).
pub async fn spawn_app_at_its_own_url() -> TestApp {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bind = format!("127.0.0.1:{port}");
    let url = format!("http://127.0.0.1:{port}");
    start(&[("BIND", &bind), ("APP_URL", &url)], true).await
}

/// The app without its job worker and housekeeping: the database changes only through
/// requests.
pub async fn spawn_app_without_background_work() -> TestApp {
    start(&[], false).await
}

/// Jobs retry within milliseconds in tests.
pub fn fast_worker() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(20),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        lease: Duration::from_secs(60),
    }
}

/// The app with its own job timings.
pub async fn spawn_app_with_worker(extra: &[(&str, &str)], worker: WorkerConfig) -> TestApp {
    start_with(extra, Some(worker)).await
}

async fn start(extra: &[(&str, &str)], worker: bool) -> TestApp {
    start_with(extra, worker.then(fast_worker)).await
}

async fn start_with(extra: &[(&str, &str)], worker: Option<WorkerConfig>) -> TestApp {
    // TEST_LOG=1 shows the app's logs (with RUST_LOG as usual).
    if std::env::var("TEST_LOG").is_ok() {
        agency_hub::telemetry::init(agency_hub::config::LogFormat::Pretty);
    }
    let test_db = TestDb::new().await;
    let mut app = App::build_with(
        test_config(&test_db.url, extra),
        worker.clone().unwrap_or_else(fast_worker),
    )
    .await
    .expect("building the app");
    let worker = worker.is_some();
    if !worker {
        app = app.without_background_work();
    }
    let addr = app.local_addr();
    let origin = app.state().config.app_origin();
    let db = app.state().db.clone();
    let state = app.state().clone();
    let queries = app.state().queries.clone();
    let emulator = app
        .state()
        .emulator
        .as_ref()
        .map(|e| e.base_url().to_string())
        .unwrap_or_default();
    tokio::spawn(app.run(std::future::pending()));
    TestApp {
        addr,
        emulator,
        queries,
        client: browser(),
        origin,
        db,
        state,
        _test_db: test_db,
    }
}

/// A client like a browser: its own cookie jar, redirects not followed (tests assert them).
pub fn browser() -> reqwest::Client {
    agency_hub::stripe::install_tls_provider();
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub const PASSWORD: &str = "a-good-password";
pub const WEBHOOK_SECRET: &str = "whsec_tests";

impl TestApp {
    /// The database this app uses (for a second instance on it).
    pub fn database_url(&self) -> String {
        self._test_db.url.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// Starts a second browser (its own cookies) for the next requests; returns the first.
    pub fn switch_browser(&mut self, to: reqwest::Client) -> reqwest::Client {
        std::mem::replace(&mut self.client, to)
    }

    /// The page's HTML, after checking it answered 200.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().await.unwrap()
    }

    /// How many SQL statements a GET of `path` runs from cold caches (sessions, users, carts, unread counts…; the
    /// app must run no background work; the batched writes of views and the catalogue's
    /// version checks are not counted).
    pub async fn queries_for(&self, path: &str) -> u64 {
        agency_hub::auth::session_store::forget_all();
        self.state.users.clear();
        self.state.carts.clear();
        self.state.billing_currencies.clear();
        self.state.saved.clear();
        self.state.related.clear();
        self.state.experiments.clear();
        self.state.unread.clear();
        let before = self.queries.load(Ordering::SeqCst);
        let res = self.get(path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        res.bytes().await.unwrap();
        self.queries.load(Ordering::SeqCst) - before
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.api(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// An API request as our own pages' scripts send it: with the app's `Origin`.
    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("origin", &self.origin)
    }

    /// Posts a form as the page's own form would, with the session's CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf_token().await;
        let mut all: Vec<(&str, &str)> = vec![("_csrf", &token)];
        all.extend_from_slice(fields);
        self.client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .unwrap()
    }

    /// Posts a form without any CSRF token, as another site could.
    pub async fn post_form_without_token(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token the sign-in page (or any page) carries for this client's session.
    pub async fn csrf_token(&self) -> String {
        let html = self.get("/login").await.text().await.unwrap();
        let html = if html.contains("name=\"_csrf\"") {
            html
        } else {
            // Signed in: /login redirects; the dashboard has the sign-out form.
            self.get("/dashboard").await.text().await.unwrap()
        };
        extract_csrf(&html).expect("a page with a CSRF token")
    }

    pub async fn create_user(&self, role: Role, email: &str, company: Option<&str>) -> user::Model {
        let client_id = match company {
            Some(c) => Some(clients::find_or_create(&self.db, c).await.unwrap().id),
            None => None,
        };
        auth::insert_user(
            &self.db,
            NewUser {
                email: Email::parse(email).unwrap(),
                name: format!("{} user", role.label()),
                role,
                client_id,
                password_hash: auth::password::hash(PASSWORD.into()).await.unwrap(),
            },
        )
        .await
        .unwrap()
    }

    /// Signs in through the sign-in form.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form("/login", &[("email", email), ("password", password)])
            .await
    }

    /// A new user of `role`, signed in on this app's client.
    pub async fn signed_in_as(&self, role: Role) -> user::Model {
        let (email, company) = match role {
            Role::Admin => ("admin@example.com", None),
            Role::Manager => ("manager@example.com", None),
            Role::Client => ("client@acme.example", Some("Acme Corp")),
        };
        let user = self.create_user(role, email, company).await;
        let res = self.sign_in(email, PASSWORD).await;
        assert_eq!(res.status(), 303, "signing in as {email}");
        user
    }
}

pub fn extract_csrf(html: &str) -> Option<String> {
    let start = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

pub fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

pub fn content_type(res: &reqwest::Response) -> String {
    res.headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}
