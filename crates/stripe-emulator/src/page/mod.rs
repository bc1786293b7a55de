//! The hosted pages, working with plain form posts (no JavaScript): the checkout page at a
//! session's `url` (here), an invoice's page and the customer portal (submodules).

pub mod invoice;
pub mod portal;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::api::App;
use crate::checkout::{self, PayOutcome, Payer, PaymentChoice};
use crate::model::{Address, Session, SessionStatus};
use crate::money;
use crate::store::Store;

struct LineView {
    name: String,
    quantity: i64,
    amount: String,
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    session_id: String,
    state: &'static str,
    lines: Vec<LineView>,
    subtotal: String,
    discount: Option<String>,
    promotion_code: Option<String>,
    tax: Option<String>,
    tax_rate: String,
    total: String,
    currency: String,
    email: String,
    email_locked: bool,
    allow_promotion_codes: bool,
    cancel_url: Option<String>,
    success_url: String,
    error: Option<String>,
    notice: Option<String>,
    method: String,
    card_number: String,
    card_expiry: String,
    promotion_code_input: String,
    collect_address: bool,
    billing_country: String,
    billing_postal_code: String,
    collect_tax_id: bool,
    tax_id: String,
    /// Prices include their tax: the tax line says so rather than adding to the total.
    tax_included: bool,
    /// For a subscription: what recurs after today's payment (and the trial).
    recurring_note: Option<String>,
}

/// The fields of the page's form.
#[derive(Debug, Default, Deserialize)]
pub struct PayForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    payment_method: String,
    #[serde(default)]
    card_number: String,
    #[serde(default)]
    card_expiry: String,
    #[serde(default)]
    card_cvc: String,
    #[serde(default)]
    promotion_code: String,
    #[serde(default)]
    billing_country: String,
    #[serde(default)]
    billing_postal_code: String,
    #[serde(default)]
    tax_id: String,
}

fn render(
    store: &Store,
    session: &Session,
    form: &PayForm,
    error: Option<String>,
    notice: Option<String>,
) -> Html<String> {
    let c = &session.currency;
    let lines = session
        .line_items
        .iter()
        .map(|l| LineView {
            name: l.description.clone(),
            quantity: l.quantity,
            amount: money::format(l.amount_subtotal, c),
        })
        .collect();
    let promotion_code = session
        .promotion_code
        .as_ref()
        .and_then(|p| store.promotion_codes.get(p))
        .map(|p| p.code.clone());
    let bps = store.tax_rate_bps;
    // What was typed, or else what the customer's address already says.
    let on_file = session
        .customer
        .as_ref()
        .and_then(|c| store.customers.get(c))
        .and_then(|c| c.address.clone())
        .unwrap_or_default();
    let typed_or = |typed: &str, known: Option<String>| {
        if typed.is_empty() {
            known.unwrap_or_default()
        } else {
            typed.to_string()
        }
    };
    let page = CheckoutPage {
        session_id: session.id.clone(),
        state: session.status.as_str(),
        lines,
        subtotal: money::format(session.amount_subtotal(), c),
        discount: (session.amount_discount() > 0)
            .then(|| money::format(session.amount_discount(), c)),
        promotion_code,
        tax: session
            .automatic_tax
            .then(|| money::format(session.amount_tax(), c)),
        tax_rate: format!("{}.{:02}%", bps / 100, bps % 100),
        total: money::format(session.amount_total(), c),
        currency: c.to_uppercase(),
        email: if form.email.is_empty() {
            session.customer_email.clone().unwrap_or_default()
        } else {
            form.email.clone()
        },
        email_locked: session.customer_email.is_some(),
        allow_promotion_codes: session.allow_promotion_codes,
        cancel_url: session.cancel_url.clone(),
        success_url: checkout::success_redirect(session),
        error,
        notice,
        method: if form.payment_method.is_empty() {
            "card".into()
        } else {
            form.payment_method.clone()
        },
        card_number: form.card_number.clone(),
        card_expiry: form.card_expiry.clone(),
        promotion_code_input: form.promotion_code.clone(),
        collect_address: session.collects_billing_address(),
        billing_country: typed_or(&form.billing_country, on_file.country),
        billing_postal_code: typed_or(&form.billing_postal_code, on_file.postal_code),
        recurring_note: recurring_note(store, session),
        collect_tax_id: session.tax_id_collection,
        tax_id: form.tax_id.clone(),
        tax_included: session.line_items.iter().any(|l| l.tax_inclusive),
    };
    html(&page)
}

/// "Then $149.00 every month", after "Free for 14 days, " in a trial; `None` for a payment.
fn recurring_note(store: &Store, session: &Session) -> Option<String> {
    let mut period = None;
    let mut amount = 0;
    for line in &session.line_items {
        let price = store.prices.get(&line.price)?;
        if let Some(r) = &price.recurring {
            period = Some(r);
            amount += price.unit_amount * line.quantity;
        }
    }
    let then = format!(
        "{} every {}",
        money::format(amount, &session.currency),
        crate::billing::period_words(period?)
    );
    Some(match session.subscription_data.trial_period_days {
        Some(days) => format!("Free for {days} days, then {then}"),
        None => format!("Then {then}"),
    })
}

/// A 404 page naming what was not found ("checkout session", "invoice").
fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(format!(
            "<!doctype html><title>Not found</title><p>No such {what}.</p>"
        )),
    )
        .into_response()
}

/// A rendered page, or a plain 500 naming the template error.
fn html(page: &impl Template) -> Html<String> {
    Html(
        page.render()
            .unwrap_or_else(|e| format!("template error: {e}")),
    )
}

/// A day as the hosted pages write it: "March 3, 2027".
fn day(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%B %-d, %Y").to_string())
        .unwrap_or_default()
}

pub async fn show(State(app): State<App>, Path(id): Path<String>) -> Response {
    let store = app.store();
    let Some(session) = store.sessions.get(&id) else {
        return not_found("checkout session");
    };
    let status = if session.status == SessionStatus::Expired {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    (
        status,
        render(&store, session, &PayForm::default(), None, None),
    )
        .into_response()
}

pub async fn submit(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Response {
    let mut store = app.store();
    let Some(session) = store.sessions.get(&id).cloned() else {
        return not_found("checkout session");
    };
    let page =
        |store: &Store, status: StatusCode, error: Option<String>, notice: Option<String>| {
            let session = store.sessions.get(&id).unwrap_or(&session);
            (status, render(store, session, &form, error, notice)).into_response()
        };
    if session.status != SessionStatus::Open {
        let status = if session.status == SessionStatus::Expired {
            StatusCode::GONE
        } else {
            StatusCode::CONFLICT
        };
        return page(&store, status, None, None);
    }
    match form.action.as_str() {
        "apply_promotion_code" => {
            return match checkout::apply_promotion_code(&mut store, &id, &form.promotion_code) {
                Ok(()) => page(
                    &store,
                    StatusCode::OK,
                    None,
                    Some("Promotion code applied.".into()),
                ),
                Err(e) => page(&store, StatusCode::BAD_REQUEST, Some(e), None),
            };
        }
        "remove_promotion_code" => {
            checkout::remove_promotion_code(&mut store, &id);
            return page(
                &store,
                StatusCode::OK,
                None,
                Some("Promotion code removed.".into()),
            );
        }
        "pay" | "" => {}
        other => {
            return page(
                &store,
                StatusCode::BAD_REQUEST,
                Some(format!("Unknown action: {other}")),
                None,
            );
        }
    }
    let email = payer_email(&form, &session);
    if !valid_email(&email) {
        return page(
            &store,
            StatusCode::BAD_REQUEST,
            Some("Enter a valid email address.".into()),
            None,
        );
    }
    let address = if session.collects_billing_address() {
        match billing_address(&form) {
            Ok(address) => Some(address),
            Err(e) => return page(&store, StatusCode::BAD_REQUEST, Some(e), None),
        }
    } else {
        None
    };
    let choice = match payment_choice(&form, store.clock.now()) {
        Ok(choice) => choice,
        Err(e) => return page(&store, StatusCode::BAD_REQUEST, Some(e), None),
    };
    let tax_id = if session.tax_id_collection {
        match tax_id(&form.tax_id) {
            Ok(id) => id,
            Err(e) => return page(&store, StatusCode::BAD_REQUEST, Some(e), None),
        }
    } else {
        None
    };
    let payer = Payer {
        email,
        address,
        tax_id,
    };
    match checkout::pay(&mut store, &id, &payer, choice) {
        Ok(PayOutcome::Completed(url)) => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response()
        }
        Ok(PayOutcome::Declined(message)) => {
            page(&store, StatusCode::PAYMENT_REQUIRED, Some(message), None)
        }
        Err(e) => page(&store, StatusCode::CONFLICT, Some(e), None),
    }
}

/// The email typed, or the one the session was created with.
fn payer_email(form: &PayForm, session: &Session) -> String {
    let email = form.email.trim();
    if email.is_empty() {
        session.customer_email.clone().unwrap_or_default()
    } else {
        email.to_string()
    }
}

/// The billing country (two letters, kept in capitals) and postal code, both required.
fn billing_address(form: &PayForm) -> Result<Address, String> {
    let country = form.billing_country.trim();
    if country.is_empty() {
        return Err("Enter your billing country.".into());
    }
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err("Enter your billing country as a two-letter code, such as US or DE.".into());
    }
    let postal_code = form.billing_postal_code.trim();
    if postal_code.is_empty() {
        return Err("Enter your postal code.".into());
    }
    if postal_code.chars().count() > 20 {
        return Err("Your postal code is too long.".into());
    }
    Ok(Address {
        country: Some(country.to_ascii_uppercase()),
        postal_code: Some(postal_code.to_string()),
        ..Address::default()
    })
}

/// An optional tax ID, `(type, value)`: a VAT number (two letters, then digits and letters;
/// `gb_vat` for GB, else `eu_vat`) or a United States EIN (nine digits).
fn tax_id(typed: &str) -> Result<Option<(String, String)>, String> {
    let value: String = typed
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if value.is_empty() {
        return Ok(None);
    }
    let invalid = || "Enter a valid tax ID, such as DE123456789, or leave it empty.".to_string();
    let (country, rest) = value.split_at_checked(2).ok_or_else(invalid)?;
    if country.bytes().all(|b| b.is_ascii_alphabetic()) {
        if !(2..=13).contains(&rest.len()) || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid());
        }
        let kind = if country == "GB" { "gb_vat" } else { "eu_vat" };
        return Ok(Some((kind.into(), value)));
    }
    let digits: String = value.chars().filter(|c| *c != '-').collect();
    if digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Some(("us_ein".into(), value)));
    }
    Err(invalid())
}

fn payment_choice(form: &PayForm, now: i64) -> Result<PaymentChoice, String> {
    match form.payment_method.as_str() {
        "card" | "" => parse_card(&form.card_number, &form.card_expiry, &form.card_cvc, now),
        "bank_debit" => Ok(PaymentChoice::BankDebit { succeeds: true }),
        "bank_debit_failing" => Ok(PaymentChoice::BankDebit { succeeds: false }),
        other => Err(format!("Unknown payment method: {other}")),
    }
}

fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Reads the card fields the way Checkout's form does: spaces in the number are ignored, the
/// expiry is `MM / YY` (or `MM/YYYY`), and a past expiry or a bad CVC is refused before any
/// charge is attempted.
pub(crate) fn parse_card(
    number: &str,
    expiry: &str,
    cvc: &str,
    now: i64,
) -> Result<PaymentChoice, String> {
    let number: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if number.is_empty() {
        return Err("Enter your card number.".into());
    }
    if !checkout::luhn_valid(&number) {
        return Err("Your card number is invalid.".into());
    }
    let (mm, yy) = expiry
        .split_once('/')
        .ok_or("Your card's expiration date is incomplete.")?;
    let month: i64 = mm
        .trim()
        .parse()
        .map_err(|_| "Your card's expiration date is invalid.")?;
    let year: i64 = yy
        .trim()
        .parse()
        .map_err(|_| "Your card's expiration date is invalid.")?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) {
        return Err("Your card's expiration month is invalid.".into());
    }
    let today = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
    let (this_year, this_month) = (
        i64::from(chrono::Datelike::year(&today)),
        i64::from(chrono::Datelike::month(&today)),
    );
    if (year, month) < (this_year, this_month) {
        return Err("Your card's expiration date is in the past.".into());
    }
    let cvc = cvc.trim();
    let cvc_len = if number.starts_with("34") || number.starts_with("37") {
        4
    } else {
        3
    };
    if cvc.len() != cvc_len || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Your card's security code is invalid.".into());
    }
    Ok(PaymentChoice::Card {
        number,
        exp_month: month,
        exp_year: year,
    })
}
