//! Transactional email through a durable outbox. Enqueuing an email writes an `emails` row and
//! an `email.send` job in the caller's transaction (a rolled-back change sends nothing; the same
//! dedupe key twice queues once). The worker renders the email from its templates and sends it
//! over SMTP, or, without `SMTP_URL`, stores it for the admin's Emails page.

pub mod inapp;
pub mod live;
pub mod messages;

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::db::entities::email::{self, EmailStatus};
use crate::jobs::{Enqueue, Job};

pub use messages::Message;

/// Attempts before an email is marked failed (with the worker's exponential backoff between).
pub const MAX_ATTEMPTS: i32 = 5;

/// Where emails go: an SMTP server, or nowhere (stored for the admin to read).
#[derive(Clone)]
pub struct Mailer {
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
}

impl Mailer {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let smtp = match &config.smtp_url {
            None => None,
            Some(url) => Some(smtp_transport(url)?),
        };
        Ok(Self {
            smtp,
            from: config.mail_from.parse().context("MAIL_FROM")?,
            reply_to: config
                .mail_reply_to
                .as_deref()
                .map(str::parse)
                .transpose()
                .context("MAIL_REPLY_TO")?,
        })
    }

    pub fn sends(&self) -> bool {
        self.smtp.is_some()
    }
}

/// `smtp://[user:password@]host[:port]` speaks STARTTLS when the server offers it (add
/// `?tls=required` to insist); `smtps://` is TLS from the first byte.
fn smtp_transport(url: &url::Url) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let host = url.host_str().context("SMTP_URL has no host")?.to_string();
    let implicit = url.scheme() == "smtps";
    let required = url
        .query_pairs()
        .any(|(k, v)| k == "tls" && v == "required");
    let params = TlsParameters::new(host.clone()).context("TLS for SMTP")?;
    let tls = match (implicit, required) {
        (true, _) => Tls::Wrapper(params),
        (false, true) => Tls::Required(params),
        (false, false) => Tls::Opportunistic(params),
    };
    let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if !url.username().is_empty() {
        let user = percent_decode(url.username());
        let password = percent_decode(url.password().unwrap_or_default());
        builder = builder.credentials(Credentials::new(user, password));
    }
    Ok(builder.build())
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// One email to queue: to whom, what, and the key that makes it unique (the same key twice
/// queues once).
pub struct Outgoing {
    pub to: String,
    pub message: Message,
    pub dedupe_key: String,
}

/// Queues `message` to `to` in the caller's transaction. Returns false when an email with the
/// same dedupe key exists already.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    to: &str,
    message: &Message,
    dedupe_key: &str,
) -> Result<bool, DbErr> {
    let email = Outgoing {
        to: to.to_string(),
        message: message.clone(),
        dedupe_key: dedupe_key.to_string(),
    };
    Ok(enqueue_many(conn, vec![email]).await? == 1)
}

/// Queues several emails in the caller's transaction with two statements (the emails, then
/// their send jobs), whatever their number. Returns how many were new.
pub async fn enqueue_many<C: ConnectionTrait>(
    conn: &C,
    emails: Vec<Outgoing>,
) -> Result<usize, DbErr> {
    if emails.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let rows = emails.into_iter().map(|e| email::ActiveModel {
        dedupe_key: Set(e.dedupe_key),
        kind: Set(e.message.kind().to_string()),
        to_address: Set(e.to),
        payload: Set(serde_json::to_value(&e.message).unwrap_or_default()),
        subject: Set(String::new()),
        html: Set(String::new()),
        text: Set(String::new()),
        status: Set(EmailStatus::Queued),
        attempts: Set(0),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
        ..Default::default()
    });
    let inserted = email::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(email::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_with_returning_keys(conn)
        .await;
    // Every one a duplicate: nothing returned.
    let ids = match inserted {
        Ok(ids) => ids,
        Err(DbErr::RecordNotInserted) => Vec::new(),
        Err(e) => return Err(e),
    };
    Enqueue::insert_many(conn, ids.iter().map(|&id| send_job(id))).await?;
    Ok(ids.len())
}

fn send_job(email_id: i64) -> Enqueue {
    Enqueue::job(&SendEmail { email_id }).dedupe_key(format!("email:{email_id}"))
}

/// The job that renders and sends (or stores) one email of the outbox.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendEmail {
    pub email_id: i64,
}

/// What sending needs.
#[derive(Clone)]
pub struct Outbox {
    pub db: Db,
    pub config: Arc<Config>,
    pub mailer: Mailer,
    /// The agency's logo, for the invoices attached.
    pub storage: crate::files::Storage,
}

impl Job for SendEmail {
    const KIND: &'static str = "email.send";
    const MAX_ATTEMPTS: i32 = MAX_ATTEMPTS;
    type Env = Outbox;

    /// Renders, sends (or stores) and records the outcome. A failure is returned so the queue
    /// retries with backoff; the last one marks the email failed.
    async fn run(self, env: &Outbox, attempt: i32) -> anyhow::Result<()> {
        send(env, self.email_id, attempt).await
    }
}

async fn send(env: &Outbox, id: i64, attempt: i32) -> anyhow::Result<()> {
    let Outbox {
        db,
        config,
        mailer,
        storage,
    } = env;
    let Some(row) = email::Entity::find_by_id(id).one(db).await? else {
        anyhow::bail!("email {id} does not exist");
    };
    if matches!(row.status, EmailStatus::Sent | EmailStatus::Stored) {
        return Ok(());
    }
    let message: Message =
        serde_json::from_value(row.payload.clone()).context("reading the email's payload")?;
    let rendered = message.render(config).context("rendering the email")?;
    let outcome = match &mailer.smtp {
        None => Ok(EmailStatus::Stored),
        Some(smtp) => {
            // The invoice goes with the confirmation; if it cannot be made, the email still
            // goes (the order's page has it).
            let attached = attachment(db, config, storage, &message)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(
                        email.id = id,
                        error = format!("{e:#}"),
                        "the invoice could not be attached"
                    );
                    None
                });
            deliver(smtp, mailer, &row.to_address, &rendered, attached.as_ref())
                .await
                .map(|()| EmailStatus::Sent)
        }
    };
    let attempts = row.attempts + 1;
    let mut active: email::ActiveModel = row.into();
    active.subject = Set(rendered.subject);
    active.html = Set(rendered.html);
    active.text = Set(rendered.text);
    active.attempts = Set(attempts);
    match outcome {
        Ok(status) => {
            active.status = Set(status);
            active.sent_at = Set(Some(Utc::now()));
            active.last_error = Set(None);
            active.update(db).await?;
            tracing::info!(email.id = id, status = status.as_str(), "email done");
            metrics::counter!(crate::metrics::EMAILS, "outcome" => status.as_str()).increment(1);
            Ok(())
        }
        Err(err) => {
            let error = format!("{err:#}");
            active.last_error = Set(Some(error.clone()));
            let last = attempt >= MAX_ATTEMPTS;
            if last {
                active.status = Set(EmailStatus::Failed);
            }
            metrics::counter!(crate::metrics::EMAILS, "outcome" => if last { "failed" } else { "retry" })
                .increment(1);
            active.update(db).await?;
            Err(err)
        }
    }
}

/// What an email carries besides its text: an order's confirmation, its invoice (made now, as
/// the order's page would serve it).
async fn attachment(
    db: &Db,
    config: &Config,
    storage: &crate::files::Storage,
    message: &Message,
) -> anyhow::Result<Option<crate::invoicing::Pdf>> {
    let Message::OrderConfirmation(c) = message else {
        return Ok(None);
    };
    let order = crate::orders::get(db, c.order_id)
        .await
        .map_err(|e| anyhow::anyhow!("reading the order: {}", e.message))?;
    if order.invoice_number.is_none() {
        return Ok(None);
    }
    let pdf = crate::invoicing::pdf(db, config, storage, &order, None)
        .await
        .map_err(|e| anyhow::anyhow!("making the invoice: {}", e.message))?;
    Ok(Some(pdf))
}

async fn deliver(
    smtp: &AsyncSmtpTransport<Tokio1Executor>,
    mailer: &Mailer,
    to: &str,
    r: &messages::Rendered,
    attached: Option<&crate::invoicing::Pdf>,
) -> anyhow::Result<()> {
    let mut builder = lettre::Message::builder()
        .from(mailer.from.clone())
        .to(to.parse().with_context(|| format!("the address {to}"))?)
        .subject(&r.subject);
    if let Some(reply_to) = &mailer.reply_to {
        builder = builder.reply_to(reply_to.clone());
    }
    let body = MultiPart::alternative_plain_html(r.text.clone(), r.html.clone());
    let body = match attached {
        None => body,
        Some(pdf) => MultiPart::mixed().multipart(body).singlepart(
            Attachment::new(pdf.file_name.clone())
                .body(pdf.bytes.clone(), ContentType::parse("application/pdf")?),
        ),
    };
    let email = builder.multipart(body).context("building the email")?;
    smtp.send(email).await.context("the SMTP server")?;
    Ok(())
}

/// Puts a failed email back on the queue with fresh attempts. Returns false if it is not failed.
pub async fn resend<C: ConnectionTrait>(conn: &C, id: i64) -> Result<bool, DbErr> {
    let Some(row) = email::Entity::find_by_id(id).one(conn).await? else {
        return Ok(false);
    };
    if row.status != EmailStatus::Failed {
        return Ok(false);
    }
    let mut active: email::ActiveModel = row.into();
    active.status = Set(EmailStatus::Queued);
    active.attempts = Set(0);
    active.update(conn).await?;
    send_job(id)
        .dedupe_key(format!(
            "email:{id}:resend:{}",
            uuid::Uuid::new_v4().simple()
        ))
        .insert(conn)
        .await?;
    Ok(true)
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> crate::error::AppResult<email::Model> {
    email::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(crate::error::AppError::not_found)
}

/// Recent emails, newest first (by id: in the order they were queued), optionally of one
/// status and older than the email `before`.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    status: Option<EmailStatus>,
    before: Option<i64>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<email::Model>, u64), DbErr> {
    let mut q = email::Entity::find().order_by_desc(email::Column::Id);
    if let Some(s) = status {
        q = q.filter(email::Column::Status.eq(s));
    }
    if let Some(before) = before {
        q = q.filter(email::Column::Id.lt(before));
    }
    let pages = q.paginate(conn, per_page);
    let total = pages.num_items().await?;
    Ok((pages.fetch_page(page.saturating_sub(1)).await?, total))
}
