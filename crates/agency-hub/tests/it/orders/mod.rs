//! After payment: the client's order history, the staff's order list and page, refunds from
//! both directions, cancelling, running fulfilment again, and failed webhook events.

mod actions;
mod batches;
mod failed_events;
mod history;
mod invoices;
mod refunds;
mod staff_list;

use agency_hub::db::entities::order;
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{activity, email, order_item, service};
use agency_hub::ids::{OrderId, OrderItemId};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::harness::{TestApp, browser};

pub async fn reload(app: &TestApp, id: OrderId) -> order::Model {
    order::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap()
}

pub async fn services_of(app: &TestApp, order_id: OrderId) -> Vec<service::Model> {
    let items: Vec<OrderItemId> = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order_id))
        .all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    let mut s = service::Entity::find()
        .filter(service::Column::OrderItemId.is_in(items))
        .all(&app.db)
        .await
        .unwrap();
    s.sort_by_key(|s| s.id);
    s
}

pub async fn emails_of_kind(app: &TestApp, kind: &str) -> Vec<email::Model> {
    email::Entity::find()
        .filter(email::Column::Kind.eq(kind))
        .all(&app.db)
        .await
        .unwrap()
}

/// The email once the worker has rendered it (its subject and bodies are written when sent).
pub async fn rendered(app: &TestApp, id: i64) -> email::Model {
    for _ in 0..200 {
        let e = email::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        if !e.text.is_empty() {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("email {id} was never rendered");
}

pub async fn actions_on(app: &TestApp, order_id: OrderId, action: &str) -> Vec<activity::Model> {
    activity::Entity::find()
        .filter(activity::Column::EntityType.eq("order"))
        .filter(activity::Column::EntityId.eq(order_id))
        .filter(activity::Column::Action.eq(action))
        .all(&app.db)
        .await
        .unwrap()
}

/// Signs an admin in on a browser of its own; the client's browser is returned.
pub async fn as_admin(app: &mut TestApp) -> reqwest::Client {
    let client = app.switch_browser(browser());
    app.signed_in_as(Role::Admin).await;
    client
}
