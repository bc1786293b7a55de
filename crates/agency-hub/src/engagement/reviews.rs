//! Reviews: a client company reviews a service it completed (verified purchase: a service of
//! that template is done for it), 1 to 5 stars and text, one review per company and service,
//! editable. Every new or changed review waits for the agency's approval; staff approve, hide,
//! and reply publicly. A template keeps the count and the sum of its approved reviews' stars
//! (`service_templates.review_count`, `rating_sum`), changed in the same transaction as the
//! review, so the store shows the average without counting (and its cache moves with it).

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::analytics::{Event, Kind};
use crate::db::entities::review::{self, ReviewStatus};
use crate::db::entities::service::ServiceStatus;
use crate::db::entities::{client, service, service_template};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::{ClientId, TemplateId, UserId};

/// The longest review and reply, in characters.
pub const MAX_TEXT: usize = 2_000;

/// A review as typed.
#[derive(Clone, Debug, Default)]
pub struct ReviewForm {
    pub rating: String,
    pub body: String,
}

/// A review that reads.
#[derive(Clone, Debug)]
pub struct ValidReview {
    rating: i32,
    body: String,
}

impl ReviewForm {
    pub fn validate(&self) -> Result<ValidReview, FieldErrors> {
        let mut errors = FieldErrors::default();
        let rating = self
            .rating
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|r| (1..=5).contains(r));
        if rating.is_none() {
            errors.add("rating", "Choose from 1 to 5 stars.");
        }
        let body = self.body.trim().replace("\r\n", "\n");
        let n = body.chars().count();
        if n == 0 {
            errors.add("body", "Say a few words about the service.");
        } else if n > MAX_TEXT {
            errors.add(
                "body",
                format!("Use at most {MAX_TEXT} characters (this has {n})."),
            );
        }
        match rating {
            Some(rating) if errors.is_empty() => Ok(ValidReview { rating, body }),
            _ => Err(errors),
        }
    }
}

/// Whether the company has completed a service of this template (a purchase, a bundle's part
/// or one the agency assigned): what it may review.
pub async fn completed<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    template_id: TemplateId,
) -> Result<bool, DbErr> {
    Ok(service::Entity::find()
        .filter(service::Column::ClientId.eq(client_id))
        .filter(service::Column::TemplateId.eq(template_id))
        .filter(service::Column::Status.eq(ServiceStatus::Done))
        .count(conn)
        .await?
        > 0)
}

/// The company's review of a template, if it wrote one.
pub async fn of_company<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    template_id: TemplateId,
) -> Result<Option<review::Model>, DbErr> {
    review::Entity::find()
        .filter(review::Column::ClientId.eq(client_id))
        .filter(review::Column::TemplateId.eq(template_id))
        .one(conn)
        .await
}

/// Moves a template's approved figures by a review leaving (`-1`) or joining (`+1`) them.
async fn count<C: ConnectionTrait>(
    conn: &C,
    template_id: TemplateId,
    reviews: i32,
    stars: i64,
) -> Result<(), DbErr> {
    if reviews == 0 && stars == 0 {
        return Ok(());
    }
    service_template::Entity::update_many()
        .col_expr(
            service_template::Column::ReviewCount,
            Expr::col(service_template::Column::ReviewCount).add(reviews),
        )
        .col_expr(
            service_template::Column::RatingSum,
            Expr::col(service_template::Column::RatingSum).add(stars),
        )
        .filter(service_template::Column::Id.eq(template_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// What an approved review adds to its template's figures.
fn weight(r: &review::Model) -> (i32, i64) {
    if r.status == ReviewStatus::Approved {
        (1, i64::from(r.rating))
    } else {
        (0, 0)
    }
}

/// Writes or rewrites the company's review of a service it completed; it waits for approval
/// again. Returns the review and whether it is new. A company that never completed the service
/// is refused (403).
pub async fn write<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    client_id: ClientId,
    template_id: TemplateId,
    valid: ValidReview,
) -> AppResult<(review::Model, bool)> {
    if !completed(conn, client_id, template_id).await? {
        return Err(AppError::forbidden(
            "Only a client whose service of this kind is done can review it.",
        ));
    }
    let now = Utc::now();
    let (saved, new) = match of_company(conn, client_id, template_id).await? {
        Some(before) => {
            let (n, stars) = weight(&before);
            count(conn, template_id, -n, -stars).await?;
            let mut active: review::ActiveModel = before.into();
            active.user_id = Set(Some(user_id));
            active.rating = Set(valid.rating);
            active.body = Set(valid.body);
            active.status = Set(ReviewStatus::Pending);
            active.updated_at = Set(now);
            (active.update(conn).await?, false)
        }
        None => (
            review::Entity::insert(review::ActiveModel {
                client_id: Set(client_id),
                template_id: Set(template_id),
                user_id: Set(Some(user_id)),
                rating: Set(valid.rating),
                body: Set(valid.body),
                status: Set(ReviewStatus::Pending),
                reply: Set(None),
                replied_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec_with_returning(conn)
            .await?,
            true,
        ),
    };
    Event::new(Kind::Reviewed, Some(client_id), Some(user_id))
        .template(template_id)
        .details(json!({"rating": saved.rating, "new": new}))
        .record(conn)
        .await?;
    Ok((saved, new))
}

/// A staff member's decision on a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Hide,
}

/// Approves or hides a review (its template's figures follow).
pub async fn decide<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: i64,
    decision: Decision,
) -> AppResult<review::Model> {
    let before = get(conn, id).await?;
    let status = match decision {
        Decision::Approve => ReviewStatus::Approved,
        Decision::Hide => ReviewStatus::Hidden,
    };
    if before.status == status {
        return Ok(before);
    }
    let (was_n, was_stars) = weight(&before);
    let mut active: review::ActiveModel = before.into();
    active.status = Set(status);
    let after = active.update(conn).await?;
    let (n, stars) = weight(&after);
    count(conn, after.template_id, n - was_n, stars - was_stars).await?;
    activity::record(
        conn,
        actor,
        match decision {
            Decision::Approve => "review.approved",
            Decision::Hide => "review.hidden",
        },
        subject(&after),
        json!({"rating": after.rating}),
    )
    .await?;
    Ok(after)
}

/// The agency's public reply (empty: none).
pub async fn reply<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: i64,
    text: &str,
) -> AppResult<review::Model> {
    let text = text.trim().replace("\r\n", "\n");
    let n = text.chars().count();
    if n > MAX_TEXT {
        return Err(AppError::invalid(
            "reply",
            format!("Use at most {MAX_TEXT} characters (this has {n})."),
        ));
    }
    let before = get(conn, id).await?;
    let mut active: review::ActiveModel = before.into();
    active.reply = Set((!text.is_empty()).then_some(text));
    active.replied_at = Set((n > 0).then(Utc::now));
    let after = active.update(conn).await?;
    // The store keeps published reviews with the catalogue: a new version shows the reply.
    crate::catalog::store_cache::bump_version(conn).await?;
    activity::record(conn, actor, "review.replied", subject(&after), json!({})).await?;
    Ok(after)
}

fn subject(r: &review::Model) -> Subject<'static> {
    Subject {
        entity_type: "review",
        entity_id: r.id,
        client_id: Some(r.client_id),
    }
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> AppResult<review::Model> {
    review::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// How a service's reviews are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Order {
    #[default]
    Newest,
    Highest,
    Lowest,
}

impl Order {
    pub const ALL: [Self; 3] = [Self::Newest, Self::Highest, Self::Lowest];

    pub fn parse(raw: &str) -> AppResult<Self> {
        match raw.trim() {
            "" | "newest" => Ok(Self::Newest),
            "highest" => Ok(Self::Highest),
            "lowest" => Ok(Self::Lowest),
            other => Err(AppError::invalid(
                "reviews",
                format!("Unknown order '{other}': use newest, highest or lowest."),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Newest => "newest",
            Self::Highest => "highest",
            Self::Lowest => "lowest",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Newest => "Newest",
            Self::Highest => "Highest rated",
            Self::Lowest => "Lowest rated",
        }
    }
}

/// A review with its company's name, as others see it.
#[derive(Clone, Debug)]
pub struct Shown {
    pub review: review::Model,
    pub company: String,
}

/// A service's approved reviews, in `order`, at most `limit`: two queries.
pub async fn published<C: ConnectionTrait>(
    conn: &C,
    template_id: TemplateId,
    order: Order,
    limit: u64,
) -> Result<Vec<Shown>, DbErr> {
    use sea_orm::QuerySelect;
    let q = review::Entity::find()
        .filter(review::Column::TemplateId.eq(template_id))
        .filter(review::Column::Status.eq(ReviewStatus::Approved));
    let q = match order {
        Order::Newest => q,
        Order::Highest => q.order_by_desc(review::Column::Rating),
        Order::Lowest => q.order_by_asc(review::Column::Rating),
    }
    .order_by_desc(review::Column::CreatedAt)
    .order_by_desc(review::Column::Id)
    .limit(limit);
    with_companies(conn, q.all(conn).await?).await
}

async fn with_companies<C: ConnectionTrait>(
    conn: &C,
    reviews: Vec<review::Model>,
) -> Result<Vec<Shown>, DbErr> {
    use sea_orm::QuerySelect;
    let names: std::collections::HashMap<ClientId, String> = client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .column(client::Column::Name)
        .filter(client::Column::Id.is_in(reviews.iter().map(|r| r.client_id)))
        .into_tuple::<(ClientId, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    Ok(reviews
        .into_iter()
        .map(|r| Shown {
            company: names.get(&r.client_id).cloned().unwrap_or_default(),
            review: r,
        })
        .collect())
}

/// The moderation list: reviews in `status` (the oldest waiting first; others the newest
/// first), with their company's and service's names.
pub async fn for_staff<C: ConnectionTrait>(
    conn: &C,
    status: ReviewStatus,
    limit: u64,
) -> Result<Vec<(Shown, String)>, DbErr> {
    use sea_orm::QuerySelect;
    let q = review::Entity::find().filter(review::Column::Status.eq(status));
    let q = if status == ReviewStatus::Pending {
        q.order_by_asc(review::Column::UpdatedAt)
    } else {
        q.order_by_desc(review::Column::UpdatedAt)
    };
    let reviews = q.limit(limit).all(conn).await?;
    let titles: std::collections::HashMap<TemplateId, String> = service_template::Entity::find()
        .select_only()
        .column(service_template::Column::Id)
        .column(service_template::Column::Name)
        .filter(service_template::Column::Id.is_in(reviews.iter().map(|r| r.template_id)))
        .into_tuple::<(TemplateId, String)>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    Ok(with_companies(conn, reviews)
        .await?
        .into_iter()
        .map(|s| {
            let title = titles
                .get(&s.review.template_id)
                .cloned()
                .unwrap_or_default();
            (s, title)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_needs_stars_and_words() {
        let errors = ReviewForm {
            rating: "6".into(),
            body: "  ".into(),
        }
        .validate()
        .unwrap_err();
        assert_eq!(errors.get("rating"), Some("Choose from 1 to 5 stars."));
        assert_eq!(
            errors.get("body"),
            Some("Say a few words about the service.")
        );
        let ok = ReviewForm {
            rating: "4".into(),
            body: " Quick and clear.\r\nThanks! ".into(),
        }
        .validate()
        .unwrap();
        assert_eq!(
            (ok.rating, ok.body.as_str()),
            (4, "Quick and clear.\nThanks!")
        );
    }
}
