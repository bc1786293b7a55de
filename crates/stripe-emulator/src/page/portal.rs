//! The customer portal (`billing_portal.sessions` `url`): the customer's subscriptions, each
//! cancellable at its period's end and resumable until then, the card on file (replaceable)
//! and their invoices.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{day, html, not_found, parse_card};
use crate::api::App;
use crate::billing::{self, Changes, SubscriptionStatus};
use crate::checkout::{self, PaymentChoice};
use crate::money;
use crate::store::Store;

struct SubscriptionView {
    id: String,
    name: String,
    price: String,
    status: &'static str,
    next: String,
    cancel_at_period_end: bool,
}

struct InvoiceView {
    url: String,
    number: String,
    date: String,
    status: &'static str,
    amount: String,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct PortalPage {
    session_id: String,
    subscriptions: Vec<SubscriptionView>,
    card: Option<String>,
    invoices: Vec<InvoiceView>,
    return_url: Option<String>,
    error: Option<String>,
    notice: Option<String>,
    card_number: String,
    card_expiry: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct PortalForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    subscription: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    card_expiry: String,
    #[serde(default)]
    card_cvc: String,
}

fn render(
    store: &Store,
    session_id: &str,
    form: &PortalForm,
    error: Option<String>,
    notice: Option<String>,
) -> Option<PortalPage> {
    let session = store.portal_sessions.get(session_id)?;
    let customer = store.customers.get(&session.customer)?;
    let subscriptions = store
        .subscriptions
        .values()
        .rev()
        .filter(|s| s.customer == customer.id && s.status != SubscriptionStatus::Canceled)
        .map(|s| {
            let names: Vec<String> = s
                .items
                .iter()
                .filter_map(|i| store.prices.get(&i.price))
                .filter_map(|p| store.products.get(&p.product).map(|p| p.name.clone()))
                .collect();
            let amount: i64 = s
                .items
                .iter()
                .map(|i| store.prices.get(&i.price).map_or(0, |p| p.unit_amount) * i.quantity)
                .sum();
            let end = day(s.current_period_end);
            SubscriptionView {
                id: s.id.clone(),
                name: names.join(", "),
                price: format!(
                    "{} every {}",
                    money::format(amount, &s.currency),
                    billing::period_words(&s.recurring)
                ),
                status: s.status.as_str(),
                next: if s.cancel_at_period_end {
                    format!("Cancels on {end}")
                } else {
                    format!("Renews on {end}")
                },
                cancel_at_period_end: s.cancel_at_period_end,
            }
        })
        .collect();
    let card = customer
        .default_payment_method
        .as_ref()
        .and_then(|pm| store.payment_methods.get(pm))
        .map(|pm| format!("{} ending in {}", pm.brand, pm.last4));
    let invoices = store
        .invoices
        .values()
        .rev()
        .filter(|i| i.customer == customer.id && i.number.is_some())
        .map(|i| InvoiceView {
            url: i.hosted_url(""),
            number: i.number.clone().unwrap_or_default(),
            date: day(i.created),
            status: i.status.as_str(),
            amount: money::format(i.total(), &i.currency),
        })
        .collect();
    Some(PortalPage {
        session_id: session_id.to_string(),
        subscriptions,
        card,
        invoices,
        return_url: session.return_url.clone(),
        error,
        notice,
        card_number: form.card_number.clone(),
        card_expiry: form.card_expiry.clone(),
    })
}

pub async fn show(State(app): State<App>, Path(id): Path<String>) -> Response {
    let store = app.store();
    match render(&store, &id, &PortalForm::default(), None, None) {
        Some(page) => html(&page).into_response(),
        None => not_found("billing portal session"),
    }
}

/// Cancels at the period's end, resumes, or saves a new card (made the customer's and every
/// live subscription's card).
pub async fn act(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<PortalForm>,
) -> Response {
    let mut store = app.store();
    let Some(customer) = store.portal_sessions.get(&id).map(|s| s.customer.clone()) else {
        return not_found("billing portal session");
    };
    let result = match form.action.as_str() {
        "cancel" | "resume" => {
            let owned = store
                .subscriptions
                .get(&form.subscription)
                .is_some_and(|s| {
                    s.customer == customer && s.status != SubscriptionStatus::Canceled
                });
            if owned {
                let cancel = form.action == "cancel";
                let changes = Changes {
                    cancel_at_period_end: Some(cancel),
                    ..Changes::default()
                };
                billing::change(&mut store, &form.subscription, changes);
                Ok(if cancel {
                    "Your subscription will be canceled at the end of the period."
                } else {
                    "Your subscription will continue."
                })
            } else {
                Err("That subscription cannot be changed here.".to_string())
            }
        }
        "update_card" => update_card(&mut store, &customer, &form).map(|()| "Card saved."),
        other => Err(format!("Unknown action: {other}")),
    };
    let (status, error, notice) = match result {
        Ok(n) => (StatusCode::OK, None, Some(n.to_string())),
        Err(e) => (StatusCode::BAD_REQUEST, Some(e), None),
    };
    match render(&store, &id, &form, error, notice) {
        Some(page) => (status, html(&page)).into_response(),
        None => not_found("billing portal session"),
    }
}

fn update_card(store: &mut Store, customer: &str, form: &PortalForm) -> Result<(), String> {
    let now = store.now();
    let PaymentChoice::Card {
        number,
        exp_month,
        exp_year,
    } = parse_card(&form.card_number, &form.card_expiry, &form.card_cvc, now)?
    else {
        return Err("Enter a card.".into());
    };
    if !checkout::card_attaches(&number) {
        return Err("Your card was declined.".into());
    }
    let email = store
        .customers
        .get(customer)
        .and_then(|c| c.email.clone())
        .unwrap_or_default();
    let pm = billing::save_card(store, customer, &email, &number, exp_month, exp_year);
    let live: Vec<String> = store
        .subscriptions
        .values()
        .filter(|s| s.customer == customer && s.status != SubscriptionStatus::Canceled)
        .map(|s| s.id.clone())
        .collect();
    for sub in live {
        let changes = Changes {
            default_payment_method: Some(pm.clone()),
            ..Changes::default()
        };
        billing::change(store, &sub, changes);
    }
    Ok(())
}
