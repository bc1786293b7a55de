//! Data for tests, made through the domain functions.

use agency_hub::activity::Actor;
use agency_hub::catalog::{self, StoreForm, TaskRow, TemplateForm};
use agency_hub::db::Db;
use agency_hub::db::entities::{client, service, service_template};
use agency_hub::provisioning::{self, Origin};

/// A template with these tasks: (name, due in days, client-visible).
pub async fn template(
    db: &Db,
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
                each_period: false,
            })
            .collect(),
        ..TemplateForm::blank()
    };
    catalog::create(db, &Actor::System, form.validate().unwrap())
        .await
        .unwrap()
}

pub async fn company(db: &Db, name: &str) -> client::Model {
    agency_hub::clients::find_or_create(db, name).await.unwrap()
}

pub async fn service(
    db: &Db,
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

/// A purchasable template: `price` as typed in the store settings ("49.00"), in `currency`.
pub async fn for_sale(
    db: &Db,
    name: &str,
    category: &str,
    price: &str,
    currency: &str,
    max_quantity: i32,
) -> service_template::Model {
    let form = TemplateForm {
        name: name.into(),
        description: format!("{name}, done well."),
        category: category.into(),
        tasks: vec![TaskRow {
            name: "Kick-off".into(),
            visible: true,
            ..Default::default()
        }],
        store: StoreForm {
            purchasable: true,
            price: price.into(),
            currency: currency.into(),
            max_quantity: max_quantity.to_string(),
            sort_order: "0".into(),
            ..Default::default()
        },
        ..TemplateForm::blank()
    };
    catalog::create(db, &Actor::System, form.validate().unwrap())
        .await
        .unwrap()
}

/// A monthly retainer on sale at `price` (as typed, USD) with `trial_days` free: a kick-off
/// call made once, and a monthly report due 25 days into each paid period.
pub async fn retainer(
    db: &Db,
    name: &str,
    price: &str,
    trial_days: u32,
) -> service_template::Model {
    let form = TemplateForm {
        name: name.into(),
        description: format!("{name}, every month."),
        category: "Web".into(),
        tasks: vec![
            TaskRow {
                name: "Kick-off call".into(),
                visible: true,
                ..Default::default()
            },
            TaskRow {
                name: "Monthly report".into(),
                due: "25".into(),
                visible: true,
                each_period: true,
                ..Default::default()
            },
        ],
        store: StoreForm {
            purchasable: true,
            price: price.into(),
            currency: "USD".into(),
            max_quantity: "5".into(),
            billing: "recurring".into(),
            interval: "month".into(),
            interval_count: "1".into(),
            trial_days: trial_days.to_string(),
            ..Default::default()
        },
        ..TemplateForm::blank()
    };
    catalog::create(db, &Actor::System, form.validate().unwrap())
        .await
        .unwrap()
}

/// A bundle on sale at `price` (as typed, USD) made of `parts` (template, quantity).
pub async fn bundle(
    db: &Db,
    name: &str,
    price: &str,
    parts: &[(&service_template::Model, i32)],
) -> service_template::Model {
    let form = TemplateForm {
        name: name.into(),
        description: format!("{name}: everything together."),
        category: "Bundles".into(),
        parts: parts
            .iter()
            .map(|(t, quantity)| catalog::PartRow {
                template: t.id.to_string(),
                quantity: quantity.to_string(),
            })
            .collect(),
        store: StoreForm {
            purchasable: true,
            price: price.into(),
            currency: "USD".into(),
            max_quantity: "1".into(),
            sort_order: "0".into(),
            ..Default::default()
        },
        ..TemplateForm::blank()
    };
    db.in_transaction(async |txn| catalog::create(txn, &Actor::System, form.validate()?).await)
        .await
        .unwrap()
}
