//! The activity log: every change to clients, users, templates, services and tasks, with its
//! actor. Written in the same transaction as the change.

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use serde_json::Value;

use crate::auth::CurrentUser;
use crate::db::entities::activity;
use crate::ids::{ClientId, UserId};

/// Who did it.
#[derive(Clone, Debug)]
pub enum Actor {
    User {
        id: UserId,
        name: String,
    },
    /// A job, the Stripe webhook, the demo seed.
    System,
}

impl From<&CurrentUser> for Actor {
    fn from(u: &CurrentUser) -> Self {
        Self::User {
            id: u.id,
            name: u.name.clone(),
        }
    }
}

impl Actor {
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Self::User { id, .. } => Some(*id),
            Self::System => None,
        }
    }
}

/// What changed: `entity_type` and id, and the client it concerns (if any).
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub entity_type: &'a str,
    pub entity_id: i64,
    pub client_id: Option<ClientId>,
}

/// Records one change.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    action: &str,
    subject: Subject<'_>,
    details: Value,
) -> Result<(), DbErr> {
    record_many(conn, vec![row(actor, action, subject, details)]).await
}

/// One change's row, for [`record_many`].
pub fn row(
    actor: &Actor,
    action: &str,
    subject: Subject<'_>,
    details: Value,
) -> activity::ActiveModel {
    let (actor_user_id, actor_name) = match actor {
        Actor::User { id, name } => (Some(*id), name.clone()),
        Actor::System => (None, "System".to_string()),
    };
    activity::ActiveModel {
        actor_user_id: Set(actor_user_id),
        actor_name: Set(actor_name),
        action: Set(action.to_string()),
        entity_type: Set(subject.entity_type.to_string()),
        entity_id: Set(subject.entity_id),
        client_id: Set(subject.client_id),
        details: Set(details),
        at: Set(Utc::now()),
        ..Default::default()
    }
}

/// Records several changes in one statement a chunk (of [`crate::db::ROWS_PER_INSERT`]).
pub async fn record_many<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<activity::ActiveModel>,
) -> Result<(), DbErr> {
    // The changes endpoints subscribe to are sent as webhooks, queued in this transaction.
    let events = rows
        .iter()
        .filter_map(crate::integrations::webhooks::Event::of_activity)
        .collect();
    crate::integrations::webhooks::emit(conn, events).await?;
    for chunk in rows.chunks(crate::db::ROWS_PER_INSERT) {
        activity::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Filters of the admin's activity page; all optional.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub client_id: Option<ClientId>,
    pub actor_user_id: Option<UserId>,
}

/// Newest first, one page and the total.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    page: u64,
    per_page: u64,
) -> Result<(Vec<activity::Model>, u64), DbErr> {
    let mut q = activity::Entity::find()
        .order_by_desc(activity::Column::At)
        .order_by_desc(activity::Column::Id);
    if let Some(a) = &filter.action {
        q = q.filter(activity::Column::Action.eq(a.as_str()));
    }
    if let Some(t) = &filter.entity_type {
        q = q.filter(activity::Column::EntityType.eq(t.as_str()));
    }
    if let Some(c) = filter.client_id {
        q = q.filter(activity::Column::ClientId.eq(c));
    }
    if let Some(u) = filter.actor_user_id {
        q = q.filter(activity::Column::ActorUserId.eq(u));
    }
    let pages = q.paginate(conn, per_page);
    let total = pages.num_items().await?;
    Ok((pages.fetch_page(page.saturating_sub(1)).await?, total))
}

/// Everything recorded about one entity, newest first (at most `limit`).
pub async fn for_entity<C: ConnectionTrait>(
    conn: &C,
    entity_type: &str,
    entity_id: i64,
    limit: u64,
) -> Result<Vec<activity::Model>, DbErr> {
    use sea_orm::QuerySelect;
    activity::Entity::find()
        .filter(activity::Column::EntityType.eq(entity_type))
        .filter(activity::Column::EntityId.eq(entity_id))
        .order_by_desc(activity::Column::At)
        .order_by_desc(activity::Column::Id)
        .limit(limit)
        .all(conn)
        .await
}

/// A text field of an entry's details ("" when absent).
fn field<'a>(details: &'a Value, key: &str) -> &'a str {
    details.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// An entry of the log in words: what was done (to follow the actor's name) and a link to what
/// it names. Stored codes (`task.status_changed`, `DONE`) never reach a page.
impl activity::Model {
    /// "marked task “Design” Done", "refunded order AH-000012 in part", …
    pub fn says(&self) -> String {
        use crate::db::entities::service::ServiceStatus;
        use crate::db::entities::task::TaskStatus;
        let d = &self.details;
        let text = |key: &str| field(d, key).to_string();
        let quoted = |key: &str| format!("“{}”", field(d, key));
        // A status in words (as stored, should it be one no longer known).
        let service_status = |key: &str| {
            ServiceStatus::parse(field(d, key))
                .map_or_else(|| field(d, key).to_string(), |s| s.label().to_string())
        };
        let task_status = |key: &str| {
            TaskStatus::parse(field(d, key))
                .map_or_else(|| field(d, key).to_string(), |s| s.label().to_string())
        };
        let order = || match field(d, "order_number") {
            "" => "the order".to_string(),
            n => format!("order {n}"),
        };
        match self.action.as_str() {
            "service.created" => format!("made service {}", quoted("name")),
            "service.status_changed" => {
                format!(
                    "moved the service from {} to {}",
                    service_status("from"),
                    service_status("to")
                )
            }
            "service.answers_changed" => "changed the answers to the service's questions".into(),
            "service.kept_after_refund" => "kept the service going after its order's refund".into(),
            "task.added" => format!("added task {}", quoted("task")),
            "task.updated" => format!("edited task {}", quoted("task")),
            "task.deleted" => format!("deleted task {}", quoted("task")),
            "task.status_changed" => {
                format!("marked task {} {}", quoted("task"), task_status("to"))
            }
            "order.paid" => format!("received the payment of {}", order()),
            "order.provisioned" => format!("made the services of {}", order()),
            "order.flagged" => format!("held {} for a review: Stripe's amount differs", order()),
            "order.refund_requested" => format!(
                "asked Stripe for a refund ({})",
                crate::web::pages::admin_orders::reason_label(field(d, "reason")).to_lowercase()
            ),
            "order.refunded" => format!(
                "refunded {} {}",
                order(),
                if d.get("full").and_then(Value::as_bool) == Some(true) {
                    "in full"
                } else {
                    "in part"
                }
            ),
            "order.cancelled" => format!("cancelled {}", order()),
            "order.services_cancelled" => {
                format!("cancelled services of {} with its refund", order())
            }
            "order.fulfilment_rerun" => "ran the order's fulfilment again".into(),
            "order.reviewed" => "marked the order as reviewed".into(),
            "client.created" => format!("added client {}", text("name")),
            "client.updated" => format!("updated client {}", text("name")),
            "client.exported" => format!("exported the data of client {}", text("name")),
            "user.created" => {
                let role = crate::db::entities::user::Role::parse(field(d, "role"))
                    .map_or("user", |r| r.label());
                format!("added {} as {}", text("email"), role.to_lowercase())
            }
            "user.renamed" => format!("renamed {} to {}", quoted("from"), quoted("to")),
            "user.password_set" => "set their password through an emailed link".into(),
            "user.password_changed" => "changed their password".into(),
            "user.password_reset" => "gave the user a new password".into(),
            "user.deactivated" => "deactivated the user".into(),
            "user.reactivated" => "reactivated the user".into(),
            "template.created" => format!("created template {}", quoted("name")),
            "template.updated" => format!("edited template {}", quoted("name")),
            "template.archived" => format!("archived template {}", quoted("name")),
            "template.restored" => format!("restored template {}", quoted("name")),
            "review.approved" => "approved a review".into(),
            "review.hidden" => "hid a review".into(),
            "review.replied" => "replied to a review".into(),
            "experiment.started" => format!("started experiment {}", quoted("name")),
            "experiment.stopped" => "stopped the experiment".into(),
            "settings.changed" => "changed the agency's settings".into(),
            "token.created" => format!("made API token {}", quoted("name")),
            "token.revoked" => format!("revoked API token {}", quoted("name")),
            "webhook.created" => format!("added webhook endpoint {}", text("url")),
            "webhook.updated" => format!("edited webhook endpoint {}", text("url")),
            "webhook.deleted" => format!("deleted webhook endpoint {}", text("url")),
            "webhook.secret_rolled" => "rolled the webhook endpoint's signing secret".into(),
            "webhook.resent" => format!("resent webhook event {}", text("event_id")),
            "subscription.started" => "started the subscription".into(),
            "subscription.changed" => format!("changed the subscription: {}", text("change")),
            "subscription.period_paid" => "received a period's payment".into(),
            "subscription.payment_failed" => "could not collect a renewal".into(),
            "subscription.period_refunded" => "refunded a period".into(),
            "subscription.price_moved" => "moved the subscription to the new price".into(),
            "subscription.ended" => "ended the subscription".into(),
            other => other.replace(['.', '_'], " "),
        }
    }

    /// Where what the entry names is (for staff), and its name: "order AH-000012".
    pub fn link(&self) -> Option<(String, String)> {
        let id = self.entity_id;
        let named = |key: &str| {
            self.details
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let (path, name) = match self.entity_type.as_str() {
            "service" => (
                "/services",
                named("name").unwrap_or(format!("service #{id}")),
            ),
            "order" => (
                "/admin/orders",
                named("order_number").map_or(format!("order #{id}"), |n| format!("order {n}")),
            ),
            "client" => (
                "/admin/clients",
                named("name").unwrap_or(format!("client #{id}")),
            ),
            "user" => (
                "/admin/users",
                named("email").unwrap_or(format!("user #{id}")),
            ),
            "template" => (
                "/admin/templates",
                named("name").unwrap_or(format!("template #{id}")),
            ),
            "subscription" => ("/admin/subscriptions", format!("subscription #{id}")),
            "experiment" => (
                "/admin/experiments",
                named("name").unwrap_or(format!("experiment #{id}")),
            ),
            "webhook_endpoint" => (
                "/admin/webhooks",
                named("url").unwrap_or(format!("webhook endpoint #{id}")),
            ),
            _ => return None,
        };
        Some((format!("{path}/{id}"), name))
    }
}
