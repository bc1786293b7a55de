//! The cart: one per client company, in the database, gone after 30 days without a change.
//! Its rules: only what is on sale, 1 ≤ quantity ≤ the template's maximum (counting what is
//! already in the cart), priced in the company's billing currency (a service without a price
//! there cannot be added). A line whose template left the store, has no price in that currency
//! (the company's currency changed) or changed price since it was added is flagged, and blocks
//! checkout until resolved. Adding and
//! removing are recorded for the store's metrics in the same transaction.

use std::collections::HashMap;

use chrono::{Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, JoinType,
    QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use serde_json::Value;

use crate::analytics::{Event, Kind};
use crate::catalog::{Answers, Intake, Question, Recurring, When, store};
use crate::db::entities::{cart, cart_item, service_template};
use crate::error::{AppError, AppResult};
use crate::ids::{ClientId, TemplateId, UserId};
use crate::money::{Currency, Money};

/// A cart with no change for this long is dropped.
pub const LIFETIME: Duration = Duration::days(30);

/// Why a line cannot go to checkout as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The template is no longer on sale.
    Unavailable,
    /// The template has no price in the company's currency.
    NoPrice(Currency),
    /// The price changed since the line was added.
    PriceChanged { was: Money, now: Money },
}

#[derive(Clone, Debug)]
pub struct Line {
    pub item: cart_item::Model,
    pub template: service_template::Model,
    /// The company's billing currency, which the line is priced in.
    pub currency: Currency,
    pub problem: Option<Problem>,
}

impl Line {
    /// The current unit price (what checkout would charge), in the company's currency (a line
    /// flagged as having no price there shows the template's own).
    pub fn unit_price(&self) -> Money {
        self.template
            .price_in(self.currency)
            .unwrap_or_else(|| self.template.price())
    }

    pub fn total(&self) -> Money {
        self.unit_price()
            .checked_mul(i64::from(self.item.quantity))
            .unwrap_or(self.unit_price())
    }

    pub fn price_changed(&self) -> Option<(Money, Money)> {
        match &self.problem {
            Some(Problem::PriceChanged { was, now }) => Some((*was, *now)),
            _ => None,
        }
    }

    /// Not to be bought as it is: out of the store, or without a price in the currency.
    pub fn unavailable(&self) -> bool {
        matches!(
            self.problem,
            Some(Problem::Unavailable | Problem::NoPrice(_))
        )
    }

    /// The currency it has no price in, if so.
    pub fn no_price(&self) -> Option<Currency> {
        match self.problem {
            Some(Problem::NoPrice(c)) => Some(c),
            _ => None,
        }
    }

    /// A recurring line's terms (its setup fee in the line's currency) and what its quantity
    /// costs each period.
    pub fn recurring(&self) -> Option<(Recurring, Money)> {
        let r = *self.template.billing_in(self.currency).recurring()?;
        Some((r, self.total()))
    }

    /// What checkout charges for the line today: the line's total, or for a subscription its
    /// first period (nothing in a trial) and its setup fee.
    pub fn due_today(&self) -> Money {
        match self.recurring() {
            None => self.total(),
            Some((r, each)) => {
                let period = if r.trial_days > 0 { 0 } else { each.minor };
                Money::new(period.saturating_add(r.setup_fee_minor), each.currency)
            }
        }
    }

    /// The template's before-payment questions with this line's answers.
    pub fn intake(&self) -> Intake {
        Intake::of(
            &self.template.questions_asked(When::BeforePayment),
            &self.item.answers(),
        )
    }

    /// The required before-payment questions not answered yet.
    pub fn missing_answers(&self) -> Vec<Question> {
        self.intake()
            .missing(When::BeforePayment)
            .into_iter()
            .cloned()
            .collect()
    }

    /// "$149.00 today, then $149.00 every month" for a recurring line.
    pub fn terms(&self) -> Option<String> {
        self.template
            .billing_in(self.currency)
            .describe(self.unit_price(), self.item.quantity.max(1) as u32)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Cart {
    pub lines: Vec<Line>,
    /// The promotion code applied, as Stripe gave it when it was applied.
    pub promotion: Option<crate::promotions::Applied>,
}

impl Cart {
    /// Units in the cart (the navigation badge).
    pub fn count(&self) -> i64 {
        self.lines.iter().map(|l| i64::from(l.item.quantity)).sum()
    }

    pub fn currency(&self) -> Option<Currency> {
        self.lines.first().map(|l| l.currency)
    }

    /// What checkout charges today at current prices for the lines that can be bought (a
    /// subscription's first period and setup fee; see [`Line::due_today`]).
    pub fn total(&self) -> Option<Money> {
        let currency = self.currency()?;
        let minor = self
            .lines
            .iter()
            .filter(|l| !l.unavailable())
            .map(|l| l.due_today().minor)
            .sum();
        Some(Money::new(minor, currency))
    }

    /// The applied code's discount on today's payment (Checkout computes the same).
    pub fn discount(&self) -> Option<Money> {
        self.promotion.as_ref()?.discount(self)
    }

    /// What today's payment comes to after the discount (before any tax).
    pub fn total_after_discount(&self) -> Option<Money> {
        let total = self.total()?;
        Some(Money::new(
            total.minor - self.discount().map_or(0, |d| d.minor),
            total.currency,
        ))
    }

    /// What recurs after today, for a cart with a subscription: "$149.00 every month".
    pub fn then(&self) -> Option<String> {
        let (r, each) = self
            .lines
            .iter()
            .filter(|l| !l.unavailable())
            .find_map(Line::recurring)?;
        Some(format!("{} every {}", each.display(), r.period()))
    }

    /// Whether some line must be resolved before checkout.
    pub fn has_problems(&self) -> bool {
        self.lines.iter().any(|l| l.problem.is_some())
    }

    /// Whether a required question of some line is still unanswered.
    pub fn has_missing_answers(&self) -> bool {
        self.lines.iter().any(|l| !l.missing_answers().is_empty())
    }

    /// Whether checkout can start: lines, none flagged, every required question answered.
    pub fn can_checkout(&self) -> bool {
        !self.lines.is_empty() && !self.has_problems() && !self.has_missing_answers()
    }
}

/// The client's cart row, expired or not.
async fn row<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<Option<cart::Model>, DbErr> {
    cart::Entity::find()
        .filter(cart::Column::ClientId.eq(client_id))
        .one(conn)
        .await
}

/// The client's cart row, if there is one that has not expired. An expired one reads as no
/// cart (a read writes nothing): the next change to the cart replaces it, and housekeeping
/// ([`purge_expired`]) deletes those left.
async fn find<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<Option<cart::Model>, DbErr> {
    Ok(row(conn, client_id)
        .await?
        .filter(|c| c.expires_at > Utc::now()))
}

/// The client's cart, made when missing (or expired: its items go with it), with its life
/// renewed.
async fn find_or_create<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
) -> Result<cart::Model, DbErr> {
    let now = Utc::now();
    match row(conn, client_id).await? {
        Some(c) if c.expires_at > now => {
            let mut active: cart::ActiveModel = c.into();
            active.expires_at = Set(now + LIFETIME);
            active.updated_at = Set(now);
            return active.update(conn).await;
        }
        Some(expired) => {
            cart::Entity::delete_by_id(expired.id).exec(conn).await?;
        }
        None => {}
    }
    // Two first requests at once: the unique client_id lets one insert win.
    cart::Entity::insert(cart::ActiveModel {
        client_id: Set(client_id),
        expires_at: Set(now + LIFETIME),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(cart::Column::ClientId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    row(conn, client_id)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("cart".into()))
}

/// The client's cart with its templates and problems, in four queries.
pub async fn load<C: ConnectionTrait>(conn: &C, client_id: ClientId) -> Result<Cart, DbErr> {
    let Some(c) = find(conn, client_id).await? else {
        return Ok(Cart::default());
    };
    let currency = crate::clients::billing_currency(conn, client_id).await?;
    let items = cart_item::Entity::find()
        .filter(cart_item::Column::CartId.eq(c.id))
        .order_by_asc(cart_item::Column::CreatedAt)
        .order_by_asc(cart_item::Column::Id)
        .all(conn)
        .await?;
    let ids: Vec<TemplateId> = items.iter().map(|i| i.template_id).collect();
    let mut templates: HashMap<TemplateId, service_template::Model> = if ids.is_empty() {
        HashMap::new()
    } else {
        service_template::Entity::find()
            .filter(service_template::Column::Id.is_in(ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect()
    };
    let lines = items
        .into_iter()
        .filter_map(|item| {
            let template = templates.remove(&item.template_id)?;
            let was = Money::new(item.unit_price_minor, item.currency);
            let problem = match template.price_in(currency) {
                _ if !template.on_sale() => Some(Problem::Unavailable),
                None => Some(Problem::NoPrice(currency)),
                Some(now) if was != now => Some(Problem::PriceChanged { was, now }),
                Some(_) => None,
            };
            Some(Line {
                item,
                template,
                currency,
                problem,
            })
        })
        .collect();
    let promotion = c
        .promotion
        .as_ref()
        .and_then(crate::promotions::Applied::from_json);
    Ok(Cart { lines, promotion })
}

/// Applies a promotion code to the client's cart (`None` removes it).
pub async fn set_promotion<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    promotion: Option<&crate::promotions::Applied>,
) -> Result<(), DbErr> {
    let c = find_or_create(conn, client_id).await?;
    cart::Entity::update_many()
        .col_expr(
            cart::Column::Promotion,
            sea_orm::sea_query::Expr::value(promotion.map(crate::promotions::Applied::to_json)),
        )
        .filter(cart::Column::Id.eq(c.id))
        .exec(conn)
        .await?;
    Ok(())
}

/// How many units of each service the client's cart holds (the badge on every page, a
/// service page's "in your cart").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Units(HashMap<TemplateId, i64>);

impl Units {
    pub fn total(&self) -> i64 {
        self.0.values().sum()
    }

    pub fn of(&self, id: TemplateId) -> i64 {
        self.0.get(&id).copied().unwrap_or(0)
    }
}

/// The units in the client's cart, in one query.
pub async fn units<C: ConnectionTrait>(conn: &C, client_id: ClientId) -> Result<Units, DbErr> {
    let rows: Vec<(TemplateId, i32)> = cart_item::Entity::find()
        .select_only()
        .column(cart_item::Column::TemplateId)
        .column(cart_item::Column::Quantity)
        .join(JoinType::InnerJoin, cart_item::Relation::Cart.def())
        .filter(cart::Column::ClientId.eq(client_id))
        .filter(cart::Column::ExpiresAt.gt(Utc::now()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(Units(
        rows.into_iter()
            .map(|(id, quantity)| (id, i64::from(quantity)))
            .collect(),
    ))
}

/// A quantity as a client asked for it: a whole number, not yet checked against the service's
/// limits (that happens when it is added).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quantity(i64);

impl Quantity {
    /// Form text: a whole number.
    pub fn parse(raw: &str) -> AppResult<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(AppError::invalid("quantity", "Give a quantity."));
        }
        raw.parse()
            .map(Self)
            .map_err(|_| AppError::invalid("quantity", format!("'{raw}' is not a whole number.")))
    }

    /// A JSON body's field: a whole number, or text holding one.
    pub fn from_json(value: Option<&Value>) -> AppResult<Self> {
        match value {
            None | Some(Value::Null) => Err(AppError::invalid("quantity", "Give a quantity.")),
            Some(Value::Number(n)) => n.as_i64().map(Self).ok_or_else(|| {
                AppError::invalid("quantity", format!("{n} is not a whole number."))
            }),
            Some(Value::String(s)) => Self::parse(s),
            Some(other) => Err(AppError::invalid(
                "quantity",
                format!("{other} is not a whole number."),
            )),
        }
    }

    pub const ONE: Self = Self(1);

    pub fn get(self) -> i64 {
        self.0
    }
}

fn check_quantity(
    template: &service_template::Model,
    quantity: Quantity,
    already: i64,
) -> AppResult<i32> {
    let quantity = quantity.get();
    let max = i64::from(template.max_quantity);
    if quantity < 1 {
        return Err(AppError::invalid(
            "quantity",
            "The quantity must be at least 1.",
        ));
    }
    let total = quantity.saturating_add(already);
    if total > max {
        let detail = if already > 0 {
            format!(" ({already} already in your cart)")
        } else {
            String::new()
        };
        return Err(AppError::invalid(
            "quantity",
            format!(
                "You can order at most {max} of {} at a time{detail}.",
                template.title()
            ),
        ));
    }
    Ok(total as i32)
}

/// What an add or change did, for analytics.
pub struct Added {
    pub template: service_template::Model,
    pub quantity: i32,
}

/// Adds `quantity` of a template for the client's `user_id`; an existing line grows (within
/// the maximum).
pub async fn add<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    client_id: ClientId,
    template_id: TemplateId,
    quantity: Quantity,
) -> AppResult<Added> {
    let template = store::get_on_sale(conn, template_id)
        .await
        .map_err(|mut e| {
            e.field = Some("serviceTemplateId".into());
            e
        })?;
    let current = load(conn, client_id).await?;
    // The cart's lines are priced in the company's currency; an empty cart says nothing.
    let currency = match current.currency() {
        Some(c) => c,
        None => crate::clients::billing_currency(conn, client_id).await?,
    };
    let price = template.price_in(currency).ok_or_else(|| {
        AppError::invalid(
            "serviceTemplateId",
            format!(
                "{} is not available in {currency}, the currency your company pays in.",
                template.title()
            ),
        )
    })?;
    // One subscription a checkout (one Stripe subscription, one service, one set of periods).
    if template.billing().recurring().is_some()
        && let Some(other) = current
            .lines
            .iter()
            .find(|l| l.template.id != template_id && l.recurring().is_some())
    {
        return Err(AppError::invalid(
            "serviceTemplateId",
            format!(
                "Your cart already holds a subscription ({}): check it out or remove it before adding {}.",
                other.template.title(),
                template.title()
            ),
        ));
    }
    let existing = current
        .lines
        .iter()
        .find(|l| l.template.id == template_id)
        .map(|l| l.item.clone());
    let total = check_quantity(
        &template,
        quantity,
        existing.as_ref().map_or(0, |i| i64::from(i.quantity)),
    )?;
    let c = find_or_create(conn, client_id).await?;
    let now = Utc::now();
    match existing {
        Some(item) => {
            let mut active: cart_item::ActiveModel = item.into();
            active.quantity = Set(total);
            active.updated_at = Set(now);
            active.update(conn).await?;
        }
        None => {
            cart_item::Entity::insert(cart_item::ActiveModel {
                cart_id: Set(c.id),
                template_id: Set(template.id),
                quantity: Set(total),
                unit_price_minor: Set(price.minor),
                currency: Set(price.currency),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec_without_returning(conn)
            .await?;
        }
    }
    // Within the maximum (an i32) once checked.
    let quantity = quantity.get() as i32;
    Event::new(Kind::AddToCart, Some(client_id), Some(user_id))
        .template(template_id)
        .quantity(quantity)
        .amount(price)
        .record(conn)
        .await?;
    Ok(Added { quantity, template })
}

/// The line of this template in the client's cart; not found when it has none.
async fn line<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    template_id: TemplateId,
) -> AppResult<Line> {
    load(conn, client_id)
        .await?
        .lines
        .into_iter()
        .find(|l| l.template.id == template_id)
        .ok_or_else(|| {
            let mut e = AppError::not_found();
            e.message = "That service is not in your cart.".into();
            e.field = Some("serviceTemplateId".into());
            e
        })
}

/// Sets the answers of a line to its template's before-payment questions: `read` reads them
/// (from a form or JSON) or says what is wrong with each, and then nothing is kept. Questions
/// left unanswered lose their answer; required ones then hold checkout back.
pub async fn set_answers<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    template_id: TemplateId,
    read: impl FnOnce(&[Question]) -> Result<Answers, crate::error::FieldErrors>,
) -> AppResult<Line> {
    let mut line = line(conn, client_id, template_id).await?;
    let questions = line.template.questions_asked(When::BeforePayment);
    if questions.is_empty() {
        return Err(AppError::invalid(
            "answers",
            format!(
                "{} asks no questions before payment.",
                line.template.title()
            ),
        ));
    }
    let answers = read(&questions)?;
    let json = serde_json::to_value(&answers).map_err(AppError::internal)?;
    cart_item::Entity::update(cart_item::ActiveModel {
        id: Set(line.item.id),
        answers: Set(json.clone()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    line.item.answers = json;
    Ok(line)
}

/// Sets a line's quantity (within 1 and the maximum).
pub async fn set_quantity<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    template_id: TemplateId,
    quantity: Quantity,
) -> AppResult<Added> {
    let line = line(conn, client_id, template_id).await?;
    buyable(&line)?;
    let quantity = check_quantity(&line.template, quantity, 0)?;
    find_or_create(conn, client_id).await?;
    let mut active: cart_item::ActiveModel = line.item.into();
    active.quantity = Set(quantity);
    active.updated_at = Set(Utc::now());
    active.update(conn).await?;
    Ok(Added {
        template: line.template,
        quantity,
    })
}

/// A line that can still be bought (changed, or taken at the current price); else why not.
fn buyable(line: &Line) -> AppResult<()> {
    let title = line.template.title();
    match line.no_price() {
        Some(currency) => Err(AppError::invalid(
            "serviceTemplateId",
            format!(
                "{title} is not available in {currency}, the currency your company pays in: remove it."
            ),
        )),
        None if line.unavailable() => Err(AppError::invalid(
            "serviceTemplateId",
            format!("{title} is no longer in the store: remove it."),
        )),
        None => Ok(()),
    }
}

/// Takes a line at the current price, resolving a price change.
pub async fn accept_price<C: ConnectionTrait>(
    conn: &C,
    client_id: ClientId,
    template_id: TemplateId,
) -> AppResult<()> {
    let line = line(conn, client_id, template_id).await?;
    buyable(&line)?;
    find_or_create(conn, client_id).await?;
    let price = line.unit_price();
    let mut active: cart_item::ActiveModel = line.item.into();
    active.unit_price_minor = Set(price.minor);
    active.currency = Set(price.currency);
    active.updated_at = Set(Utc::now());
    active.update(conn).await?;
    Ok(())
}

/// Removes a line for the client's `user_id`; returns what was removed.
pub async fn remove<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    client_id: ClientId,
    template_id: TemplateId,
) -> AppResult<Line> {
    let line = line(conn, client_id, template_id).await?;
    cart_item::Entity::delete_by_id(line.item.id)
        .exec(conn)
        .await?;
    find_or_create(conn, client_id).await?;
    Event::new(Kind::RemoveFromCart, Some(client_id), Some(user_id))
        .template(template_id)
        .quantity(line.item.quantity)
        .record(conn)
        .await?;
    Ok(line)
}

/// Empties the client's cart.
pub async fn clear<C: ConnectionTrait>(conn: &C, client_id: ClientId) -> Result<(), DbErr> {
    clear_many(conn, [client_id]).await
}

/// Empties several clients' carts in one statement.
pub async fn clear_many<C: ConnectionTrait>(
    conn: &C,
    clients: impl IntoIterator<Item = ClientId>,
) -> Result<(), DbErr> {
    cart::Entity::delete_many()
        .filter(cart::Column::ClientId.is_in(clients))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes carts that expired (housekeeping).
pub async fn purge_expired<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    let res = cart::Entity::delete_many()
        .filter(cart::Column::ExpiresAt.lte(Utc::now()))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Quantity;

    #[test]
    fn a_quantity_reads_from_form_text_or_a_json_number_and_says_what_is_wrong() {
        assert_eq!(Quantity::parse(" 3 ").unwrap().get(), 3);
        assert_eq!(Quantity::from_json(Some(&json!(2))).unwrap().get(), 2);
        assert_eq!(Quantity::from_json(Some(&json!("4"))).unwrap().get(), 4);
        for (bad, says) in [
            (json!(""), "Give a quantity."),
            (json!(null), "Give a quantity."),
            (json!("two"), "'two' is not a whole number."),
            (json!(1.5), "1.5 is not a whole number."),
            (json!([1]), "[1] is not a whole number."),
        ] {
            let e = Quantity::from_json(Some(&bad)).unwrap_err();
            assert_eq!(
                (e.field.as_deref(), e.message.as_str()),
                (Some("quantity"), says)
            );
        }
    }
}
