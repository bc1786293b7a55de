//! A client company's data as a ZIP (`agency-hub export --client NAME`, and the button on the
//! client's admin page): for a client who leaves or asks for their data.
//!
//! What goes in is what the company's people see in the portal: the company, its people, its
//! services with their visible tasks, its orders and their lines, invoices (our PDFs, credit
//! notes, and Stripe's subscription invoices), subscriptions, reviews, the messages on its
//! services and their files (the files themselves under `files/`). The agency's own notes —
//! on the client, internal notes on services, hidden tasks, notes on orders — stay out. Each
//! table is there twice: `NAME.json` (an array of objects) and `NAME.csv` (one row each).
//!
//! Every query is bounded by the company's id (directly, or through its services and orders),
//! so no other company's row can come along.

use std::io::Write;

use anyhow::Context;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JsonValue, QueryFilter};
use serde_json::Value;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::config::Config;
use crate::db::Db;
use crate::db::entities::{client, order};
use crate::files::Storage;
use crate::ids::ClientId;

/// One table of the export: its file name, the columns it keeps, and which rows.
struct Part {
    name: &'static str,
    columns: &'static [&'static str],
    query: SelectStatement,
}

fn select(table: &str, columns: &[&str]) -> SelectStatement {
    let mut q = Query::select();
    q.from(Alias::new(table));
    for c in columns {
        q.column((Alias::new(table), Alias::new(*c)));
    }
    q.order_by((Alias::new(table), Alias::new("id")), Order::Asc);
    q
}

fn ids_of(table: &str, column: &str, id: i64) -> SelectStatement {
    Query::select()
        .column(Alias::new("id"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(column)).eq(id))
        .to_owned()
}

fn col(name: &str) -> Expr {
    Expr::col(Alias::new(name))
}

/// The tables, each bounded by the company.
fn parts(client_id: i64) -> Vec<Part> {
    let services = || ids_of("services", "client_id", client_id);
    let orders = || ids_of("orders", "client_id", client_id);
    let subscriptions = || ids_of("subscriptions", "client_id", client_id);
    // Messages the company's people see: not the agency's internal notes.
    let messages = || {
        Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("messages"))
            .and_where(col("service_id").in_subquery(services()))
            .and_where(col("internal").eq(false))
            .to_owned()
    };
    let part = |name, columns: &'static [&'static str], table: &str, filter: Expr| Part {
        name,
        columns,
        query: select(table, columns).and_where(filter).to_owned(),
    };
    vec![
        part(
            "company",
            &[
                "id",
                "name",
                "billing_email",
                "billing_currency",
                "created_at",
            ],
            "clients",
            col("id").eq(client_id),
        ),
        part(
            "people",
            &[
                "id",
                "name",
                "email",
                "active",
                "last_login_at",
                "created_at",
            ],
            "users",
            col("client_id").eq(client_id),
        ),
        part(
            "services",
            &[
                "id",
                "name",
                "description",
                "status",
                "origin",
                "order_item_id",
                "intake",
                "created_at",
                "updated_at",
            ],
            "services",
            col("client_id").eq(client_id),
        ),
        part(
            "tasks",
            &[
                "id",
                "service_id",
                "position",
                "name",
                "description",
                "due_on",
                "status",
                "created_at",
                "updated_at",
            ],
            "tasks",
            col("service_id")
                .in_subquery(services())
                .and(col("client_visible").eq(true)),
        ),
        part(
            "orders",
            &[
                "id",
                "order_number",
                "status",
                "payment_status",
                "currency",
                "subtotal_minor",
                "discount_minor",
                "tax_minor",
                "total_minor",
                "refunded_minor",
                "payment_method",
                "paid_at",
                "invoice_number",
                "promotion_code",
                "customer_tax_id",
                "created_at",
            ],
            "orders",
            col("client_id").eq(client_id),
        ),
        part(
            "order_lines",
            &[
                "id",
                "order_id",
                "service_name",
                "unit_price_minor",
                "quantity",
                "setup_fee_minor",
                "discount_minor",
                "tax_minor",
                "total_minor",
                "billing_interval",
                "billing_interval_count",
                "intake",
            ],
            "order_items",
            col("order_id").in_subquery(orders()),
        ),
        part(
            "credit_notes",
            &[
                "id",
                "order_id",
                "number",
                "amount_minor",
                "currency",
                "created_at",
            ],
            "credit_notes",
            col("order_id").in_subquery(orders()),
        ),
        part(
            "subscriptions",
            &[
                "id",
                "order_id",
                "service_id",
                "status",
                "quantity",
                "unit_amount_minor",
                "currency",
                "interval",
                "interval_count",
                "current_period_start",
                "current_period_end",
                "trial_end",
                "cancel_at_period_end",
                "canceled_at",
                "ended_at",
                "card_brand",
                "card_last4",
                "created_at",
            ],
            "subscriptions",
            col("client_id").eq(client_id),
        ),
        part(
            "subscription_invoices",
            &[
                "id",
                "subscription_id",
                "number",
                "status",
                "currency",
                "amount_due",
                "amount_paid",
                "refunded_minor",
                "period_start",
                "period_end",
                "hosted_invoice_url",
                "invoice_pdf",
                "paid_at",
                "created_at",
            ],
            "subscription_invoices",
            col("subscription_id").in_subquery(subscriptions()),
        ),
        part(
            "messages",
            &[
                "id",
                "service_id",
                "author_name",
                "from_staff",
                "body",
                "created_at",
                "edited_at",
            ],
            "messages",
            col("id").in_subquery(messages()),
        ),
        part(
            "files",
            &[
                "id",
                "service_id",
                "message_id",
                "uploader_name",
                "from_staff",
                "name",
                "content_type",
                "size_bytes",
                "deliverable_state",
                "created_at",
                "storage_key",
            ],
            "files",
            col("service_id").in_subquery(services()).and(
                col("message_id")
                    .is_null()
                    .or(col("message_id").in_subquery(messages())),
            ),
        ),
        part(
            "reviews",
            &[
                "id",
                "template_id",
                "rating",
                "body",
                "status",
                "reply",
                "replied_at",
                "created_at",
            ],
            "reviews",
            col("client_id").eq(client_id),
        ),
    ]
}

/// The company named `name` (exactly, ignoring case), for the command line.
pub async fn find_client<C: ConnectionTrait>(
    conn: &C,
    name: &str,
) -> anyhow::Result<client::Model> {
    use sea_orm::sea_query::Func;
    let found = client::Entity::find()
        .filter(
            Expr::expr(Func::lower(Expr::col(client::Column::Name))).eq(name.trim().to_lowercase()),
        )
        .one(conn)
        .await?;
    found.with_context(|| format!("there is no client company named '{}'", name.trim()))
}

/// A new temporary file for an export, already unlinked: it lives as long as its handle, and
/// nothing is left behind whatever happens.
pub async fn temp_file() -> anyhow::Result<std::fs::File> {
    tokio::task::spawn_blocking(|| {
        let path = std::env::temp_dir().join(format!(
            "agency-hub-export-{}.zip",
            uuid::Uuid::new_v4().simple()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        std::fs::remove_file(&path)?;
        Ok(file)
    })
    .await?
}

/// What an export wrote.
pub struct Export {
    /// The name to give the file: `acme-corp-export-2026-12-02.zip`.
    pub file_name: String,
    /// The ZIP, written and synced, its cursor wherever the writing left it.
    pub file: std::fs::File,
    pub size: u64,
    /// Rows by table, for the summary.
    pub counts: Vec<(&'static str, usize)>,
    /// Files the store no longer had (listed in the ZIP's README.txt).
    pub missing: Vec<String>,
}

/// One entry of the ZIP, on its way to the writer.
enum Entry {
    /// Text (JSON, CSV): deflated.
    Text(String, Vec<u8>),
    /// Files as uploaded, PDFs: most are compressed already.
    Stored(String, bytes::Bytes),
}

/// Writes the ZIP of the company `client_id` into `out` (a new file). The database and the file
/// store are read here, one entry at a time; a blocking thread compresses and writes, so
/// neither the runtime's threads nor the memory carry the whole export.
pub async fn export(
    db: &Db,
    config: &Config,
    storage: &Storage,
    client_id: ClientId,
    out: std::fs::File,
) -> anyhow::Result<Export> {
    let company = crate::clients::get(db, client_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Entry>(2);
    let writer = tokio::task::spawn_blocking(move || -> anyhow::Result<(std::fs::File, u64)> {
        let mut zip = ZipWriter::new(std::io::BufWriter::new(out));
        while let Some(entry) = rx.blocking_recv() {
            let (name, data, method): (String, &[u8], _) = match &entry {
                Entry::Text(name, data) => (name.clone(), data, CompressionMethod::Deflated),
                Entry::Stored(name, data) => (name.clone(), data, CompressionMethod::Stored),
            };
            zip.start_file(
                name,
                SimpleFileOptions::default().compression_method(method),
            )?;
            zip.write_all(data)?;
        }
        let file = zip.finish()?.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let size = file.metadata()?.len();
        Ok((file, size))
    });
    let read = entries(db, config, storage, &company, &tx).await;
    drop(tx);
    // The writer's failure explains a read stopped by it.
    let (file, size) = writer.await.context("the ZIP writer stopped")??;
    let (counts, missing) = read?;
    Ok(Export {
        file_name: file_name(&company),
        file,
        size,
        counts,
        missing,
    })
}

/// Reads each entry and hands it to the writer: the tables, the files, the invoices, then a
/// README. Returns the rows by table and the files missing from the store.
async fn entries(
    db: &Db,
    config: &Config,
    storage: &Storage,
    company: &client::Model,
    tx: &tokio::sync::mpsc::Sender<Entry>,
) -> anyhow::Result<(Vec<(&'static str, usize)>, Vec<String>)> {
    let send = async |entry: Entry| {
        tx.send(entry)
            .await
            .map_err(|_| anyhow::anyhow!("the ZIP writer stopped"))
    };
    let backend = db.get_database_backend();
    let mut counts = Vec::new();
    let mut files = Vec::new();
    for part in parts(company.id.get()) {
        let rows = JsonValue::find_by_statement(backend.build(&part.query))
            .all(db)
            .await
            .with_context(|| format!("reading {}", part.name))?;
        counts.push((part.name, rows.len()));
        let mut rows: Vec<Value> = rows.into_iter().map(same_on_both_databases).collect();
        for row in &mut rows {
            let Some(map) = row.as_object_mut() else {
                continue;
            };
            // Where the file is in the ZIP, not in our store.
            if let Some(Value::String(key)) = map.remove("storage_key") {
                let path = zip_path_of(map);
                map.insert("path".into(), Value::String(path.clone()));
                files.push((key, path));
            }
        }
        send(Entry::Text(
            format!("{}.json", part.name),
            serde_json::to_vec_pretty(&rows)?,
        ))
        .await?;
        send(Entry::Text(
            format!("{}.csv", part.name),
            csv_of(part.columns, &rows)?,
        ))
        .await?;
    }
    let mut missing = Vec::new();
    for (key, path) in files {
        let got = match storage.get(&key).await {
            Ok(got) => got.bytes().await.map_err(anyhow::Error::from),
            Err(e) => Err(e),
        };
        match got {
            Ok(bytes) => send(Entry::Stored(path, bytes)).await?,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), file = %path, "a file of the export is missing from the store");
                missing.push(path);
            }
        }
    }
    // Our invoices and credit notes, as the client downloads them.
    let invoiced = order::Entity::find()
        .filter(order::Column::ClientId.eq(company.id))
        .filter(order::Column::InvoiceNumber.is_not_null())
        .all(db)
        .await?;
    for o in &invoiced {
        let mut numbers = vec![None];
        numbers.extend(
            crate::invoicing::credit_notes_of(db, o.id)
                .await?
                .into_iter()
                .map(|n| Some(n.number)),
        );
        for number in numbers {
            let pdf = crate::invoicing::pdf(db, config, storage, o, number.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("the invoice of {}: {}", o.order_number, e.message))?;
            send(Entry::Stored(
                format!("invoices/{}", pdf.file_name),
                pdf.bytes.into(),
            ))
            .await?;
        }
    }
    send(Entry::Text(
        "README.txt".into(),
        readme(company, &counts, &missing).into_bytes(),
    ))
    .await?;
    Ok((counts, missing))
}

/// What the ZIP holds, in words, for whoever opens it.
fn readme(company: &client::Model, counts: &[(&str, usize)], missing: &[String]) -> String {
    let mut text = format!(
        "The data of {} in the portal, exported on {}.\n\n\
         Each table is here twice: NAME.json (an array of objects) and NAME.csv (one row each).\n\
         Amounts are in minor units (cents) of their currency; times are UTC.\n\
         files/ holds the files of the messages and services; invoices/ the invoices and credit notes.\n\n",
        company.name,
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for (name, n) in counts {
        text.push_str(&format!("{name}: {n} rows\n"));
    }
    if !missing.is_empty() {
        text.push_str(
            "\nThese files could not be read from the file store and are not included:\n",
        );
        for m in missing {
            text.push_str(&format!("{m}\n"));
        }
    }
    text
}

/// `acme-corp-export-2026-12-02.zip`.
pub fn file_name(company: &client::Model) -> String {
    format!(
        "{}-export-{}.zip",
        slug(&company.name),
        chrono::Utc::now().format("%Y-%m-%d")
    )
}

/// The company's name as a file name's start: `acme-corp`.
fn slug(name: &str) -> String {
    let slug = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        "client".into()
    } else {
        slug
    }
}

/// The columns SQLite keeps as text or integers, as PostgreSQL gives them: times as RFC 3339
/// in UTC, flags as booleans, JSON as JSON.
fn same_on_both_databases(row: Value) -> Value {
    const FLAGS: [&str; 3] = ["active", "from_staff", "cancel_at_period_end"];
    const JSON: [&str; 1] = ["intake"];
    const TIMES: [&str; 5] = [
        "period_start",
        "period_end",
        "current_period_start",
        "current_period_end",
        "trial_end",
    ];
    let Value::Object(map) = row else {
        return row;
    };
    Value::Object(
        map.into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Number(n) if FLAGS.contains(&k.as_str()) => {
                        Value::Bool(n.as_i64() != Some(0))
                    }
                    Value::String(s) if JSON.contains(&k.as_str()) => {
                        serde_json::from_str(&s).unwrap_or(Value::String(s))
                    }
                    Value::String(s) if k.ends_with("_at") || TIMES.contains(&k.as_str()) => {
                        Value::String(utc(&s).unwrap_or(s))
                    }
                    other => other,
                };
                (k, v)
            })
            .collect(),
    )
}

/// A stored time as RFC 3339 in UTC, to the second.
fn utc(raw: &str) -> Option<String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(raw)
        .or_else(|_| chrono::DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()?;
    Some(
        parsed
            .with_timezone(&chrono::Utc)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// `files/{id}-{name}`, the name kept to safe characters.
fn zip_path_of(file: &serde_json::Map<String, Value>) -> String {
    let id = file.get("id").map(|v| v.to_string()).unwrap_or_default();
    let name: String = file
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("file")
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("files/{id}-{name}")
}

/// The rows as CSV: the part's columns as the header (`path` for a file's place in the ZIP),
/// JSON values as their text.
fn csv_of(columns: &[&str], rows: &[Value]) -> anyhow::Result<Vec<u8>> {
    let header: Vec<&str> = columns
        .iter()
        .map(|c| if *c == "storage_key" { "path" } else { c })
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&header)?;
    for row in rows {
        out.write_record(header.iter().map(|c| match row.get(*c) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => spreadsheet_safe(s),
            Some(other) => other.to_string(),
        }))?;
    }
    Ok(out.into_inner()?)
}

/// A spreadsheet runs a cell that starts with one of these as a formula: keep it text.
pub fn spreadsheet_safe(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// Logs that an admin took a company's data away.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    actor: &crate::activity::Actor,
    company: &client::Model,
    bytes: u64,
) -> Result<(), sea_orm::DbErr> {
    crate::activity::record(
        conn,
        actor,
        "client.exported",
        crate::activity::Subject {
            entity_type: "client",
            entity_id: company.id.get(),
            client_id: Some(company.id),
        },
        serde_json::json!({"name": company.name, "bytes": bytes}),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sqlite_values_read_as_postgresql_gives_them() {
        let row = same_on_both_databases(json!({
            "active": 1, "from_staff": 0, "intake": "{\"q\":\"a\"}",
            "created_at": "2026-12-02 17:14:32.123456+00:00",
            "period_end": "2026-12-31T00:00:00Z", "name": "Acme", "rating": 5,
        }));
        assert_eq!(
            row,
            json!({"active": true, "from_staff": false, "intake": {"q": "a"},
                "created_at": "2026-12-02T17:14:32Z", "period_end": "2026-12-31T00:00:00Z",
                "name": "Acme", "rating": 5})
        );
        // What PostgreSQL gives stays as it is.
        let pg =
            json!({"active": true, "intake": {"q": "a"}, "created_at": "2026-12-02T17:14:32Z"});
        assert_eq!(same_on_both_databases(pg.clone()), pg);
    }

    #[test]
    fn file_names_are_slugs() {
        assert_eq!(slug("Acme Corp"), "acme-corp");
        assert_eq!(slug("  Café & Co. "), "caf-co");
        assert_eq!(slug("日本"), "client");
    }
}
