//! The `agency-hub` command: `user add`, `migrate`, `seed-demo`, and one-line errors.

use std::io::Write;
use std::process::{Command, Stdio};

use agency_hub::db::entities::{client, user};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::harness::TestDb;

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

pub(crate) fn run(db_url: &str, env: &[(&str, &str)], args: &[&str], stdin: &str) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agency-hub"));
    cmd.args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", db_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // A command that refuses its arguments may exit before it reads its input.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written.unwrap(),
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn add_user(db_url: &str, args: &[&str], password: &str) -> Run {
    let mut all = vec!["user", "add", "--password-stdin"];
    all.extend_from_slice(args);
    run(db_url, &[], &all, &format!("{password}\n"))
}

fn assert_one_line_error(r: &Run, expected: &str) {
    assert_ne!(r.code, 0, "should fail: {}", r.stdout);
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "one line: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.contains(expected),
        "{:?} should mention {expected:?}",
        r.stderr
    );
}

#[tokio::test]
async fn user_add_creates_a_client_user_and_their_company() {
    let test_db = TestDb::new().await;
    let r = add_user(
        &test_db.url,
        &[
            "--email",
            "Ana@NewCo.example",
            "--name",
            "Ana Lima",
            "--role",
            "client",
            "--client",
            "New Co",
        ],
        "a-good-password",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout.trim(),
        "Created CLIENT user ana@newco.example of New Co."
    );

    let db = test_db.connect().await;
    let u = user::Entity::find()
        .filter(user::Column::Email.eq("ana@newco.example"))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.role, user::Role::Client);
    let company = client::Entity::find_by_id(u.client_id.unwrap())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(company.name, "New Co");

    // A second user of the same company (named in another case) joins it.
    let r = add_user(
        &test_db.url,
        &[
            "--email",
            "bo@newco.example",
            "--name",
            "Bo",
            "--role",
            "CLIENT",
            "--client",
            "new co",
        ],
        "a-good-password",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(client::Entity::find().count(&db).await.unwrap(), 1);

    // The same email again is refused.
    let r = add_user(
        &test_db.url,
        &[
            "--email",
            "ANA@newco.example",
            "--name",
            "Ana",
            "--role",
            "admin",
        ],
        "a-good-password",
    );
    assert_one_line_error(&r, "already exists");
    assert_eq!(user::Entity::find().count(&db).await.unwrap(), 2);
}

#[tokio::test]
async fn user_add_refuses_bad_input_in_one_line() {
    let test_db = TestDb::new().await;
    let r = add_user(
        &test_db.url,
        &["--email", "not-an-email", "--name", "X", "--role", "admin"],
        "a-good-password",
    );
    assert_one_line_error(&r, "--email: 'not-an-email' is not an email address");

    let r = add_user(
        &test_db.url,
        &["--email", "x@example.com", "--name", "X", "--role", "boss"],
        "a-good-password",
    );
    assert_one_line_error(&r, "--role: 'boss' is not admin, manager or client");

    let r = add_user(
        &test_db.url,
        &[
            "--email",
            "x@example.com",
            "--name",
            "X",
            "--role",
            "client",
        ],
        "a-good-password",
    );
    assert_one_line_error(&r, "--client");

    let r = add_user(
        &test_db.url,
        &["--email", "x@example.com", "--name", "X", "--role", "admin"],
        "short",
    );
    assert_one_line_error(&r, "at least 8 characters");

    let r = run(
        &test_db.url,
        &[],
        &["user", "add", "--email", "x@example.com"],
        "",
    );
    assert_one_line_error(&r, "--name");

    let db = test_db.connect().await;
    assert_eq!(
        user::Entity::find().count(&db).await.unwrap(),
        0,
        "nothing was created"
    );
}

#[test]
fn bad_configuration_is_refused_in_one_line_per_mistake() {
    let r = run("mysql://root@localhost/db", &[], &["migrate"], "");
    assert_one_line_error(&r, "DATABASE_URL: unknown database scheme 'mysql'");
    assert_eq!(r.code, 2);

    let r = run(
        "sqlite://data/x.db",
        &[("APP_URL", "not a url")],
        &["migrate"],
        "",
    );
    assert_one_line_error(&r, "APP_URL:");

    let r = run(
        "redis://localhost",
        &[("BIND", "nowhere")],
        &["migrate"],
        "",
    );
    assert_eq!(r.stderr.lines().count(), 2, "{}", r.stderr);
    assert!(r.stderr.contains("DATABASE_URL") && r.stderr.contains("BIND"));
}

#[tokio::test]
async fn migrate_and_seed_demo_prepare_a_database() {
    let test_db = TestDb::new().await;
    let r = run(&test_db.url, &[], &["migrate"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("up to date"));

    let r = run(&test_db.url, &[], &["seed-demo"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("admin@example.com"));
    let db = test_db.connect().await;
    assert_eq!(user::Entity::find().count(&db).await.unwrap(), 4);
    assert_eq!(client::Entity::find().count(&db).await.unwrap(), 2);
    let templates = agency_hub::db::entities::service_template::Entity::find()
        .all(&db)
        .await
        .unwrap();
    assert!(templates.len() >= 8);
    let categories: std::collections::BTreeSet<_> =
        templates.iter().map(|t| t.category.clone()).collect();
    assert_eq!(categories.len(), 3);
    let bundle = templates.iter().find(|t| t.name == "Launch Kit").unwrap();
    assert!(
        templates
            .iter()
            .all(|t| t.id == bundle.id || !t.tasks().is_empty()),
        "every template but the bundle has default tasks"
    );
    let parts = agency_hub::catalog::bundles::Bundles::load(&db, None)
        .await
        .unwrap();
    assert_eq!(
        parts.summary(bundle.id).as_deref(),
        Some("Bundle of 3 services: Logo Design, Landing Page Build, Social Media Setup")
    );
    let logo = templates.iter().find(|t| t.name == "Logo Design").unwrap();
    assert_eq!(logo.questions().len(), 3, "the demo's questions read back");

    let r = run(&test_db.url, &[], &["seed-demo"], "");
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("nothing seeded"));
    assert_eq!(user::Entity::find().count(&db).await.unwrap(), 4);
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["seed-demo", "--help"],
        vec!["user", "add", "--help"],
    ] {
        let r = run("sqlite://unused.db", &[], &args, "");
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stdout.contains("Usage:"), "{args:?}");
    }
    let r = run("sqlite://unused.db", &[], &["user", "add", "--help"], "");
    assert!(r.stdout.contains("--password-stdin") && r.stdout.contains("--client"));
}
