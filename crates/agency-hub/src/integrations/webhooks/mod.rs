//! Outbound webhooks: admins register endpoints, and the events they chose are sent to them,
//! signed the way Stripe signs its own (`t=…,v1=HMAC-SHA256("{t}.{body}")`, see
//! `docs/WEBHOOKS.md` for receivers).
//!
//! An event comes from a change's activity row (`activity::record_many` hands every row here),
//! or from a message: in the change's own transaction each endpoint that wants it gets a
//! delivery row — the body as it will be sent — and a [`Deliver`] job, so a rolled-back change
//! sends nothing and a committed one is sent even if the process dies right after. Events are
//! thin: they name the object and what changed; the staff API has the rest.

mod deliver;
pub mod guard;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::{Map, Value, json};

pub use deliver::{Deliver, Sender};

use crate::activity::{self, Actor, Subject};
use crate::config::Config;
use crate::db::entities::activity as activity_row;
use crate::db::entities::webhook_delivery::{self, DeliveryStatus};
use crate::db::entities::webhook_endpoint;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::ClientId;
use crate::jobs::Enqueue;
use guard::Policy;

/// Every event type an endpoint can ask for, with what it means.
pub const EVENT_TYPES: [(&str, &str); 13] = [
    ("order.paid", "An order was paid (its services exist)."),
    ("order.refunded", "An order was refunded, fully or in part."),
    ("order.cancelled", "An unpaid order was cancelled."),
    (
        "service.created",
        "A service was created, bought or assigned.",
    ),
    (
        "service.status_changed",
        "A service moved to another status.",
    ),
    ("task.completed", "A task was marked done."),
    ("client.created", "A client company was added."),
    ("subscription.started", "A subscription started."),
    (
        "subscription.changed",
        "A subscription changed plan or will end.",
    ),
    (
        "subscription.period_paid",
        "A subscription's period was paid.",
    ),
    (
        "subscription.payment_failed",
        "A subscription's payment failed.",
    ),
    ("subscription.ended", "A subscription ended."),
    (
        "message.created",
        "A message or internal note was posted on a service.",
    ),
];

/// The most endpoints an agency registers.
const MAX_ENDPOINTS: u64 = 20;

/// One event, before it is written for each endpoint that wants it.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: &'static str,
    /// The kind of object it is about (`order`, `service`, …) and its id.
    pub object: String,
    pub id: i64,
    pub client_id: Option<ClientId>,
    /// Who made the change (none for the system: a payment, a job).
    pub actor: Option<(i64, String)>,
    pub details: Value,
}

impl Event {
    /// The event a change's activity row stands for, if endpoints can ask for it.
    pub fn of_activity(row: &activity_row::ActiveModel) -> Option<Self> {
        let action = row.action.try_as_ref()?.as_str();
        let details = row.details.try_as_ref().cloned().unwrap_or(Value::Null);
        let kind = match action {
            // A task's move is news when it is done.
            "task.status_changed" if details.get("to").and_then(Value::as_str) == Some("DONE") => {
                "task.completed"
            }
            _ => EVENT_TYPES.iter().find(|(k, _)| *k == action)?.0,
        };
        let actor = match (row.actor_user_id.try_as_ref(), row.actor_name.try_as_ref()) {
            (Some(Some(id)), Some(name)) => Some((id.get(), name.clone())),
            _ => None,
        };
        let (mut object, mut id) = (
            row.entity_type.try_as_ref()?.clone(),
            *row.entity_id.try_as_ref()?,
        );
        let mut details = details;
        // A task's change is logged on its service: the event is about the task.
        if kind == "task.completed"
            && let Some(task_id) = details.get("task_id").and_then(Value::as_i64)
        {
            details["service_id"] = json!(id);
            (object, id) = ("task".into(), task_id);
        }
        Some(Self {
            kind,
            object,
            id,
            client_id: row.client_id.try_as_ref().copied().flatten(),
            actor,
            details,
        })
    }

    /// The JSON body sent: `{id, type, created, data}`.
    fn body(&self, event_id: &str, created: chrono::DateTime<Utc>) -> String {
        json!({
            "id": event_id,
            "type": self.kind,
            "created": created.timestamp(),
            "data": {
                "object": self.object,
                "id": self.id,
                "clientId": self.client_id,
                "actor": self.actor.as_ref().map(|(id, name)| json!({"userId": id, "name": name})),
                "details": camel_keys(self.details.clone()),
            },
        })
        .to_string()
    }
}

/// The activity's snake_case detail keys in the API's camelCase.
fn camel_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut out = String::with_capacity(k.len());
                    let mut upper = false;
                    for c in k.chars() {
                        if c == '_' {
                            upper = true;
                        } else if upper {
                            out.extend(c.to_uppercase());
                            upper = false;
                        } else {
                            out.push(c);
                        }
                    }
                    (out, camel_keys(v))
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_keys).collect()),
        other => other,
    }
}

/// Writes a delivery and its job for each endpoint that wants each event, on `conn` (the
/// change's transaction).
pub async fn emit<C: ConnectionTrait>(conn: &C, events: Vec<Event>) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .all(conn)
        .await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = Utc::now();
    let mut rows = Vec::new();
    for event in &events {
        let mut body = None;
        for endpoint in endpoints.iter().filter(|e| e.wants(event.kind)) {
            let (event_id, payload) = body
                .get_or_insert_with(|| {
                    let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
                    let payload = event.body(&id, now);
                    (id, payload)
                })
                .clone();
            rows.push(webhook_delivery::ActiveModel {
                endpoint_id: Set(endpoint.id),
                event_id: Set(event_id),
                event_type: Set(event.kind.to_string()),
                payload: Set(payload),
                status: Set(DeliveryStatus::Pending),
                attempts: Set(0),
                last_attempt_at: Set(None),
                next_attempt_at: Set(Some(now)),
                response_code: Set(None),
                response_body: Set(None),
                duration_ms: Set(None),
                created_at: Set(now),
                ..Default::default()
            });
        }
    }
    let mut jobs = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(crate::db::ROWS_PER_INSERT) {
        let made = webhook_delivery::Entity::insert_many(chunk.to_vec())
            .exec_with_returning(conn)
            .await?;
        jobs.extend(made.iter().map(|d| Deliver::job(d.id, 1, now)));
    }
    Enqueue::insert_many(conn, jobs).await?;
    Ok(())
}

/// What an admin may send to: the policy of this app and its setting.
pub async fn policy<C: ConnectionTrait>(conn: &C, config: &Config) -> Result<Policy, DbErr> {
    Ok(Policy::new(
        &config.app_url,
        crate::agency::webhooks_private_networks(conn).await?,
    ))
}

/// The endpoint form as typed (the page's and the API's).
#[derive(Clone, Debug, Default)]
pub struct EndpointForm {
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub enabled: bool,
}

#[derive(Clone, Debug)]
pub struct ValidEndpoint {
    pub url: String,
    pub description: String,
    /// Space-separated, in [`EVENT_TYPES`] order.
    pub events: String,
    pub enabled: bool,
}

impl EndpointForm {
    pub fn of(e: &webhook_endpoint::Model) -> Self {
        Self {
            url: e.url.clone(),
            description: e.description.clone(),
            events: e.events.split_whitespace().map(str::to_string).collect(),
            enabled: e.enabled,
        }
    }

    /// Checks the form; the URL against the rule of [`guard`], its host name looked up.
    pub async fn validate(
        &self,
        policy: Policy,
        config: &Config,
    ) -> Result<ValidEndpoint, FieldErrors> {
        let mut errors = FieldErrors::default();
        let url = self.url.trim();
        if url.chars().count() > 2000 {
            errors.add("url", "Use an address of at most 2000 characters.");
        } else {
            match guard::check_url(url, policy, &config.app_url) {
                Err(why) => errors.add("url", why),
                Ok(parsed) => {
                    if let Err(why) = guard::check_resolves(&parsed, policy).await {
                        errors.add("url", why);
                    }
                }
            }
        }
        let description = self.description.trim();
        if description.chars().count() > 200 {
            errors.add("description", "Use at most 200 characters.");
        }
        let unknown: Vec<&str> = self
            .events
            .iter()
            .map(|e| e.trim())
            .filter(|e| !EVENT_TYPES.iter().any(|(k, _)| k == e))
            .collect();
        if !unknown.is_empty() {
            errors.add(
                "events",
                format!("Unknown event type: {}.", unknown.join(", ")),
            );
        } else if self.events.is_empty() {
            errors.add("events", "Choose at least one event to send.");
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let events: Vec<&str> = EVENT_TYPES
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| self.events.iter().any(|e| e.trim() == *k))
            .collect();
        Ok(ValidEndpoint {
            url: url.to_string(),
            description: description.to_string(),
            events: events.join(" "),
            enabled: self.enabled,
        })
    }
}

/// A fresh signing secret: `whsec_` and 58 hex digits (about 220 random bits).
fn new_secret() -> String {
    let hex = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    format!("whsec_{}", &hex[..58])
}

fn subject(id: i64) -> Subject<'static> {
    Subject {
        entity_type: "webhook_endpoint",
        entity_id: id,
        client_id: None,
    }
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> AppResult<webhook_endpoint::Model> {
    webhook_endpoint::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// Every endpoint, oldest first.
pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<webhook_endpoint::Model>, DbErr> {
    webhook_endpoint::Entity::find()
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(conn)
        .await
}

pub async fn create<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    v: ValidEndpoint,
) -> AppResult<webhook_endpoint::Model> {
    if webhook_endpoint::Entity::find().count(conn).await? >= MAX_ENDPOINTS {
        return Err(AppError::conflict(format!(
            "An agency has at most {MAX_ENDPOINTS} endpoints: delete one first."
        )));
    }
    let now = Utc::now();
    let made = webhook_endpoint::Entity::insert(webhook_endpoint::ActiveModel {
        url: Set(v.url),
        description: Set(v.description),
        events: Set(v.events),
        secret: Set(new_secret()),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        enabled: Set(v.enabled),
        disabled_reason: Set(None),
        failing_since: Set(None),
        created_by: Set(actor.user_id()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    activity::record(
        conn,
        actor,
        "webhook.created",
        subject(made.id),
        json!({"url": made.url, "events": made.events}),
    )
    .await?;
    Ok(made)
}

/// Saves the endpoint's form. Turning a disabled endpoint on starts it afresh.
pub async fn update<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: i64,
    v: ValidEndpoint,
) -> AppResult<webhook_endpoint::Model> {
    let before = get(conn, id).await?;
    let turned_on = v.enabled && !before.enabled;
    let mut active: webhook_endpoint::ActiveModel = before.clone().into();
    active.url = Set(v.url);
    active.description = Set(v.description);
    active.events = Set(v.events);
    active.enabled = Set(v.enabled);
    if turned_on {
        active.disabled_reason = Set(None);
        active.failing_since = Set(None);
    } else if !v.enabled && before.enabled {
        active.disabled_reason = Set(Some("Turned off by an admin.".into()));
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(conn).await?;
    activity::record(
        conn,
        actor,
        "webhook.updated",
        subject(id),
        json!({"url": after.url, "events": after.events, "enabled": after.enabled}),
    )
    .await?;
    Ok(after)
}

/// Deletes the endpoint and its log; its pending deliveries are not sent.
pub async fn delete<C: ConnectionTrait>(conn: &C, actor: &Actor, id: i64) -> AppResult<()> {
    let endpoint = get(conn, id).await?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(id))
        .exec(conn)
        .await?;
    webhook_endpoint::Entity::delete_by_id(id)
        .exec(conn)
        .await?;
    activity::record(
        conn,
        actor,
        "webhook.deleted",
        subject(id),
        json!({"url": endpoint.url}),
    )
    .await?;
    Ok(())
}

/// How long the secret before a rotation keeps signing.
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// A new signing secret; the current one keeps signing too for [`ROTATION_OVERLAP`], so
/// receivers can change theirs in between.
pub async fn roll_secret<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: i64,
) -> AppResult<webhook_endpoint::Model> {
    let before = get(conn, id).await?;
    let now = Utc::now();
    let mut active: webhook_endpoint::ActiveModel = before.clone().into();
    active.previous_secret = Set(Some(before.secret));
    active.previous_secret_expires_at = Set(Some(now + ROTATION_OVERLAP));
    active.secret = Set(new_secret());
    active.updated_at = Set(now);
    let after = active.update(conn).await?;
    activity::record(conn, actor, "webhook.secret_rolled", subject(id), json!({})).await?;
    Ok(after)
}

/// One page of an endpoint's deliveries, newest first (older than the delivery `before`), and
/// their number.
pub async fn deliveries<C: ConnectionTrait>(
    conn: &C,
    endpoint_id: i64,
    before: Option<i64>,
    page: u64,
    per_page: u64,
) -> Result<(Vec<webhook_delivery::Model>, u64), DbErr> {
    let mut query = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .order_by_desc(webhook_delivery::Column::Id);
    if let Some(before) = before {
        query = query.filter(webhook_delivery::Column::Id.lt(before));
    }
    let pages = query.paginate(conn, per_page);
    let total = pages.num_items().await?;
    Ok((pages.fetch_page(page.saturating_sub(1)).await?, total))
}

/// Sends a delivery again now, whatever became of it (the receiver sees the same event id).
pub async fn resend<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    endpoint_id: i64,
    delivery_id: i64,
) -> AppResult<webhook_delivery::Model> {
    let endpoint = get(conn, endpoint_id).await?;
    let delivery = webhook_delivery::Entity::find_by_id(delivery_id)
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    if !endpoint.enabled {
        return Err(AppError::conflict(
            "The endpoint is turned off: turn it on to send to it again.",
        ));
    }
    let now = Utc::now();
    let queued = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(DeliveryStatus::Pending),
        )
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        // Only if no attempt was recorded since it was read: the job below makes the next
        // one, and an attempt recorded meanwhile would make it stand down.
        .filter(webhook_delivery::Column::Attempts.eq(delivery.attempts))
        .exec(conn)
        .await?;
    if queued.rows_affected == 0 {
        return Err(AppError::conflict(
            "An attempt of this delivery was just made: look at its log and resend again if needed.",
        ));
    }
    // The attempt after the last one made; a retry already scheduled for that number finds
    // it made and stands down.
    Deliver::resend_job(delivery.id, delivery.attempts + 1)
        .insert(conn)
        .await?;
    activity::record(
        conn,
        actor,
        "webhook.resent",
        subject(endpoint_id),
        json!({"delivery_id": delivery.id, "event_id": delivery.event_id}),
    )
    .await?;
    Ok(webhook_delivery::Model {
        status: DeliveryStatus::Pending,
        next_attempt_at: Some(now),
        ..delivery
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_keys_become_camel_case_at_every_depth() {
        let v = camel_keys(json!({"order_number": "A-1", "total_minor": 5,
            "lines": [{"unit_price": 1}], "to": "DONE"}));
        assert_eq!(
            v,
            json!({"orderNumber": "A-1", "totalMinor": 5, "lines": [{"unitPrice": 1}], "to": "DONE"})
        );
    }

    #[test]
    fn activity_rows_become_the_events_endpoints_ask_for() {
        let row = |action: &str, details: Value| {
            activity::row(
                &Actor::System,
                action,
                Subject {
                    entity_type: "service",
                    entity_id: 7,
                    client_id: Some(ClientId(3)),
                },
                details,
            )
        };
        let done = Event::of_activity(&row(
            "task.status_changed",
            json!({"task_id": 9, "to": "DONE"}),
        ))
        .unwrap();
        assert_eq!(
            (done.kind, done.object.as_str(), done.id, done.client_id),
            ("task.completed", "task", 9, Some(ClientId(3)))
        );
        assert_eq!(done.details["service_id"], 7);
        assert!(
            Event::of_activity(&row("task.status_changed", json!({"to": "IN_PROGRESS"}))).is_none()
        );
        assert!(Event::of_activity(&row("template.updated", json!({}))).is_none());
        let paid = Event::of_activity(&row("order.paid", json!({"total_minor": 100}))).unwrap();
        let body: Value = serde_json::from_str(&paid.body("evt_1", Utc::now())).unwrap();
        assert_eq!(body["type"], "order.paid");
        assert_eq!(body["data"]["details"]["totalMinor"], 100);
        assert_eq!(body["data"]["actor"], Value::Null);
    }
}
