//! Notifications in the app: one row per person told, written in the transaction of the change
//! that made it. The bell counts a person's unread ones; opening a service reads its ones.
//!
//! Who hears about a service: its client's active people (except for staff-only notes), and the
//! staff who follow it. A service nobody of the staff follows yet is heard by every active
//! staff member, so that nothing a client says goes unseen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::db::entities::notification::{self, NoticeKind};
use crate::db::entities::user::{self, MessageEmail, Role};
use crate::db::entities::{service, service_follower};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, MessageId, ServiceId, UserId};

/// What happened, as each person is told it.
#[derive(Clone, Debug)]
pub struct Notice {
    pub kind: NoticeKind,
    pub service_id: Option<ServiceId>,
    pub message_id: Option<MessageId>,
    pub title: String,
    pub body: String,
    /// Where it leads: the client's page, and the staff's.
    pub client_link: String,
    pub staff_link: String,
}

impl Notice {
    /// A notice about a service, leading to its page.
    pub fn service(kind: NoticeKind, service_id: ServiceId, title: String, body: String) -> Self {
        Self {
            kind,
            service_id: Some(service_id),
            message_id: None,
            title,
            body,
            client_link: format!("/my/services/{service_id}"),
            staff_link: format!("/services/{service_id}"),
        }
    }
}

/// A person to tell, with what their notification's link and emails need.
#[derive(Clone, Debug)]
pub struct Recipient {
    pub id: UserId,
    pub staff: bool,
    pub name: String,
    pub email: String,
    pub message_email: MessageEmail,
}

impl From<user::Model> for Recipient {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            staff: u.role.is_staff(),
            name: u.name,
            email: u.email,
            message_email: u.message_email,
        }
    }
}

/// Tells `notice` to each of `to`, in one statement.
pub async fn send<C: ConnectionTrait>(
    conn: &C,
    notice: &Notice,
    to: &[Recipient],
) -> Result<(), DbErr> {
    send_many(conn, to.iter().map(|r| (notice, r.id, r.staff))).await
}

/// Tells several notices, each to one person (their id, and whether they are staff), in one
/// statement.
pub async fn send_many<'a, C: ConnectionTrait>(
    conn: &C,
    told: impl IntoIterator<Item = (&'a Notice, UserId, bool)>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let mut live = super::live::Live::default();
    let rows: Vec<notification::ActiveModel> = told
        .into_iter()
        .map(|(notice, user_id, staff)| {
            live.add(user_id, notice.service_id);
            row(notice, user_id, staff, now)
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    notification::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    // Before the commit: a count read meanwhile is kept under this number, and dropped again
    // when the live update of the commit is heard (`live::Hub`).
    written();
    super::live::announce(conn, live).await
}

fn row(
    notice: &Notice,
    user_id: UserId,
    staff: bool,
    now: chrono::DateTime<Utc>,
) -> notification::ActiveModel {
    notification::ActiveModel {
        user_id: Set(user_id),
        kind: Set(notice.kind),
        service_id: Set(notice.service_id),
        message_id: Set(notice.message_id),
        title: Set(notice.title.clone()),
        body: Set(notice.body.clone()),
        link: Set(if staff {
            notice.staff_link.clone()
        } else {
            notice.client_link.clone()
        }),
        created_at: Set(now),
        read_at: Set(None),
        emailed_at: Set(None),
        ..Default::default()
    }
}

/// The active users matching `which`, by id.
async fn people<C: ConnectionTrait>(
    conn: &C,
    which: sea_orm::Condition,
) -> Result<Vec<Recipient>, DbErr> {
    Ok(user::Entity::find()
        .filter(which)
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(Recipient::from)
        .collect())
}

fn staff() -> sea_orm::Condition {
    sea_orm::Condition::all().add(user::Column::Role.is_in([Role::Admin, Role::Manager]))
}

/// The active people of a client company.
pub async fn client_people<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<Vec<Recipient>, DbErr> {
    let which = sea_orm::Condition::all()
        .add(user::Column::ClientId.eq(client_id))
        .add(user::Column::Role.eq(Role::Client));
    people(conn, which).await
}

/// Every active manager and admin.
pub async fn all_staff<C: ConnectionTrait>(conn: &C) -> Result<Vec<Recipient>, DbErr> {
    people(conn, staff()).await
}

/// The ids of a service's followers, as a subquery.
fn following(service_id: ServiceId) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(service_follower::Column::UserId)
        .from(service_follower::Entity)
        .and_where(service_follower::Column::ServiceId.eq(service_id))
        .to_owned()
}

/// The staff who hear about a service: its active followers, or every active staff member
/// while none follows it.
pub async fn service_staff<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
) -> Result<Vec<Recipient>, DbErr> {
    let followers = people(
        conn,
        staff().add(user::Column::Id.in_subquery(following(service_id))),
    )
    .await?;
    if followers.is_empty() {
        all_staff(conn).await
    } else {
        Ok(followers)
    }
}

/// Everyone who hears about `service`: its staff, and its client's people unless
/// `staff_only`; never `except` (who caused it).
pub async fn service_audience<C: ConnectionTrait>(
    conn: &C,
    service: &service::Model,
    staff_only: bool,
    except: Option<UserId>,
) -> Result<Vec<Recipient>, DbErr> {
    let mut to = service_staff(conn, service.id).await?;
    if !staff_only {
        to.extend(client_people(conn, service.client_id).await?);
    }
    to.retain(|r| Some(r.id) != except);
    Ok(to)
}

/// Tells a service's audience about it (see [`service_audience`]).
pub async fn tell_service<C: ConnectionTrait>(
    conn: &C,
    service: &service::Model,
    notice: &Notice,
    staff_only: bool,
    except: Option<UserId>,
) -> Result<Vec<Recipient>, DbErr> {
    let to = service_audience(conn, service, staff_only, except).await?;
    send(conn, notice, &to).await?;
    Ok(to)
}

/// A staff member follows a service (again: nothing changes).
pub async fn follow<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
    user_id: UserId,
) -> Result<(), DbErr> {
    let row = service_follower::ActiveModel {
        service_id: Set(service_id),
        user_id: Set(user_id),
        created_at: Set(Utc::now()),
    };
    let inserted = service_follower::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                service_follower::Column::ServiceId,
                service_follower::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await;
    match inserted {
        Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
        Err(e) => Err(e),
    }
}

pub async fn unfollow<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
    user_id: UserId,
) -> Result<(), DbErr> {
    service_follower::Entity::delete_many()
        .filter(service_follower::Column::ServiceId.eq(service_id))
        .filter(service_follower::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The names of the staff who follow a service, by name.
pub async fn followers<C: ConnectionTrait>(
    conn: &C,
    service_id: ServiceId,
) -> Result<Vec<(UserId, String)>, DbErr> {
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Name)
        .filter(user::Column::Id.in_subquery(following(service_id)))
        .order_by_asc(user::Column::Name)
        .into_tuple()
        .all(conn)
        .await
}

/// A person's unread notifications: all of them (the bell) and those of new messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unread {
    pub all: i64,
    pub messages: i64,
}

/// How many times this process wrote notifications or heard of another instance's (the live
/// updates, at their commit): a person's unread counts kept in memory
/// ([`crate::AppState::unread`]) are good only while it has not moved. One number for everyone:
/// a write makes everyone's counts be read again, and nothing is missed.
static WRITES: AtomicU64 = AtomicU64::new(0);

pub fn writes() -> u64 {
    WRITES.load(AtomicOrdering::Acquire)
}

/// Notifications were written (or marked read).
pub fn written() {
    WRITES.fetch_add(1, AtomicOrdering::AcqRel);
}

/// One grouped query on the (user, read) index.
pub async fn unread<C: ConnectionTrait>(conn: &C, user_id: UserId) -> Result<Unread, DbErr> {
    let counts: Vec<(NoticeKind, i64)> = notification::Entity::find()
        .select_only()
        .column(notification::Column::Kind)
        .column_as(notification::Column::Id.count(), "n")
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null())
        .group_by(notification::Column::Kind)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(Unread::of(counts))
}

impl Unread {
    fn of(counts: Vec<(NoticeKind, i64)>) -> Self {
        counts
            .into_iter()
            .fold(Self::default(), |mut u, (kind, n)| {
                u.all += n;
                if kind == NoticeKind::Message {
                    u.messages += n;
                }
                u
            })
    }
}

/// Unread new-message notifications per service, for a list's services (one query).
pub async fn unread_messages_by_service<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    services: impl IntoIterator<Item = ServiceId>,
) -> Result<HashMap<ServiceId, i64>, DbErr> {
    let ids: Vec<ServiceId> = services.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(notification::Entity::find()
        .select_only()
        .column(notification::Column::ServiceId)
        .column_as(notification::Column::Id.count(), "n")
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null())
        .filter(notification::Column::Kind.eq(NoticeKind::Message))
        .filter(notification::Column::ServiceId.is_in(ids))
        .group_by(notification::Column::ServiceId)
        .into_tuple::<(ServiceId, i64)>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}

/// A person opened a service: its notifications to them are read. Looks before it writes, so
/// opening a service with nothing new writes nothing. Returns what was unread.
pub async fn read_service<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    service_id: ServiceId,
) -> Result<Unread, DbErr> {
    read_where(
        conn,
        user_id,
        notification::Column::ServiceId.eq(service_id),
    )
    .await
}

/// A person opened a page (an order, their subscriptions): the notifications leading there
/// are read, as [`read_service`] does.
pub async fn read_link<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    link: &str,
) -> Result<Unread, DbErr> {
    read_where(conn, user_id, notification::Column::Link.eq(link)).await
}

/// Reads a person's unread notifications that match `which`: counted first (among the
/// person's unread, on their index), marked read only if there are some.
async fn read_where<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<Unread, DbErr> {
    let counts: Vec<(NoticeKind, i64)> = notification::Entity::find()
        .select_only()
        .column(notification::Column::Kind)
        .column_as(notification::Column::Id.count(), "n")
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null())
        .filter(which.clone())
        .group_by(notification::Column::Kind)
        .into_tuple()
        .all(conn)
        .await?;
    let seen = Unread::of(counts);
    if seen.all > 0 {
        notification::Entity::update_many()
            .col_expr(notification::Column::ReadAt, Expr::value(Utc::now()))
            .filter(notification::Column::UserId.eq(user_id))
            .filter(notification::Column::ReadAt.is_null())
            .filter(which)
            .exec(conn)
            .await?;
        written();
    }
    Ok(seen)
}

/// Marks a person's unread notifications read: one of them, or all.
async fn mark_read<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    id: Option<i64>,
) -> Result<u64, DbErr> {
    let mut q = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Utc::now()))
        .filter(notification::Column::UserId.eq(user_id))
        .filter(notification::Column::ReadAt.is_null());
    if let Some(id) = id {
        q = q.filter(notification::Column::Id.eq(id));
    }
    let marked = q.exec(conn).await?.rows_affected;
    written();
    Ok(marked)
}

/// Marks one of a person's notifications read; another person's is not found.
pub async fn read_one<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    id: i64,
) -> AppResult<notification::Model> {
    let found = notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user_id))
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)?;
    mark_read(conn, user_id, Some(id)).await?;
    Ok(found)
}

/// Marks all of a person's notifications read; returns how many were unread.
pub async fn read_all<C: ConnectionTrait>(conn: &C, user_id: UserId) -> Result<u64, DbErr> {
    mark_read(conn, user_id, None).await
}

/// A person's notifications, newest first: one page and the total.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    page: u64,
    per_page: u64,
) -> Result<(Vec<notification::Model>, u64), DbErr> {
    let pages = notification::Entity::find()
        .filter(notification::Column::UserId.eq(user_id))
        .order_by_desc(notification::Column::Id)
        .paginate(conn, per_page);
    let total = pages.num_items().await?;
    Ok((pages.fetch_page(page.saturating_sub(1)).await?, total))
}

/// The first `max` characters of a text on one line, with an ellipsis when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= max {
        line
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_one_line_and_cut_with_an_ellipsis() {
        assert_eq!(excerpt("Hello\n\n  there", 20), "Hello there");
        assert_eq!(excerpt("abcdefghij", 5), "abcd…");
        assert_eq!(excerpt("abcde", 5), "abcde");
    }
}
