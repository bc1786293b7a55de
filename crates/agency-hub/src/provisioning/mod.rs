//! Making services: one domain function creates a service for a client from a template, with
//! one task per default task, inside the caller's transaction. Staff assignment calls it now;
//! the store's fulfilment calls it for each unit bought.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::catalog::{Intake, When};
use crate::db::entities::service::{ServiceOrigin, ServiceStatus};
use crate::db::entities::task::TaskStatus;
use crate::db::entities::{client, service, service_template, task};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, OrderItemId, ServiceId, TemplateId};

/// Why the service exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Assigned by staff.
    Manual,
    /// The `unit`-th unit (from 1) of a paid order item.
    Purchase {
        order_item_id: OrderItemId,
        unit: i32,
    },
}

/// Staff assign a service of `template_id` to `client_id` by hand.
pub async fn assign<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    client_id: ClientId,
    template_id: TemplateId,
    now: DateTime<Utc>,
) -> AppResult<service::Model> {
    let template = service_template::Entity::find_by_id(template_id)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::invalid("template_id", "There is no such template."))?;
    let bundles = crate::catalog::bundles::Bundles::load(conn, Some(&[template_id])).await?;
    if bundles.is_bundle(template_id) {
        return Err(AppError::invalid(
            "template_id",
            format!(
                "{} is a bundle: assign its services one by one.",
                template.name
            ),
        ));
    }
    provision_service(conn, actor, &template, client_id, Origin::Manual, now).await
}

/// The template's tasks for a new service, due `due_in_days` after `now`; a recurring
/// template's period tasks are made with each paid period instead.
fn task_rows(
    template: &service_template::Model,
    service_id: ServiceId,
    now: DateTime<Utc>,
) -> Vec<task::ActiveModel> {
    template
        .tasks()
        .into_iter()
        .filter(|t| !t.each_period)
        .enumerate()
        .map(|(position, t)| task::ActiveModel {
            service_id: Set(service_id),
            position: Set(position as i32),
            name: Set(t.name),
            description: Set(t.description),
            due_on: Set(t
                .due_in_days
                .map(|d| (now + chrono::Duration::days(i64::from(d))).date_naive())),
            client_visible: Set(t.client_visible),
            status: Set(TaskStatus::ToDo),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect()
}

/// A recurring template's period tasks for one paid period of `service_id`: due `due_in_days`
/// after the period's start, placed from `position` on, linked to the period's invoice row.
pub fn period_task_rows(
    template: &service_template::Model,
    service_id: ServiceId,
    subscription_invoice_id: i64,
    position: i32,
    period_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<task::ActiveModel> {
    template
        .tasks()
        .into_iter()
        .filter(|t| t.each_period)
        .enumerate()
        .map(|(i, t)| task::ActiveModel {
            service_id: Set(service_id),
            position: Set(position + i as i32),
            name: Set(t.name),
            description: Set(t.description),
            due_on: Set(t
                .due_in_days
                .map(|d| (period_start + chrono::Duration::days(i64::from(d))).date_naive())),
            client_visible: Set(t.client_visible),
            status: Set(TaskStatus::ToDo),
            created_at: Set(now),
            updated_at: Set(now),
            subscription_invoice_id: Set(Some(subscription_invoice_id)),
            ..Default::default()
        })
        .collect()
}

/// Creates the service and its tasks, due `due_in_days` after `now`, and records it.
pub async fn provision_service<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    template: &service_template::Model,
    client_id: ClientId,
    origin: Origin,
    now: DateTime<Utc>,
) -> AppResult<service::Model> {
    if origin == Origin::Manual && template.archived_at.is_some() {
        return Err(AppError::invalid(
            "template",
            "This template is archived: restore it before assigning it.",
        ));
    }
    // A purchase's client is the order's (a foreign key): no need to read it again.
    if origin == Origin::Manual
        && client::Entity::find_by_id(client_id)
            .one(conn)
            .await?
            .is_none()
    {
        return Err(AppError::invalid("client", "There is no such client."));
    }
    // Staff assigning a service ask the client its after-payment questions on it.
    let intake = Intake::of(
        &template.questions_asked(When::AfterPayment),
        &Default::default(),
    );
    let wanted = NewService {
        template,
        client_id,
        origin,
        intake,
    };
    let mut made = provision_many(conn, actor, &[wanted], now).await?;
    made.pop()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("the service's insert returned no row")))
}

/// A service to make: of `template`, for `client_id`, with the questions asked and answered
/// so far (its order item's, for a purchase).
#[derive(Clone, Debug)]
pub struct NewService<'a> {
    pub template: &'a service_template::Model,
    pub client_id: ClientId,
    pub origin: Origin,
    pub intake: Intake,
}

/// Creates the services with their tasks and records each, in one statement a chunk for each
/// of the three (fulfilment makes an order's, or a batch of orders', at once). Returns them in
/// id order. Checks nothing: [`provision_service`] checks a manual assignment.
pub async fn provision_many<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    wanted: &[NewService<'_>],
    now: DateTime<Utc>,
) -> AppResult<Vec<service::Model>> {
    let rows: Vec<service::ActiveModel> = wanted
        .iter()
        .map(|w| {
            let (origin, order_item_id, unit) = match w.origin {
                Origin::Manual => (ServiceOrigin::Manual, None, None),
                Origin::Purchase {
                    order_item_id,
                    unit,
                } => (ServiceOrigin::Purchase, Some(order_item_id), Some(unit)),
            };
            service::ActiveModel {
                client_id: Set(w.client_id),
                template_id: Set(w.template.id),
                name: Set(w.template.name.clone()),
                description: Set(w.template.description.clone()),
                status: Set(ServiceStatus::ToDo),
                origin: Set(origin),
                order_item_id: Set(order_item_id),
                unit: Set(unit),
                created_by: Set(actor.user_id()),
                intake: Set(w.intake.to_json()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    let mut services = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(crate::db::ROWS_PER_INSERT) {
        services.extend(
            service::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(conn)
                .await?,
        );
    }
    services.sort_by_key(|s| s.id);
    // Each service's template is the one it names (rows come back in no promised order).
    let template_of = |s: &service::Model| {
        wanted
            .iter()
            .map(|w| w.template)
            .find(|t| t.id == s.template_id)
    };
    let mut tasks = Vec::new();
    let mut activity = Vec::with_capacity(services.len());
    for service in &services {
        let made = template_of(service)
            .map(|t| task_rows(t, service.id, now))
            .unwrap_or_default();
        activity.push(activity::row(
            actor,
            "service.created",
            Subject {
                entity_type: "service",
                entity_id: service.id.get(),
                client_id: Some(service.client_id),
            },
            json!({
                "name": service.name,
                "template_id": service.template_id,
                "origin": service.origin,
                "order_item_id": service.order_item_id,
                "unit": service.unit,
                "tasks": made.len(),
            }),
        ));
        tasks.extend(made);
    }
    for chunk in tasks.chunks(crate::db::ROWS_PER_INSERT) {
        task::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(conn)
            .await?;
    }
    activity::record_many(conn, activity).await?;
    crate::services::intake::schedule_reminders(conn, &services).await?;
    Ok(services)
}
