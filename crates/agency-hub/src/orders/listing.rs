//! Reading orders back: the client's history and the admin's filtered list, each page read
//! with a fixed number of queries (the page, its item counts, its client names).

use std::collections::HashMap;

use chrono::{NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Select,
};

use crate::db::contains;
use crate::db::entities::order::{self, OrderStatus, PaymentStatus};
use crate::db::entities::{client, order_item, user};
use crate::ids::{ClientId, OrderId};
use crate::money::Currency;

/// Orders a page of the client's history shows (the page and the API alike).
pub const CLIENT_PER_PAGE: u64 = 20;

/// An order in a list, with what the list shows beside it.
#[derive(Clone, Debug)]
pub struct OrderRow {
    pub order: order::Model,
    /// Units bought (the sum of the items' quantities).
    pub units: i64,
    pub client_name: String,
}

/// How the admin's list is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    TotalHigh,
    TotalLow,
}

impl Sort {
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "" | "newest" => Self::Newest,
            "oldest" => Self::Oldest,
            "total_desc" => Self::TotalHigh,
            "total_asc" => Self::TotalLow,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Oldest => "oldest",
            Self::TotalHigh => "total_desc",
            Self::TotalLow => "total_asc",
        }
    }
}

/// The admin's filters; every one optional. Dates are whole days in UTC, both included.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub status: Option<OrderStatus>,
    pub payment: Option<PaymentStatus>,
    pub client_id: Option<ClientId>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Matched in the order number, the client's name and the buyer's email.
    pub search: String,
    pub sort: Sort,
    /// Only orders paid or being paid (a bank debit settling): not those left unpaid.
    pub settled: bool,
    /// The API's cursor: only orders older than this one, newest first by id (stable while
    /// orders are added).
    pub before: Option<crate::ids::OrderId>,
}

impl Filter {
    fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(s) = self.status {
            c = c.add(order::Column::Status.eq(s));
        }
        if let Some(p) = self.payment {
            c = c.add(order::Column::PaymentStatus.eq(p));
        }
        if let Some(id) = self.client_id {
            c = c.add(order::Column::ClientId.eq(id));
        }
        if let Some(id) = self.before {
            c = c.add(order::Column::Id.lt(id));
        }
        if self.settled {
            c = c.add(order::Column::Status.is_in([
                OrderStatus::Processing,
                OrderStatus::Completed,
                OrderStatus::Refunded,
            ]));
        }
        if let Some(from) = self.from {
            c = c.add(order::Column::CreatedAt.gte(Utc.from_utc_datetime(&from.into())));
        }
        if let Some(to) = self.to.and_then(|d| d.succ_opt()) {
            c = c.add(order::Column::CreatedAt.lt(Utc.from_utc_datetime(&to.into())));
        }
        let search = self.search.trim();
        if !search.is_empty() {
            let like = || contains(search);
            c = c.add(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(order::Column::OrderNumber))).like(like()),
                    )
                    .add(
                        order::Column::ClientId.in_subquery(
                            Query::select()
                                .column(client::Column::Id)
                                .from(client::Entity)
                                .and_where(
                                    Expr::expr(Func::lower(Expr::col(client::Column::Name)))
                                        .like(like()),
                                )
                                .to_owned(),
                        ),
                    )
                    .add(
                        order::Column::UserId.in_subquery(
                            Query::select()
                                .column(user::Column::Id)
                                .from(user::Entity)
                                .and_where(Expr::col(user::Column::Email).like(like()))
                                .to_owned(),
                        ),
                    ),
            );
        }
        c
    }

    /// The filtered orders in the chosen order (id last, so pages never overlap).
    pub fn select(&self) -> Select<order::Entity> {
        let q = order::Entity::find().filter(self.condition());
        if self.before.is_some() {
            return q.order_by_desc(order::Column::Id);
        }
        match self.sort {
            Sort::Newest => q
                .order_by_desc(order::Column::CreatedAt)
                .order_by_desc(order::Column::Id),
            Sort::Oldest => q
                .order_by_asc(order::Column::CreatedAt)
                .order_by_asc(order::Column::Id),
            Sort::TotalHigh => q
                .order_by_desc(order::Column::TotalMinor)
                .order_by_desc(order::Column::Id),
            Sort::TotalLow => q
                .order_by_asc(order::Column::TotalMinor)
                .order_by_asc(order::Column::Id),
        }
    }

    /// Whether any filter or search narrows the list.
    pub fn is_narrowed(&self) -> bool {
        self.status.is_some()
            || self.payment.is_some()
            || self.client_id.is_some()
            || self.from.is_some()
            || self.to.is_some()
            || !self.search.trim().is_empty()
    }
}

/// Sums of a set of orders in one currency: how many, and the money of those that were paid
/// (completed or refunded; a cancelled or unpaid order's total is no revenue).
#[derive(Clone, Debug, PartialEq, Eq, FromQueryResult)]
pub struct Totals {
    pub currency: Currency,
    pub orders: i64,
    pub paid_minor: i64,
    pub refunded_minor: i64,
}

/// `COALESCE(SUM(CASE WHEN paid THEN col ELSE 0 END), 0)` as a BIGINT (PostgreSQL sums
/// BIGINTs as NUMERIC).
fn paid_sum(col: order::Column) -> Expr {
    let paid = order::Column::Status.is_in([OrderStatus::Completed, OrderStatus::Refunded]);
    let case: Expr = Expr::case(paid, Expr::col(col)).finally(0i64).into();
    Expr::expr(Func::coalesce([case.sum(), Expr::val(0i64)])).cast_as("BIGINT")
}

/// The filtered set's count and sums, per currency.
pub async fn totals<C: ConnectionTrait>(conn: &C, filter: &Filter) -> Result<Vec<Totals>, DbErr> {
    order::Entity::find()
        .filter(filter.condition())
        .select_only()
        .column(order::Column::Currency)
        .column_as(order::Column::Id.count(), "orders")
        .column_as(paid_sum(order::Column::TotalMinor), "paid_minor")
        .column_as(paid_sum(order::Column::RefundedMinor), "refunded_minor")
        .group_by(order::Column::Currency)
        .order_by_asc(order::Column::Currency)
        .into_model::<Totals>()
        .all(conn)
        .await
}

/// A page of a list, and whether another follows.
#[derive(Clone, Debug)]
pub struct Page {
    pub rows: Vec<OrderRow>,
    pub has_next: bool,
    /// How many orders in all, when counted.
    pub total: Option<u64>,
}

/// One page of the filtered list (an indexed offset: one row more than the page tells whether
/// another follows). Counting the whole set costs a scan of it, so it is asked for only where
/// the set is bounded (a client's orders, a filter).
pub async fn admin_page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    page: u64,
    per_page: u64,
    count: bool,
) -> Result<Page, DbErr> {
    let mut orders = filter
        .select()
        .offset(page.saturating_sub(1) * per_page)
        .limit(per_page + 1)
        .all(conn)
        .await?;
    let has_next = orders.len() as u64 > per_page;
    orders.truncate(per_page as usize);
    let total = if count {
        Some(
            order::Entity::find()
                .filter(filter.condition())
                .select_only()
                .column_as(order::Column::Id.count(), "n")
                .into_tuple::<i64>()
                .one(conn)
                .await?
                .unwrap_or(0) as u64,
        )
    } else {
        None
    };
    Ok(Page {
        rows: rows(conn, orders).await?,
        has_next,
        total,
    })
}

/// One page of a client company's orders (only those `settled`, if so), newest first, and how
/// many there are.
pub async fn client_page<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    settled: bool,
    page: u64,
    per_page: u64,
) -> Result<(Vec<OrderRow>, u64), DbErr> {
    let filter = Filter {
        client_id: Some(client_id),
        settled,
        ..Default::default()
    };
    let p = admin_page(conn, &filter, page, per_page, true).await?;
    Ok((p.rows, p.total.unwrap_or(0)))
}

/// The list's extra columns for a page of orders: two queries, whatever the page's size.
/// `limit` rows of the filtered list from `offset` (the CSV export reads it a chunk at a time).
pub async fn chunk<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    offset: u64,
    limit: u64,
) -> Result<Vec<OrderRow>, DbErr> {
    let orders = filter
        .select()
        .offset(offset)
        .limit(limit)
        .all(conn)
        .await?;
    rows(conn, orders).await
}

pub async fn rows<C: ConnectionTrait>(
    conn: &C,
    orders: Vec<order::Model>,
) -> Result<Vec<OrderRow>, DbErr> {
    let ids: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
    let units: HashMap<OrderId, i64> = order_item::Entity::find()
        .select_only()
        .column(order_item::Column::OrderId)
        .column_as(
            Expr::col(order_item::Column::Quantity)
                .sum()
                .cast_as("BIGINT"),
            "units",
        )
        .filter(order_item::Column::OrderId.is_in(ids))
        .group_by(order_item::Column::OrderId)
        .into_tuple::<(OrderId, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let names = crate::clients::names_of(conn, orders.iter().map(|o| o.client_id)).await?;
    Ok(orders
        .into_iter()
        .map(|order| OrderRow {
            units: units.get(&order.id).copied().unwrap_or(0),
            client_name: names.get(&order.client_id).cloned().unwrap_or_default(),
            order,
        })
        .collect())
}

/// The answers to the intake questions of each order, as one line for the CSV export: per
/// service made ("Logo Design: Name on the logo = Acme; Colours = Blue, Red"), or per item while
/// none is made. Two queries, whatever the number of orders.
pub async fn answers<C: ConnectionTrait>(
    conn: &C,
    order_ids: Vec<OrderId>,
) -> Result<HashMap<OrderId, String>, DbErr> {
    use crate::db::entities::service;
    let items = order_item::Entity::find()
        .filter(order_item::Column::OrderId.is_in(order_ids))
        .all(conn)
        .await?;
    let services = service::Entity::find()
        .filter(service::Column::OrderItemId.is_in(items.iter().map(|i| i.id)))
        .order_by_asc(service::Column::Id)
        .all(conn)
        .await?;
    let line = |name: &str, intake: &crate::catalog::Intake| {
        let given: Vec<String> = intake
            .given()
            .map(|(q, a)| format!("{q} = {}", a.display()))
            .collect();
        (!given.is_empty()).then(|| format!("{name}: {}", given.join("; ")))
    };
    let mut by_order: HashMap<OrderId, Vec<String>> = HashMap::new();
    for item in &items {
        let made: Vec<&service::Model> = services
            .iter()
            .filter(|s| s.order_item_id == Some(item.id))
            .collect();
        let lines: Vec<String> = if made.is_empty() {
            line(&item.service_name, &item.intake())
                .into_iter()
                .collect()
        } else {
            made.iter()
                .filter_map(|s| line(&s.name, &s.intake()))
                .collect()
        };
        by_order.entry(item.order_id).or_default().extend(lines);
    }
    Ok(by_order
        .into_iter()
        .map(|(id, lines)| (id, lines.join(" | ")))
        .collect())
}
