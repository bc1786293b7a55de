//! The durable job queue on the database: enqueue inside the caller's transaction, run by workers.
//!
//! A job is a row in `jobs`. It is written in the same transaction as the change that needs it,
//! so a rolled-back change leaves no job behind. Workers claim one job at a time with a single
//! `UPDATE … WHERE id IN (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING …`: on PostgreSQL
//! concurrent workers skip each other's rows; SQLite has one writer, and an `UPDATE` takes the
//! write lock before it reads, so the same statement is safe there too (the lock clause is
//! simply not rendered for SQLite). A claim holds the job until `locked_until`, a short lease
//! the running worker renews (a heartbeat every third of it): a worker that dies mid-job stops
//! renewing, and another takes the job over within a lease, so handlers must be idempotent.
//! A job's end is written once the database takes it: a worker that cannot write it (an outage)
//! keeps trying, for as long as its lease would have lasted.
//! Failures retry with exponential backoff up to `max_attempts`, then the job is `dead` with its
//! last error, visible to admins, until retried by hand.
//!
//! Each kind of work is a type implementing [`Job`]: its fields are the payload, `KIND` its name
//! in the queue. The app registers every kind once (`crate::App::build`), and the registry is
//! the one list of kinds: the worker's, the start-up check's and the metrics'.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order,
    QueryFilter, QuerySelect, sea_query::OnConflict,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;

use crate::db::Db;
use crate::db::entities::job::{self, JobStatus};

pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;

/// A kind of background work. The value is the job's payload (stored as JSON); running it is
/// idempotent, since a job whose worker died is run again.
pub trait Job: Serialize + DeserializeOwned + Send + 'static {
    /// The kind's name in the queue; never change it while jobs of it may wait.
    const KIND: &'static str;
    /// Attempts before the job is dead.
    const MAX_ATTEMPTS: i32 = DEFAULT_MAX_ATTEMPTS;
    /// What running it needs (the database, a client, settings), given when it is registered.
    type Env: Clone + Send + Sync + 'static;

    /// Runs the job; `attempt` is 1 on the first run. An error is retried with backoff.
    fn run(self, env: &Self::Env, attempt: i32) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A job to put on the queue.
#[derive(Debug, Clone)]
pub struct Enqueue {
    kind: &'static str,
    payload: Value,
    dedupe_key: Option<String>,
    run_at: chrono::DateTime<Utc>,
    max_attempts: i32,
}

impl Enqueue {
    pub fn job<J: Job>(job: &J) -> Self {
        Self {
            kind: J::KIND,
            payload: serde_json::to_value(job).unwrap_or(Value::Null),
            dedupe_key: None,
            run_at: Utc::now(),
            max_attempts: J::MAX_ATTEMPTS,
        }
    }

    /// Enqueuing a second job with the same key does nothing: work done twice queues once.
    pub fn dedupe_key(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }

    pub fn run_at(mut self, at: chrono::DateTime<Utc>) -> Self {
        self.run_at = at;
        self
    }

    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = Ord::max(n, 1);
        self
    }

    /// Writes the job on `conn` (pass the caller's transaction). Returns false when a job with
    /// the same dedupe key already exists.
    pub async fn insert<C: ConnectionTrait>(self, conn: &C) -> Result<bool, DbErr> {
        Ok(Self::insert_many(conn, [self]).await? > 0)
    }

    /// Writes several jobs in one statement; returns how many were new (see `dedupe_key`).
    pub async fn insert_many<C: ConnectionTrait>(
        conn: &C,
        jobs: impl IntoIterator<Item = Self>,
    ) -> Result<u64, DbErr> {
        let now = Utc::now();
        let rows: Vec<job::ActiveModel> = jobs.into_iter().map(|j| j.row(now)).collect();
        if rows.is_empty() {
            return Ok(0);
        }
        job::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(job::Column::DedupeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await
    }

    fn row(self, now: chrono::DateTime<Utc>) -> job::ActiveModel {
        job::ActiveModel {
            kind: Set(self.kind.to_string()),
            payload: Set(self.payload),
            status: Set(JobStatus::Queued),
            dedupe_key: Set(self.dedupe_key),
            attempts: Set(0),
            max_attempts: Set(self.max_attempts),
            run_at: Set(self.run_at),
            locked_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            finished_at: Set(None),
            ..Default::default()
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
/// Runs a job from its stored payload and attempt.
type Handler = Arc<dyn Fn(Value, i32) -> BoxFuture + Send + Sync>;

/// The kinds of job the app runs, each with what it needs. Built in one place at start
/// (`crate::App::build`).
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Handler>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs jobs of kind `J` with `env`.
    pub fn register<J: Job>(mut self, env: J::Env) -> Self {
        let handler: Handler = Arc::new(move |payload, attempt| {
            let env = env.clone();
            Box::pin(async move {
                let job: J = serde_json::from_value(payload)
                    .with_context(|| format!("reading a {} job's payload", J::KIND))?;
                job.run(&env, attempt).await
            })
        });
        assert!(
            self.handlers.insert(J::KIND, handler).is_none(),
            "two handlers for job kind {}",
            J::KIND
        );
        self
    }

    pub fn handles(&self, kind: &str) -> bool {
        self.handlers.contains_key(kind)
    }

    /// Every kind registered, in name order.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.handlers.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }

    /// Refuses to start when the queue holds jobs of a kind no handler runs, rather than
    /// letting them die one by one.
    pub async fn check_queue(&self, db: &Db) -> anyhow::Result<()> {
        let kinds: Vec<String> = job::Entity::find()
            .select_only()
            .column(job::Column::Kind)
            .distinct()
            .filter(job::Column::Status.is_in([JobStatus::Queued, JobStatus::Running]))
            .into_tuple()
            .all(db)
            .await?;
        let unknown: Vec<String> = kinds.into_iter().filter(|k| !self.handles(k)).collect();
        if !unknown.is_empty() {
            bail!(
                "the job queue holds jobs of kind {} that no handler runs (a newer or older version enqueued them?)",
                unknown.join(", ")
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long an idle worker sleeps before looking again.
    pub poll_interval: Duration,
    /// The wait before the first retry; doubled on each later one.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claim holds a job without being renewed; the worker running it renews it
    /// every third of this, so a job taken over has lost its worker.
    pub lease: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
            lease: Duration::from_secs(30),
        }
    }
}

impl WorkerConfig {
    /// The wait after the `attempt`-th failure.
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exp = attempt.clamp(1, 20) as u32 - 1;
        self.backoff_base
            .saturating_mul(2u32.saturating_pow(exp))
            .min(self.backoff_max)
    }
}

#[derive(Clone)]
pub struct Worker {
    db: Db,
    registry: Arc<Registry>,
    config: WorkerConfig,
}

impl Worker {
    pub fn new(db: Db, registry: Arc<Registry>, config: WorkerConfig) -> Self {
        Self {
            db,
            registry,
            config,
        }
    }

    /// Runs jobs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let ran = match self.run_next().await {
                Ok(ran) => ran,
                Err(err) => {
                    tracing::error!(
                        error = format!("{err:#}"),
                        "job worker could not claim a job"
                    );
                    false
                }
            };
            if !ran {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Claims one due job and runs it. Returns whether there was one.
    pub async fn run_next(&self) -> anyhow::Result<bool> {
        let Some(job) = self.claim().await? else {
            return Ok(false);
        };
        let started = std::time::Instant::now();
        let outcome = match self.registry.handlers.get(job.kind.as_str()) {
            None => Err(anyhow::anyhow!("no handler for job kind '{}'", job.kind)),
            Some(handler) => {
                self.run_renewing(&job, handler(job.payload.clone(), job.attempts))
                    .await
            }
        };
        let known = self.registry.handles(&job.kind);
        self.finish_when_possible(&job, outcome, known, started.elapsed())
            .await?;
        Ok(true)
    }

    async fn claim(&self) -> Result<Option<job::Model>, DbErr> {
        let now = Utc::now();
        let due = Query::select()
            .column(job::Column::Id)
            .from(job::Entity)
            // The live-jobs index's own condition, as written there: SQLite uses a partial
            // index only when the query repeats its condition (literally, not as parameters).
            .and_where(Expr::cust("status IN ('queued', 'running')"))
            .cond_where(
                Condition::any()
                    .add(
                        Condition::all()
                            .add(job::Column::Status.eq(JobStatus::Queued))
                            .add(job::Column::RunAt.lte(now)),
                    )
                    .add(
                        Condition::all()
                            .add(job::Column::Status.eq(JobStatus::Running))
                            .add(job::Column::LockedUntil.lt(now)),
                    ),
            )
            .order_by(job::Column::RunAt, Order::Asc)
            .order_by(job::Column::Id, Order::Asc)
            .limit(1)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .to_owned();
        let lock_until = now + self.config.lease;
        let mut claimed = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(JobStatus::Running))
            .col_expr(job::Column::LockedUntil, Expr::value(lock_until))
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .filter(job::Column::Id.in_subquery(due))
            .exec_with_returning(&self.db)
            .await?;
        Ok(claimed.pop())
    }

    /// Runs the handler, renewing the claim's lease every third of it until the handler ends.
    async fn run_renewing(&self, job: &job::Model, run: BoxFuture) -> anyhow::Result<()> {
        // A panicking handler fails its job instead of killing the worker.
        let mut running = tokio::spawn(run);
        let every = self.config.lease / 3;
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                joined = &mut running => {
                    return joined.unwrap_or_else(|join| Err(anyhow::anyhow!("the handler panicked: {join}")));
                }
                _ = beat.tick() => self.renew(job).await,
            }
        }
    }

    /// Extends this claim's lease, if it still holds the job.
    async fn renew(&self, job: &job::Model) {
        let renewed = job::Entity::update_many()
            .col_expr(
                job::Column::LockedUntil,
                Expr::value(Utc::now() + self.config.lease),
            )
            .filter(job::Column::Id.eq(job.id))
            .filter(job::Column::Status.eq(JobStatus::Running))
            .filter(job::Column::Attempts.eq(job.attempts))
            .exec(&self.db)
            .await;
        match renewed {
            Ok(r) if r.rows_affected == 1 => {}
            Ok(_) => {
                tracing::warn!(job.id = job.id, job.kind = %job.kind, "job taken over by another worker while running")
            }
            Err(e) => {
                tracing::warn!(job.id = job.id, job.kind = %job.kind, error = %e, "job lease not renewed")
            }
        }
    }

    /// Writes the job's end, retrying while the database cannot take it, for as long as the
    /// lease would last (after that another worker may have taken the job over, and the end
    /// written is its).
    async fn finish_when_possible(
        &self,
        job: &job::Model,
        outcome: anyhow::Result<()>,
        known_kind: bool,
        took: Duration,
    ) -> Result<(), DbErr> {
        let end = self.end(job, outcome, known_kind, took);
        let give_up = tokio::time::Instant::now() + self.config.lease;
        let mut wait = Duration::from_millis(50);
        loop {
            match end.clone().exec(&self.db).await {
                Ok(_) => return Ok(()),
                Err(e) if tokio::time::Instant::now() + wait < give_up => {
                    tracing::warn!(job.id = job.id, job.kind = %job.kind, error = %e, "the job's end could not be written; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The update that ends this claim of the job (done, queued for a retry, or dead), logged
    /// and counted once.
    fn end(
        &self,
        job: &job::Model,
        outcome: anyhow::Result<()>,
        known_kind: bool,
        took: Duration,
    ) -> sea_orm::UpdateMany<job::Entity> {
        let now = Utc::now();
        let mut update = job::Entity::update_many()
            .col_expr(
                job::Column::LockedUntil,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
            // Only if this claim still holds it: a job taken over after its lease expired
            // belongs to the newer claim.
            .filter(job::Column::Id.eq(job.id))
            .filter(job::Column::Status.eq(JobStatus::Running))
            .filter(job::Column::Attempts.eq(job.attempts));
        match outcome {
            Ok(()) => {
                tracing::info!(job.id = job.id, job.kind = %job.kind, took_ms = took.as_millis() as u64, "job done");
                update = update
                    .col_expr(job::Column::Status, Expr::value(JobStatus::Done))
                    .col_expr(job::Column::FinishedAt, Expr::value(now));
            }
            Err(err) => {
                let error = format!("{err:#}");
                let dead = !known_kind || job.attempts >= job.max_attempts;
                metrics::counter!(crate::metrics::JOB_FAILURES, "kind" => job.kind.clone(), "dead" => dead.to_string())
                    .increment(1);
                if dead {
                    tracing::error!(job.id = job.id, job.kind = %job.kind, attempts = job.attempts, error = %error, "job failed for the last time");
                    update = update
                        .col_expr(job::Column::Status, Expr::value(JobStatus::Dead))
                        .col_expr(job::Column::FinishedAt, Expr::value(now));
                } else {
                    let retry_at = now + self.config.backoff(job.attempts);
                    tracing::warn!(job.id = job.id, job.kind = %job.kind, attempts = job.attempts, error = %error, %retry_at, "job failed; will retry");
                    update = update
                        .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
                        .col_expr(job::Column::RunAt, Expr::value(retry_at));
                }
                update = update.col_expr(job::Column::LastError, Expr::value(error));
            }
        }
        update
    }
}

/// Puts a dead job back on the queue with a fresh set of attempts. Returns false if the job
/// is not dead.
pub async fn retry<C: ConnectionTrait>(conn: &C, id: i64) -> Result<bool, DbErr> {
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value(JobStatus::Queued))
        .col_expr(job::Column::Attempts, Expr::value(0))
        .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
        .col_expr(
            job::Column::FinishedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::Status.eq(JobStatus::Dead))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Deletes finished jobs older than `keep`, so the table stays small.
pub async fn purge_done<C: ConnectionTrait>(conn: &C, keep: Duration) -> Result<u64, DbErr> {
    let before = Utc::now() - keep;
    let res = job::Entity::delete_many()
        .filter(job::Column::Status.eq(JobStatus::Done))
        .filter(job::Column::FinishedAt.lt(before))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// A job as admins see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: chrono::DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<Utc>,
    pub finished_at: Option<chrono::DateTime<Utc>>,
}

impl From<job::Model> for JobView {
    fn from(j: job::Model) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            status: j.status,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            last_error: j.last_error,
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

impl JobStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }
}

/// The job lists' `?status=` (the admin's page and the API).
#[derive(Debug, Default, serde::Deserialize)]
pub struct JobFilter {
    status: Option<String>,
}

impl JobFilter {
    pub fn status(&self) -> crate::error::AppResult<Option<JobStatus>> {
        match self.status.as_deref().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(raw) => JobStatus::parse(raw).map(Some).ok_or_else(|| {
                crate::error::AppError::invalid(
                    "status",
                    format!("Unknown job status '{raw}': use queued, running, done or dead."),
                )
            }),
        }
    }
}

/// How many jobs wait (queued or running), by kind.
pub async fn waiting_by_kind<C: ConnectionTrait>(conn: &C) -> Result<Vec<(String, i64)>, DbErr> {
    job::Entity::find()
        .select_only()
        .column(job::Column::Kind)
        .column_as(job::Column::Id.count(), "n")
        .filter(job::Column::Status.is_in([JobStatus::Queued, JobStatus::Running]))
        .group_by(job::Column::Kind)
        .into_tuple()
        .all(conn)
        .await
}

/// Jobs, newest first, optionally of one status (and older than the job `before`); one page of
/// them and the total.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    status: Option<JobStatus>,
    before: Option<i64>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<JobView>, u64), DbErr> {
    use sea_orm::{PaginatorTrait, QueryOrder};
    let mut query = job::Entity::find().order_by_desc(job::Column::Id);
    if let Some(status) = status {
        query = query.filter(job::Column::Status.eq(status));
    }
    if let Some(before) = before {
        query = query.filter(job::Column::Id.lt(before));
    }
    let paginator = query.paginate(conn, per_page);
    let total = paginator.num_items().await?;
    let rows = paginator.fetch_page(page.saturating_sub(1)).await?;
    Ok((rows.into_iter().map(JobView::from).collect(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = WorkerConfig {
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(60),
            ..Default::default()
        };
        assert_eq!(c.backoff(1), Duration::from_secs(5));
        assert_eq!(c.backoff(2), Duration::from_secs(10));
        assert_eq!(c.backoff(4), Duration::from_secs(40));
        assert_eq!(c.backoff(5), Duration::from_secs(60));
        assert_eq!(c.backoff(99), Duration::from_secs(60));
    }
}
