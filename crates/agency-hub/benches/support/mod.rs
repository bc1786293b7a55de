//! What the benchmarks share: a database of their own (SQLite in a temporary folder, or a new
//! PostgreSQL database when `BENCH_DATABASE_URL` names a server), the app serving on it, and a
//! purchasable template.

// Each benchmark uses part of this.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agency_hub::auth::NewUser;
use agency_hub::catalog::{self, StoreForm, TaskRow, TemplateForm};
use agency_hub::db::Db;
use agency_hub::db::entities::order::{self, OrderStatus, PaymentStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{order_item, service_template};
use agency_hub::ids::UserId;
use agency_hub::ids::{ClientId, TemplateId};
use agency_hub::money::Currency;
use agency_hub::{App, Config};
use chrono::{Duration as Days, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{ActiveValue::Set, ConnectionTrait, Database, EntityTrait};

pub const PASSWORD: &str = "a-good-password";
/// The webhook's signing secret, and how many senders post events at once.
pub const SECRET: &str = "whsec_bench";
pub const SENDERS: usize = 16;
/// Requests timed per page.
const SAMPLES: usize = 60;

pub struct BenchApp {
    pub db: Db,
    pub state: agency_hub::AppState,
    pub base: String,
    pub backend: &'static str,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl BenchApp {
    /// The app on a database of its own; `work_in_background`: with its job worker running
    /// (else the jobs requests queue wait).
    pub async fn start(webhook_secret: &str, work_in_background: bool) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (db_url, postgres) = match std::env::var("BENCH_DATABASE_URL") {
            Ok(admin) => {
                let name = format!("ah_bench_{}", uuid::Uuid::new_v4().simple());
                let conn = Database::connect(&admin).await?;
                conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                let mut url = url::Url::parse(&admin)?;
                url.set_path(&format!("/{name}"));
                (url.to_string(), Some((admin, name)))
            }
            Err(_) => match std::env::var("BENCH_SQLITE_FILE") {
                // Kept after the run, to look into.
                Ok(file) => (format!("sqlite://{file}"), None),
                Err(_) => (format!("sqlite://{}/bench.db", dir.path().display()), None),
            },
        };
        let vars: HashMap<&str, String> = [
            ("DATABASE_URL", db_url),
            ("BIND", "127.0.0.1:0".into()),
            ("DEMO_DATA", "false".into()),
            ("STRIPE_WEBHOOK_SECRET", webhook_secret.into()),
        ]
        .into();
        let config =
            Config::from_lookup(|k| vars.get(k).cloned()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut app = App::build(config).await?;
        if !work_in_background {
            app = app.without_background_work();
        }
        let state = app.state().clone();
        let base = format!("http://{}", app.local_addr());
        tokio::spawn(app.run(std::future::pending()));
        Ok(Self {
            db: state.db.clone(),
            state,
            base,
            backend: if postgres.is_some() {
                "PostgreSQL"
            } else {
                "SQLite"
            },
            postgres,
            _dir: dir,
        })
    }

    /// A purchasable template at $100 with `tasks` tasks.
    pub async fn template(&self, tasks: usize) -> anyhow::Result<service_template::Model> {
        self.template_billed(tasks, false).await
    }

    /// A purchasable template at $100 with `tasks` tasks, sold once or `monthly` (then its
    /// tasks are made each period).
    pub async fn template_billed(
        &self,
        tasks: usize,
        monthly: bool,
    ) -> anyhow::Result<service_template::Model> {
        let form = TemplateForm {
            name: "Bench service".into(),
            category: "Bench".into(),
            tasks: (1..=tasks)
                .map(|i| TaskRow {
                    name: format!("Task {i}"),
                    due: i.to_string(),
                    visible: true,
                    each_period: monthly,
                    ..Default::default()
                })
                .collect(),
            store: StoreForm {
                purchasable: true,
                price: "100".into(),
                currency: "USD".into(),
                billing: if monthly { "recurring" } else { "one_time" }.into(),
                interval: "month".into(),
                interval_count: "1".into(),
                trial_days: "0".into(),
                ..Default::default()
            },
            ..TemplateForm::blank()
        };
        Ok(catalog::create(
            &self.db,
            &agency_hub::activity::Actor::System,
            form.validate().map_err(|e| anyhow::anyhow!("{:?}", e.0))?,
        )
        .await?)
    }

    /// Drops the PostgreSQL database (SQLite's folder goes with `self`).
    pub async fn finish(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.postgres {
            drop(self.db);
            drop(self.state);
            let conn = Database::connect(&admin).await?;
            conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
        }
        Ok(())
    }
}

/// Orders `from..to` (numbered B-…), 15 minutes apart up to now, across `clients`: half paid,
/// the rest cancelled, refunded or pending, each with one item of `template`.
pub async fn add_orders(
    db: &Db,
    from: usize,
    to: usize,
    clients: &[ClientId],
    template: TemplateId,
) -> anyhow::Result<()> {
    let now = Utc::now();
    let statuses = [
        (OrderStatus::Completed, PaymentStatus::Succeeded),
        (OrderStatus::Completed, PaymentStatus::Succeeded),
        (OrderStatus::Completed, PaymentStatus::Succeeded),
        (OrderStatus::Cancelled, PaymentStatus::Cancelled),
        (OrderStatus::Refunded, PaymentStatus::Refunded),
        (OrderStatus::Pending, PaymentStatus::Pending),
    ];
    for chunk_start in (from..to).step_by(1000) {
        let chunk_end = (chunk_start + 1000).min(to);
        let txn = db.write().await?;
        let orders: Vec<order::ActiveModel> = (chunk_start..chunk_end)
            .map(|i| {
                // Older first, so the newest orders are the last added.
                let at = now - Days::minutes(((to - i) as i64) * 15);
                let (status, payment) = statuses[i % statuses.len()];
                let paid = matches!(status, OrderStatus::Completed | OrderStatus::Refunded);
                order::ActiveModel {
                    order_number: Set(format!("B-{i:07}")),
                    client_id: Set(clients[i % clients.len()]),
                    user_id: Set(None),
                    status: Set(status),
                    payment_status: Set(payment),
                    currency: Set(Currency::USD),
                    subtotal_minor: Set(10_000),
                    total_minor: Set(10_000),
                    refunded_minor: Set(if status == OrderStatus::Refunded {
                        10_000
                    } else {
                        0
                    }),
                    paid_at: Set(paid.then_some(at)),
                    notes: Set(String::new()),
                    created_at: Set(at),
                    updated_at: Set(at),
                    ..Default::default()
                }
            })
            .collect();
        let first = order::Entity::insert_many(orders)
            .exec_with_returning_keys(&txn)
            .await?;
        let items: Vec<order_item::ActiveModel> = first
            .into_iter()
            .map(|id| order_item::ActiveModel {
                order_id: Set(id),
                template_id: Set(template),
                service_name: Set("Bench service".into()),
                unit_price_minor: Set(10_000),
                quantity: Set(1),
                total_minor: Set(10_000),
                ..Default::default()
            })
            .collect();
        order_item::Entity::insert_many(items)
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
    }
    Ok(())
}

/// A buyer (who gets the order confirmation) and an admin (told of each new service), as in a
/// real store; returns the buyer.
pub async fn a_buyer_and_an_admin(db: &Db, client: ClientId) -> anyhow::Result<UserId> {
    let mut people = Vec::new();
    for (email, role, client_id) in [
        ("buyer@bench.test", Role::Client, Some(client)),
        ("admin@bench.test", Role::Admin, None),
    ] {
        let new = NewUser {
            email: agency_hub::auth::Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?,
            name: email.into(),
            role,
            client_id,
            password_hash: String::new(),
        };
        people.push(agency_hub::auth::insert_user(db, new).await?);
    }
    Ok(people[0].id)
}

/// A browser signed in as `email` (password [`PASSWORD`]).
pub async fn signed_in(base: &str, email: &str) -> anyhow::Result<reqwest::Client> {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = http
        .get(format!("{base}/login"))
        .send()
        .await?
        .text()
        .await?;
    let marker = "name=\"_csrf\" value=\"";
    let start = login
        .find(marker)
        .ok_or_else(|| anyhow::anyhow!("no CSRF token"))?
        + marker.len();
    let token = &login[start..start + login[start..].find('"').unwrap_or(0)];
    let res = http
        .post(format!("{base}/login"))
        .form(&[("_csrf", token), ("email", email), ("password", PASSWORD)])
        .send()
        .await?;
    anyhow::ensure!(
        res.status() == 303,
        "signing in as {email}: {}",
        res.status()
    );
    Ok(http)
}

/// Median and p95 of GET `path`, after a few warm-up requests.
pub async fn time(http: &reqwest::Client, url: &str) -> anyhow::Result<(Duration, Duration)> {
    let mut took = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES + 5 {
        let t = Instant::now();
        let res = http.get(url).send().await?;
        anyhow::ensure!(res.status() == 200, "GET {url}: {}", res.status());
        res.bytes().await?;
        if i >= 5 {
            took.push(t.elapsed());
        }
    }
    took.sort();
    Ok((took[took.len() / 2], took[took.len() * 95 / 100]))
}

/// `n` client companies ("Client 00"…), their ids.
pub async fn clients(db: &Db, n: usize) -> anyhow::Result<Vec<ClientId>> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(
            agency_hub::clients::find_or_create(db, &format!("Client {i:02}"))
                .await?
                .id,
        );
    }
    Ok(ids)
}

/// Stripe's signature of `body` with [`SECRET`], now.
pub fn sign(body: &str) -> String {
    let t = Utc::now().timestamp();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts each signed event to `url` from [`SENDERS`] concurrent senders, each answered 200;
/// returns the latency of each.
pub async fn post_signed(
    http: &reqwest::Client,
    url: &str,
    bodies: Vec<String>,
) -> anyhow::Result<Vec<Duration>> {
    let (http, url) = (http.clone(), url.to_string());
    by_senders(bodies, move |body| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let res = http
                .post(&url)
                .header("content-type", "application/json")
                .header("stripe-signature", sign(&body))
                .body(body)
                .send()
                .await?;
            let status = res.status();
            anyhow::ensure!(status == 200, "{status}: {}", res.text().await?);
            Ok(())
        }
    })
    .await
}

/// Runs `each` on every item from [`SENDERS`] concurrent senders (each going through its share
/// in order); returns the time each took.
pub async fn by_senders<T, F, Fut>(items: Vec<T>, each: F) -> anyhow::Result<Vec<Duration>>
where
    T: Clone + Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let mut handles = Vec::new();
    for chunk in items.chunks(items.len().div_ceil(SENDERS).max(1)) {
        let (each, chunk) = (each.clone(), chunk.to_vec());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(chunk.len());
            for item in chunk {
                let t = Instant::now();
                each(item).await?;
                latencies.push(t.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await??);
    }
    Ok(latencies)
}

/// The `p`-th quantile of sorted latencies.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}
