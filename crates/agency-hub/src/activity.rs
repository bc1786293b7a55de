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
