//! Client companies: the agency's customers, whose users are CLIENT users.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::auth::Email;
use crate::db::entities::{client, service, user};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::ClientId;
use crate::money::Currency;

/// The client form as typed.
#[derive(Clone, Debug, Default)]
pub struct ClientForm {
    pub name: String,
    pub billing_email: String,
    pub notes: String,
    /// A currency code.
    pub billing_currency: String,
}

#[derive(Clone, Debug)]
pub struct ValidClient {
    pub name: String,
    pub billing_email: Option<String>,
    pub notes: String,
    pub billing_currency: Currency,
}

impl ClientForm {
    pub fn from_model(c: &client::Model) -> Self {
        Self {
            name: c.name.clone(),
            billing_email: c.billing_email.clone().unwrap_or_default(),
            notes: c.notes.clone(),
            billing_currency: c.billing_currency.code().to_string(),
        }
    }

    pub fn validate(&self) -> Result<ValidClient, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.add("name", "Enter the company's name.");
        } else if name.chars().count() > 200 {
            errors.add("name", "Use at most 200 characters.");
        }
        let billing_email = match self.billing_email.trim() {
            "" => None,
            raw => match Email::parse(raw) {
                Ok(e) => Some(e.as_str().to_string()),
                Err(m) => {
                    errors.add("billing_email", m);
                    None
                }
            },
        };
        if self.notes.chars().count() > 5000 {
            errors.add("notes", "Use at most 5000 characters.");
        }
        let billing_currency = Currency::parse(&self.billing_currency);
        if billing_currency.is_none() {
            errors.add(
                "billing_currency",
                format!(
                    "'{}' is not a currency the store accepts: choose one from the list.",
                    self.billing_currency.trim()
                ),
            );
        }
        match billing_currency {
            Some(billing_currency) if errors.is_empty() => Ok(ValidClient {
                name: name.to_string(),
                billing_email,
                notes: self.notes.trim().to_string(),
                billing_currency,
            }),
            _ => Err(errors),
        }
    }
}

/// Refuses a second company of the same name (compared case-insensitively).
async fn ensure_unique_name<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    except: Option<ClientId>,
) -> AppResult<()> {
    let mut q = client::Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(client::Column::Name))).eq(name.to_lowercase()));
    if let Some(id) = except {
        q = q.filter(client::Column::Id.ne(id));
    }
    if q.one(conn).await?.is_some() {
        let mut e = AppError::conflict(format!("A client named {name} already exists."));
        e.field = Some("name".into());
        return Err(e);
    }
    Ok(())
}

fn subject(id: ClientId) -> Subject<'static> {
    Subject {
        entity_type: "client",
        entity_id: id.get(),
        client_id: Some(id),
    }
}

pub async fn create<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    v: ValidClient,
) -> AppResult<client::Model> {
    ensure_unique_name(conn, &v.name, None).await?;
    let now = Utc::now();
    let model = client::Entity::insert(client::ActiveModel {
        name: Set(v.name),
        billing_email: Set(v.billing_email),
        notes: Set(v.notes),
        billing_currency: Set(v.billing_currency),
        stripe_customer_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    activity::record(
        conn,
        actor,
        "client.created",
        subject(model.id),
        json!({"name": model.name}),
    )
    .await?;
    Ok(model)
}

pub async fn update<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: ClientId,
    v: ValidClient,
) -> AppResult<client::Model> {
    let current = get(conn, id).await?;
    ensure_unique_name(conn, &v.name, Some(id)).await?;
    let mut active: client::ActiveModel = current.into();
    active.name = Set(v.name);
    active.billing_email = Set(v.billing_email);
    active.notes = Set(v.notes);
    active.billing_currency = Set(v.billing_currency);
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    activity::record(
        conn,
        actor,
        "client.updated",
        subject(id),
        json!({"name": model.name, "billing_currency": model.billing_currency.code()}),
    )
    .await?;
    Ok(model)
}

/// The currency the company's people see prices in and pay (USD for a company that does not
/// exist), one column read.
pub async fn billing_currency<C: ConnectionTrait>(
    conn: &C,
    id: ClientId,
) -> Result<Currency, DbErr> {
    Ok(client::Entity::find_by_id(id)
        .select_only()
        .column(client::Column::BillingCurrency)
        .into_tuple::<Currency>()
        .one(conn)
        .await?
        .unwrap_or_default())
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: ClientId) -> AppResult<client::Model> {
    client::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// The client company with this name (compared case-insensitively), created when missing.
pub async fn find_or_create<C: ConnectionTrait>(conn: &C, name: &str) -> AppResult<client::Model> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid(
            "client",
            "A company name has 1 to 200 characters.",
        ));
    }
    let found = client::Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(client::Column::Name))).eq(name.to_lowercase()))
        .one(conn)
        .await?;
    if let Some(c) = found {
        return Ok(c);
    }
    let now = Utc::now();
    let model = client::ActiveModel {
        name: Set(name.to_string()),
        billing_email: Set(None),
        notes: Set(String::new()),
        billing_currency: Set(crate::agency::default_currency(conn).await?),
        stripe_customer_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(client::Entity::insert(model)
        .exec_with_returning(conn)
        .await?)
}

/// A client with how many users and services it has.
#[derive(Clone, Debug)]
pub struct ClientRow {
    pub client: client::Model,
    pub users: i64,
    pub services: i64,
}

/// Every client by name, with counts, in three queries.
pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<ClientRow>, DbErr> {
    let clients = client::Entity::find()
        .order_by_asc(client::Column::Name)
        .all(conn)
        .await?;
    let users: HashMap<ClientId, i64> = user::Entity::find()
        .select_only()
        .column(user::Column::ClientId)
        .column_as(user::Column::Id.count(), "n")
        .filter(user::Column::ClientId.is_not_null())
        .group_by(user::Column::ClientId)
        .into_tuple::<(ClientId, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let services: HashMap<ClientId, i64> = service::Entity::find()
        .select_only()
        .column(service::Column::ClientId)
        .column_as(service::Column::Id.count(), "n")
        .group_by(service::Column::ClientId)
        .into_tuple::<(ClientId, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    Ok(clients
        .into_iter()
        .map(|c| ClientRow {
            users: users.get(&c.id).copied().unwrap_or(0),
            services: services.get(&c.id).copied().unwrap_or(0),
            client: c,
        })
        .collect())
}

/// (id, name) of every client, for choosing one.
pub async fn names<C: ConnectionTrait>(conn: &C) -> Result<Vec<(ClientId, String)>, DbErr> {
    client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .column(client::Column::Name)
        .order_by_asc(client::Column::Name)
        .into_tuple()
        .all(conn)
        .await
}

/// The names of these client companies, by id (one query, for lists).
pub async fn names_of<C: ConnectionTrait>(
    conn: &C,
    ids: impl IntoIterator<Item = ClientId>,
) -> Result<HashMap<ClientId, String>, DbErr> {
    let mut ids: Vec<ClientId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    Ok(client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .column(client::Column::Name)
        .filter(client::Column::Id.is_in(ids))
        .into_tuple::<(ClientId, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}
