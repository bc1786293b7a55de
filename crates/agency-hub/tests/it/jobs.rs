//! The job queue: enqueued with the caller's transaction, retried with backoff, dead at the
//! end, and run exactly once by concurrent workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agency_hub::App;
use agency_hub::db::Db;
use agency_hub::db::entities::job::{self, JobStatus};
use agency_hub::jobs::{Enqueue, Job, Registry, Worker, WorkerConfig};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::harness::{TestDb, test_config};

fn fast() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(10),
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(5),
        lease: Duration::from_secs(60),
    }
}

/// Runs due jobs until none is left, waiting out short backoffs.
async fn drain(worker: &Worker) {
    for _ in 0..200 {
        if !worker.run_next().await.unwrap() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            if !worker.run_next().await.unwrap() {
                return;
            }
        }
    }
}

/// How many times each `Count` job ran, by its `n`.
type Runs = Arc<Mutex<HashMap<i64, u32>>>;

/// Counts its runs; each job of a test has its own `n`.
#[derive(Serialize, Deserialize)]
struct Count {
    n: i64,
}

impl Job for Count {
    const KIND: &'static str = "test.count";
    type Env = Runs;

    async fn run(self, runs: &Runs, _attempt: i32) -> anyhow::Result<()> {
        *runs.lock().unwrap().entry(self.n).or_default() += 1;
        // Hold the job a moment, so that concurrent workers overlap.
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(())
    }
}

/// Always fails, saying which attempt it was; records the attempts it saw.
#[derive(Serialize, Deserialize)]
struct Fail;

impl Job for Fail {
    const KIND: &'static str = "test.fail";
    type Env = Arc<Mutex<Vec<i32>>>;

    async fn run(self, calls: &Self::Env, attempt: i32) -> anyhow::Result<()> {
        calls.lock().unwrap().push(attempt);
        Err(anyhow::anyhow!(
            "the mail server said no (attempt {attempt})"
        ))
    }
}

/// Fails its first attempt only.
#[derive(Serialize, Deserialize)]
struct Flaky;

impl Job for Flaky {
    const KIND: &'static str = "test.flaky";
    type Env = ();

    async fn run(self, _: &(), attempt: i32) -> anyhow::Result<()> {
        if attempt == 1 {
            anyhow::bail!("first try fails");
        }
        Ok(())
    }
}

/// A handler with a bug.
#[derive(Serialize, Deserialize)]
struct Panic;

impl Job for Panic {
    const KIND: &'static str = "test.panic";
    type Env = ();

    async fn run(self, _: &(), _attempt: i32) -> anyhow::Result<()> {
        panic!("handler bug")
    }
}

/// A kind this version of the app does not run.
#[derive(Serialize, Deserialize)]
struct Mystery;

impl Job for Mystery {
    const KIND: &'static str = "mystery.kind";
    type Env = ();

    async fn run(self, _: &(), _attempt: i32) -> anyhow::Result<()> {
        Ok(())
    }
}

fn counting_registry(runs: Runs) -> Registry {
    Registry::new().register::<Count>(runs)
}

async fn jobs_with(db: &Db, status: JobStatus) -> u64 {
    job::Entity::find()
        .filter(job::Column::Status.eq(status))
        .count(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let runs = Runs::default();
    let worker = Worker::new(
        db.clone(),
        Arc::new(counting_registry(runs.clone())),
        fast(),
    );

    let txn = db.write().await.unwrap();
    assert!(Enqueue::job(&Count { n: 1 }).insert(&txn).await.unwrap());
    txn.rollback().await.unwrap();

    assert_eq!(job::Entity::find().count(&db).await.unwrap(), 0);
    assert!(!worker.run_next().await.unwrap(), "nothing to run");
    assert!(runs.lock().unwrap().is_empty());

    // The same in a committed transaction runs once.
    let txn = db.write().await.unwrap();
    Enqueue::job(&Count { n: 2 }).insert(&txn).await.unwrap();
    txn.commit().await.unwrap();
    drain(&worker).await;
    assert_eq!(runs.lock().unwrap().values().sum::<u32>(), 1);
    assert_eq!(jobs_with(&db, JobStatus::Done).await, 1);
}

#[tokio::test]
async fn the_same_dedupe_key_queues_one_job() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    assert!(
        Enqueue::job(&Count { n: 0 })
            .dedupe_key("order-confirmation:7")
            .insert(&db)
            .await
            .unwrap()
    );
    assert!(
        !Enqueue::job(&Count { n: 0 })
            .dedupe_key("order-confirmation:7")
            .insert(&db)
            .await
            .unwrap()
    );
    assert!(
        Enqueue::job(&Count { n: 0 })
            .dedupe_key("order-confirmation:8")
            .insert(&db)
            .await
            .unwrap()
    );
    assert_eq!(job::Entity::find().count(&db).await.unwrap(), 2);
}

#[tokio::test]
async fn a_failing_job_retries_with_backoff_then_is_dead_with_its_last_error() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let registry = Registry::new()
        .register::<Fail>(seen)
        .register::<Flaky>(())
        .register::<Panic>(());
    let worker = Worker::new(db.clone(), Arc::new(registry), fast());
    enqueue_a_failing_a_flaky_and_a_panicking_job(&db).await;

    // After the first failure the job waits for its backoff, not run again at once.
    assert!(worker.run_next().await.unwrap());
    let failing = job_of_kind(&db, "test.fail").await;
    assert_eq!(failing.status, JobStatus::Queued);
    assert_eq!(failing.attempts, 1);
    assert!(
        failing.run_at > failing.created_at,
        "the retry is scheduled later"
    );

    drain(&worker).await;

    assert_eq!(*calls.lock().unwrap(), vec![1, 2, 3]);
    let (failing, flaky) = assert_each_ended_as_its_attempts_allow(&db).await;

    // An admin's retry gives the dead job a fresh set of attempts.
    assert!(agency_hub::jobs::retry(&db, failing.id).await.unwrap());
    assert!(
        !agency_hub::jobs::retry(&db, flaky.id).await.unwrap(),
        "only dead jobs are retried"
    );
    drain(&worker).await;
    assert_eq!(calls.lock().unwrap().len(), 6);
}

async fn enqueue_a_failing_a_flaky_and_a_panicking_job(db: &Db) {
    Enqueue::job(&Fail)
        .max_attempts(3)
        .insert(db)
        .await
        .unwrap();
    Enqueue::job(&Flaky).insert(db).await.unwrap();
    Enqueue::job(&Panic)
        .max_attempts(1)
        .insert(db)
        .await
        .unwrap();
}

/// The one job of `kind`.
async fn job_of_kind(db: &Db, kind: &str) -> job::Model {
    job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

/// Once drained: the failing job dead with its last error, the flaky one done on its second
/// attempt, the panicking one dead; returns the failing and the flaky jobs.
async fn assert_each_ended_as_its_attempts_allow(db: &Db) -> (job::Model, job::Model) {
    let failing = job_of_kind(db, "test.fail").await;
    assert_eq!(failing.status, JobStatus::Dead);
    assert_eq!(failing.attempts, 3);
    assert_eq!(
        failing.last_error.as_deref(),
        Some("the mail server said no (attempt 3)")
    );

    let flaky = job_of_kind(db, "test.flaky").await;
    assert_eq!(flaky.status, JobStatus::Done);
    assert_eq!(flaky.attempts, 2);

    let panicked = job_of_kind(db, "test.panic").await;
    assert_eq!(panicked.status, JobStatus::Dead);
    assert!(panicked.last_error.unwrap().contains("panicked"));
    (failing, flaky)
}

#[tokio::test]
async fn two_workers_run_each_of_500_jobs_exactly_once() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let runs = Runs::default();
    let registry = Arc::new(counting_registry(runs.clone()));
    let txn = db.write().await.unwrap();
    for n in 0..500 {
        Enqueue::job(&Count { n }).insert(&txn).await.unwrap();
    }
    txn.commit().await.unwrap();

    // Each worker has its own connection pool, as two app instances would.
    let (stop, stop_rx) = watch::channel(false);
    let mut handles = Vec::new();
    for _ in 0..2 {
        let conn = test_db.connect().await;
        let worker = Worker::new(conn, registry.clone(), fast());
        handles.push(tokio::spawn(worker.run(stop_rx.clone())));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while jobs_with(&db, JobStatus::Done).await < 500 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the workers did not finish in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send(true).unwrap();
    for h in handles {
        h.await.unwrap();
    }

    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 500, "every job ran");
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
}

#[tokio::test]
async fn the_app_refuses_to_start_when_the_queue_holds_a_kind_it_cannot_run() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    Enqueue::job(&Mystery).insert(&db).await.unwrap();

    let err = App::build(test_config(&test_db.url, &[]))
        .await
        .err()
        .expect("the app must not start");
    assert!(err.to_string().contains("mystery.kind"), "{err}");
}

/// Runs for its env's duration, counting its runs.
#[derive(Serialize, Deserialize)]
struct Slow {
    n: i64,
}

impl Job for Slow {
    const KIND: &'static str = "test.slow";
    type Env = (Runs, Duration);

    async fn run(self, (runs, takes): &Self::Env, _attempt: i32) -> anyhow::Result<()> {
        *runs.lock().unwrap().entry(self.n).or_default() += 1;
        tokio::time::sleep(*takes).await;
        Ok(())
    }
}

fn slow_worker(db: Db, runs: &Runs, takes: Duration, lease: Duration) -> Worker {
    let registry = Registry::new().register::<Slow>((runs.clone(), takes));
    Worker::new(db, Arc::new(registry), WorkerConfig { lease, ..fast() })
}

async fn job_n(db: &Db, n: i64) -> job::Model {
    job::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.payload["n"] == n)
        .unwrap()
}

/// A claim is a short lease its worker renews: a job running three leases long stays its
/// worker's, and a job whose worker died is taken over within about a lease (not minutes).
#[tokio::test]
async fn a_running_job_keeps_its_claim_and_a_dead_workers_job_is_taken_over_within_a_lease() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    let lease = Duration::from_millis(900);
    let runs = Runs::default();
    Enqueue::job(&Slow { n: 1 }).insert(&db).await.unwrap();

    // A runs it for three leases; B, looking all along, never takes it over.
    let a = slow_worker(test_db.connect().await, &runs, lease * 3, lease);
    let b = slow_worker(test_db.connect().await, &runs, Duration::ZERO, lease);
    let running = tokio::spawn(async move { a.run_next().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    while !running.is_finished() {
        assert!(!b.run_next().await.unwrap(), "B took over a running job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running.await.unwrap());
    assert_eq!(runs.lock().unwrap()[&1], 1);
    assert_eq!(job_n(&db, 1).await.status, JobStatus::Done);

    // C dies while running the next one (its task is gone, and its heartbeat with it).
    Enqueue::job(&Slow { n: 2 }).insert(&db).await.unwrap();
    let c = slow_worker(
        test_db.connect().await,
        &runs,
        Duration::from_secs(60),
        lease,
    );
    let dying = tokio::spawn(async move { c.run_next().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    dying.abort();
    let died = tokio::time::Instant::now();
    while !b.run_next().await.unwrap() {
        assert!(
            died.elapsed() < lease * 3,
            "the dead worker's job was not taken over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(runs.lock().unwrap()[&2], 2, "run again by B");
    assert_eq!(job_n(&db, 2).await.status, JobStatus::Done);
}

/// Fails after starting an outage of the jobs table (every write to it refused) that ends a
/// moment later.
#[derive(Serialize, Deserialize)]
struct FailDuringOutage;

impl Job for FailDuringOutage {
    const KIND: &'static str = "test.fail_during_outage";
    type Env = Db;

    async fn run(self, db: &Db, _attempt: i32) -> anyhow::Result<()> {
        db.execute_unprepared("INSERT INTO outage VALUES (1)")
            .await?;
        let db = db.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            db.execute_unprepared("DELETE FROM outage").await.unwrap();
        });
        anyhow::bail!("the mail server said no")
    }
}

/// Refuses every update of `jobs` while `outage` has a row, on either database.
async fn outage_switch(db: &Db) {
    db.execute_unprepared("CREATE TABLE outage (on_since INTEGER)")
        .await
        .unwrap();
    if db.is_sqlite() {
        db.execute_unprepared(
            "CREATE TRIGGER refuse_during_outage BEFORE UPDATE ON jobs \
             WHEN EXISTS (SELECT 1 FROM outage) BEGIN SELECT RAISE(ABORT, 'outage'); END",
        )
        .await
        .unwrap();
    } else {
        db.execute_unprepared(
            "CREATE FUNCTION refuse_during_outage() RETURNS trigger AS $$ BEGIN \
             IF EXISTS (SELECT 1 FROM outage) THEN RAISE EXCEPTION 'outage'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
        )
        .await
        .unwrap();
        db.execute_unprepared(
            "CREATE TRIGGER refuse_during_outage BEFORE UPDATE ON jobs \
             FOR EACH ROW EXECUTE FUNCTION refuse_during_outage()",
        )
        .await
        .unwrap();
    }
}

/// A failure that cannot be written during an outage is written once the database is back,
/// not left `running` until the lease runs out.
#[tokio::test]
async fn a_failure_written_during_an_outage_is_recorded_once_the_database_is_back() {
    let test_db = TestDb::new().await;
    let db = test_db.connect().await;
    outage_switch(&db).await;
    Enqueue::job(&FailDuringOutage).insert(&db).await.unwrap();
    let registry = Registry::new().register::<FailDuringOutage>(db.clone());
    let lease = Duration::from_secs(20);
    let worker = Worker::new(
        db.clone(),
        Arc::new(registry),
        WorkerConfig { lease, ..fast() },
    );

    let started = tokio::time::Instant::now();
    assert!(worker.run_next().await.unwrap());
    assert!(started.elapsed() < lease / 4, "{:?}", started.elapsed());
    let failed = job::Entity::find().one(&db).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Queued, "queued for its retry");
    assert_eq!(failed.attempts, 1);
    assert!(failed.last_error.unwrap().contains("said no"));
}
