//! Service templates: what the agency offers and the tasks each service starts with, and the
//! writes that create, update and archive them. The template form is parsed and validated in
//! `form`, field by field.

mod billing;
pub mod bundles;
mod form;
pub mod prices;
pub mod questions;
pub mod search;
pub mod store;
pub mod store_cache;

pub use billing::{Billing, Interval, MAX_TRIAL_DAYS, Recurring};
pub use questions::{Answer, Answers, Intake, Question, When};
pub use store_cache::StoreCache;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::db::entities::service_template;
use crate::error::{AppError, AppResult};
use crate::ids::TemplateId;

pub use form::{
    BLANK_ROWS, Intent, MAX_CATEGORY, MAX_DESCRIPTION, MAX_DUE_DAYS, MAX_IMAGES, MAX_NAME,
    MAX_QUANTITY, MAX_TASKS, PartRow, StoreForm, StoreSettings, TaskRow, TemplateForm,
    ValidTemplate,
};

fn subject(id: TemplateId) -> Subject<'static> {
    Subject {
        entity_type: "template",
        entity_id: id.get(),
        client_id: None,
    }
}

pub async fn create<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    mut t: ValidTemplate,
) -> AppResult<service_template::Model> {
    let now = Utc::now();
    form::number_questions(&mut t.questions, &[]);
    bundles::lock_parts(conn, &t.parts).await?;
    let model = service_template::Entity::insert(service_template::ActiveModel {
        name: Set(t.name),
        description: Set(t.description),
        category: Set(t.category),
        default_tasks: Set(json!(t.tasks)),
        questions: Set(json!(t.questions)),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        is_purchasable: Set(t.store.is_purchasable),
        price_minor: Set(t.store.price.minor),
        currency: Set(t.store.price.currency),
        store_title: Set(t.store.title),
        store_description: Set(t.store.description),
        store_images: Set(json!(t.store.images)),
        max_quantity: Set(t.store.max_quantity),
        sort_order: Set(t.store.sort_order),
        billing_interval: Set(t.store.billing.interval().map(str::to_string)),
        billing_interval_count: Set(count_of(&t.store.billing)),
        trial_days: Set(trial_of(&t.store.billing)),
        setup_fee_minor: Set(fee_of(&t.store.billing)),
        prices: Set(prices::to_json(&t.store.other_prices)),
        tax_code: Set(t.store.tax_code.clone()),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    bundles::save_parts(conn, &model, &t.parts).await?;
    activity::record(
        conn,
        actor,
        "template.created",
        subject(model.id),
        json!({"name": model.name}),
    )
    .await?;
    sync_if_needed(conn, &model).await?;
    Ok(model)
}

pub async fn update<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: TemplateId,
    mut t: ValidTemplate,
) -> AppResult<service_template::Model> {
    let current = get(conn, id).await?;
    form::number_questions(&mut t.questions, &current.questions());
    bundles::lock_parts(conn, &t.parts).await?;
    let mut active: service_template::ActiveModel = current.into();
    active.questions = Set(json!(t.questions));
    active.name = Set(t.name);
    active.description = Set(t.description);
    active.category = Set(t.category);
    active.default_tasks = Set(json!(t.tasks));
    active.updated_at = Set(Utc::now());
    active.is_purchasable = Set(t.store.is_purchasable);
    active.price_minor = Set(t.store.price.minor);
    active.currency = Set(t.store.price.currency);
    active.prices = Set(prices::to_json(&t.store.other_prices));
    active.tax_code = Set(t.store.tax_code.clone());
    active.store_title = Set(t.store.title);
    active.store_description = Set(t.store.description);
    active.store_images = Set(json!(t.store.images));
    active.max_quantity = Set(t.store.max_quantity);
    active.sort_order = Set(t.store.sort_order);
    active.billing_interval = Set(t.store.billing.interval().map(str::to_string));
    active.billing_interval_count = Set(count_of(&t.store.billing));
    active.trial_days = Set(trial_of(&t.store.billing));
    active.setup_fee_minor = Set(fee_of(&t.store.billing));
    let model = active.update(conn).await?;
    bundles::save_parts(conn, &model, &t.parts).await?;
    activity::record(
        conn,
        actor,
        "template.updated",
        subject(id),
        json!({"name": model.name}),
    )
    .await?;
    crate::stripe::catalog::enqueue_sync_if_needed(conn, &model, t.store.apply_to_existing).await?;
    Ok(model)
}

/// The billing columns of a template (one-time: a count of 1, no trial, no fee).
fn count_of(b: &Billing) -> i32 {
    b.recurring().map_or(1, |r| r.count as i32)
}

fn trial_of(b: &Billing) -> i32 {
    b.recurring().map_or(0, |r| r.trial_days as i32)
}

fn fee_of(b: &Billing) -> i64 {
    b.recurring().map_or(0, |r| r.setup_fee_minor)
}

/// Queues the Stripe sync of a template that is on sale, or has a Product to update.
async fn sync_if_needed<C: ConnectionTrait>(
    conn: &C,
    t: &service_template::Model,
) -> AppResult<()> {
    crate::stripe::catalog::enqueue_sync_if_needed(conn, t, false).await?;
    Ok(())
}

/// Archives (hides from new assignments) or restores a template. Existing services keep it.
pub async fn set_archived<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: TemplateId,
    archived: bool,
) -> AppResult<service_template::Model> {
    let current = get(conn, id).await?;
    if current.archived_at.is_some() == archived {
        return Ok(current);
    }
    let mut active: service_template::ActiveModel = current.into();
    active.archived_at = Set(archived.then(Utc::now));
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    let action = if archived {
        "template.archived"
    } else {
        "template.restored"
    };
    activity::record(
        conn,
        actor,
        action,
        subject(id),
        json!({"name": model.name}),
    )
    .await?;
    sync_if_needed(conn, &model).await?;
    Ok(model)
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    id: TemplateId,
) -> AppResult<service_template::Model> {
    service_template::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The templates of `ids` that exist.
pub async fn get_many<C: ConnectionTrait>(
    conn: &C,
    ids: &[TemplateId],
) -> Result<Vec<service_template::Model>, DbErr> {
    service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await
}

/// The templates of `ids` that exist, by id.
pub async fn by_id<C: ConnectionTrait>(
    conn: &C,
    ids: impl IntoIterator<Item = TemplateId>,
) -> Result<std::collections::HashMap<TemplateId, service_template::Model>, DbErr> {
    let ids: Vec<TemplateId> = ids.into_iter().collect();
    Ok(get_many(conn, &ids)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect())
}

/// Templates by category and name; archived ones only when asked.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    archived: bool,
) -> Result<Vec<service_template::Model>, DbErr> {
    let q = service_template::Entity::find()
        .order_by_asc(service_template::Column::Category)
        .order_by_asc(service_template::Column::Name);
    let q = if archived {
        q.filter(service_template::Column::ArchivedAt.is_not_null())
    } else {
        q.filter(service_template::Column::ArchivedAt.is_null())
    };
    q.all(conn).await
}
