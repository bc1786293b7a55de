//! Data for tests, made through the domain functions.

use agency_hub::activity::Actor;
use agency_hub::catalog::{self, TaskRow, TemplateForm};
use agency_hub::db::entities::{client, service, service_template};
use agency_hub::provisioning::{self, Origin};
use sea_orm::DatabaseConnection;

/// A template with these tasks: (name, due in days, client-visible).
pub async fn template(
    db: &DatabaseConnection,
    name: &str,
    tasks: &[(&str, Option<u32>, bool)],
) -> service_template::Model {
    let form = TemplateForm {
        name: name.into(),
        description: format!("{name}, done well."),
        category: "Design".into(),
        tasks: tasks
            .iter()
            .map(|(n, due, visible)| TaskRow {
                name: n.to_string(),
                description: String::new(),
                due: due.map(|d| d.to_string()).unwrap_or_default(),
                visible: *visible,
            })
            .collect(),
        blank_rows: 0,
    };
    catalog::create(db, &Actor::System, form.validate().unwrap())
        .await
        .unwrap()
}

pub async fn company(db: &DatabaseConnection, name: &str) -> client::Model {
    agency_hub::auth::find_or_create_client(db, name)
        .await
        .unwrap()
}

pub async fn service(
    db: &DatabaseConnection,
    template: &service_template::Model,
    client: &client::Model,
) -> service::Model {
    provisioning::provision_service(
        db,
        &Actor::System,
        template,
        client.id,
        Origin::Manual,
        chrono::Utc::now(),
    )
    .await
    .unwrap()
}
