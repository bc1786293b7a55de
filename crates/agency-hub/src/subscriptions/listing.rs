//! The staff's list of subscriptions: filtered by status, client and template, searched in the
//! client's and the template's names and Stripe's id; a page in three queries (the page and its
//! count, the client names, the template names) whatever its size.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::db::contains;
use crate::db::entities::{client, service_template, subscription};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, TemplateId};

pub const PER_PAGE: u64 = 25;

/// The statuses the filter offers (Stripe's, as stored).
pub const STATUSES: [&str; 6] = [
    "trialing", "active", "past_due", "unpaid", "paused", "canceled",
];

#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub status: Option<&'static str>,
    pub client_id: Option<ClientId>,
    pub template_id: Option<TemplateId>,
    pub search: String,
}

impl Filter {
    /// From the list's query string; an unknown status is a 400 naming it.
    pub fn parse(status: &str, client: &str, template: &str, q: &str) -> AppResult<Self> {
        let status = match status.trim() {
            "" => None,
            s => Some(*STATUSES.iter().find(|x| **x == s).ok_or_else(|| {
                AppError::invalid(
                    "status",
                    format!("Unknown status '{s}': use one of {}.", STATUSES.join(", ")),
                )
            })?),
        };
        let id = |field: &str, raw: &str| -> AppResult<Option<i64>> {
            match raw.trim() {
                "" => Ok(None),
                s => s
                    .parse()
                    .map(Some)
                    .map_err(|_| AppError::invalid(field, format!("'{s}' is not an id."))),
            }
        };
        if q.chars().count() > 200 {
            return Err(AppError::invalid("q", "Search for at most 200 characters."));
        }
        Ok(Self {
            status,
            client_id: id("client", client)?.map(ClientId),
            template_id: id("template", template)?.map(TemplateId),
            search: q.trim().to_string(),
        })
    }

    fn condition(&self) -> Condition {
        let mut c = Condition::all();
        if let Some(s) = self.status {
            c = c.add(subscription::Column::Status.eq(s));
        }
        if let Some(id) = self.client_id {
            c = c.add(subscription::Column::ClientId.eq(id));
        }
        if let Some(id) = self.template_id {
            c = c.add(subscription::Column::TemplateId.eq(id));
        }
        if !self.search.is_empty() {
            let like = || contains(&self.search);
            fn lower(col: impl sea_orm::sea_query::IntoColumnRef) -> Expr {
                Expr::expr(Func::lower(Expr::col(col)))
            }
            c = c.add(
                Condition::any()
                    .add(lower(subscription::Column::StripeSubscriptionId).like(like()))
                    .add(
                        subscription::Column::ClientId.in_subquery(
                            Query::select()
                                .column(client::Column::Id)
                                .from(client::Entity)
                                .and_where(lower(client::Column::Name).like(like()))
                                .to_owned(),
                        ),
                    )
                    .add(
                        subscription::Column::TemplateId.in_subquery(
                            Query::select()
                                .column(service_template::Column::Id)
                                .from(service_template::Entity)
                                .and_where(lower(service_template::Column::Name).like(like()))
                                .to_owned(),
                        ),
                    ),
            );
        }
        c
    }
}

/// A subscription in the list, with its client's and template's names.
pub struct Row {
    pub sub: subscription::Model,
    pub client_name: String,
    pub template_name: String,
}

/// One page of the filtered list, newest first, and how many match.
pub async fn page<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    page: u64,
) -> AppResult<(Vec<Row>, u64)> {
    let pages = subscription::Entity::find()
        .filter(filter.condition())
        .order_by_desc(subscription::Column::CreatedAt)
        .order_by_desc(subscription::Column::Id)
        .paginate(conn, PER_PAGE);
    let total = pages.num_items().await?;
    let subs = pages.fetch_page(page.saturating_sub(1)).await?;
    let clients = crate::clients::names_of(conn, subs.iter().map(|s| s.client_id)).await?;
    let templates: HashMap<TemplateId, String> = service_template::Entity::find()
        .filter(service_template::Column::Id.is_in(subs.iter().map(|s| s.template_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let rows = subs
        .into_iter()
        .map(|sub| Row {
            client_name: clients.get(&sub.client_id).cloned().unwrap_or_default(),
            template_name: templates.get(&sub.template_id).cloned().unwrap_or_default(),
            sub,
        })
        .collect();
    Ok((rows, total))
}

/// The templates sold as subscriptions (not archived), by category and name, for the filter:
/// their ids and names only.
pub async fn recurring_templates<C: ConnectionTrait>(
    conn: &C,
) -> AppResult<Vec<(TemplateId, String)>> {
    Ok(service_template::Entity::find()
        .select_only()
        .column(service_template::Column::Id)
        .column(service_template::Column::Name)
        .filter(service_template::Column::BillingInterval.is_not_null())
        .filter(service_template::Column::ArchivedAt.is_null())
        .order_by_asc(service_template::Column::Category)
        .order_by_asc(service_template::Column::Name)
        .into_tuple()
        .all(conn)
        .await?)
}
