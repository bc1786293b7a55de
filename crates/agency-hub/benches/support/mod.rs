//! What the benchmarks share: a database of their own (SQLite in a temporary folder, or a new
//! PostgreSQL database when `BENCH_DATABASE_URL` names a server), the app serving on it, and a
//! purchasable template.

use std::collections::HashMap;

use agency_hub::catalog::{self, StoreForm, TaskRow, TemplateForm};
use agency_hub::db::entities::service_template;
use agency_hub::{App, Config};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

pub struct BenchApp {
    pub db: DatabaseConnection,
    pub state: agency_hub::AppState,
    pub base: String,
    pub backend: &'static str,
    postgres: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl BenchApp {
    pub async fn start(webhook_secret: &str) -> anyhow::Result<Self> {
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
            Err(_) => (format!("sqlite://{}/bench.db", dir.path().display()), None),
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
        let app = App::build(config).await?;
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
        let form = TemplateForm {
            name: "Bench service".into(),
            category: "Bench".into(),
            tasks: (1..=tasks)
                .map(|i| TaskRow {
                    name: format!("Task {i}"),
                    due: i.to_string(),
                    visible: true,
                    ..Default::default()
                })
                .collect(),
            store: StoreForm {
                purchasable: true,
                price: "100".into(),
                currency: "USD".into(),
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
