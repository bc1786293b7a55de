//! A/B experiments: an admin starts one on the cards' call to action, each client person sees
//! their variant every time, an add to cart counts for theirs, stopping keeps the winner for
//! everyone; the report of 2,000 seeded people with known conversion rates reads exactly.

use agency_hub::activity::Actor;
use agency_hub::analytics::{Event, Kind};
use agency_hub::db::entities::user::Role;
use agency_hub::db::entities::{experiment, store_event, user};
use agency_hub::engagement::experiments::{self, Arm, Element, ExperimentForm, Variant};
use agency_hub::ids::UserId;
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use crate::fixtures;
use crate::harness::{PASSWORD, browser, spawn_app};

async fn exposures(app: &crate::harness::TestApp) -> u64 {
    app.state.views.flush().await;
    store_event::Entity::find()
        .filter(store_event::Column::Kind.eq(Kind::Exposure.as_str()))
        .count(&app.db)
        .await
        .unwrap()
}

/// The text of the first card's button.
fn cta(store: &str) -> &str {
    let start = store.find("data-cta>").expect("a card's button") + "data-cta>".len();
    &store[start..start + store[start..].find('<').unwrap()]
}

#[tokio::test]
async fn clients_see_their_variant_every_time_conversions_count_and_stopping_keeps_the_winner() {
    let mut app = spawn_app().await;
    let logo = fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    let first = app
        .create_user(Role::Client, "first@acme.example", Some("Acme Corp"))
        .await;
    let second = app
        .create_user(Role::Client, "second@acme.example", Some("Acme Corp"))
        .await;
    let admin_browser = app.client.clone();
    app.signed_in_as(Role::Admin).await;
    assert!(
        app.page("/admin/experiments")
            .await
            .contains("No experiment yet")
    );

    // Mistakes are named in place and nothing starts.
    let res = app
        .post_form(
            "/admin/experiments",
            &[
                ("name", ""),
                ("element", "cta_text"),
                ("variant-0-name", "A"),
                ("variant-0-weight", "50"),
                ("variant-0-value", "Add to cart"),
                ("variant-1-name", "B"),
                ("variant-1-weight", "60"),
                ("variant-1-value", "Book it now"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Name the experiment."), "{page}");
    assert_eq!(experiment::Entity::find().count(&app.db).await.unwrap(), 0);

    let fields = [
        ("name", "Button text"),
        ("element", "cta_text"),
        ("variant-0-name", "A"),
        ("variant-0-weight", "50"),
        ("variant-0-value", "Add to cart"),
        ("variant-1-name", "B"),
        ("variant-1-weight", "50"),
        ("variant-1-value", "Book it now"),
    ];
    let res = app.post_form("/admin/experiments", &fields).await;
    assert_eq!(res.status(), 303);
    let report = res.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = report.rsplit('/').next().unwrap().parse().unwrap();
    // A second one on the same element is refused at its field.
    let res = app.post_form("/admin/experiments", &fields).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("is running on this element: stop it first.")
    );
    assert_eq!(experiment::Entity::find().count(&app.db).await.unwrap(), 1);

    // Each person sees their variant, the same on every visit; one exposure each.
    let variants: Vec<Variant> = experiments::get(&app.db, id).await.unwrap().variants;
    let texts = ["Add to cart", "Book it now"];
    let mut shown = Vec::new();
    for person in [&first, &second] {
        app.switch_browser(browser());
        assert_eq!(app.sign_in(&person.email, PASSWORD).await.status(), 303);
        let expected = texts[experiments::assign(id, person.id, &variants)];
        for _ in 0..3 {
            let store = app.page("/store").await;
            assert_eq!(cta(&store), expected, "{}", person.email);
            assert!(store.contains(&format!("aria-label=\"{expected}: Logo Design\"")));
        }
        shown.push(experiments::assign(id, person.id, &variants));
    }
    assert_eq!(exposures(&app).await, 2, "once a person");
    // The second person adds to the cart: a conversion for their variant.
    let res = app
        .post_form(
            "/store/cart/items",
            &[("template_id", &logo.id.to_string()), ("quantity", "1")],
        )
        .await;
    assert_eq!(res.status(), 303);
    app.state.views.flush().await;

    // A client may not see the report.
    assert_eq!(app.get(&report).await.status(), 403);
    let client_browser = app.switch_browser(admin_browser);
    let page = app.page(&report).await;
    let users_of = |v: usize| shown.iter().filter(|s| **s == v).count();
    for (v, name) in ["A", "B"].iter().enumerate() {
        let carted = usize::from(shown[1] == v);
        let rate = match users_of(v) {
            0 => "—".to_string(),
            n => format!("{:.2} %", carted as f64 * 100.0 / n as f64),
        };
        let row = format!(
            "<tr data-variant=\"{name}\"><th scope=\"row\">{name}</th><td class=\"num\">{}</td><td class=\"num\">{carted}</td><td class=\"num\" data-rate>{rate}</td>",
            users_of(v)
        );
        assert!(page.contains(&row), "{row}\n{page}");
    }

    // A variant that is not there, or not a number, is refused and nothing stops.
    for bad in ["2", "B", ""] {
        let res = app
            .post_form(&format!("{report}/stop"), &[("keep", bad)])
            .await;
        assert_eq!(res.status(), 400, "keep={bad}");
    }
    assert!(experiments::get(&app.db, id).await.unwrap().running());

    // Stopped, keeping B: everyone sees it, and no exposure is recorded any more.
    let res = app
        .post_form(&format!("{report}/stop"), &[("keep", "1")])
        .await;
    assert_eq!(res.status(), 303);
    let page = app.page(&report).await;
    assert!(page.contains(", kept B</span>"), "{page}");
    assert!(!page.contains("Stop and keep this"));
    assert_eq!(
        app.post_form(&format!("{report}/stop"), &[("keep", "0")])
            .await
            .status(),
        409
    );
    let before = exposures(&app).await;
    app.switch_browser(client_browser);
    assert_eq!(cta(&app.page("/store").await), "Book it now");
    app.switch_browser(browser());
    assert_eq!(app.sign_in(&first.email, PASSWORD).await.status(), 303);
    assert_eq!(cta(&app.page("/store").await), "Book it now");
    assert_eq!(exposures(&app).await, before);
}

#[tokio::test]
async fn a_featured_service_and_hidden_stars_and_a_default_sort_apply_to_the_store() {
    let app = spawn_app().await;
    fixtures::for_sale(&app.db, "Logo Design", "Design", "499", "USD", 3).await;
    let seo = fixtures::for_sale(&app.db, "SEO Audit", "Marketing", "350", "USD", 5).await;
    fixtures::for_sale(&app.db, "Web Banner", "Design", "120", "USD", 5).await;
    // Two approved reviews on the logo: its card shows the stars before the experiments.
    agency_hub::db::entities::service_template::Entity::update_many()
        .col_expr(
            agency_hub::db::entities::service_template::Column::ReviewCount,
            Expr::value(2),
        )
        .col_expr(
            agency_hub::db::entities::service_template::Column::RatingSum,
            Expr::value(9),
        )
        .exec(&app.db)
        .await
        .unwrap();
    app.state.store.changed().await;
    app.signed_in_as(Role::Client).await;
    let store = app.page("/store").await;
    assert!(store.contains("data-rating") && !store.contains("featured-title"));
    let list = store.rfind("<div class=\"store-grid\">").unwrap();
    assert!(store[list..].find("Logo Design").unwrap() < store[list..].find("SEO Audit").unwrap());

    // Each experiment stopped keeping its second variant, which every client then sees.
    let admin = Actor::System;
    let on_sale = agency_hub::catalog::list(&app.db, false).await.unwrap();
    for (element, a, b) in [
        ("featured_service", "none", "SEO Audit"),
        ("default_sort", "featured", "price_asc"),
        ("review_stars", "show", "hide"),
    ] {
        let mut form = ExperimentForm::blank();
        form.name = element.into();
        form.element = element.into();
        form.variants[0].2 = a.into();
        form.variants[1].2 = b.into();
        let valid = form.validate(&on_sale).unwrap();
        let row = experiments::start(&app.db, &admin, valid).await.unwrap();
        experiments::stop(&app.db, &admin, row.id, Some(1))
            .await
            .unwrap();
    }
    app.state.experiments_changed();
    let store = app.page("/store").await;
    let featured = store
        .find("id=\"featured-title\"")
        .expect("a featured section");
    let grid = store[featured..]
        .find("<div class=\"store-grid\">")
        .unwrap()
        + featured;
    let list = store.rfind("<div class=\"store-grid\">").unwrap();
    let seo_link = format!("href=\"/store/{}\"", seo.id);
    assert!(
        store[grid..list].contains(&seo_link) && !store[grid..list].contains("Logo Design"),
        "SEO Audit alone in the featured section"
    );
    assert!(!store[list..].contains(&seo_link), "and not twice");
    // Cheapest first when no sort is chosen; the client's choice still wins.
    assert!(store[list..].find("Web Banner").unwrap() < store[list..].find("Logo Design").unwrap());
    assert!(store.contains("<option value=\"price_asc\" selected>"));
    let chosen = app.page("/store?sort=price_desc").await;
    let list = chosen.rfind("<div class=\"store-grid\">").unwrap();
    assert!(
        chosen[list..].find("Logo Design").unwrap() < chosen[list..].find("Web Banner").unwrap()
    );
    // Not on a search's page.
    assert!(!app.page("/store?q=logo").await.contains("featured-title"));
    assert!(!store.contains("data-rating"));
    assert_eq!(
        experiments::Element::parse("review_stars"),
        Some(Element::ReviewStars)
    );
}

#[tokio::test]
async fn the_report_of_2000_seeded_people_with_known_rates_is_exact() {
    let app = spawn_app().await;
    let company = fixtures::company(&app.db, "Seeded Co").await;
    let mut form = ExperimentForm::blank();
    form.name = "Stars".into();
    form.element = "review_stars".into();
    form.variants[0].2 = "show".into();
    form.variants[1].2 = "hide".into();
    let valid = form.validate(&[]).unwrap();
    let row = experiments::start(&app.db, &Actor::System, valid)
        .await
        .unwrap();
    assert_eq!(row.id, 1, "the figures below are for experiment 1");
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    experiment::Entity::update_many()
        .col_expr(experiment::Column::CreatedAt, Expr::value(start))
        .filter(experiment::Column::Id.eq(row.id))
        .exec(&app.db)
        .await
        .unwrap();
    let e = experiments::get(&app.db, row.id).await.unwrap();

    // 2,000 client people, each seen the store once (one twice).
    let ids: Vec<i64> = (10_001..=12_000).collect();
    let rows: Vec<user::ActiveModel> = ids
        .iter()
        .map(|id| user::ActiveModel {
            id: Set(UserId(*id)),
            email: Set(format!("person{id}@seeded.example")),
            name: Set(format!("Person {id}")),
            password_hash: Set("not a hash: never signs in".into()),
            role: Set(Role::Client),
            client_id: Set(Some(company.id)),
            active: Set(true),
            last_login_at: Set(None),
            created_at: Set(start),
            updated_at: Set(start),
            message_email: Set(Default::default()),
        })
        .collect();
    for chunk in rows.chunks(500) {
        user::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&app.db)
            .await
            .unwrap();
    }
    let event = |kind, id: i64, at| Event::new(kind, Some(company.id), Some(UserId(id))).at(at);
    let seen = start + Duration::days(1);
    let mut events = Vec::new();
    let mut by_variant: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
    for id in &ids {
        let v = experiments::assign(e.row.id, UserId(*id), &e.variants);
        by_variant[v].push(*id);
        events.push(event(Kind::Exposure, *id, seen).experiment(e.row.id, v as i32));
    }
    events.push(event(Kind::Exposure, ids[0], seen + Duration::hours(1)).experiment(e.row.id, 0));
    // Known conversions: control 100 / 50 / 20 people, B 150 / 80 / 40, each after being seen.
    let later = seen + Duration::days(1);
    for (v, counts) in [[100, 50, 20], [150, 80, 40]].iter().enumerate() {
        for (kind, n) in [Kind::AddToCart, Kind::CheckoutStarted, Kind::Paid]
            .into_iter()
            .zip(counts)
        {
            for id in &by_variant[v][..*n] {
                events.push(event(kind, *id, later));
                // A second time counts once.
                events.push(event(kind, *id, later + Duration::minutes(1)));
            }
        }
    }
    // Not conversions: before being seen, and by someone never seen.
    let last = *by_variant[0].last().unwrap();
    events.push(event(Kind::AddToCart, last, start + Duration::hours(1)));
    events.push(event(Kind::AddToCart, 99_999, later));
    Event::record_many(&app.db, events).await.unwrap();

    let arms = experiments::results(&app.db, &e).await.unwrap();
    assert_eq!(
        arms,
        [
            Arm {
                name: "A".into(),
                weight: 50,
                users: 983,
                converted: [100, 50, 20]
            },
            Arm {
                name: "B".into(),
                weight: 50,
                users: 1017,
                converted: [150, 80, 40]
            }
        ]
    );

    // The figures as the page shows them (computed apart with Python's math.erfc).
    app.signed_in_as(Role::Admin).await;
    let page = app.page("/admin/experiments/1").await;
    let expected = [
        (
            "100",
            "10.17 %",
            "150",
            "14.75 %",
            "+44.99 %",
            "+1.69 pts to +7.46 pts",
            "3.094",
            "0.0020",
            "Better than the control (95 %)",
        ),
        (
            "50",
            "5.09 %",
            "80",
            "7.87 %",
            "+54.65 %",
            "+0.63 pts to +4.93 pts",
            "2.521",
            "0.0117",
            "Better than the control (95 %)",
        ),
        (
            "20",
            "2.03 %",
            "40",
            "3.93 %",
            "+93.31 %",
            "+0.41 pts to +3.38 pts",
            "2.488",
            "0.0128",
            "Better than the control (95 %)",
        ),
    ];
    for (g, (x0, r0, x1, r1, uplift, interval, z, p, verdict)) in expected.iter().enumerate() {
        let table = &page[page.find(&format!("data-goal=\"{g}\"")).unwrap()..];
        let table = &table[..table.find("</table>").unwrap()];
        let control = format!(
            "<tr data-variant=\"A\"><th scope=\"row\">A</th><td class=\"num\">983</td><td class=\"num\">{x0}</td><td class=\"num\" data-rate>{r0}</td>"
        );
        assert!(table.contains(&control), "{control}\n{table}");
        let b = format!(
            "<tr data-variant=\"B\"><th scope=\"row\">B</th><td class=\"num\">1017</td><td class=\"num\">{x1}</td><td class=\"num\" data-rate>{r1}</td><td class=\"num\" data-uplift>{uplift}</td><td data-interval>{interval}</td><td class=\"num\" data-z>{z}</td><td class=\"num\" data-p>{p}</td><td data-verdict>{verdict}</td></tr>"
        );
        assert!(table.contains(&b), "{b}\n{table}");
    }
}
