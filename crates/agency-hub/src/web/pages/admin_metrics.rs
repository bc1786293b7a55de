//! The admin's store dashboard: a period's figures beside the previous period's, with the
//! revenue and orders charts and the funnel drawn as SVG on the server.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::AppState;
use crate::analytics::charts::{self, Bar};
use crate::analytics::dashboard::{self, CodeSales, Figures, Period, TopService, show};
use crate::error::{AppError, AppResult};
use crate::money::{Currency, Money};
use crate::web::auth::RequireAdmin;
use crate::web::extract::Query;
use crate::web::layout::PageCtx;

#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    /// 7, 30 (default), 90 or custom.
    #[serde(default)]
    period: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl PeriodQuery {
    fn period(&self) -> AppResult<(String, Period)> {
        let now = Utc::now();
        let date = |field: &str, raw: &str| {
            NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
                AppError::invalid(
                    field,
                    format!("'{}' is not a date (YYYY-MM-DD).", raw.trim()),
                )
            })
        };
        match self.period.trim() {
            "" | "30" => Ok(("30".into(), Period::last_days(30, now))),
            "7" => Ok(("7".into(), Period::last_days(7, now))),
            "90" => Ok(("90".into(), Period::last_days(90, now))),
            "custom" => {
                let (from, to) = (date("from", &self.from)?, date("to", &self.to)?);
                if from > to {
                    return Err(AppError::invalid(
                        "to",
                        "The end date is before the start date.",
                    ));
                }
                if (to - from).num_days() > 3 * 366 {
                    return Err(AppError::invalid("from", "Choose at most three years."));
                }
                Ok(("custom".into(), Period::dates(from, to)))
            }
            other => Err(AppError::invalid(
                "period",
                format!("Unknown period '{other}': use 7, 30, 90 or custom."),
            )),
        }
    }
}

/// One figure and how it moved since the previous period.
pub struct Stat {
    pub label: &'static str,
    pub value: String,
    pub previous: String,
    /// "+25%", "−10 pts"…, when both periods have a figure.
    pub change: Option<String>,
    /// Whether the move is good news (for its colour).
    pub good: Option<bool>,
    pub help: &'static str,
    /// What the figure is made of, when it says more than the label.
    pub detail: Option<String>,
}

impl Stat {
    /// The period before had a figure to compare with.
    pub fn has_previous(&self) -> bool {
        self.previous != "—"
    }
}

/// Figures that belong together, under a heading.
pub struct Group {
    pub title: &'static str,
    pub stats: Vec<Stat>,
}

fn pct(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{:.1}%", r * 100.0))
}

fn count_stat(
    label: &'static str,
    now: i64,
    before: i64,
    help: &'static str,
    up_is_good: bool,
) -> Stat {
    let change = (before > 0).then(|| {
        let d = (now - before) as f64 / before as f64 * 100.0;
        format!("{d:+.0}%")
    });
    Stat {
        label,
        value: now.to_string(),
        previous: before.to_string(),
        good: (now != before && before > 0).then_some((now > before) == up_is_good),
        change,
        help,
        detail: None,
    }
}

fn rate_stat(
    label: &'static str,
    now: Option<f64>,
    before: Option<f64>,
    help: &'static str,
    up_is_good: bool,
) -> Stat {
    let change = now
        .zip(before)
        .map(|(a, b)| format!("{:+.1} pts", (a - b) * 100.0));
    Stat {
        label,
        value: pct(now),
        previous: pct(before),
        good: now
            .zip(before)
            .filter(|(a, b)| (a - b).abs() > f64::EPSILON)
            .map(|(a, b)| (a > b) == up_is_good),
        change,
        help,
        detail: None,
    }
}

fn money_stat(
    label: &'static str,
    now: &dashboard::PerCurrency,
    before: &dashboard::PerCurrency,
    main: Currency,
    help: &'static str,
) -> Stat {
    let (a, b) = (now.get(&main).copied(), before.get(&main).copied());
    let change = match (a, b) {
        (Some(a), Some(b)) if b != 0 => {
            Some(format!("{:+.0}%", (a - b) as f64 / b.abs() as f64 * 100.0))
        }
        _ => None,
    };
    Stat {
        label,
        value: show(now),
        previous: show(before),
        good: a.zip(b).filter(|(a, b)| a != b).map(|(a, b)| a > b),
        change,
        help,
        detail: None,
    }
}

pub struct TopRow {
    pub name: String,
    pub units: i64,
    pub revenue: String,
}

fn top_rows(top: &[TopService]) -> Vec<TopRow> {
    top.iter()
        .map(|t| TopRow {
            name: t.name.clone(),
            units: t.units,
            revenue: Money::new(t.revenue_minor, t.currency).display(),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/metrics.html")]
pub struct MetricsPage {
    ctx: PageCtx,
    period: String,
    from: String,
    to: String,
    range: String,
    stats: Vec<Group>,
    revenue_chart: String,
    orders_chart: String,
    funnel_chart: String,
    top_by_revenue: Vec<TopRow>,
    top_by_units: Vec<TopRow>,
    by_code: Vec<CodeSales>,
    most_saved: Vec<crate::engagement::wishlist::MostSaved>,
    webhook: String,
    webhook_previous: String,
    empty: bool,
    /// Now, whatever the period.
    mrr: String,
    subscriptions_active: i64,
    /// People who paid, and the orders they paid (the funnel counts people).
    buyers: i64,
    orders: i64,
}

/// The period's figures by what they tell: money, the store's conversion, subscriptions.
pub fn stats(now: &Figures, before: &Figures) -> Vec<Group> {
    let main = now.main_currency;
    let mut revenue_detail = format!("paid {}", show(&sum(&now.paid, &now.renewals)));
    if !now.refunded.is_empty() {
        revenue_detail.push_str(&format!(", less {} refunded", show(&now.refunded)));
    }
    vec![
        Group {
            title: "Money",
            stats: vec![
                Stat {
                    detail: Some(revenue_detail),
                    ..money_stat(
                        "Net revenue",
                        &now.net,
                        &before.net,
                        main,
                        "Orders and subscription renewals paid, less the refunds made in the period, per currency.",
                    )
                },
                money_stat(
                    "Refunded",
                    &now.refunded,
                    &before.refunded,
                    main,
                    "Money refunded in the period.",
                ),
                count_stat(
                    "Refunds",
                    now.refunds,
                    before.refunds,
                    "Refunds made in the period.",
                    false,
                ),
                money_stat(
                    "Average order",
                    &now.average_order,
                    &before.average_order,
                    main,
                    "Paid divided by orders.",
                ),
                money_stat(
                    "Recurring revenue",
                    &now.recurring,
                    &before.recurring,
                    main,
                    "Subscriptions' charges for their periods, first and renewals, paid in the period.",
                ),
                money_stat(
                    "One-time revenue",
                    &now.one_time,
                    &before.one_time,
                    main,
                    "One-time services and setup fees paid in the period.",
                ),
            ],
        },
        Group {
            title: "Orders and conversion",
            stats: vec![
                count_stat(
                    "Orders",
                    now.orders,
                    before.orders,
                    "Orders paid in the period.",
                    true,
                ),
                rate_stat(
                    "Store conversion",
                    now.conversion(),
                    before.conversion(),
                    "Client users who viewed the store and paid an order.",
                    true,
                ),
                rate_stat(
                    "Checkout abandonment",
                    now.checkout_abandonment(),
                    before.checkout_abandonment(),
                    "Checkouts started and not paid.",
                    false,
                ),
                rate_stat(
                    "Cart abandonment",
                    now.cart_abandonment(),
                    before.cart_abandonment(),
                    "Companies that filled a cart and did not check out.",
                    false,
                ),
                rate_stat(
                    "Payment success",
                    now.payment_success(),
                    before.payment_success(),
                    "Paid orders per Checkout Session made.",
                    true,
                ),
                rate_stat(
                    "Service activation",
                    now.activation(),
                    before.activation(),
                    "Services bought in the period whose work has started.",
                    true,
                ),
            ],
        },
        Group {
            title: "Subscriptions in the period",
            stats: vec![
                count_stat(
                    "New subscriptions",
                    now.subscriptions_new,
                    before.subscriptions_new,
                    "Subscriptions started in the period by clients who had none that ended.",
                    true,
                ),
                count_stat(
                    "Churned subscriptions",
                    now.subscriptions_churned,
                    before.subscriptions_churned,
                    "Subscriptions that ended in the period.",
                    false,
                ),
                count_stat(
                    "Reactivated subscriptions",
                    now.subscriptions_reactivated,
                    before.subscriptions_reactivated,
                    "Subscriptions started in the period by clients whose earlier one had ended.",
                    true,
                ),
            ],
        },
    ]
}

/// Two sums per currency added.
fn sum(a: &dashboard::PerCurrency, b: &dashboard::PerCurrency) -> dashboard::PerCurrency {
    let mut total = a.clone();
    for (c, v) in b {
        *total.entry(*c).or_default() += v;
    }
    total
}

fn webhook(f: &Figures) -> String {
    match (f.webhook_p50_ms, f.webhook_p95_ms) {
        (Some(p50), Some(p95)) => format!("p50 {p50} ms · p95 {p95} ms"),
        _ => "no events".into(),
    }
}

pub async fn show_page(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Query(q): Query<PeriodQuery>,
) -> AppResult<MetricsPage> {
    let (period, p) = q.period()?;
    let previous = p.previous();
    let (now, before) = tokio::try_join!(
        dashboard::figures(&state.db, &p),
        dashboard::figures(&state.db, &previous)
    )?;
    let range = format!(
        "{} to {}",
        p.from.format("%Y-%m-%d"),
        (p.to - chrono::Duration::seconds(1)).format("%Y-%m-%d")
    );
    let charts = Charts::draw(&now, &range);
    Ok(MetricsPage {
        ctx,
        from: date_field(&q.from, p.from),
        to: date_field(&q.to, p.to),
        period,
        stats: stats(&now, &before),
        revenue_chart: charts.revenue,
        orders_chart: charts.orders,
        funnel_chart: charts.funnel,
        top_by_revenue: top_rows(&now.top_by_revenue),
        top_by_units: top_rows(&now.top_by_units),
        by_code: now.by_code.clone(),
        most_saved: crate::engagement::wishlist::most_saved(&state.db, 10).await?,
        webhook: webhook(&now),
        webhook_previous: webhook(&before),
        mrr: show(&now.mrr),
        subscriptions_active: now.subscriptions_active,
        buyers: now.funnel[5],
        orders: now.orders,
        empty: now.funnel[0] == 0 && now.orders == 0 && now.checkouts == 0,
        range,
    })
}

/// A date field of the period form: as typed, or the period's bound when left empty.
fn date_field(typed: &str, bound: DateTime<Utc>) -> String {
    if typed.is_empty() {
        bound.format("%Y-%m-%d").to_string()
    } else {
        typed.to_string()
    }
}

/// The page's charts, as SVG.
struct Charts {
    revenue: String,
    orders: String,
    funnel: String,
}

impl Charts {
    /// `range` is the period as people read it, for the charts' descriptions.
    fn draw(now: &Figures, range: &str) -> Self {
        let currency = now.main_currency;
        let label = |d: &dashboard::Day| d.date.format("%b %-d").to_string();
        let revenue: Vec<Bar> = now
            .series
            .iter()
            .map(|d| Bar {
                label: label(d),
                value: d.revenue_minor,
                shown: Money::new(d.revenue_minor, currency).display(),
            })
            .collect();
        let orders: Vec<Bar> = now
            .series
            .iter()
            .map(|d| Bar {
                label: label(d),
                value: d.orders,
                shown: format!("{} order{}", d.orders, if d.orders == 1 { "" } else { "s" }),
            })
            .collect();
        let money = |v: i64| Money::new(v, currency).display();
        Self {
            revenue: charts::bars(
                &format!("Paid per day ({})", currency.code()),
                &format!(
                    "Orders paid each day from {range}, before refunds: {} in all; {} refunded; net revenue {}.",
                    show(&now.paid),
                    show(&now.refunded),
                    show(&now.net)
                ),
                &format!(
                    "Orders paid, before refunds ({}; renewals not included)",
                    currency.code()
                ),
                &revenue,
                "#3b5bdb",
                money,
            ),
            orders: charts::bars(
                "Orders per day",
                &format!("Orders paid each day from {range}; {} in all.", now.orders),
                "Orders paid",
                &orders,
                "#237032",
                |v| v.to_string(),
            ),
            funnel: charts::funnel(
                "Conversion funnel (people, each counted once a step)",
                &[
                    ("Viewed the store", now.funnel[0]),
                    ("Viewed a service", now.funnel[1]),
                    ("Saved for later", now.funnel[2]),
                    ("Added to cart", now.funnel[3]),
                    ("Started checkout", now.funnel[4]),
                    ("Paid", now.funnel[5]),
                ],
            ),
        }
    }
}
