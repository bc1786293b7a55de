//! An invoice's hosted page (`hosted_invoice_url`): its lines and totals, a card form while it
//! is open, and its PDF (`invoice_pdf`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{day, html, not_found, parse_card};
use crate::api::App;
use crate::billing::{self, Invoice};
use crate::checkout::PaymentChoice;
use crate::money;

struct LineView {
    description: String,
    period: Option<String>,
    amount: String,
}

#[derive(Template)]
#[template(path = "invoice.html")]
struct InvoicePage {
    id: String,
    number: String,
    status: &'static str,
    email: Option<String>,
    lines: Vec<LineView>,
    total: String,
    amount_due: String,
    error: Option<String>,
    notice: Option<String>,
    card_number: String,
    card_expiry: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct CardForm {
    #[serde(default)]
    pub card_number: String,
    #[serde(default)]
    pub card_expiry: String,
    #[serde(default)]
    pub card_cvc: String,
}

fn render(
    invoice: &Invoice,
    form: &CardForm,
    error: Option<String>,
    notice: Option<String>,
) -> InvoicePage {
    let c = &invoice.currency;
    InvoicePage {
        id: invoice.id.clone(),
        number: invoice.number.clone().unwrap_or_else(|| "draft".into()),
        status: invoice.status.as_str(),
        email: invoice.customer_email.clone(),
        lines: invoice
            .lines
            .iter()
            .map(|l| LineView {
                description: l.description.clone(),
                period: (l.period_end > l.period_start)
                    .then(|| format!("{} – {}", day(l.period_start), day(l.period_end))),
                amount: money::format(l.amount, c),
            })
            .collect(),
        total: money::format(invoice.total(), c),
        amount_due: money::format(invoice.total() - invoice.amount_paid(), c),
        error,
        notice,
        card_number: form.card_number.clone(),
        card_expiry: form.card_expiry.clone(),
    }
}

pub async fn show(State(app): State<App>, Path(id): Path<String>) -> Response {
    let store = app.store();
    match store.invoices.get(&id) {
        // A draft has no page yet, as on Stripe.
        Some(invoice) if invoice.number.is_some() => {
            html(&render(invoice, &CardForm::default(), None, None)).into_response()
        }
        _ => not_found("invoice"),
    }
}

/// Pays the open invoice with the card entered; the card becomes the subscription's card.
pub async fn pay(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<CardForm>,
) -> Response {
    let mut store = app.store();
    if store.invoices.get(&id).is_none_or(|i| i.number.is_none()) {
        return not_found("invoice");
    }
    let now = store.now();
    let result =
        parse_card(&form.card_number, &form.card_expiry, &form.card_cvc, now).and_then(|choice| {
            match choice {
                PaymentChoice::Card {
                    number,
                    exp_month,
                    exp_year,
                } => billing::pay_invoice(&mut store, &id, Some((&number, exp_month, exp_year))),
                PaymentChoice::BankDebit { .. } => Err("Pay by card.".into()),
            }
        });
    let invoice = &store.invoices[&id];
    match result {
        Ok(()) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, format!("/i/{id}?paid=1"))],
        )
            .into_response(),
        Err(e) => (
            StatusCode::PAYMENT_REQUIRED,
            html(&render(invoice, &form, Some(e), None)),
        )
            .into_response(),
    }
}

pub async fn pdf(State(app): State<App>, Path(id): Path<String>) -> Response {
    let store = app.store();
    match store.invoices.get(&id) {
        Some(invoice) if invoice.number.is_some() => {
            let file = invoice.number.clone().unwrap_or_default();
            (
                [
                    (header::CONTENT_TYPE, "application/pdf".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"Invoice-{file}.pdf\""),
                    ),
                ],
                billing::pdf::invoice_pdf(&store, invoice),
            )
                .into_response()
        }
        _ => not_found("invoice"),
    }
}
