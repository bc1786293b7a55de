//! Demo data: staff, two client companies with a user each, and service templates, so a
//! fresh `cargo run` has something to sign in to.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use crate::activity::Actor;
use crate::auth::{self, Email, NewUser};
use crate::catalog::bundles::{self, PartOf};
use crate::clients;
use crate::config::Config;
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::task::TaskStatus;
use crate::db::entities::{service, service_template, user, user::Role};
use crate::db::{Db, Txn};
use crate::money::Currency;
use crate::provisioning::{self, Origin};
use crate::services::{self, Audience};

/// Every demo account shares this password.
pub const DEMO_PASSWORD: &str = "demo1234";

/// (email, name, role, company)
pub const DEMO_USERS: [(&str, &str, Role, Option<&str>); 4] = [
    ("admin@example.com", "Ada Admin", Role::Admin, None),
    ("manager@example.com", "Max Manager", Role::Manager, None),
    (
        "client@acme.example",
        "Ana Acme",
        Role::Client,
        Some("Acme Corp"),
    ),
    (
        "client@globex.example",
        "Gus Globex",
        Role::Client,
        Some("Globex Inc"),
    ),
];

/// How a demo template sells: (name, price in cents, max quantity, sort order, picture).
/// Google Ads is not in the store, so the demo also shows a template that is not for sale.
const STORE: [(&str, i64, i32, i32, &str); 8] = [
    ("Logo Design", 49_900, 3, 1, "logo-design"),
    ("Brand Identity Package", 149_000, 1, 2, "brand-identity"),
    ("Website Design Mockups", 120_000, 2, 5, "website-mockups"),
    ("Landing Page Build", 90_000, 3, 3, "landing-page"),
    ("WordPress Website", 350_000, 1, 6, "wordpress-website"),
    ("Website Maintenance", 14_900, 12, 4, "website-maintenance"),
    ("SEO Audit", 35_000, 5, 7, "seo-audit"),
    ("Social Media Setup", 60_000, 3, 8, "social-media"),
];

/// The demo's retainer: billed every month; these of its tasks are made each paid month.
const MONTHLY: (&str, [&str; 2]) = (
    "Website Maintenance",
    ["Backups and updates", "Monthly report"],
);

/// (category, name, description, [(task, description, due in days, client-visible)])
type TemplateSeed = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, Option<u32>, bool)],
);

const TEMPLATES: [TemplateSeed; 9] = [
    (
        "Design",
        "Logo Design",
        "A distinctive logo in three concepts, refined over two rounds, delivered in every format you need.",
        &[
            (
                "Discovery questionnaire",
                "Tell us about your brand, audience and taste.",
                Some(2),
                true,
            ),
            ("Three logo concepts", "", Some(7), true),
            ("Two revision rounds", "", Some(12), true),
            ("Final files (SVG, PNG, PDF)", "", Some(14), true),
        ],
    ),
    (
        "Design",
        "Brand Identity Package",
        "Logo, colour palette, typography and a short brand guide, so everything you publish looks like you.",
        &[
            (
                "Brand workshop",
                "A one-hour call to agree on direction.",
                Some(3),
                true,
            ),
            ("Moodboard", "", Some(7), true),
            ("Palette and typography", "", Some(14), true),
            ("Brand guide PDF", "", Some(21), true),
            (
                "Internal review",
                "Senior designer checks consistency.",
                Some(20),
                false,
            ),
        ],
    ),
    (
        "Design",
        "Website Design Mockups",
        "High-fidelity mockups of up to five pages for desktop and mobile.",
        &[
            ("Sitemap and wireframes", "", Some(5), true),
            ("Desktop mockups", "", Some(12), true),
            ("Mobile mockups", "", Some(15), true),
            ("Design handoff", "", Some(18), false),
        ],
    ),
    (
        "Development",
        "Landing Page Build",
        "A fast, responsive landing page built from your design, with analytics and a contact form.",
        &[
            (
                "Content and assets received",
                "Send us copy, images and your domain details.",
                Some(3),
                true,
            ),
            ("Build the page", "", Some(10), false),
            ("Client review", "", Some(12), true),
            ("Launch", "", Some(14), true),
        ],
    ),
    (
        "Development",
        "WordPress Website",
        "A complete WordPress site of up to ten pages, with a theme tailored to your brand and training for your team.",
        &[
            ("Kick-off call", "", Some(2), true),
            ("Theme setup", "", Some(10), false),
            ("Page builds", "", Some(25), false),
            ("Content entry", "", Some(30), true),
            ("Training session", "", Some(35), true),
        ],
    ),
    (
        "Development",
        "Website Maintenance",
        "Updates, backups, uptime monitoring and up to two hours of small changes, every month until you cancel.",
        &[
            ("Initial health check", "", Some(3), true),
            ("Backups and updates", "", Some(7), false),
            ("Monthly report", "", Some(28), true),
        ],
    ),
    (
        "Marketing",
        "SEO Audit",
        "A technical and content audit of your site with a prioritised list of fixes.",
        &[
            ("Crawl and technical audit", "", Some(5), false),
            ("Keyword research", "", Some(7), false),
            ("Audit report and call", "", Some(10), true),
        ],
    ),
    (
        "Marketing",
        "Social Media Setup",
        "Profiles on three networks set up and branded, with a month of planned posts.",
        &[
            ("Choose networks and handles", "", Some(2), true),
            ("Profile design", "", Some(7), true),
            ("Content calendar (30 days)", "", Some(12), true),
        ],
    ),
    (
        "Marketing",
        "Google Ads Campaign Setup",
        "A search campaign built around your goals: keywords, ads, conversion tracking and a first optimisation pass.",
        &[
            ("Goals and budget call", "", Some(2), true),
            ("Keyword and ad build", "", Some(7), false),
            ("Conversion tracking", "", Some(8), false),
            ("First optimisation report", "", Some(21), true),
        ],
    ),
];

/// Seeds the demo data if the database has no user yet. Returns whether it did.
/// The demo's prices in euros and pounds (rounded to whole units, as a price list would be)
/// and in yen: Globex pays in EUR.
fn other_prices(usd_cents: i64) -> serde_json::Value {
    let whole = |rate: f64| ((usd_cents as f64 / 100.0 * rate).round() as i64) * 100;
    json!({
        "EUR": {"unit": whole(0.92)},
        "GBP": {"unit": whole(0.79)},
        "JPY": {"unit": ((usd_cents as f64 * 1.5).round() as i64 / 100) * 100},
    })
}

/// The company of the demo that pays in euros.
const PAYS_IN_EUR: &str = "Globex Inc";

pub async fn seed_demo(db: &Db) -> anyhow::Result<bool> {
    if user::Entity::find().count(db).await? > 0 {
        return Ok(false);
    }
    let hash = auth::password::hash(DEMO_PASSWORD.to_string()).await?;
    let txn = db.write().await?;
    for (email, name, role, company) in DEMO_USERS {
        let client_id = match company {
            Some(company) => {
                let c = clients::find_or_create(&txn, company).await?;
                if company == PAYS_IN_EUR {
                    let mut active: crate::db::entities::client::ActiveModel = c.clone().into();
                    active.billing_currency = Set(Currency::EUR);
                    sea_orm::ActiveModelTrait::update(active, &txn).await?;
                }
                Some(c.id)
            }
            None => None,
        };
        auth::insert_user(
            &txn,
            NewUser {
                email: Email::parse(email).map_err(anyhow::Error::msg)?,
                name: name.to_string(),
                role,
                client_id,
                password_hash: hash.clone(),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("seeding {email}: {e}"))?;
    }
    let now = Utc::now();
    let mut templates = Vec::new();
    for (category, name, description, tasks) in TEMPLATES {
        let tasks: Vec<_> = tasks
            .iter()
            .map(|(task, description, due, visible)| {
                let each_period = name == MONTHLY.0 && MONTHLY.1.contains(task);
                json!({"name": task, "description": description, "due_in_days": due, "client_visible": visible, "each_period": each_period})
            })
            .collect();
        let store = STORE.iter().find(|s| s.0 == name);
        let template = service_template::Entity::insert(service_template::ActiveModel {
            name: Set(name.to_string()),
            description: Set(description.to_string()),
            category: Set(category.to_string()),
            default_tasks: Set(json!(tasks)),
            archived_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            is_purchasable: Set(store.is_some()),
            price_minor: Set(store.map_or(0, |s| s.1)),
            currency: Set(Currency::USD),
            prices: Set(store.map_or_else(|| json!({}), |s| other_prices(s.1))),
            store_title: Set(name.to_string()),
            store_description: Set(String::new()),
            store_images: Set(json!(
                store
                    .map(|s| vec![format!("/static/img/{}.svg", s.4)])
                    .unwrap_or_default()
            )),
            max_quantity: Set(store.map_or(1, |s| s.2)),
            sort_order: Set(store.map_or(0, |s| s.3)),
            billing_interval: Set((name == MONTHLY.0).then(|| "month".to_string())),
            questions: Set(if name == "Logo Design" {
                logo_questions()
            } else {
                json!([])
            }),
            ..Default::default()
        })
        .exec_with_returning(&txn)
        .await?;
        templates.push(template);
    }
    seed_bundle(&txn, &templates, now).await?;
    seed_services(&txn, &templates).await?;
    seed_conversation(&txn).await?;
    txn.commit().await?;
    Ok(true)
}

/// The demo's bundle: three services for less than they cost one by one.
const BUNDLE: (&str, i64, [(&str, i32); 3]) = (
    "Launch Kit",
    169_900,
    [
        ("Logo Design", 1),
        ("Landing Page Build", 1),
        ("Social Media Setup", 1),
    ],
);

async fn seed_bundle(
    txn: &Txn,
    templates: &[service_template::Model],
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<()> {
    let (name, price, parts) = BUNDLE;
    let bundle = service_template::Entity::insert(service_template::ActiveModel {
        name: Set(name.to_string()),
        description: Set(
            "Everything a launch needs: a logo, a landing page and your social profiles, started together.".into(),
        ),
        category: Set("Design".into()),
        default_tasks: Set(json!([])),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        is_purchasable: Set(true),
        price_minor: Set(price),
        currency: Set(Currency::USD),
        prices: Set(other_prices(price)),
        store_title: Set(name.to_string()),
        store_description: Set(String::new()),
        store_images: Set(json!(["/static/img/launch-kit.svg"])),
        max_quantity: Set(1),
        sort_order: Set(9),
        questions: Set(json!([])),
        ..Default::default()
    })
    .exec_with_returning(txn)
    .await?;
    let parts: Vec<PartOf> = parts
        .iter()
        .filter_map(|(part, quantity)| {
            Some(PartOf {
                template_id: templates.iter().find(|t| t.name == *part)?.id,
                quantity: *quantity,
            })
        })
        .collect();
    bundles::save_parts(txn, &bundle, &parts)
        .await
        .map_err(|e| anyhow::anyhow!("seeding the bundle: {e}"))?;
    Ok(())
}

/// A conversation on Acme's logo: the agency writes, the client answers, and a note the client
/// never sees.
async fn seed_conversation(txn: &Txn) -> anyhow::Result<()> {
    let person = async |email: &str| -> anyhow::Result<auth::CurrentUser> {
        let u = user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(txn)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no demo user {email}"))?;
        Ok(u.into())
    };
    let (admin, client) = (
        person("admin@example.com").await?,
        person("client@acme.example").await?,
    );
    let acme = clients::find_or_create(txn, "Acme Corp").await?;
    let Some(logo) = service::Entity::find()
        .filter(service::Column::ClientId.eq(acme.id))
        .filter(service::Column::Name.eq("Logo Design"))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let says = [
        (
            &admin,
            "Welcome aboard! We have started on your logo: **first sketches by Friday**.",
            false,
        ),
        (
            &client,
            "Great, thank you! Could you try:\n\n- a blue palette\n- a rounder font",
            false,
        ),
        (
            &admin,
            "Ana prefers blue: see the brand guide before the sketches.",
            true,
        ),
    ];
    for (who, body, internal) in says {
        crate::conversations::post(txn, who, &logo, body, internal, false)
            .await
            .map_err(|e| anyhow::anyhow!("seeding a message: {e}"))?;
    }
    Ok(())
}

/// The demo's intake: Logo Design asks the name on the logo in the cart, and about the brand
/// once paid.
fn logo_questions() -> serde_json::Value {
    json!([
        {"id": 1, "kind": "short_text", "label": "Name to appear on the logo", "when": "before_payment",
         "help": "As it should be written; leave it empty to use your company's name."},
        {"id": 2, "kind": "long_text", "label": "Tell us about your brand", "when": "after_payment",
         "required": true, "help": "Your audience, your voice, and brands you admire."},
        {"id": 3, "kind": "multiple_choice", "label": "Styles you like", "when": "after_payment",
         "choices": ["Minimal", "Playful", "Classic", "Bold"]}
    ])
}

/// (company, template name, status, how many of its first tasks are done)
const SERVICES: [(&str, &str, ServiceStatus, usize); 5] = [
    ("Acme Corp", "Logo Design", ServiceStatus::InProgress, 2),
    ("Acme Corp", "SEO Audit", ServiceStatus::ToDo, 0),
    (
        "Globex Inc",
        "WordPress Website",
        ServiceStatus::InProgress,
        1,
    ),
    ("Globex Inc", "Social Media Setup", ServiceStatus::Done, 3),
    (
        "Globex Inc",
        "Google Ads Campaign Setup",
        ServiceStatus::Cancelled,
        0,
    ),
];

/// A few services in different states, so the pages have something to show.
async fn seed_services(txn: &Txn, templates: &[service_template::Model]) -> anyhow::Result<()> {
    let actor = Actor::System;
    for (company, template_name, status, done) in SERVICES {
        let client = clients::find_or_create(txn, company).await?;
        let template = templates
            .iter()
            .find(|t| t.name == template_name)
            .ok_or_else(|| anyhow::anyhow!("no demo template {template_name}"))?;
        let mut service = provisioning::provision_service(
            txn,
            &actor,
            template,
            client.id,
            Origin::Manual,
            Utc::now(),
        )
        .await?;
        for task in services::tasks(txn, service.id, Audience::Staff)
            .await?
            .into_iter()
            .take(done)
        {
            services::set_task_status(txn, &actor, service.clone(), task.id, TaskStatus::Done)
                .await?;
            service = services::get(txn, service.id).await?;
        }
        if service.status != status {
            services::set_status(txn, &actor, service, status).await?;
        }
    }
    Ok(())
}

/// The demo sign-ins, on standard output, where a newcomer looks.
pub fn print_logins(config: &Config) {
    println!(
        "\nDemo sign-ins at {} (password: {DEMO_PASSWORD})",
        config.url_for("/login")
    );
    for (email, _, role, company) in DEMO_USERS {
        let company = company.map(|c| format!(" of {c}")).unwrap_or_default();
        println!("  {:<8} {email}{company}", role.as_str());
    }
    println!();
}
