//! The client's subscriptions: each with its status, its next charge and card; cancel at the
//! period's end, resume, change seats (each confirmed first), and Stripe's billing portal.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::db::entities::subscription;
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, SubscriptionId};
use crate::notify::inapp;
use crate::subscriptions::day;
use crate::subscriptions::{self, actions::Change};
use crate::web::auth::RequireClient;
use crate::web::extract::{Form, Path};
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

/// One subscription as the page shows it.
pub struct Row {
    pub sub: subscription::Model,
    pub name: String,
    /// "$298.00 every month".
    pub terms: String,
    pub status: String,
    /// "Next charge on March 3, 2027: $298.00", "Ends on March 3, 2027"…
    pub next: Option<String>,
    pub card: Option<String>,
    /// Stripe's page to pay the open invoice of an overdue subscription.
    pub pay_url: Option<String>,
    pub max_seats: i32,
}

/// A change waiting for the client's yes.
pub struct Confirm {
    pub id: SubscriptionId,
    pub action: &'static str,
    pub quantity: i32,
    pub question: String,
    pub yes: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "store/subscriptions.html")]
pub struct SubscriptionsPage {
    ctx: PageCtx,
    rows: Vec<Row>,
    confirm: Option<Confirm>,
    error: Option<AppError>,
}

async fn page(
    state: &AppState,
    ctx: PageCtx,
    client_id: ClientId,
    confirm: Option<Confirm>,
    error: Option<AppError>,
) -> AppResult<SubscriptionsPage> {
    let listed = subscriptions::actions::for_client(&state.db, client_id).await?;
    let pay_urls =
        subscriptions::open_invoice_urls(&state.db, listed.iter().map(|(s, _)| s.id)).await?;
    let rows = listed
        .into_iter()
        .map(|(sub, template)| {
            let each = subscriptions::each_period(&sub);
            let end = day(sub.current_period_end);
            let next = match (sub.ended(), sub.cancel_at_period_end, &end) {
                (true, _, _) => day(sub.ended_at).map(|d| format!("Ended on {d}")),
                (false, true, Some(end)) => Some(format!("Ends on {end}: it will not renew")),
                (false, false, Some(end)) => {
                    Some(format!("Next charge on {end}: {}", each.display()))
                }
                _ => None,
            };
            Row {
                name: template
                    .as_ref()
                    .map_or_else(|| "Subscription".to_string(), |t| t.title().to_string()),
                terms: subscriptions::terms(&sub),
                status: subscriptions::status_label(&sub),
                next,
                card: sub
                    .card_brand
                    .as_ref()
                    .zip(sub.card_last4.as_ref())
                    .map(|(b, l)| format!("{b} ending in {l}")),
                pay_url: pay_urls.get(&sub.id).cloned().filter(|_| sub.overdue()),
                max_seats: template.map_or(1, |t| t.max_quantity),
                sub,
            }
        })
        .collect();
    Ok(SubscriptionsPage {
        ctx,
        rows,
        confirm,
        error,
    })
}

pub async fn list(
    State(state): State<AppState>,
    RequireClient(user, client_id): RequireClient,
    mut ctx: PageCtx,
) -> AppResult<SubscriptionsPage> {
    // The subscriptions' news leads here: seen.
    ctx.seen(inapp::read_link(&state.db, user.id, "/store/subscriptions").await?);
    page(&state, ctx, client_id, None, None).await
}

#[derive(Debug, Default, Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    quantity: String,
}

/// The question a change asks before it is made.
fn question(sub: &subscription::Model, name: &str, change: Change) -> (String, &'static str) {
    let end = day(sub.current_period_end).unwrap_or_else(|| "the end of the period".into());
    match change {
        Change::CancelAtPeriodEnd => (
            format!(
                "Cancel {name}? It stays active until {end}, then ends; nothing more is charged."
            ),
            "Yes, cancel at the period's end",
        ),
        Change::Resume => (
            format!("Resume {name}? It renews on {end} as before."),
            "Yes, resume",
        ),
        Change::Seats(n) => (
            format!("Change {name} to {n} seats? The new amount is charged from {end}."),
            "Yes, change the seats",
        ),
        _ => (String::new(), "Yes"),
    }
}

/// Asks first, then makes the change (`confirm=yes`), then says what happened.
async fn decide(
    state: AppState,
    RequireClient(user, client_id): RequireClient,
    ctx: PageCtx,
    session: Session,
    id: SubscriptionId,
    change: Change,
    confirmed: bool,
) -> AppResult<Response> {
    let sub = subscriptions::actions::get_for_client(&state.db, client_id, id).await?;
    let name = subscriptions::name_of(&state.db, &sub).await?;
    if !confirmed {
        if let Err(e) = subscriptions::actions::check_change(&state.db, &sub, change).await {
            if !e.is_correctable() {
                return Err(e);
            }
            let status = e.status;
            let page = page(&state, ctx, client_id, None, Some(e)).await?;
            return Ok((status, page).into_response());
        }
        let (question, yes) = question(&sub, &name, change);
        let (action, quantity) = match change {
            Change::CancelAtPeriodEnd => ("cancel", sub.quantity),
            Change::Resume => ("resume", sub.quantity),
            Change::Seats(n) => ("seats", n),
            _ => ("", sub.quantity),
        };
        let confirm = Confirm {
            id,
            action,
            quantity,
            question,
            yes,
        };
        return Ok(page(&state, ctx, client_id, Some(confirm), None)
            .await?
            .into_response());
    }
    let done =
        subscriptions::actions::change(&state.db, &state.stripe, &Actor::from(&user), &sub, change)
            .await;
    settle(
        done,
        async |updated| {
            let message = match change {
                Change::CancelAtPeriodEnd => format!(
                    "{name} will end on {}.",
                    day(updated.current_period_end).unwrap_or_default()
                ),
                Change::Resume => format!("{name} will renew as before."),
                Change::Seats(n) => format!("{name} now has {n} seats, from the next period."),
                _ => "Done.".into(),
            };
            flash(&session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/store/subscriptions").into_response())
        },
        async |e| page(&state, ctx, client_id, None, Some(e)).await,
    )
    .await
}

/// `cancel` (at the period's end), `resume` or `seats` (with `quantity`): asked first, made on
/// `confirm=yes`.
pub async fn change(
    State(state): State<AppState>,
    who: RequireClient,
    ctx: PageCtx,
    session: Session,
    Path((id, action)): Path<(SubscriptionId, String)>,
    Form(form): Form<ChangeForm>,
) -> AppResult<Response> {
    let change = match action.as_str() {
        "cancel" => Change::CancelAtPeriodEnd,
        "resume" => Change::Resume,
        "seats" => {
            let quantity = form.quantity.trim();
            let Ok(n) = quantity.parse::<i32>() else {
                let e = AppError::invalid(
                    "quantity",
                    format!("'{quantity}' is not a number of seats."),
                );
                let status = e.status;
                let page = page(&state, ctx, who.1, None, Some(e)).await?;
                return Ok((status, page).into_response());
            };
            Change::Seats(n)
        }
        _ => return Err(AppError::not_found()),
    };
    let yes = form.confirm == "yes";
    decide(state, who, ctx, session, id, change, yes).await
}

/// Stripe's billing portal for the company's card and invoices.
pub async fn billing(
    State(state): State<AppState>,
    RequireClient(_, client_id): RequireClient,
    ctx: PageCtx,
    Path(id): Path<SubscriptionId>,
) -> AppResult<Response> {
    let sub = subscriptions::actions::get_for_client(&state.db, client_id, id).await?;
    let url = subscriptions::actions::portal_url(
        &state.stripe,
        &sub,
        &state.config.url_for("/store/subscriptions"),
    )
    .await;
    settle(
        url,
        async |url| Ok(Redirect::to(&url).into_response()),
        async |e| page(&state, ctx, client_id, None, Some(e)).await,
    )
    .await
}
