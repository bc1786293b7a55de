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

use std::io::{Cursor, Write};

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

/// The export: its file name and the ZIP's bytes.
pub struct Export {
    pub file_name: String,
    pub bytes: Vec<u8>,
    /// Rows by table, for the summary.
    pub counts: Vec<(&'static str, usize)>,
}

/// Builds the ZIP of the company `client_id`.
pub async fn export(
    db: &Db,
    config: &Config,
    storage: &Storage,
    client_id: ClientId,
) -> anyhow::Result<Export> {
    let company = crate::clients::get(db, client_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let backend = db.get_database_backend();
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let mut counts = Vec::new();
    let mut files = Vec::new();
    for part in parts(client_id.get()) {
        let rows = JsonValue::find_by_statement(backend.build(&part.query))
            .all(db)
            .await
            .with_context(|| format!("reading {}", part.name))?;
        if part.name == "files" {
            files = rows.clone();
        }
        counts.push((part.name, rows.len()));
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|mut r| {
                if let Some(map) = r.as_object_mut() {
                    // Where the file is in the ZIP, not in our store.
                    if map.remove("storage_key").is_some() {
                        let path = zip_path_of(map);
                        map.insert("path".into(), Value::String(path));
                    }
                }
                r
            })
            .collect();
        zip.start_file(format!("{}.json", part.name), options)?;
        zip.write_all(&serde_json::to_vec_pretty(&rows)?)?;
        zip.start_file(format!("{}.csv", part.name), options)?;
        zip.write_all(&csv_of(part.columns, &rows)?)?;
    }
    // The files themselves, as they were uploaded (stored: most are compressed already).
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for f in &files {
        let (Some(key), Some(map)) = (f.get("storage_key").and_then(Value::as_str), f.as_object())
        else {
            continue;
        };
        let bytes = storage
            .get(key)
            .await?
            .bytes()
            .await
            .with_context(|| format!("reading the file {key}"))?;
        zip.start_file(zip_path_of(map), stored)?;
        zip.write_all(&bytes)?;
    }
    // Our invoices and credit notes, as the client downloads them.
    let invoiced = order::Entity::find()
        .filter(order::Column::ClientId.eq(client_id))
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
            zip.start_file(format!("invoices/{}", pdf.file_name), stored)?;
            zip.write_all(&pdf.bytes)?;
        }
    }
    let bytes = zip.finish()?.into_inner();
    let slug: String = company
        .name
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
    Ok(Export {
        file_name: format!(
            "{}-export-{}.zip",
            if slug.is_empty() { "client" } else { &slug },
            chrono::Utc::now().format("%Y-%m-%d")
        ),
        bytes,
        counts,
    })
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
    bytes: usize,
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
