//! The store's listing: purchasable templates, filtered, sorted and paged in two queries (the
//! page and the count), on the `(is_purchasable, sort_order, store_title)` index. A search is
//! answered from memory instead (`catalog::search`).

use sea_orm::sea_query::{Expr, ExprTrait};

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::db::entities::service_template;
use crate::error::{AppError, AppResult};
use crate::ids::TemplateId;
use crate::money::Currency;

pub const PER_PAGE: u64 = 24;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    /// The admin's sort order, then title.
    #[default]
    Featured,
    PriceLow,
    PriceHigh,
    Name,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Featured, Sort::PriceLow, Sort::PriceHigh, Sort::Name];

    pub fn parse(raw: &str) -> AppResult<Self> {
        match raw.trim() {
            "" | "featured" => Ok(Self::Featured),
            "price_asc" => Ok(Self::PriceLow),
            "price_desc" => Ok(Self::PriceHigh),
            "name" => Ok(Self::Name),
            other => Err(AppError::invalid(
                "sort",
                format!("Unknown sort '{other}': use featured, price_asc, price_desc or name."),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Featured => "featured",
            Self::PriceLow => "price_asc",
            Self::PriceHigh => "price_desc",
            Self::Name => "name",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Featured => "Featured",
            Self::PriceLow => "Price: low to high",
            Self::PriceHigh => "Price: high to low",
            Self::Name => "Name",
        }
    }
}

/// The store's query string as typed (the page's and the API's).
#[derive(Debug, Default, serde::Deserialize)]
pub struct StoreParams {
    /// `q` on the page, `search` in the API.
    #[serde(default, alias = "search")]
    pub q: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub sort: String,
    pub page: Option<u64>,
}

impl StoreParams {
    /// The query, for a client paying in `currency`.
    pub fn parse(&self, currency: Currency) -> AppResult<StoreQuery> {
        if self.q.chars().count() > 200 {
            return Err(AppError::invalid("q", "Search for at most 200 characters."));
        }
        Ok(StoreQuery {
            search: self.q.trim().to_string(),
            category: self.category.trim().to_string(),
            sort: Sort::parse(&self.sort)?,
            page: crate::paging::page_number(self.page)?,
            currency,
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StoreQuery {
    /// Searched for in the store's index (`catalog::search`).
    pub search: String,
    pub category: String,
    pub sort: Sort,
    pub page: u64,
    /// Prices sort in it (a service without a price in it comes last).
    pub currency: Currency,
}

fn on_sale() -> Condition {
    Condition::all()
        .add(service_template::Column::IsPurchasable.eq(true))
        .add(service_template::Column::ArchivedAt.is_null())
}

/// One page of what is on sale (in a category, if `q` names one; its search aside) and how
/// many there are in all.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    q: &StoreQuery,
) -> Result<(Vec<service_template::Model>, u64), DbErr> {
    // A search is answered by the search index (`StoreCache::list`), not here.
    let mut query = service_template::Entity::find().filter(on_sale());
    if !q.category.trim().is_empty() {
        query = query.filter(service_template::Column::Category.eq(q.category.trim()));
    }
    query = match q.sort {
        Sort::Featured => query
            .order_by_asc(service_template::Column::SortOrder)
            .order_by_asc(service_template::Column::StoreTitle),
        Sort::PriceLow => query
            .order_by_asc(price_in(conn, q.currency).is_null())
            .order_by_asc(price_in(conn, q.currency))
            .order_by_asc(service_template::Column::StoreTitle),
        Sort::PriceHigh => query
            .order_by_asc(price_in(conn, q.currency).is_null())
            .order_by_desc(price_in(conn, q.currency))
            .order_by_asc(service_template::Column::StoreTitle),
        Sort::Name => query.order_by_asc(service_template::Column::StoreTitle),
    }
    .order_by_asc(service_template::Column::Id);
    let pages = query.paginate(conn, PER_PAGE);
    let total = pages.num_items().await?;
    let rows = pages.fetch_page(q.page.saturating_sub(1)).await?;
    Ok((rows, total))
}

/// A template's price in `currency` as SQL: its own price in its own currency, else the
/// other currency's from its `prices` JSON (`catalog::prices`), else NULL.
fn price_in<C: ConnectionTrait>(conn: &C, currency: Currency) -> Expr {
    let other = match conn.get_database_backend() {
        sea_orm::DbBackend::Postgres => Expr::cust_with_values(
            r#"CAST(("prices" -> $1 ->> 'unit') AS BIGINT)"#,
            [currency.code()],
        ),
        _ => Expr::cust_with_values(
            r#"CAST(json_extract("prices", '$.' || ? || '.unit') AS INTEGER)"#,
            [currency.code()],
        ),
    };
    Expr::case(
        service_template::Column::Currency.eq(currency.code()),
        Expr::col(service_template::Column::PriceMinor),
    )
    .finally(other)
    .into()
}

/// Everything on sale (for the search index, and the services an experiment may feature).
pub async fn all_on_sale<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<service_template::Model>, DbErr> {
    service_template::Entity::find()
        .filter(on_sale())
        .order_by_asc(service_template::Column::Id)
        .all(conn)
        .await
}

/// The categories that have something on sale.
pub async fn categories<C: ConnectionTrait>(conn: &C) -> Result<Vec<String>, DbErr> {
    service_template::Entity::find()
        .select_only()
        .column(service_template::Column::Category)
        .distinct()
        .filter(on_sale())
        .order_by_asc(service_template::Column::Category)
        .into_tuple()
        .all(conn)
        .await
}

/// A template a client may buy now; anything else is simply not in the store.
pub async fn get_on_sale<C: ConnectionTrait>(
    conn: &C,
    id: TemplateId,
) -> AppResult<service_template::Model> {
    service_template::Entity::find_by_id(id)
        .filter(on_sale())
        .one(conn)
        .await?
        .ok_or_else(not_in_store)
}

/// The 404 of a service that is not (or no longer) on sale.
pub fn not_in_store() -> AppError {
    let mut e = AppError::not_found();
    e.message = "That service is not in the store.".into();
    e
}
