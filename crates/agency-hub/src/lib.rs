//! Agency Hub: a client portal and service store for agencies, served by one binary.
//!
//! [`App::build`] opens the database, migrates, seeds demo data when asked, binds the listener
//! and assembles the router; [`App::run`] serves it with the background worker until shutdown.
//! Tests start it on port 0.

pub mod activity;
pub mod agency;
pub mod analytics;
pub mod auth;
pub mod cache;
pub mod cart;
pub mod catalog;
pub mod clients;
pub mod config;
pub mod conversations;
pub mod db;
pub mod engagement;
pub mod error;
pub mod files;
pub mod ids;
pub mod integrations;
pub mod invoicing;
pub mod jobs;
pub mod metrics;
pub mod money;
pub mod notify;
pub mod orders;
pub mod paging;
pub mod promotions;
pub mod provisioning;
pub mod seed;
pub mod services;
pub mod stripe;
pub mod stripe_events;
pub mod subscriptions;
pub mod telemetry;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;

/// What every handler can reach: cloned by every extractor, so one shared allocation (a
/// clone is one reference count, not one per field).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub db: db::Db,
    pub config: Arc<Config>,
    /// How many SQL statements requests and jobs have run (tests use it to prove a page's
    /// query count; the views' writer and the catalogue's version check are not counted).
    pub queries: Arc<AtomicU64>,
    pub mailer: notify::Mailer,
    pub stripe: stripe::StripeClient,
    /// Payments go to the built-in emulator (no `STRIPE_SECRET_KEY`): pages say TEST MODE.
    pub test_mode: bool,
    /// The built-in emulator, kept running as long as the app.
    pub emulator: Option<Arc<stripe_emulator::Running>>,
    /// The kinds of background job the app runs (`/metrics` reports each one's queue).
    pub jobs: Arc<jobs::Registry>,
    /// Store and service views, written in batches.
    pub views: analytics::Views,
    /// The store's pages and services, kept while the catalogue is unchanged.
    pub store: catalog::StoreCache,
    /// Signed-in users read lately (good for a second: a deactivation also ends the user's
    /// sessions, which this instance forgets at once; see `auth::session_store`).
    pub users: Arc<cache::Fresh<ids::UserId, auth::CurrentUser>>,
    /// Clients' carts' units read lately (the badge on every page), good for a second.
    pub carts: Arc<cache::Fresh<ids::ClientId, Arc<cart::Units>>>,
    /// Stripe's events, handled in batches of what arrives together.
    pub stripe_events: stripe_events::Batcher,
    /// Where files' bytes are kept (`FILES_URL`).
    pub storage: files::Storage,
    /// Who was just notified, from every instance (the browsers' live updates).
    pub live: notify::live::Hub,
    /// Requests per API token and minute (`API_TOKEN_RATE_LIMIT`).
    pub token_limit: Arc<web::rate::RateLimit<i64>>,
    /// Messages sent through the API, per person and minute.
    pub message_limit: Arc<web::rate::RateLimit>,
    /// Files sent through the API, per person and minute.
    pub upload_limit: Arc<web::rate::RateLimit>,
    /// Each client company's billing currency, read at most a second ago.
    pub billing_currencies: Arc<cache::Fresh<ids::ClientId, money::Currency>>,
    /// Each service's suggestions (bought together, also viewed), read at most 30 s ago.
    pub related: Arc<cache::Fresh<ids::TemplateId, Arc<engagement::recommendations::Related>>>,
    /// Each client company's saved services (the store's marks), read at most a second ago.
    pub saved: Arc<cache::Fresh<ids::ClientId, Arc<std::collections::HashSet<ids::TemplateId>>>>,
    /// People's unread notifications (the navigation's badges), good for a second and while
    /// no notification is written ([`notify::inapp::writes`]).
    pub unread: Arc<cache::Fresh<ids::UserId, (u64, notify::inapp::Unread)>>,
    /// The experiments shaping the store, read at most a second ago.
    pub experiments: Arc<cache::Fresh<(), Arc<engagement::experiments::Active>>>,
    /// Exposures this instance recorded in the last hour, not to record them on every page.
    pub exposed: Arc<cache::Fresh<(i64, ids::UserId), ()>>,
}

impl AppState {
    /// The units in the client's cart: read at most a second ago, and not before this
    /// instance last changed the cart ([`AppState::cart_changed`]).
    pub async fn cart_units(
        &self,
        client_id: ids::ClientId,
    ) -> Result<Arc<cart::Units>, sea_orm::DbErr> {
        if let Some(units) = self.carts.get(&client_id) {
            return Ok(units);
        }
        let units = Arc::new(cart::units(&self.db, client_id).await?);
        self.carts.put(client_id, units.clone());
        Ok(units)
    }

    /// The currency the client company's people see prices in and pay: read at most a second
    /// ago, and not before this instance last changed it.
    pub async fn billing_currency(
        &self,
        client_id: ids::ClientId,
    ) -> error::AppResult<money::Currency> {
        if let Some(c) = self.billing_currencies.get(&client_id) {
            return Ok(c);
        }
        let c = clients::billing_currency(&self.db, client_id).await?;
        self.billing_currencies.put(client_id, c);
        Ok(c)
    }

    /// A person's unread notifications: read at most a second ago, and not before a
    /// notification was last written or heard of. Every page shows them; reading them each
    /// time cost the store's pages two thirds of their throughput.
    pub async fn unread(&self, user: ids::UserId) -> Result<notify::inapp::Unread, sea_orm::DbErr> {
        let writes = notify::inapp::writes();
        if let Some((at, unread)) = self.unread.get(&user)
            && at == writes
        {
            return Ok(unread);
        }
        let unread = notify::inapp::unread(&self.db, user).await?;
        self.unread.put(user, (writes, unread));
        Ok(unread)
    }

    /// The services the client company saved: read at most a second ago, and not before this
    /// instance last changed them ([`AppState::saved_changed`]).
    pub async fn saved_ids(
        &self,
        client_id: ids::ClientId,
    ) -> Result<Arc<std::collections::HashSet<ids::TemplateId>>, sea_orm::DbErr> {
        if let Some(ids) = self.saved.get(&client_id) {
            return Ok(ids);
        }
        let ids = Arc::new(engagement::wishlist::saved_ids(&self.db, client_id).await?);
        self.saved.put(client_id, ids.clone());
        Ok(ids)
    }

    /// A service's suggestions: counts that move with every payment and view, so read at most
    /// 30 seconds ago rather than per page.
    pub async fn related(
        &self,
        id: ids::TemplateId,
    ) -> Result<Arc<engagement::recommendations::Related>, sea_orm::DbErr> {
        if let Some(r) = self.related.get(&id) {
            return Ok(r);
        }
        let r = Arc::new(engagement::recommendations::related(&self.db, id).await?);
        self.related.put(id, r.clone());
        Ok(r)
    }

    /// How the store looks to a client user under the experiments (read at most a second
    /// ago); records their exposure to each running one, once an hour per instance.
    pub async fn store_look(
        &self,
        user_id: ids::UserId,
        client_id: ids::ClientId,
    ) -> Result<engagement::experiments::Look, sea_orm::DbErr> {
        let active = match self.experiments.get(&()) {
            Some(a) => a,
            None => {
                let a = Arc::new(engagement::experiments::Active::read(&self.db).await?);
                self.experiments.put((), a.clone());
                a
            }
        };
        let look = active.look(user_id);
        for (experiment, variant) in &look.exposures {
            if self.exposed.get(&(*experiment, user_id)).is_none() {
                self.exposed.put((*experiment, user_id), ());
                let event = analytics::Event::new(
                    analytics::Kind::Exposure,
                    Some(client_id),
                    Some(user_id),
                )
                .experiment(*experiment, *variant);
                self.views.record(event).await;
            }
        }
        Ok(look)
    }

    /// This instance started or stopped an experiment.
    pub fn experiments_changed(&self) {
        self.experiments.remove(&());
    }

    /// This instance changed the company's saved services.
    pub fn saved_changed(&self, client_id: ids::ClientId) {
        self.saved.remove(&client_id);
    }

    /// This instance changed the client's cart: the next page reads it again.
    pub fn cart_changed(&self, client_id: ids::ClientId) {
        self.carts.remove(&client_id);
    }
}

pub struct App {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    worker: Option<jobs::Worker>,
}

/// Every kind of job the app runs, with what it needs: one place, checked against the queue at
/// start.
fn job_registry(
    db: &db::Db,
    config: &Arc<Config>,
    mailer: &notify::Mailer,
    stripe: &stripe::StripeClient,
    storage: &files::Storage,
    webhooks: integrations::webhooks::Sender,
) -> jobs::Registry {
    let outbox = notify::Outbox {
        db: db.clone(),
        config: config.clone(),
        mailer: mailer.clone(),
        storage: storage.clone(),
    };
    jobs::Registry::new()
        .register::<notify::SendEmail>(outbox)
        .register::<stripe::catalog::SyncTemplate>((db.clone(), stripe.clone()))
        .register::<subscriptions::RefreshCard>((db.clone(), stripe.clone()))
        .register::<orders::lines::ReadLineAmounts>((db.clone(), stripe.clone()))
        .register::<subscriptions::MoveToPrice>((db.clone(), stripe.clone()))
        .register::<services::intake::Remind>(db.clone())
        .register::<conversations::Digest>(db.clone())
        .register::<integrations::webhooks::Deliver>(webhooks)
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, jobs::WorkerConfig::default()).await
    }

    pub async fn build_with(
        mut config: Config,
        worker_config: jobs::WorkerConfig,
    ) -> anyhow::Result<Self> {
        stripe::install_tls_provider();
        let listener = TcpListener::bind(config.bind).await.with_context(|| {
            format!(
                "binding {} (is another server on that port? set BIND)",
                config.bind
            )
        })?;
        let addr = listener.local_addr()?;
        metrics::handle();
        let mut db = db::connect(&config.database_url).await?;
        // The views' writer and the catalogue's version check share the pool but not the
        // count below, which is what requests and jobs run.
        let background = db.clone();
        let queries = Arc::new(AtomicU64::new(0));
        let counter = queries.clone();
        db.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::Relaxed);
            if info.elapsed > Duration::from_millis(500) {
                tracing::warn!(took_ms = info.elapsed.as_millis() as u64, sql = %info.statement.sql, "slow query");
            }
        });
        db::migrate(&db).await?;
        let installation = db::installation_id(&db).await?;
        // Without a key, payments go to the emulator inside this process; it delivers its
        // signed webhooks to this app with a secret made up now.
        let (stripe_client, emulator) = match config.stripe.secret_key.clone() {
            Some(key) => (
                stripe::StripeClient::new(&config.stripe, &key, &installation)?,
                None,
            ),
            None => {
                let secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
                let running = stripe_emulator::Emulator::start(stripe_emulator::Config {
                    webhook_endpoints: vec![stripe_emulator::WebhookEndpointConfig {
                        url: format!("http://{addr}/api/webhooks/stripe"),
                        secret: secret.clone(),
                    }],
                    ..stripe_emulator::Config::default()
                })
                .await
                .context("starting the built-in Stripe emulator")?;
                config.stripe.webhook_secrets.push(secret);
                let client =
                    stripe::StripeClient::new(&config.stripe, "sk_test_emulator", &installation)?
                        .with_base(running.base_url());
                tracing::info!(url = %running.base_url(), "TEST MODE: payments go to the built-in Stripe emulator");
                (client, Some(Arc::new(running)))
            }
        };
        if config.demo_data && seed::seed_demo(&db).await? {
            tracing::info!("the database was empty: demo data seeded");
        }
        let mailer = notify::Mailer::from_config(&config)?;
        let storage = files::Storage::open(&config.files.store)?;
        let live =
            notify::live::Hub::start(background.clone(), config.database_url.as_str()).await?;
        let config = Arc::new(config);
        let registry = Arc::new(job_registry(
            &db,
            &config,
            &mailer,
            &stripe_client,
            &storage,
            // Webhook retries scale with the worker's own (a minute first, in production).
            integrations::webhooks::Sender::new(
                db.clone(),
                config.app_url.clone(),
                worker_config.backoff_base * 12,
            )?,
        ));
        registry.check_queue(&db).await?;
        let token_rate = config.api_token_rate_limit;
        let state = AppState(Arc::new(Shared {
            db: db.clone(),
            config,
            queries,
            mailer,
            stripe: stripe_client,
            test_mode: emulator.is_some(),
            emulator,
            jobs: registry.clone(),
            views: analytics::Views::start(background.clone()),
            store: catalog::StoreCache::start(db.clone(), background).await,
            users: Arc::new(cache::Fresh::new(Duration::from_secs(1), 100_000)),
            carts: Arc::new(cache::Fresh::new(Duration::from_secs(1), 100_000)),
            stripe_events: stripe_events::Batcher::start(db.clone()),
            storage,
            live,
            token_limit: Arc::new(web::rate::RateLimit::new(
                token_rate,
                Duration::from_secs(60),
            )),
            message_limit: Arc::new(web::rate::RateLimit::new(
                web::api::portal::MESSAGES_PER_MINUTE,
                Duration::from_secs(60),
            )),
            upload_limit: Arc::new(web::rate::RateLimit::new(
                web::api::portal::FILES_PER_MINUTE,
                Duration::from_secs(60),
            )),
            billing_currencies: Arc::new(cache::Fresh::new(Duration::from_secs(1), 100_000)),
            saved: Arc::new(cache::Fresh::new(Duration::from_secs(1), 100_000)),
            unread: Arc::new(cache::Fresh::new(Duration::from_secs(1), 100_000)),
            related: Arc::new(cache::Fresh::new(Duration::from_secs(30), 10_000)),
            experiments: Arc::new(cache::Fresh::new(Duration::from_secs(1), 1)),
            exposed: Arc::new(cache::Fresh::new(Duration::from_secs(3600), 100_000)),
        }));
        let worker = jobs::Worker::new(db, registry, worker_config);
        let router = web::router::build(state.clone());
        Ok(Self {
            listener,
            router,
            state,
            worker: Some(worker),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serve without the job worker and housekeeping: the database changes only through
    /// requests (tests that look at the queue, or count a page's queries).
    pub fn without_background_work(mut self) -> Self {
        self.worker = None;
        self
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, running the job worker and housekeeping alongside.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let background = self.worker.map(|w| {
            (
                tokio::spawn(w.run(stop_rx.clone())),
                tokio::spawn(housekeeping(self.state.db.clone(), stop_rx.clone())),
                tokio::spawn(engagement::recommendations::keep_counting_views(
                    self.state.db.clone(),
                    stop_rx,
                )),
            )
        });
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop_tx.send(true);
        if let Some((worker, housekeeping, views)) = background {
            let _ = tokio::join!(worker, housekeeping, views);
        }
        self.state.views.flush().await;
        result.context("serving HTTP")
    }
}

/// Deletes what has expired: sessions, old sign-in failures, finished jobs, abandoned carts.
async fn housekeeping(db: db::Db, mut stop: watch::Receiver<bool>) {
    loop {
        let purged = async {
            let sessions = auth::session_store::purge_expired(&db).await?;
            let failures = auth::purge_login_failures(&db).await?;
            let jobs = jobs::purge_done(&db, Duration::from_secs(7 * 24 * 3600)).await?;
            let carts = cart::purge_expired(&db).await?;
            Ok::<_, sea_orm::DbErr>([sessions, failures, jobs, carts])
        }
        .await;
        match purged {
            Ok([sessions, login_failures, jobs, carts])
                if sessions + login_failures + jobs + carts > 0 =>
            {
                tracing::info!(
                    sessions,
                    login_failures,
                    jobs,
                    carts,
                    "housekeeping purged expired rows"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "housekeeping failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = stop.changed() => return,
        }
    }
}
