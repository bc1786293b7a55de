//! Invoice and credit note numbers: gapless per year, taken in the transaction that records
//! them, so fifty fulfilments at once get fifty consecutive numbers, a transaction that rolls
//! back gives its number back, and a refund of an invoiced order gets a credit note.

use agency_hub::activity::Actor;
use agency_hub::db::entities::credit_note;
use agency_hub::db::entities::user::Role;
use agency_hub::invoicing::{self, Series};
use agency_hub::stripe_events::handle_many;
use chrono::Datelike;
use mail_parser::MimeHeaders;
use sea_orm::{EntityTrait, QueryOrder};

use super::batches::{paid, pending};
use super::reload;
use crate::fixtures;
use crate::harness::spawn_app_without_background_work;

#[tokio::test]
async fn fifty_fulfilments_at_once_take_fifty_consecutive_invoice_numbers() {
    let app = spawn_app_without_background_work().await;
    let template = fixtures::for_sale(&app.db, "Logo Design", "Design", "50.00", "USD", 5).await;
    let buyer = app
        .create_user(Role::Client, "buyer@acme.example", Some("Acme"))
        .await;
    let acme = buyer.client_id.unwrap();
    let mut orders = Vec::new();
    for _ in 0..50 {
        orders.push(pending(&app, acme, buyer.id, template.id, 1).await);
    }
    let year = chrono::Utc::now().year();

    // A number taken in a transaction that rolls back is given back.
    let txn = app.db.write().await.unwrap();
    let taken = invoicing::take(&txn, Series::Invoice, year, 1)
        .await
        .unwrap();
    assert_eq!(taken, [format!("INV-{year}-000001")]);
    drop(txn);

    // Each payment in its own transaction, all at once.
    let events: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            [paid(
                &format!("evt_{i}"),
                "checkout.session.completed",
                o.get(),
                5_000,
            )]
        })
        .collect();
    let handled =
        futures_util::future::join_all(events.iter().map(|e| handle_many(&app.db, e))).await;
    for h in handled {
        assert_eq!(h.len(), 1);
        assert!(h[0].is_ok(), "{:?}", h[0].as_ref().err());
    }
    let mut numbers = Vec::new();
    for id in &orders {
        numbers.push(reload(&app, *id).await.invoice_number.expect("invoiced"));
    }
    numbers.sort();
    let expected: Vec<String> = (1..=50).map(|n| format!("INV-{year}-{n:06}")).collect();
    assert_eq!(
        numbers, expected,
        "consecutive from 1, none twice, none skipped"
    );

    // The same event again takes no number.
    handle_many(
        &app.db,
        &[paid(
            "evt_0",
            "checkout.session.completed",
            orders[0].get(),
            5_000,
        )],
    )
    .await;
    let next = {
        let txn = app.db.write().await.unwrap();
        invoicing::take(&txn, Series::Invoice, year, 1)
            .await
            .unwrap()
    };
    assert_eq!(next, [format!("INV-{year}-000051")]);

    // Refunds of an invoiced order are credit notes, numbered in their own series.
    let order = reload(&app, orders[0]).await;
    for total in [2_000, 5_000] {
        let order = reload(&app, order.id).await;
        app.db
            .in_transaction(async |txn| {
                agency_hub::orders::refunds::apply(txn, &order, total, &Actor::System, &[]).await
            })
            .await
            .unwrap()
            .expect("a new refund");
    }
    let notes = credit_note::Entity::find()
        .order_by_asc(credit_note::Column::Id)
        .all(&app.db)
        .await
        .unwrap();
    let got: Vec<(String, i64)> = notes
        .iter()
        .map(|n| (n.number.clone(), n.amount_minor))
        .collect();
    assert_eq!(
        got,
        [
            (format!("CN-{year}-000001"), 2_000),
            (format!("CN-{year}-000002"), 3_000)
        ]
    );
}

#[tokio::test]
async fn a_paid_order_has_an_invoice_pdf_and_its_refunds_credit_notes() {
    let mut app = spawn_app_without_background_work().await;
    let template = fixtures::for_sale(&app.db, "Logo Design", "Design", "50.00", "USD", 5).await;
    let buyer = app
        .create_user(Role::Client, "buyer@acme.example", Some("Acme Corp"))
        .await;
    let acme = buyer.client_id.unwrap();
    let (paid_order, unpaid) = (
        pending(&app, acme, buyer.id, template.id, 2).await,
        pending(&app, acme, buyer.id, template.id, 1).await,
    );
    handle_many(
        &app.db,
        &[paid(
            "evt_1",
            "checkout.session.completed",
            paid_order.get(),
            10_000,
        )],
    )
    .await;
    app.db
        .in_transaction(async |txn| {
            let order = agency_hub::orders::get(txn, paid_order).await?;
            agency_hub::orders::refunds::apply(txn, &order, 2_500, &Actor::System, &[]).await
        })
        .await
        .unwrap();
    let year = chrono::Utc::now().year();
    let (invoice, note) = (format!("INV-{year}-000001"), format!("CN-{year}-000001"));

    // The agency's details come from its settings.
    app.signed_in_as(Role::Admin).await;
    let res = app
        .post_form(
            "/admin/settings",
            &[
                ("legal_name", "Northwind Studio Ltd"),
                ("address", "1 Harbour Street\nBristol"),
                ("tax_id", "GB123456789"),
                ("invoice_footer", "Payment due within 14 days."),
                ("default_currency", "USD"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let admin_page = app.page(&format!("/admin/orders/{paid_order}")).await;
    assert!(admin_page.contains(&format!("Invoice {invoice} (PDF)")));
    let res = app
        .get(&format!("/admin/orders/{paid_order}/invoice.pdf"))
        .await;
    assert_eq!(res.status(), 200);

    app.switch_browser(crate::harness::browser());
    app.sign_in("buyer@acme.example", crate::harness::PASSWORD)
        .await;
    let page = app.page(&format!("/store/orders/{paid_order}")).await;
    assert!(page.contains(&format!("href=\"/store/orders/{paid_order}/invoice.pdf\"")));
    assert!(page.contains(&format!("Credit note {note} (PDF) · $25.00")));
    let res = app
        .get(&format!("/store/orders/{paid_order}/invoice.pdf"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains(&format!("{invoice}.pdf"))
    );
    let text = pdf_extract::extract_text_from_mem(&res.bytes().await.unwrap()).unwrap();
    for want in [
        invoice.as_str(),
        "Invoice",
        "Northwind Studio Ltd",
        "GB123456789",
        "Acme Corp",
        "Logo Design",
        "$50.00",
        "$100.00",
        "Payment due within 14 days.",
    ] {
        assert!(text.contains(want), "the invoice shows {want:?}: {text}");
    }
    let res = app
        .get(&format!(
            "/store/orders/{paid_order}/credit-notes/{note}.pdf"
        ))
        .await;
    assert_eq!(res.status(), 200);
    let text = pdf_extract::extract_text_from_mem(&res.bytes().await.unwrap()).unwrap();
    for want in [note.as_str(), "Credit note", invoice.as_str(), "$25.00"] {
        assert!(
            text.contains(want),
            "the credit note shows {want:?}: {text}"
        );
    }

    // No invoice before payment; another company's order, or a made-up note, is not found.
    for path in [
        format!("/store/orders/{unpaid}/invoice.pdf"),
        format!("/store/orders/{paid_order}/credit-notes/CN-{year}-000999.pdf"),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
    app.switch_browser(crate::harness::browser());
    app.create_user(Role::Client, "gus@globex.example", Some("Globex"))
        .await;
    app.sign_in("gus@globex.example", crate::harness::PASSWORD)
        .await;
    assert_eq!(
        app.get(&format!("/store/orders/{paid_order}/invoice.pdf"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_confirmation_email_carries_the_invoice() {
    let smtp = crate::smtp::SmtpServer::start(0).await;
    let app = crate::harness::spawn_app_with(&[("SMTP_URL", &smtp.url())]).await;
    let template = fixtures::for_sale(&app.db, "Logo Design", "Design", "50.00", "USD", 5).await;
    let buyer = app
        .create_user(Role::Client, "buyer@acme.example", Some("Acme Corp"))
        .await;
    let order = pending(&app, buyer.client_id.unwrap(), buyer.id, template.id, 1).await;
    handle_many(
        &app.db,
        &[paid(
            "evt_1",
            "checkout.session.completed",
            order.get(),
            5_000,
        )],
    )
    .await;
    let row = crate::email::email_to(
        &app.db,
        "buyer@acme.example",
        &[agency_hub::db::entities::email::EmailStatus::Sent],
    )
    .await;
    let received = smtp
        .received()
        .into_iter()
        .find(|r| r.to == ["buyer@acme.example"])
        .expect("the confirmation reached the server");
    let message = mail_parser::MessageParser::default()
        .parse(received.data.as_bytes())
        .unwrap();
    assert_eq!(message.subject(), Some(row.subject.as_str()));
    assert!(message.body_text(0).is_some() && message.body_html(0).is_some());
    let number = reload(&app, order).await.invoice_number.unwrap();
    let pdf = message.attachment(0).expect("an attachment");
    assert_eq!(
        pdf.attachment_name(),
        Some(format!("{number}.pdf").as_str())
    );
    let text = pdf_extract::extract_text_from_mem(pdf.contents()).unwrap();
    assert!(
        text.contains(&number) && text.contains("Acme Corp"),
        "{text}"
    );
}
