//! The store dashboard's figures for a period, each computed from the tracked events
//! (`store_events`), the orders and the services with indexed, period-bounded queries; the
//! same figures for the previous period of the same length come beside them.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationTrait,
};

use super::Kind;
use crate::db::entities::order::{self, OrderStatus};
use crate::db::entities::service::{ServiceOrigin, ServiceStatus};
use crate::db::entities::{order_item, service, store_event, stripe_event, subscription};
use crate::ids::TemplateId;
use crate::money::{Currency, Money};

/// `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    /// The `days` days up to now.
    pub fn last_days(days: i64, now: DateTime<Utc>) -> Self {
        Self {
            from: now - Duration::days(days),
            to: now,
        }
    }

    /// Whole days, both included.
    pub fn dates(from: NaiveDate, to: NaiveDate) -> Self {
        let start = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        Self {
            from: start(from),
            to: start(to.succ_opt().unwrap_or(to)),
        }
    }

    /// The period of the same length just before this one.
    pub fn previous(&self) -> Self {
        Self {
            from: self.from - (self.to - self.from),
            to: self.from,
        }
    }
}

/// Money per currency, the currencies in order.
pub type PerCurrency = BTreeMap<Currency, i64>;

/// A service's sales.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct TopService {
    pub template_id: TemplateId,
    pub name: String,
    pub currency: Currency,
    pub units: i64,
    pub revenue_minor: i64,
}

/// The orders paid with a promotion code, in one currency.
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct CodeSales {
    pub code: String,
    pub currency: Currency,
    pub orders: i64,
    /// Paid minus refunded.
    pub revenue_minor: i64,
    pub discount_minor: i64,
}

impl CodeSales {
    pub fn revenue(&self) -> Money {
        Money::new(self.revenue_minor, self.currency)
    }

    pub fn discount(&self) -> Money {
        Money::new(self.discount_minor, self.currency)
    }
}

/// A day of the chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Day {
    pub date: NaiveDate,
    pub orders: i64,
    /// Paid that day, in the period's main currency.
    pub revenue_minor: i64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Paid, refunded, and paid minus refunded, per currency.
    pub paid: PerCurrency,
    pub refunded: PerCurrency,
    pub net: PerCurrency,
    /// Orders paid.
    pub orders: i64,
    pub average_order: PerCurrency,
    /// Client users who viewed the store, and those of them who paid.
    pub visitors: i64,
    pub buyers: i64,
    pub checkouts: i64,
    /// Client companies that added to a cart, and those that did not check out.
    pub carts: i64,
    pub carts_left: i64,
    pub payment_failures: i64,
    pub refunds: i64,
    /// Purchased services made, and those whose work started (in progress or done).
    pub services_bought: i64,
    pub services_started: i64,
    /// Stripe events' handling time, when any.
    pub webhook_p50_ms: Option<i64>,
    pub webhook_p95_ms: Option<i64>,
    /// Distinct users at each step: store view, service view, add to cart, checkout, paid.
    /// Distinct users: viewed the store, a service, saved one, added to cart, checked out, paid.
    pub funnel: [i64; 6],
    pub top_by_revenue: Vec<TopService>,
    pub top_by_units: Vec<TopService>,
    /// Orders and revenue by promotion code, the most revenue first.
    pub by_code: Vec<CodeSales>,
    pub series: Vec<Day>,
    /// The currency of the chart (the one with the most paid).
    pub main_currency: Currency,
    /// Subscriptions' renewal invoices paid in the period (besides the orders' `paid`).
    pub renewals: PerCurrency,
    /// Of all money paid (orders and renewals): the subscriptions' recurring charges, and the
    /// rest (one-time services and setup fees).
    pub recurring: PerCurrency,
    pub one_time: PerCurrency,
    /// Now, whatever the period: monthly recurring revenue (the active and overdue
    /// subscriptions not paused, each period's price as a month's), and subscriptions running
    /// (trials included).
    pub mrr: PerCurrency,
    pub subscriptions_active: i64,
    /// Subscriptions started in the period by clients new to them, churned (ended), and
    /// started by clients whose earlier subscription had ended.
    pub subscriptions_new: i64,
    pub subscriptions_churned: i64,
    pub subscriptions_reactivated: i64,
}

/// `part / whole` as a share, when `whole` is not zero.
pub fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Figures {
    pub fn conversion(&self) -> Option<f64> {
        rate(self.buyers, self.visitors)
    }
    /// Checkouts started and not paid.
    pub fn checkout_abandonment(&self) -> Option<f64> {
        rate(
            self.checkouts - Ord::min(self.orders, self.checkouts),
            self.checkouts,
        )
    }
    pub fn cart_abandonment(&self) -> Option<f64> {
        rate(self.carts_left, self.carts)
    }
    /// Paid orders per checkout session made.
    pub fn payment_success(&self) -> Option<f64> {
        rate(self.orders, self.checkouts)
    }
    pub fn activation(&self) -> Option<f64> {
        rate(self.services_started, self.services_bought)
    }
}

#[derive(Debug, FromQueryResult)]
struct KindCount {
    kind: String,
    events: i64,
    users: i64,
}

#[derive(Debug, FromQueryResult)]
struct KindMoney {
    kind: String,
    currency: Option<Currency>,
    events: i64,
    amount: i64,
}

fn in_period(p: &Period) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(store_event::Column::At.gte(p.from))
        .add(store_event::Column::At.lt(p.to))
}

/// The distinct users of `kind` events in the period, as a subquery.
fn users_of(kind: Kind, p: &Period) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(store_event::Column::UserId)
        .from(store_event::Entity)
        .and_where(store_event::Column::Kind.eq(kind.as_str()))
        .and_where(store_event::Column::At.gte(p.from))
        .and_where(store_event::Column::At.lt(p.to))
        .to_owned()
}

/// The admin dashboard's money: net revenue (per currency) and orders paid in the period.
pub async fn money_of<C: ConnectionTrait>(
    conn: &C,
    p: &Period,
) -> Result<(PerCurrency, i64, Currency), DbErr> {
    let mut f = Figures::default();
    money(conn, p, &mut f).await?;
    Ok((f.net, f.orders, f.main_currency))
}

/// Every figure of the period.
pub async fn figures<C: ConnectionTrait>(conn: &C, p: &Period) -> Result<Figures, DbErr> {
    let mut f = Figures::default();
    events_and_funnel(conn, p, &mut f).await?;
    // Before the series: it is drawn in the main currency, the one with the most paid.
    money(conn, p, &mut f).await?;
    buyers_and_carts(conn, p, &mut f).await?;
    f.series = series(conn, p, f.main_currency).await?;
    (f.top_by_revenue, f.top_by_units) = top_services(conn, p).await?;
    f.by_code = sales_by_code(conn, Some(p)).await?;
    (f.services_bought, f.services_started) = services(conn, p).await?;
    (f.webhook_p50_ms, f.webhook_p95_ms) = webhook_times(conn, p).await?;
    (f.mrr, f.subscriptions_active) = recurring_now(conn).await?;
    Ok(f)
}

/// Events and distinct users per kind: checkouts, payment failures, visitors and the funnel.
async fn events_and_funnel<C: ConnectionTrait>(
    conn: &C,
    p: &Period,
    f: &mut Figures,
) -> Result<(), DbErr> {
    let counts: HashMap<String, (i64, i64)> = store_event::Entity::find()
        .select_only()
        .column(store_event::Column::Kind)
        .column_as(store_event::Column::Id.count(), "events")
        .column_as(
            Expr::col(store_event::Column::UserId).count_distinct(),
            "users",
        )
        // Naming the kinds lets the (kind, at, …) index serve each one's time range.
        .filter(store_event::Column::Kind.is_in(Kind::ALL.map(Kind::as_str)))
        .filter(in_period(p))
        .group_by(store_event::Column::Kind)
        .into_model::<KindCount>()
        .all(conn)
        .await?
        .into_iter()
        .map(|k| (k.kind, (k.events, k.users)))
        .collect();
    let events = |k: Kind| counts.get(k.as_str()).map_or(0, |c| c.0);
    let users = |k: Kind| counts.get(k.as_str()).map_or(0, |c| c.1);
    f.checkouts = events(Kind::CheckoutStarted);
    f.payment_failures = events(Kind::PaymentFailed);
    f.subscriptions_new = events(Kind::SubscriptionStarted);
    f.subscriptions_churned = events(Kind::SubscriptionEnded);
    f.subscriptions_reactivated = events(Kind::SubscriptionReactivated);
    f.visitors = users(Kind::StoreView);
    f.funnel = [
        users(Kind::StoreView),
        users(Kind::ProductView),
        users(Kind::Saved),
        users(Kind::AddToCart),
        users(Kind::CheckoutStarted),
        users(Kind::Paid),
    ];
    Ok(())
}

/// Money in and out, per currency: paid (orders, renewals; recurring and one-time), refunded,
/// net, orders, refunds, the average order and the main currency.
async fn money<C: ConnectionTrait>(conn: &C, p: &Period, f: &mut Figures) -> Result<(), DbErr> {
    let money = store_event::Entity::find()
        .select_only()
        .column(store_event::Column::Kind)
        .column(store_event::Column::Currency)
        .column_as(store_event::Column::Id.count(), "events")
        .column_as(
            Expr::col(store_event::Column::AmountMinor)
                .sum()
                .cast_as("BIGINT"),
            "amount",
        )
        .filter(in_period(p))
        .filter(
            store_event::Column::Kind.is_in(
                [
                    Kind::Paid,
                    Kind::Refunded,
                    Kind::RenewalPaid,
                    Kind::RecurringPaid,
                ]
                .map(Kind::as_str),
            ),
        )
        .group_by(store_event::Column::Kind)
        .group_by(store_event::Column::Currency)
        .into_model::<KindMoney>()
        .all(conn)
        .await?;
    for m in money {
        let currency = m.currency.unwrap_or_default();
        if m.kind == Kind::Paid.as_str() {
            f.orders += m.events;
            f.paid.insert(currency, m.amount);
            f.average_order
                .insert(currency, m.amount / Ord::max(m.events, 1));
        } else if m.kind == Kind::Refunded.as_str() {
            f.refunds += m.events;
            f.refunded.insert(currency, m.amount);
        } else if m.kind == Kind::RenewalPaid.as_str() {
            f.renewals.insert(currency, m.amount);
        } else {
            f.recurring.insert(currency, m.amount);
        }
    }
    let get = |per: &PerCurrency, c: &Currency| per.get(c).copied().unwrap_or(0);
    let currencies: std::collections::BTreeSet<Currency> = [&f.paid, &f.renewals, &f.refunded]
        .into_iter()
        .flat_map(|per| per.keys().copied())
        .collect();
    for c in &currencies {
        let taken = get(&f.paid, c) + get(&f.renewals, c);
        f.net.insert(*c, taken - get(&f.refunded, c));
        if taken > 0 {
            f.one_time.insert(*c, taken - get(&f.recurring, c));
        }
    }
    f.main_currency = f
        .paid
        .iter()
        .max_by_key(|(_, v)| **v)
        .map(|(c, _)| *c)
        .unwrap_or_default();
    Ok(())
}

/// MRR per currency and the subscriptions running, now.
async fn recurring_now<C: ConnectionTrait>(conn: &C) -> Result<(PerCurrency, i64), DbErr> {
    let running = ["trialing", "active", "past_due"];
    let groups: Vec<(String, Currency, String, i32, bool, i64, i64)> = subscription::Entity::find()
        .select_only()
        .column(subscription::Column::Status)
        .column(subscription::Column::Currency)
        .column(subscription::Column::Interval)
        .column(subscription::Column::IntervalCount)
        .column_as(
            Expr::col(subscription::Column::PauseBehavior).is_null(),
            "collected",
        )
        .column_as(subscription::Column::Id.count(), "n")
        .column_as(
            Expr::col(subscription::Column::UnitAmountMinor)
                .mul(Expr::col(subscription::Column::Quantity))
                .sum()
                .cast_as("BIGINT"),
            "amount",
        )
        .filter(subscription::Column::Status.is_in(running))
        .group_by(subscription::Column::Status)
        .group_by(subscription::Column::Currency)
        .group_by(subscription::Column::Interval)
        .group_by(subscription::Column::IntervalCount)
        .group_by(Expr::col(subscription::Column::PauseBehavior).is_null())
        .into_tuple()
        .all(conn)
        .await?;
    let mut mrr = PerCurrency::new();
    let mut running = 0;
    for (status, currency, interval, count, collected, n, amount) in groups {
        running += n;
        if status != "trialing" && collected {
            *mrr.entry(currency).or_default() +=
                crate::subscriptions::monthly_minor(amount, &interval, count);
        }
    }
    Ok((mrr, running))
}

/// Visitors who paid; companies that added to a cart and did not check out.
async fn buyers_and_carts<C: ConnectionTrait>(
    conn: &C,
    p: &Period,
    f: &mut Figures,
) -> Result<(), DbErr> {
    f.buyers = store_event::Entity::find()
        .select_only()
        .column_as(Expr::col(store_event::Column::UserId).count_distinct(), "n")
        .filter(store_event::Column::Kind.eq(Kind::Paid.as_str()))
        .filter(in_period(p))
        .filter(store_event::Column::UserId.in_subquery(users_of(Kind::StoreView, p)))
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .unwrap_or(0);
    let carts = |left: bool| {
        let mut q = store_event::Entity::find()
            .select_only()
            .column_as(
                Expr::col(store_event::Column::ClientId).count_distinct(),
                "n",
            )
            .filter(store_event::Column::Kind.eq(Kind::AddToCart.as_str()))
            .filter(in_period(p));
        if left {
            q = q.filter(
                store_event::Column::ClientId.not_in_subquery(
                    Query::select()
                        .column(store_event::Column::ClientId)
                        .from(store_event::Entity)
                        .and_where(store_event::Column::Kind.eq(Kind::CheckoutStarted.as_str()))
                        .and_where(store_event::Column::At.gte(p.from))
                        .and_where(store_event::Column::At.lt(p.to))
                        .and_where(store_event::Column::ClientId.is_not_null())
                        .to_owned(),
                ),
            );
        }
        q.into_tuple::<i64>().one(conn)
    };
    f.carts = carts(false).await?.unwrap_or(0);
    f.carts_left = carts(true).await?.unwrap_or(0);
    Ok(())
}

/// The chart: paid orders and money per day (in `main_currency`), every day of the period
/// shown, those without orders as zero.
async fn series<C: ConnectionTrait>(
    conn: &C,
    p: &Period,
    main_currency: Currency,
) -> Result<Vec<Day>, DbErr> {
    let paid_events: Vec<(DateTime<Utc>, Option<i64>, Option<Currency>)> =
        store_event::Entity::find()
            .select_only()
            .column(store_event::Column::At)
            .column(store_event::Column::AmountMinor)
            .column(store_event::Column::Currency)
            .filter(store_event::Column::Kind.eq(Kind::Paid.as_str()))
            .filter(in_period(p))
            .into_tuple()
            .all(conn)
            .await?;
    let mut days: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
    let mut d = p.from.date_naive();
    while d < p.to.date_naive() || (d == p.to.date_naive() && p.to.time() > chrono::NaiveTime::MIN)
    {
        days.insert(d, (0, 0));
        d = match d.succ_opt() {
            Some(n) => n,
            None => break,
        };
    }
    for (at, amount, currency) in paid_events {
        let day = days.entry(at.date_naive()).or_default();
        day.0 += 1;
        if currency == Some(main_currency) {
            day.1 += amount.unwrap_or(0);
        }
    }
    Ok(days
        .into_iter()
        .map(|(date, (orders, revenue_minor))| Day {
            date,
            orders,
            revenue_minor,
        })
        .collect())
}

/// The orders paid with each promotion code (in our cart or on Stripe's page) and their
/// revenue, per currency: in the period, or ever.
pub async fn sales_by_code<C: ConnectionTrait>(
    conn: &C,
    p: Option<&Period>,
) -> Result<Vec<CodeSales>, DbErr> {
    let mut q = order::Entity::find()
        .select_only()
        .column_as(order::Column::PromotionCode, "code")
        .column(order::Column::Currency)
        .column_as(order::Column::Id.count(), "orders")
        .column_as(
            Expr::col(order::Column::TotalMinor)
                .sub(Expr::col(order::Column::RefundedMinor))
                .sum()
                .cast_as("BIGINT"),
            "revenue_minor",
        )
        .column_as(
            Expr::col(order::Column::DiscountMinor)
                .sum()
                .cast_as("BIGINT"),
            "discount_minor",
        )
        .filter(order::Column::PromotionCode.is_not_null())
        .filter(order::Column::Status.is_in([OrderStatus::Completed, OrderStatus::Refunded]));
    if let Some(p) = p {
        q = q
            .filter(order::Column::PaidAt.gte(p.from))
            .filter(order::Column::PaidAt.lt(p.to));
    }
    let mut sales = q
        .group_by(order::Column::PromotionCode)
        .group_by(order::Column::Currency)
        .into_model::<CodeSales>()
        .all(conn)
        .await?;
    sales.sort_by(|a, b| {
        b.revenue_minor
            .cmp(&a.revenue_minor)
            .then(a.code.cmp(&b.code))
    });
    Ok(sales)
}

/// Top services, by revenue and by units (five each): the items of the orders paid in the
/// period.
async fn top_services<C: ConnectionTrait>(
    conn: &C,
    p: &Period,
) -> Result<(Vec<TopService>, Vec<TopService>), DbErr> {
    let top = order_item::Entity::find()
        .select_only()
        .column(order_item::Column::TemplateId)
        .column_as(
            Expr::col((order_item::Entity, order_item::Column::ServiceName)).max(),
            "name",
        )
        .column_as(
            Expr::col((order::Entity, order::Column::Currency)),
            "currency",
        )
        .column_as(
            Expr::col(order_item::Column::Quantity)
                .sum()
                .cast_as("BIGINT"),
            "units",
        )
        .column_as(
            Expr::col((order_item::Entity, order_item::Column::TotalMinor))
                .sum()
                .cast_as("BIGINT"),
            "revenue_minor",
        )
        .join(JoinType::InnerJoin, order_item::Relation::Order.def())
        .filter(order::Column::Status.is_in([OrderStatus::Completed, OrderStatus::Refunded]))
        .filter(order::Column::PaidAt.gte(p.from))
        .filter(order::Column::PaidAt.lt(p.to))
        .group_by(order_item::Column::TemplateId)
        .group_by(Expr::col((order::Entity, order::Column::Currency)))
        .into_model::<TopService>()
        .all(conn)
        .await?;
    let mut by_revenue = top.clone();
    by_revenue.sort_by(|a, b| {
        b.revenue_minor
            .cmp(&a.revenue_minor)
            .then(a.name.cmp(&b.name))
    });
    by_revenue.truncate(5);
    let mut by_units = top;
    by_units.sort_by(|a, b| b.units.cmp(&a.units).then(a.name.cmp(&b.name)));
    by_units.truncate(5);
    Ok((by_revenue, by_units))
}

/// Services bought in the period, and those whose work started.
async fn services<C: ConnectionTrait>(conn: &C, p: &Period) -> Result<(i64, i64), DbErr> {
    let bought = service::Entity::find()
        .filter(service::Column::Origin.eq(ServiceOrigin::Purchase))
        .filter(service::Column::CreatedAt.gte(p.from))
        .filter(service::Column::CreatedAt.lt(p.to));
    let by_status: Vec<(ServiceStatus, i64)> = bought
        .select_only()
        .column(service::Column::Status)
        .column_as(service::Column::Id.count(), "n")
        .group_by(service::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let (mut bought, mut started) = (0, 0);
    for (status, n) in by_status {
        bought += n;
        if matches!(status, ServiceStatus::InProgress | ServiceStatus::Done) {
            started += n;
        }
    }
    Ok((bought, started))
}

/// How long Stripe events took to handle: the p50 and p95, when any was handled.
async fn webhook_times<C: ConnectionTrait>(
    conn: &C,
    p: &Period,
) -> Result<(Option<i64>, Option<i64>), DbErr> {
    let mut took: Vec<i64> = stripe_event::Entity::find()
        .select_only()
        .column(stripe_event::Column::ReceivedAt)
        .column(stripe_event::Column::ProcessedAt)
        .filter(stripe_event::Column::ReceivedAt.gte(p.from))
        .filter(stripe_event::Column::ReceivedAt.lt(p.to))
        .filter(stripe_event::Column::ProcessedAt.is_not_null())
        .order_by_asc(stripe_event::Column::ReceivedAt)
        .into_tuple::<(DateTime<Utc>, DateTime<Utc>)>()
        .all(conn)
        .await?
        .into_iter()
        .map(|(r, done)| Ord::max((done - r).num_milliseconds(), 0))
        .collect();
    took.sort_unstable();
    Ok((percentile(&took, 50), percentile(&took, 95)))
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// Money per currency for people: "$250.00 · €12.00", or "—".
pub fn show(per: &PerCurrency) -> String {
    if per.is_empty() {
        return "—".into();
    }
    per.iter()
        .map(|(c, m)| Money::new(*m, *c).display())
        .collect::<Vec<_>>()
        .join(" · ")
}
