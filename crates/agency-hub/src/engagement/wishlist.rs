//! Wishlists: a client company's services saved for later, shared by its people, each with who
//! saved it and its price then, so that a price that has dropped since is flagged. Saving is
//! idempotent (the first save is kept); "Move to saved" takes a line out of the cart and saves
//! it in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::analytics::{Event, Kind};
use crate::cart;
use crate::catalog::{self, store};
use crate::db::entities::{saved_service, service_template, user};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, TemplateId, UserId};
use crate::money::{Currency, Money};

/// A saved service as the Saved page shows it.
#[derive(Clone, Debug)]
pub struct Saved {
    pub template: service_template::Model,
    /// Who saved it ("a former colleague" once they are gone).
    pub saved_by: String,
    pub saved_at: DateTime<Utc>,
    /// Its price when saved.
    pub price_then: Money,
    /// Its price now in the company's currency, if it has one there.
    pub price_now: Option<Money>,
}

impl Saved {
    /// Still on sale: it can go in the cart.
    pub fn on_sale(&self) -> bool {
        self.template.on_sale()
    }

    /// Cheaper now than when it was saved (in the same currency).
    pub fn price_dropped(&self) -> bool {
        self.price_now.is_some_and(|now| {
            now.currency == self.price_then.currency && now.minor < self.price_then.minor
        })
    }
}

/// Saves a service on sale for the company (`currency`: what it pays in). Returns false when
/// it was saved already (by anyone of the company): nothing changes then.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    client_id: ClientId,
    template_id: TemplateId,
    currency: Currency,
) -> AppResult<bool> {
    let template = store::get_on_sale(conn, template_id).await?;
    let Some(price) = template.price_in(currency) else {
        return Err(AppError::invalid(
            "service_template_id",
            format!(
                "{} has no price in {currency}, the currency your company pays in.",
                template.title()
            ),
        ));
    };
    let inserted = saved_service::Entity::insert(saved_service::ActiveModel {
        client_id: Set(client_id),
        template_id: Set(template_id),
        user_id: Set(Some(user_id)),
        price_minor: Set(price.minor),
        currency: Set(currency),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            saved_service::Column::ClientId,
            saved_service::Column::TemplateId,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    Event::new(Kind::Saved, Some(client_id), Some(user_id))
        .template(template_id)
        .record(conn)
        .await?;
    Ok(true)
}

/// Takes a service off the company's list; a 404 when it was not on it.
pub async fn remove<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    template_id: TemplateId,
) -> AppResult<()> {
    let gone = saved_service::Entity::delete_many()
        .filter(saved_service::Column::ClientId.eq(client_id))
        .filter(saved_service::Column::TemplateId.eq(template_id))
        .exec(conn)
        .await?;
    if gone.rows_affected == 0 {
        let mut e = AppError::not_found();
        e.message = "That service is not on your saved list.".into();
        return Err(e);
    }
    Ok(())
}

/// Takes a line out of the cart and saves its service; returns its title.
pub async fn move_from_cart<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    client_id: ClientId,
    template_id: TemplateId,
    currency: Currency,
) -> AppResult<String> {
    let line = cart::remove(conn, user_id, client_id, template_id).await?;
    save(conn, user_id, client_id, template_id, currency).await?;
    Ok(line.template.title().to_string())
}

/// The ids of the company's saved services (the store's "Saved" marks).
pub async fn saved_ids<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<HashSet<TemplateId>, DbErr> {
    Ok(saved_service::Entity::find()
        .select_only()
        .column(saved_service::Column::TemplateId)
        .filter(saved_service::Column::ClientId.eq(client_id))
        .into_tuple::<TemplateId>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}

/// The company's saved services, the latest saved first, priced in `currency`: three queries
/// whatever their number.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    currency: Currency,
) -> Result<Vec<Saved>, DbErr> {
    let rows = saved_service::Entity::find()
        .filter(saved_service::Column::ClientId.eq(client_id))
        .order_by_desc(saved_service::Column::CreatedAt)
        .order_by_desc(saved_service::Column::Id)
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let templates = catalog::by_id(conn, rows.iter().map(|r| r.template_id)).await?;
    let people: HashMap<UserId, String> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Name)
        .filter(user::Column::Id.is_in(rows.iter().filter_map(|r| r.user_id)))
        .into_tuple::<(UserId, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let template = templates.get(&r.template_id)?.clone();
            Some(Saved {
                price_now: template.price_in(currency),
                saved_by: r
                    .user_id
                    .and_then(|u| people.get(&u).cloned())
                    .unwrap_or_else(|| "a former colleague".into()),
                saved_at: r.created_at,
                price_then: Money::new(r.price_minor, r.currency),
                template,
            })
        })
        .collect())
}

/// A service and how many companies saved it.
#[derive(Clone, Debug)]
pub struct MostSaved {
    pub template: service_template::Model,
    pub companies: i64,
}

/// The services the most companies saved (staff's view), at most `limit`.
pub async fn most_saved<C: ConnectionTrait>(conn: &C, limit: u64) -> Result<Vec<MostSaved>, DbErr> {
    use sea_orm::sea_query::{Expr, Order};
    let counts: Vec<(TemplateId, i64)> = saved_service::Entity::find()
        .select_only()
        .column(saved_service::Column::TemplateId)
        .column_as(saved_service::Column::Id.count(), "companies")
        .group_by(saved_service::Column::TemplateId)
        .order_by(Expr::cust("COUNT(id)"), Order::Desc)
        .order_by_asc(saved_service::Column::TemplateId)
        .limit(limit)
        .into_tuple()
        .all(conn)
        .await?;
    let templates = catalog::by_id(conn, counts.iter().map(|(t, _)| *t)).await?;
    Ok(counts
        .into_iter()
        .filter_map(|(id, companies)| {
            Some(MostSaved {
                template: templates.get(&id)?.clone(),
                companies,
            })
        })
        .collect())
}
