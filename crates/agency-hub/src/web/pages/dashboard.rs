//! The dashboard: staff see services by status and the tasks due this week; a client sees
//! their active services.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::{Duration, Utc};

use crate::AppState;
use crate::auth::CurrentUser;
use crate::clients;
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::user::Role;
use crate::error::AppResult;
use crate::orders::health::{self, WebhookHealth};
use crate::services::{self, Audience, DueTask, Filter, ServiceRow};
use crate::web::layout::PageCtx;

#[derive(Template, WebTemplate)]
#[template(path = "pages/dashboard.html")]
pub struct DashboardPage {
    ctx: PageCtx,
    user: CurrentUser,
    /// The client's company (client users only).
    company: Option<String>,
    by_status: Vec<(ServiceStatus, i64)>,
    due: Vec<DueTask>,
    /// A client's services still under way.
    active: Vec<ServiceRow>,
    /// A client's "Recommended for you", priced in its currency (when the store is on).
    picks: Vec<crate::db::entities::service_template::Model>,
    currency: crate::money::Currency,
    /// Staff: is Stripe still talking to us (when the store is on).
    health: Option<WebhookHealth>,
    is_admin: bool,
    /// Staff: open tasks past their due date.
    overdue: u64,
    /// Admins, with the store on: the last seven days' net revenue and orders paid.
    week: Option<Week>,
}

pub struct Week {
    pub revenue: String,
    pub orders: i64,
}

pub async fn show(
    State(state): State<AppState>,
    user: CurrentUser,
    ctx: PageCtx,
) -> AppResult<DashboardPage> {
    let mut page = DashboardPage {
        ctx,
        company: None,
        by_status: Vec::new(),
        due: Vec::new(),
        active: Vec::new(),
        picks: Vec::new(),
        currency: crate::money::Currency::default(),
        health: None,
        is_admin: user.role == Role::Admin,
        overdue: 0,
        week: None,
        user: user.clone(),
    };
    match (user.role, user.client_id) {
        (Role::Client, Some(client_id)) => {
            page.company = Some(clients::get(&state.db, client_id).await?.name);
            for status in [ServiceStatus::InProgress, ServiceStatus::ToDo] {
                let filter = Filter {
                    client_id: Some(client_id),
                    status: Some(status),
                    ..Default::default()
                };
                page.active.extend(
                    services::list(&state.db, &filter, Audience::Client, 1, 12)
                        .await?
                        .0,
                );
            }
            if state.config.store_enabled {
                let saved = state.saved_ids(client_id).await?;
                page.currency = state.billing_currency(client_id).await?;
                page.picks = crate::engagement::recommendations::for_company(
                    &state.db,
                    client_id,
                    &saved,
                    crate::engagement::recommendations::SUGGESTED,
                )
                .await?;
            }
        }
        (Role::Client, None) => {}
        _ => {
            page.by_status = services::count_by_status(&state.db, None).await?;
            let today = Utc::now().date_naive();
            page.due = services::tasks_due(
                &state.db,
                today - Duration::days(30),
                today + Duration::days(7),
                20,
            )
            .await?;
            page.overdue = services::overdue_count(&state.db, today).await?;
            if state.config.store_enabled {
                page.health = Some(health::webhook_health(&state.db).await?);
            }
            if state.config.store_enabled && page.is_admin {
                let p = crate::analytics::dashboard::Period::last_days(7, Utc::now());
                let (net, orders, main) =
                    crate::analytics::dashboard::money_of(&state.db, &p).await?;
                page.week = Some(Week {
                    revenue: if net.is_empty() {
                        crate::money::Money::new(0, main).display()
                    } else {
                        crate::analytics::dashboard::show(&net)
                    },
                    orders,
                });
            }
        }
    }
    Ok(page)
}
