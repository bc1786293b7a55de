//! Recommendations from counts kept as things happen, never from a scan of all orders on a page
//! view:
//!
//! - `co_purchases`: for each pair of services, how many client companies bought both (in one
//!   order or across orders), and `popularity`, how many bought each. Fulfilment adds a
//!   company's new services in the payment's transaction ([`record_purchases`]).
//! - `co_views`: for each pair, how many people viewed both; a background pass counts the
//!   store's view events since the last one it counted ([`count_views`]).
//!
//! A pair counts once two companies (or people) share it. "Often bought together" is a service's
//! pairs; "Recommended for you" sums the pairs of what the company bought, leaving out what it
//! has or saved, then falls back to the most bought in its categories.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::db::entities::order::{self, OrderStatus};
use crate::db::entities::{order_item, service_template, store_event};
use crate::ids::{ClientId, OrderId, TemplateId, UserId};

/// A pair counts from this many companies (or people) on.
pub const MIN_SHARED: i32 = 2;

/// Adds `pairs` (counts by (service, other)) to `table`'s column `count`.
async fn add_pairs<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    count: &str,
    pairs: &BTreeMap<(TemplateId, TemplateId), i32>,
) -> Result<(), DbErr> {
    // A few hundred rows a statement keeps within every driver's parameter limit.
    let rows: Vec<_> = pairs.iter().collect();
    for chunk in rows.chunks(300) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(table)).columns([
            Alias::new("template_id"),
            Alias::new("other_id"),
            Alias::new(count),
        ]);
        for ((a, b), n) in chunk {
            insert.values_panic([a.get().into(), b.get().into(), (**n).into()]);
        }
        insert.on_conflict(
            OnConflict::columns([Alias::new("template_id"), Alias::new("other_id")])
                .value(
                    Alias::new(count),
                    Expr::cust(format!("{table}.{count} + excluded.{count}")),
                )
                .to_owned(),
        );
        conn.execute(&insert).await?;
    }
    Ok(())
}

/// Each pair made by adding `new` to `before` (a company's or a person's): the new ones with
/// everything before and with each other, both ways, and each new one with itself.
fn pairs_of(
    new: &HashSet<TemplateId>,
    before: &HashSet<TemplateId>,
    into: &mut BTreeMap<(TemplateId, TemplateId), i32>,
) {
    for a in new {
        *into.entry((*a, *a)).or_default() += 1;
        for b in before.iter().chain(new.iter().filter(|b| *b != a)) {
            *into.entry((*a, *b)).or_default() += 1;
            if before.contains(b) {
                *into.entry((*b, *a)).or_default() += 1;
            }
        }
    }
}

/// Counts what the paying orders' companies bought for the first time (called by fulfilment,
/// in its transaction, once the orders are marked paid).
pub async fn record_purchases<C: ConnectionTrait>(
    conn: &C,
    orders: &[&order::Model],
    items: &[order_item::Model],
) -> Result<(), DbErr> {
    let paying: Vec<OrderId> = orders.iter().map(|o| o.id).collect();
    let mut new_by_company: HashMap<ClientId, HashSet<TemplateId>> = HashMap::new();
    for item in items {
        if let Some(order) = orders.iter().find(|o| o.id == item.order_id) {
            new_by_company
                .entry(order.client_id)
                .or_default()
                .insert(item.template_id);
        }
    }
    if new_by_company.is_empty() {
        return Ok(());
    }
    // What each company had bought before these orders: one query for them all.
    let before: Vec<(ClientId, TemplateId)> = order_item::Entity::find()
        .select_only()
        .column(order::Column::ClientId)
        .column(order_item::Column::TemplateId)
        .distinct()
        .inner_join(order::Entity)
        .filter(order::Column::ClientId.is_in(new_by_company.keys().copied()))
        .filter(order::Column::Status.is_in([OrderStatus::Completed, OrderStatus::Refunded]))
        .filter(order::Column::Id.is_not_in(paying))
        .into_tuple()
        .all(conn)
        .await?;
    let mut before_by_company: HashMap<ClientId, HashSet<TemplateId>> = HashMap::new();
    for (c, t) in before {
        before_by_company.entry(c).or_default().insert(t);
    }
    let mut pairs = BTreeMap::new();
    for (company, bought) in &new_by_company {
        let had = before_by_company.remove(company).unwrap_or_default();
        let new: HashSet<TemplateId> = bought.difference(&had).copied().collect();
        pairs_of(&new, &had, &mut pairs);
    }
    save_purchase_pairs(conn, pairs).await
}

/// Adds counted pairs: a service with itself to `popularity`, the others to `co_purchases`.
async fn save_purchase_pairs<C: ConnectionTrait>(
    conn: &C,
    mut pairs: BTreeMap<(TemplateId, TemplateId), i32>,
) -> Result<(), DbErr> {
    let mut popularity = Vec::new();
    pairs.retain(|(a, b), n| {
        if a == b {
            popularity.push((*a, *n));
        }
        a != b
    });
    add_pairs(conn, "co_purchases", "companies", &pairs).await?;
    for chunk in popularity.chunks(300) {
        let mut insert = Query::insert();
        insert
            .into_table(Alias::new("popularity"))
            .columns([Alias::new("template_id"), Alias::new("companies")]);
        for (t, n) in chunk {
            insert.values_panic([t.get().into(), (*n).into()]);
        }
        insert.on_conflict(
            OnConflict::column(Alias::new("template_id"))
                .value(
                    Alias::new("companies"),
                    Expr::cust("popularity.companies + excluded.companies"),
                )
                .to_owned(),
        );
        conn.execute(&insert).await?;
    }
    Ok(())
}

/// Counts every paid order again from nothing, in the order they were paid, as fulfilment
/// would have (for a database whose orders predate the counts, and the offline check).
pub async fn recount_purchases<C: ConnectionTrait>(conn: &C) -> Result<(), DbErr> {
    use sea_orm::QueryOrder;
    for table in ["co_purchases", "popularity"] {
        conn.execute_raw(Statement::from_string(
            conn.get_database_backend(),
            format!("DELETE FROM {table}"),
        ))
        .await?;
    }
    let orders = order::Entity::find()
        .filter(order::Column::Status.is_in([OrderStatus::Completed, OrderStatus::Refunded]))
        .order_by_asc(order::Column::PaidAt)
        .order_by_asc(order::Column::Id)
        .all(conn)
        .await?;
    let mut bought: HashMap<ClientId, HashSet<TemplateId>> = HashMap::new();
    let mut items: HashMap<OrderId, Vec<TemplateId>> = HashMap::new();
    for chunk in orders.chunks(500) {
        for (order_id, template_id) in order_item::Entity::find()
            .select_only()
            .column(order_item::Column::OrderId)
            .column(order_item::Column::TemplateId)
            .filter(order_item::Column::OrderId.is_in(chunk.iter().map(|o| o.id)))
            .into_tuple::<(OrderId, TemplateId)>()
            .all(conn)
            .await?
        {
            items.entry(order_id).or_default().push(template_id);
        }
    }
    let mut pairs = BTreeMap::new();
    for o in &orders {
        let had = bought.entry(o.client_id).or_default();
        let new: HashSet<TemplateId> = items
            .get(&o.id)
            .into_iter()
            .flatten()
            .filter(|t| !had.contains(t))
            .copied()
            .collect();
        pairs_of(&new, had, &mut pairs);
        had.extend(new);
    }
    save_purchase_pairs(conn, pairs).await
}

#[derive(Debug, FromQueryResult)]
struct ViewRow {
    id: i64,
    user_id: Option<UserId>,
    template_id: Option<TemplateId>,
}

/// How many view events one pass takes at most.
const VIEWS_PER_PASS: u64 = 5_000;

/// Counts the service views recorded since the last pass: each person's first view of a
/// service pairs it with every service they viewed before. Returns how many events it read.
/// Two instances may run it at once: the pass that moves the cursor first wins; the other's
/// transaction changes nothing.
pub async fn count_views(db: &crate::db::Db) -> Result<usize, DbErr> {
    let txn = db.write().await?;
    let from: i64 = txn
        .query_one_raw(Statement::from_string(
            txn.get_database_backend(),
            "SELECT views_until FROM recommendation_state WHERE id = 1",
        ))
        .await?
        .map(|r| r.try_get("", "views_until"))
        .transpose()?
        .unwrap_or(0);
    let events = store_event::Entity::find()
        .select_only()
        .column(store_event::Column::Id)
        .column(store_event::Column::UserId)
        .column(store_event::Column::TemplateId)
        .filter(store_event::Column::Kind.eq("product_view"))
        .filter(store_event::Column::Id.gt(from))
        .order_by_asc(store_event::Column::Id)
        .limit(VIEWS_PER_PASS)
        .into_model::<ViewRow>()
        .all(&txn)
        .await?;
    let Some(last) = events.last().map(|e| e.id) else {
        return Ok(0);
    };
    let moved = txn
        .execute(
            Query::update()
                .table(Alias::new("recommendation_state"))
                .value(Alias::new("views_until"), last)
                .and_where(Expr::col(Alias::new("id")).eq(1))
                .and_where(Expr::col(Alias::new("views_until")).eq(from)),
        )
        .await?;
    if moved.rows_affected() == 0 {
        return Ok(0);
    }
    let mut seen_now: BTreeMap<UserId, Vec<TemplateId>> = BTreeMap::new();
    for e in &events {
        if let (Some(u), Some(t)) = (e.user_id, e.template_id) {
            let list = seen_now.entry(u).or_default();
            if !list.contains(&t) {
                list.push(t);
            }
        }
    }
    if !seen_now.is_empty() {
        let viewed: Vec<(UserId, TemplateId)> = txn
            .query_all_raw(Statement::from_string(
                txn.get_database_backend(),
                format!(
                    "SELECT user_id, template_id FROM viewed WHERE user_id IN ({})",
                    seen_now
                        .keys()
                        .map(|u| u.get().to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ))
            .await?
            .iter()
            .map(|r| {
                Ok((
                    UserId(r.try_get("", "user_id")?),
                    TemplateId(r.try_get("", "template_id")?),
                ))
            })
            .collect::<Result<_, DbErr>>()?;
        let mut before: HashMap<UserId, HashSet<TemplateId>> = HashMap::new();
        for (u, t) in viewed {
            before.entry(u).or_default().insert(t);
        }
        let mut pairs = BTreeMap::new();
        let mut first_views = Vec::new();
        for (user, templates) in &seen_now {
            let had = before.remove(user).unwrap_or_default();
            let new: HashSet<TemplateId> = templates
                .iter()
                .filter(|t| !had.contains(t))
                .copied()
                .collect();
            first_views.extend(new.iter().map(|t| (*user, *t)));
            pairs_of(&new, &had, &mut pairs);
        }
        // A service with itself is how many viewed it: not a recommendation, not kept.
        pairs.retain(|(a, b), _| a != b);
        for chunk in first_views.chunks(300) {
            let mut insert = Query::insert();
            insert.into_table(Alias::new("viewed")).columns([
                Alias::new("user_id"),
                Alias::new("template_id"),
                Alias::new("at"),
            ]);
            for (u, t) in chunk {
                insert.values_panic([u.get().into(), t.get().into(), chrono::Utc::now().into()]);
            }
            txn.execute(&insert).await?;
        }
        add_pairs(&txn, "co_views", "people", &pairs).await?;
    }
    txn.commit().await?;
    Ok(events.len())
}

/// How often the views are counted.
const COUNT_VIEWS_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Counts new views every [`COUNT_VIEWS_EVERY`] (after a second while passes find full
/// batches: a backlog is caught up without taking the machine from the requests), until
/// `stop`.
pub async fn keep_counting_views(db: crate::db::Db, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let wait = match count_views(&db).await {
            Ok(n) if n as u64 >= VIEWS_PER_PASS => std::time::Duration::from_secs(1),
            Ok(_) => COUNT_VIEWS_EVERY,
            Err(e) => {
                tracing::warn!(error = %e, "counting the store's views for recommendations failed");
                COUNT_VIEWS_EVERY
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

#[derive(Debug, FromQueryResult)]
struct Scored {
    /// A service (the query orders by its score, not read here).
    other_id: TemplateId,
}

/// The services most often bought (or viewed, `co_views`) with any of `ids` (summed), by at
/// least [`MIN_SHARED`] each, leaving out `exclude`; the best first, at most `limit`, on sale.
async fn paired<C: ConnectionTrait>(
    conn: &C,
    table: &str,
    count: &str,
    ids: &[TemplateId],
    exclude: &HashSet<TemplateId>,
    limit: usize,
) -> Result<Vec<service_template::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = |ids: &mut dyn Iterator<Item = &TemplateId>| {
        ids.map(|i| i.get().to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let sql = format!(
        "SELECT other_id, CAST(SUM({count}) AS BIGINT) AS score FROM {table} \
         WHERE template_id IN ({}) AND other_id <> template_id AND {count} >= {MIN_SHARED} \
         GROUP BY other_id ORDER BY score DESC, other_id ASC LIMIT {}",
        list(&mut ids.iter()),
        limit + exclude.len() + ids.len()
    );
    let scored =
        Scored::find_by_statement(Statement::from_string(conn.get_database_backend(), sql))
            .all(conn)
            .await?;
    on_sale_in_order(
        conn,
        scored
            .into_iter()
            .map(|s| s.other_id)
            .filter(|t| !exclude.contains(t) && !ids.contains(t)),
        limit,
    )
    .await
}

/// The templates of `ids` that are on sale, in that order, at most `limit`.
async fn on_sale_in_order<C: ConnectionTrait>(
    conn: &C,
    ids: impl Iterator<Item = TemplateId>,
    limit: usize,
) -> Result<Vec<service_template::Model>, DbErr> {
    let ids: Vec<TemplateId> = ids.collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut found: HashMap<TemplateId, service_template::Model> = service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(ids.iter().copied()))
        .filter(service_template::Column::IsPurchasable.eq(true))
        .filter(service_template::Column::ArchivedAt.is_null())
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t))
        .collect();
    Ok(ids
        .into_iter()
        .filter_map(|id| found.remove(&id))
        .take(limit)
        .collect())
}

/// What a service's page suggests.
#[derive(Clone, Debug, Default)]
pub struct Related {
    pub bought_together: Vec<service_template::Model>,
    pub also_viewed: Vec<service_template::Model>,
}

/// How many of each a page suggests.
pub const SUGGESTED: usize = 4;

/// A service's "Often bought together" and "Clients also viewed" (not the ones bought with it).
pub async fn related<C: ConnectionTrait>(conn: &C, id: TemplateId) -> Result<Related, DbErr> {
    let bought_together = bought_with(conn, id, SUGGESTED).await?;
    let shown: HashSet<TemplateId> = bought_together.iter().map(|t| t.id).collect();
    let also_viewed = paired(conn, "co_views", "people", &[id], &shown, SUGGESTED).await?;
    Ok(Related {
        bought_together,
        also_viewed,
    })
}

/// "Often bought together" with `id`.
pub async fn bought_with<C: ConnectionTrait>(
    conn: &C,
    id: TemplateId,
    limit: usize,
) -> Result<Vec<service_template::Model>, DbErr> {
    paired(
        conn,
        "co_purchases",
        "companies",
        &[id],
        &HashSet::new(),
        limit,
    )
    .await
}

/// "Often bought together" with a cart's services.
pub async fn bought_with_all<C: ConnectionTrait>(
    conn: &C,
    ids: &[TemplateId],
    limit: usize,
) -> Result<Vec<service_template::Model>, DbErr> {
    paired(
        conn,
        "co_purchases",
        "companies",
        ids,
        &HashSet::new(),
        limit,
    )
    .await
}

/// "Clients also viewed" with `id`.
pub async fn viewed_with<C: ConnectionTrait>(
    conn: &C,
    id: TemplateId,
    limit: usize,
) -> Result<Vec<service_template::Model>, DbErr> {
    paired(conn, "co_views", "people", &[id], &HashSet::new(), limit).await
}

/// What the company bought (any paid order).
async fn bought_by<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<Vec<TemplateId>, DbErr> {
    order_item::Entity::find()
        .select_only()
        .column(order_item::Column::TemplateId)
        .distinct()
        .inner_join(order::Entity)
        .filter(order::Column::ClientId.eq(client_id))
        .filter(order::Column::Status.is_in([OrderStatus::Completed, OrderStatus::Refunded]))
        .into_tuple()
        .all(conn)
        .await
}

/// "Recommended for you": what companies that bought what this one bought also bought, then
/// the most bought in the categories of what it bought (anything, for a company that bought
/// nothing yet); never what it bought or saved.
pub async fn for_company<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    saved: &HashSet<TemplateId>,
    limit: usize,
) -> Result<Vec<service_template::Model>, DbErr> {
    let bought = bought_by(conn, client_id).await?;
    let mut exclude: HashSet<TemplateId> = saved.clone();
    exclude.extend(bought.iter().copied());
    let mut picks = paired(conn, "co_purchases", "companies", &bought, &exclude, limit).await?;
    if picks.len() >= limit {
        return Ok(picks);
    }
    exclude.extend(picks.iter().map(|t| t.id));
    let categories: HashSet<String> = if bought.is_empty() {
        HashSet::new()
    } else {
        service_template::Entity::find()
            .select_only()
            .column(service_template::Column::Category)
            .distinct()
            .filter(service_template::Column::Id.is_in(bought.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    // The most bought (on the `companies` index), then kept if on sale and in a category.
    let popular = Scored::find_by_statement(Statement::from_string(
        conn.get_database_backend(),
        format!(
            "SELECT template_id AS other_id, CAST(companies AS BIGINT) AS score FROM popularity \
             ORDER BY companies DESC, template_id ASC LIMIT {}",
            (limit + exclude.len()) * 10
        ),
    ))
    .all(conn)
    .await?;
    let more = on_sale_in_order(
        conn,
        popular
            .into_iter()
            .map(|s| s.other_id)
            .filter(|t| !exclude.contains(t)),
        usize::MAX,
    )
    .await?;
    picks.extend(
        more.into_iter()
            .filter(|t| categories.is_empty() || categories.contains(&t.category))
            .take(limit - picks.len()),
    );
    Ok(picks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_services_pair_with_what_came_before_and_each_other() {
        let t = |n| TemplateId(n);
        let mut pairs = BTreeMap::new();
        pairs_of(
            &HashSet::from([t(2), t(3)]),
            &HashSet::from([t(1)]),
            &mut pairs,
        );
        let expected: BTreeMap<(TemplateId, TemplateId), i32> = [
            ((t(1), t(2)), 1),
            ((t(1), t(3)), 1),
            ((t(2), t(1)), 1),
            ((t(2), t(2)), 1),
            ((t(2), t(3)), 1),
            ((t(3), t(1)), 1),
            ((t(3), t(2)), 1),
            ((t(3), t(3)), 1),
        ]
        .into();
        assert_eq!(pairs, expected);
    }
}
