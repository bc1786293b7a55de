//! Sending a delivery: one attempt a job. A failed attempt (no 2xx within 10 s, or refused by
//! the address rule) schedules the next with its own exponential backoff — the job queue's
//! retries are for our own failures — until three days after the event; an endpoint that has
//! failed for three days is turned off and its admin told by email.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use url::Url;

use super::guard::{self, Guarded, Policy};
use crate::db::Db;
use crate::db::entities::user::{self, Role};
use crate::db::entities::webhook_delivery::{self, DeliveryStatus};
use crate::db::entities::webhook_endpoint;
use crate::jobs::{Enqueue, Job};
use crate::notify::{self, Outgoing, messages::Message, messages::WebhookDisabled};

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long an event is retried, and how long an endpoint may fail before it is turned off.
pub const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::days(3);
/// The longest wait between two attempts.
const LONGEST_WAIT: Duration = Duration::from_secs(12 * 3600);
/// How much of an answer the log keeps.
const KEEP_BYTES: usize = 1024;
/// The header that carries the signatures.
pub const SIGNATURE_HEADER: &str = "Agency-Hub-Signature";

/// What sending needs: the database, the app's address (its scheme decides whether loopback is
/// allowed), and a client for each setting of private networks (the resolver differs).
#[derive(Clone)]
pub struct Sender {
    db: Db,
    app_url: Url,
    first_retry: Duration,
    strict: reqwest::Client,
    open: reqwest::Client,
}

impl Sender {
    /// `first_retry`: the wait after the first failure, doubled after each next one.
    pub fn new(db: Db, app_url: Url, first_retry: Duration) -> anyhow::Result<Self> {
        let client = |private| {
            reqwest::Client::builder()
                .timeout(TIMEOUT)
                .connect_timeout(TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("AgencyHub-Webhooks/", env!("CARGO_PKG_VERSION")))
                .dns_resolver(Guarded(Policy::new(&app_url, private)))
                .build()
        };
        Ok(Self {
            strict: client(false)?,
            open: client(true)?,
            db,
            app_url,
            first_retry,
        })
    }

    /// The wait after the `attempt`-th failure.
    fn backoff(&self, attempt: i32) -> Duration {
        let exp = attempt.clamp(1, 30) as u32 - 1;
        self.first_retry
            .saturating_mul(2u32.saturating_pow(exp))
            .min(LONGEST_WAIT)
    }
}

/// Makes attempt `attempt` of a delivery.
#[derive(Debug, Serialize, Deserialize)]
pub struct Deliver {
    pub delivery_id: i64,
    pub attempt: i32,
}

impl Deliver {
    pub(super) fn job(delivery_id: i64, attempt: i32, at: DateTime<Utc>) -> Enqueue {
        Enqueue::job(&Self {
            delivery_id,
            attempt,
        })
        .dedupe_key(format!("webhook:{delivery_id}:{attempt}"))
        .run_at(at)
    }

    /// An admin's resend: no dedupe key, since a retry of the same number may be scheduled
    /// already (whichever runs second finds the attempt made).
    pub(super) fn resend_job(delivery_id: i64, attempt: i32) -> Enqueue {
        Enqueue::job(&Self {
            delivery_id,
            attempt,
        })
    }
}

impl Job for Deliver {
    const KIND: &'static str = "webhook_delivery";
    type Env = Sender;

    async fn run(self, env: &Sender, _: i32) -> anyhow::Result<()> {
        let Some(delivery) = webhook_delivery::Entity::find_by_id(self.delivery_id)
            .one(&env.db)
            .await?
        else {
            return Ok(()); // its endpoint was deleted
        };
        if delivery.attempts != self.attempt - 1 {
            return Ok(()); // made already (a resend, or this job run twice)
        }
        let Some(endpoint) = webhook_endpoint::Entity::find_by_id(delivery.endpoint_id)
            .one(&env.db)
            .await?
        else {
            return Ok(());
        };
        if !endpoint.enabled {
            // Nothing is sent to it: the delivery ends, its last answer kept.
            webhook_delivery::Entity::update_many()
                .col_expr(
                    webhook_delivery::Column::Status,
                    Expr::value(DeliveryStatus::Failed),
                )
                .col_expr(
                    webhook_delivery::Column::NextAttemptAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(webhook_delivery::Column::Id.eq(delivery.id))
                .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
                .exec(&env.db)
                .await?;
            return Ok(());
        }
        let now = Utc::now();
        let private = crate::agency::webhooks_private_networks(&env.db).await?;
        let answer = send(env, &endpoint, &delivery, private, now).await;
        env.db
            .in_transaction(async |txn| {
                record(txn, env, &endpoint, &delivery, self.attempt, answer, now).await
            })
            .await
    }
}

/// How an attempt went.
#[derive(Debug)]
struct Answer {
    code: Option<i32>,
    body: String,
    /// None when the address rule stopped it before it went out.
    took: Option<Duration>,
}

impl Answer {
    fn succeeded(&self) -> bool {
        self.code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// The signature header: `t=…,v1=…`, with a second `v1` under the previous secret while a
/// rotation's overlap lasts.
pub fn signature(endpoint: &webhook_endpoint::Model, t: i64, body: &[u8]) -> String {
    let mut header = format!(
        "t={t},v1={}",
        crate::stripe::signature::v1(&endpoint.secret, t, body)
    );
    if let (Some(previous), Some(until)) = (
        &endpoint.previous_secret,
        endpoint.previous_secret_expires_at,
    ) && until.timestamp() > t
    {
        header.push_str(",v1=");
        header.push_str(&crate::stripe::signature::v1(previous, t, body));
    }
    header
}

async fn send(
    env: &Sender,
    endpoint: &webhook_endpoint::Model,
    delivery: &webhook_delivery::Model,
    private: bool,
    now: DateTime<Utc>,
) -> Answer {
    let policy = Policy::new(&env.app_url, private);
    // The rule may have changed since the endpoint was saved (the setting, APP_URL).
    let url = match guard::check_url(&endpoint.url, policy, &env.app_url) {
        Ok(url) => url,
        Err(why) => {
            return Answer {
                code: None,
                body: format!("Not sent: {why}"),
                took: None,
            };
        }
    };
    let client = if private { &env.open } else { &env.strict };
    let started = Instant::now();
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            SIGNATURE_HEADER,
            signature(endpoint, now.timestamp(), delivery.payload.as_bytes()),
        )
        .body(delivery.payload.clone())
        .send()
        .await;
    let (code, body) = match sent {
        Ok(mut response) => {
            let code = i32::from(response.status().as_u16());
            let mut kept = Vec::new();
            // The first KB is enough to tell what went wrong; the rest is not read.
            while kept.len() < KEEP_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => {
                        kept.extend_from_slice(format!(" (reading stopped: {e})").as_bytes());
                        break;
                    }
                }
            }
            kept.truncate(KEEP_BYTES);
            (Some(code), String::from_utf8_lossy(&kept).into_owned())
        }
        Err(e) if e.is_timeout() => (
            None,
            format!("No answer within {} seconds.", TIMEOUT.as_secs()),
        ),
        Err(e) => (None, format!("Could not send: {}", chain(&e))),
    };
    Answer {
        code,
        body,
        took: Some(started.elapsed()),
    }
}

/// An error with its causes (reqwest's own message is "error sending request").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Writes the attempt's outcome, schedules the next, and turns the endpoint off after three
/// days of failures.
async fn record<C: ConnectionTrait>(
    conn: &C,
    env: &Sender,
    endpoint: &webhook_endpoint::Model,
    delivery: &webhook_delivery::Model,
    attempt: i32,
    answer: Answer,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let ok = answer.succeeded();
    let next = (!ok)
        .then(|| now + env.backoff(attempt))
        .filter(|at| *at <= delivery.created_at + GIVE_UP_AFTER);
    let status = match (ok, next) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    let written = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempt))
        .col_expr(webhook_delivery::Column::LastAttemptAt, Expr::value(now))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_delivery::Column::ResponseCode,
            Expr::value(answer.code),
        )
        .col_expr(
            webhook_delivery::Column::ResponseBody,
            Expr::value(answer.body.clone()),
        )
        .col_expr(
            webhook_delivery::Column::DurationMs,
            Expr::value(answer.took.map(|t| t.as_millis() as i64)),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        // Another run made this attempt meanwhile: its outcome stands.
        .filter(webhook_delivery::Column::Attempts.eq(attempt - 1))
        .exec(conn)
        .await?;
    if written.rows_affected == 0 {
        return Ok(());
    }
    tracing::info!(
        webhook.endpoint = endpoint.id,
        webhook.delivery = delivery.id,
        webhook.event = %delivery.event_type,
        attempt,
        code = answer.code,
        status = ?status,
        "webhook attempt"
    );
    if let Some(at) = next {
        Deliver::job(delivery.id, attempt + 1, at)
            .insert(conn)
            .await?;
    }
    if ok {
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
            .exec(conn)
            .await?;
        return Ok(());
    }
    // The first failure since the last success starts the clock.
    webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::FailingSince,
            Func::coalesce([
                Expr::col(webhook_endpoint::Column::FailingSince),
                Expr::value(now),
            ])
            .into(),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .exec(conn)
        .await?;
    if let Some(since) = failing_too_long(endpoint.failing_since, now, next, delivery.created_at) {
        turn_off(conn, endpoint, since, &answer).await?;
    }
    Ok(())
}

/// How soon after its event a delivery's first attempt is made, at the latest, for the
/// endpoint's failures to count from the event.
const FIRST_ATTEMPT_WITHIN: chrono::Duration = chrono::Duration::hours(1);

/// Since when the endpoint has failed, when that is three days (so it is to be turned off):
/// a failure three days after the first one with no success between, or the last attempt of
/// an event that has failed since it was sent (its retries end a little short of three days,
/// so the first rule alone would never turn off an endpoint that had one event to send).
fn failing_too_long(
    failing_since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    next_attempt: Option<DateTime<Utc>>,
    event_created: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let since = failing_since?;
    let given_up = next_attempt.is_none();
    (now - since >= GIVE_UP_AFTER || (given_up && since <= event_created + FIRST_ATTEMPT_WITHIN))
        .then_some(since)
}

/// Turns the endpoint off and emails its admin (every admin when its author is gone).
async fn turn_off<C: ConnectionTrait>(
    conn: &C,
    endpoint: &webhook_endpoint::Model,
    since: DateTime<Utc>,
    answer: &Answer,
) -> anyhow::Result<()> {
    let last = match answer.code {
        Some(code) => format!("the last answer was HTTP {code}"),
        None => answer.body.clone(),
    };
    let reason = format!(
        "Failing since {}; {last}",
        since.format("%Y-%m-%d %H:%M UTC")
    );
    let reason: String = reason.chars().take(300).collect();
    let off = webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
        .col_expr(
            webhook_endpoint::Column::DisabledReason,
            Expr::value(reason.clone()),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .exec(conn)
        .await?;
    if off.rows_affected == 0 {
        return Ok(()); // another delivery turned it off
    }
    tracing::warn!(webhook.endpoint = endpoint.id, %reason, "webhook endpoint turned off");
    let admins = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Admin))
        .filter(user::Column::Active.eq(true))
        .all(conn)
        .await?;
    let author: Vec<&user::Model> = admins
        .iter()
        .filter(|a| Some(a.id) == endpoint.created_by)
        .collect();
    let to = if author.is_empty() {
        admins.iter().collect()
    } else {
        author
    };
    let emails = to
        .into_iter()
        .map(|admin| Outgoing {
            dedupe_key: format!(
                "webhook-off:{}:{}:{}",
                endpoint.id,
                since.timestamp(),
                admin.id
            ),
            to: admin.email.clone(),
            message: Message::WebhookDisabled(WebhookDisabled {
                endpoint_id: endpoint.id,
                url: endpoint.url.clone(),
                reason: reason.clone(),
            }),
        })
        .collect();
    notify::enqueue_many(conn, emails).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_turned_off_after_three_days_of_failures() {
        let t0 = Utc::now();
        let day = chrono::Duration::days(1);
        // Three days since the first failure, whatever the event.
        assert_eq!(
            failing_too_long(Some(t0), t0 + day * 3, Some(t0 + day * 4), t0 + day * 3),
            Some(t0)
        );
        // An event's last attempt, failing since it was sent.
        let last = t0 + chrono::Duration::hours(70);
        assert_eq!(failing_too_long(Some(t0), last, None, t0), Some(t0));
        // Not while its retries go on, nor when the failures began after it (a resend of an
        // old event), nor without failures.
        assert_eq!(failing_too_long(Some(t0), last, Some(last + day), t0), None);
        assert_eq!(
            failing_too_long(Some(t0), t0 + day, None, t0 - day * 5),
            None
        );
        assert_eq!(failing_too_long(None, last, None, t0), None);
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_for_a_day() {
        let now = Utc::now();
        let endpoint = webhook_endpoint::Model {
            id: 1,
            url: "https://hooks.example.com/".into(),
            description: String::new(),
            events: "order.paid".into(),
            secret: "whsec_new".into(),
            previous_secret: Some("whsec_old".into()),
            previous_secret_expires_at: Some(now + chrono::Duration::hours(24)),
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_by: None,
            created_at: now,
            updated_at: now,
        };
        let body = br#"{"id":"evt_1"}"#;
        let both = signature(&endpoint, now.timestamp(), body);
        let secrets = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for secret in ["whsec_new", "whsec_old"] {
            assert_eq!(
                crate::stripe::signature::verify(
                    body,
                    Some(&both),
                    &secrets(&[secret]),
                    now.timestamp()
                ),
                Ok(())
            );
        }
        // A day later, the new one only.
        let later = (now + chrono::Duration::hours(25)).timestamp();
        let one = signature(&endpoint, later, body);
        assert_eq!(one.matches("v1=").count(), 1);
        assert!(
            crate::stripe::signature::verify(body, Some(&one), &secrets(&["whsec_old"]), later)
                .is_err()
        );
    }
}
