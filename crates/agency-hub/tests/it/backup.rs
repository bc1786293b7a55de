//! Backups and a client's export: `agency-hub backup` taken while the app writes restores into
//! an empty database with every table as it was at one moment (on PostgreSQL, the pg_dump and
//! pg_restore commands it prints do the same); the export ZIP of one company holds its data
//! and nobody else's.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use agency_hub::activity::Actor;
use agency_hub::clients::ClientForm;
use agency_hub::db::entities::job::{self, JobStatus};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{order, service};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DbBackend, EntityTrait, FromQueryResult, JsonValue,
    PaginatorTrait, QueryFilter, Statement,
};
use serde_json::Value;

use crate::cli::run;
use crate::fixtures;
use crate::harness::{TestApp, TestDb, spawn_app};
use crate::purchase::paid_order;

/// Every table's rows, in order, as JSON.
async fn tables(url: &str) -> BTreeMap<String, Vec<Value>> {
    let db = Database::connect(url).await.unwrap();
    let backend = db.get_database_backend();
    let list = match backend {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
        }
    };
    let names: Vec<String> = db
        .query_all_raw(Statement::from_string(backend, list))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get("", "name").unwrap())
        .collect();
    let mut all = BTreeMap::new();
    for name in names {
        let rows = JsonValue::find_by_statement(Statement::from_string(
            backend,
            format!("SELECT * FROM \"{name}\" ORDER BY 1"),
        ))
        .all(&db)
        .await
        .unwrap();
        all.insert(name, rows);
    }
    db.close().await.ok();
    all
}

/// Waits until no job is queued or running (emails sent, Stripe synced).
async fn settle(app: &TestApp) {
    for _ in 0..400 {
        let busy = job::Entity::find()
            .filter(job::Column::Status.is_in([JobStatus::Queued, JobStatus::Running]))
            .count(&app.db)
            .await
            .unwrap();
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job queue did not empty");
}

/// Adds a client company (and its activity row, in the same transaction) until told to stop;
/// returns how many it added.
fn keep_writing(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let db = app.db.clone();
    let written = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let n = written.fetch_add(1, Ordering::SeqCst);
            let form = ClientForm {
                name: format!("Concurrent {n:04}"),
                billing_currency: "USD".into(),
                ..Default::default()
            };
            let valid = form.validate().unwrap();
            db.in_transaction(async |txn| {
                agency_hub::clients::create(txn, &Actor::System, valid).await
            })
            .await
            .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        written.load(Ordering::SeqCst)
    })
}

/// The companies the writer added in a copy, and their `client.created` rows: the same, if
/// the copy is of one moment.
fn written_in(copy: &BTreeMap<String, Vec<Value>>) -> (usize, usize) {
    let clients = copy["clients"]
        .iter()
        .filter(|c| c["name"].as_str().unwrap().starts_with("Concurrent "))
        .count();
    let logged = copy["activity_log"]
        .iter()
        .filter(|a| {
            a["action"] == "client.created" && a["details"].to_string().contains("Concurrent ")
        })
        .count();
    (clients, logged)
}

#[tokio::test]
async fn a_backup_taken_while_the_app_writes_restores_every_table() {
    let app = spawn_app().await;
    paid_order(&app).await;
    settle(&app).await;
    let url = app.database_url();
    let sqlite = url.starts_with("sqlite://");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agency.backup");
    let file_arg = file.display().to_string();

    if !sqlite {
        // The commands say how, and write nothing.
        let said = run(&url, &[], &["backup", &file_arg], "");
        assert_eq!(said.code, 2, "{}", said.stderr);
        assert!(
            said.stderr.contains("pg_dump --format=custom"),
            "{}",
            said.stderr
        );
        let said = run(&url, &[], &["restore", &file_arg], "");
        assert_eq!(said.code, 2);
        assert!(
            said.stderr.contains("pg_restore --no-owner"),
            "{}",
            said.stderr
        );
        assert!(!file.exists());
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(&app, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The backup, as the command (or, on PostgreSQL, the command it prints) takes it.
    let (url_, file_) = (url.clone(), file_arg.clone());
    let took = tokio::task::spawn_blocking(move || {
        if sqlite {
            run(&url_, &[], &["backup", &file_], "")
        } else {
            pg_tool(
                "pg_dump",
                &["--format=custom", &format!("--file={file_}"), &url_],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(took.code, 0, "{}", took.stderr);
    if sqlite {
        assert!(took.stdout.contains("Backed up"), "{}", took.stdout);
        // A second backup never overwrites the first.
        let again = run(&url, &[], &["backup", &file_arg], "");
        assert_eq!(again.code, 1);
        assert!(again.stderr.contains("exists already"), "{}", again.stderr);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let written = writer.await.unwrap();

    // Restored into an empty database, …
    let target = TestDb::new().await;
    let restored = if sqlite {
        run(&target.url, &[], &["restore", &file_arg], "")
    } else {
        pg_tool(
            "pg_restore",
            &["--no-owner", &format!("--dbname={}", target.url), &file_arg],
        )
    };
    assert_eq!(restored.code, 0, "{}", restored.stderr);
    if sqlite {
        assert!(restored.stdout.contains("Restored"), "{}", restored.stdout);
        // … and never over a database that has data.
        let over = run(&url, &[], &["restore", &file_arg], "");
        assert_eq!(over.code, 1);
        assert!(over.stderr.contains("not empty"), "{}", over.stderr);
    }
    let copy = tables(&target.url).await;
    let live = tables(&url).await;
    assert_eq!(
        copy.keys().collect::<Vec<_>>(),
        live.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    assert!(copy.len() > 30, "{} tables", copy.len());

    // The copy is of one moment while writes went on: each company with its log row, some of
    // the writes and not those after it.
    let (clients, logged) = written_in(&copy);
    assert_eq!(
        clients, logged,
        "a company without its activity row, or the reverse"
    );
    assert!(clients >= 1 && clients < written, "{clients} of {written}");
    // Every other table is as the live database has it (the writer touched only those two,
    // and the job queue the activity's events feed).
    for (name, rows) in &copy {
        if matches!(name.as_str(), "clients" | "activity_log" | "jobs") {
            continue;
        }
        assert_eq!(rows, &live[name], "table {name}");
    }
    // The rows of the written tables are the live ones up to the moment of the copy.
    for name in ["clients", "activity_log"] {
        let n = copy[name].len();
        assert_eq!(copy[name], live[name][..n], "table {name}");
    }
    assert_eq!(copy["orders"].len(), 1);
}

/// Runs a PostgreSQL client tool.
fn pg_tool(tool: &str, args: &[&str]) -> crate::cli::Run {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    crate::cli::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The entries of a ZIP, by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut all = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        all.insert(entry.name().unwrap().to_string(), data);
    }
    all
}

#[tokio::test]
async fn a_companys_export_holds_its_data_and_no_one_elses() {
    let mut app = spawn_app().await;
    // Acme buys (an order, services, an invoice) and writes with a file.
    let order = paid_order(&app).await;
    let acme_service = service::Entity::find()
        .filter(service::Column::ClientId.eq(order.client_id))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let res = app
        .post_multipart(
            &format!("/my/services/{}/messages", acme_service.id),
            &[("body", "Our brand guide, attached.")],
            &[("files", "brand-guide.pdf", b"%PDF-1.4\n%%EOF\n".as_slice())],
        )
        .await;
    assert_eq!(res.status(), 303);
    // Globex has its own service, people and messages.
    let template = fixtures::template(&app.db, "Globex Retainer", &[("Plan", None, true)]).await;
    let globex = fixtures::company(&app.db, "Globex").await;
    let theirs = fixtures::service(&app.db, &template, &globex).await;
    app.create_user(Role::Client, "hank@globex.example", Some("Globex"))
        .await;
    crate::orders::as_admin(&mut app).await;
    for (service_id, body) in [
        (theirs.id, "Globex kick-off notes"),
        (acme_service.id, "Internal: margin is thin on Acme"),
    ] {
        let mut form = vec![("body", body)];
        if body.starts_with("Internal") {
            form.push(("internal", "on"));
        }
        let res = app
            .post_form(&format!("/services/{service_id}/messages"), &form)
            .await;
        assert_eq!(res.status(), 303);
    }

    let res = app
        .post_form(&format!("/admin/clients/{}/export", order.client_id), &[])
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(disposition.contains("acme-corp-export-"), "{disposition}");
    let entries = unzip(&res.bytes().await.unwrap());

    for part in [
        "company",
        "people",
        "services",
        "tasks",
        "orders",
        "order_lines",
        "credit_notes",
        "subscriptions",
        "subscription_invoices",
        "messages",
        "files",
        "reviews",
    ] {
        assert!(entries.contains_key(&format!("{part}.json")), "{part}.json");
        let json: Vec<Value> = serde_json::from_slice(&entries[&format!("{part}.json")]).unwrap();
        let csv = String::from_utf8(entries[&format!("{part}.csv")].clone()).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(reader.records().count(), json.len(), "{part}.csv rows");
    }
    let rows = |part: &str| -> Vec<Value> {
        serde_json::from_slice(&entries[&format!("{part}.json")]).unwrap()
    };
    assert_eq!(rows("company").len(), 1);
    assert_eq!(rows("company")[0]["id"], order.client_id.get());
    assert_eq!(rows("orders").len(), 1);
    assert_eq!(rows("orders")[0]["order_number"], order.order_number);
    let acme_services: Vec<i64> = service::Entity::find()
        .filter(service::Column::ClientId.eq(order.client_id))
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id.get())
        .collect();
    let exported: Vec<i64> = rows("services")
        .iter()
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(exported, acme_services);
    for part in ["tasks", "messages", "files"] {
        for row in rows(part) {
            let id = row["service_id"].as_i64().unwrap();
            assert!(
                acme_services.contains(&id),
                "{part}: service {id} is not Acme's"
            );
        }
    }
    assert_eq!(
        rows("messages").len(),
        1,
        "the client's message, not the internal note"
    );
    assert_eq!(rows("files")[0]["name"], "brand-guide.pdf");
    let file_path = rows("files")[0]["path"].as_str().unwrap().to_string();
    assert_eq!(entries[&file_path], b"%PDF-1.4\n%%EOF\n");
    let invoice = order::Entity::find_by_id(order.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .invoice_number
        .unwrap();
    assert!(
        entries[&format!("invoices/{invoice}.pdf")].starts_with(b"%PDF"),
        "the invoice PDF"
    );
    // Nothing of Globex, nor the agency's notes, nor secrets, anywhere in it.
    for (name, data) in &entries {
        let text = String::from_utf8_lossy(data);
        for never in [
            "Globex",
            "globex.example",
            "margin is thin",
            "password_hash",
            "$argon2",
        ] {
            assert!(!text.contains(never), "{name} holds {never:?}");
        }
    }
    let readme = String::from_utf8(entries["README.txt"].clone()).unwrap();
    assert!(readme.contains("The data of Acme Corp"), "{readme}");
    assert!(readme.contains("messages: 1 rows"), "{readme}");
    let page = app.page("/admin/activity").await;
    assert!(page.contains("exported the data of client Acme Corp"));

    // The command line writes the same ZIP; an unknown company is a one-line error.
    let url = app.database_url();
    let files_dir = match &app.state.config.files.store {
        agency_hub::config::FileStore::Local(dir) => dir.display().to_string(),
        _ => unreachable!("tests keep files locally"),
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("acme.zip").display().to_string();
    let said = tokio::task::spawn_blocking({
        let (url, files_dir, out) = (url.clone(), files_dir.clone(), out.clone());
        move || {
            run(
                &url,
                &[("FILES_URL", &files_dir)],
                &["export", "--client", "acme corp", "--output", &out],
                "",
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(said.code, 0, "{}", said.stderr);
    assert!(
        said.stdout.contains("Exported Acme Corp"),
        "{}",
        said.stdout
    );
    let from_cli = unzip(&std::fs::read(&out).unwrap());
    assert_eq!(
        from_cli.keys().collect::<Vec<_>>(),
        entries.keys().collect::<Vec<_>>()
    );
    // A file gone from the store is left out and named; the rest is exported.
    let key = agency_hub::db::entities::file::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
        .storage_key;
    app.state.storage.delete(&key).await.unwrap();
    let res = app
        .post_form(&format!("/admin/clients/{}/export", order.client_id), &[])
        .await;
    assert_eq!(res.status(), 200);
    let without = unzip(&res.bytes().await.unwrap());
    assert!(!without.contains_key(&file_path));
    let readme = String::from_utf8(without["README.txt"].clone()).unwrap();
    assert!(
        readme.contains("could not be read") && readme.contains(&file_path),
        "{readme}"
    );
    assert_eq!(without.len(), entries.len() - 1);

    let said = tokio::task::spawn_blocking(move || {
        run(
            &url,
            &[("FILES_URL", &files_dir)],
            &["export", "--client", "Initech"],
            "",
        )
    })
    .await
    .unwrap();
    assert_eq!(said.code, 1);
    assert!(
        said.stderr.contains("no client company named 'Initech'"),
        "{}",
        said.stderr
    );
}
