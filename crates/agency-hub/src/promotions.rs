//! Promotions: coupons and their promotion codes, made and managed by admins from the app and
//! kept at Stripe (`stripe::promotions`). A coupon takes a percentage or an amount (in each
//! currency it may be used in) off, once, for some months or forever (for subscriptions), is
//! limited to chosen templates (their Stripe products), to a number of redemptions and a last
//! day; each code on it has its own limits (redemptions, expiry, first-time customers, a minimum
//! order).

use chrono::{NaiveDate, Utc};

use crate::analytics::dashboard::CodeSales;
use crate::catalog::prices;
use crate::db::entities::service_template;
use crate::error::FieldErrors;
use crate::ids::TemplateId;
use crate::money::{Currency, Money};
use crate::stripe::promotions::{Duration, NewCoupon, NewPromotionCode, Off, PromotionCode};

/// The new promotion form as typed: a coupon and its first code.
#[derive(Clone, Debug, Default)]
pub struct PromotionForm {
    pub name: String,
    /// `percent` or `amount`.
    pub kind: String,
    pub percent: String,
    /// One amount a line: `USD 20`, `EUR 18`.
    pub amounts: String,
    /// `once`, `repeating` or `forever`.
    pub duration: String,
    pub months: String,
    pub templates: Vec<TemplateId>,
    pub max_redemptions: String,
    /// `YYYY-MM-DD`: the last day it may be used.
    pub redeem_by: String,
    pub code: String,
    pub code_max_redemptions: String,
    pub code_expires: String,
    pub first_time: bool,
    /// `USD 100`.
    pub minimum: String,
}

impl PromotionForm {
    pub fn blank() -> Self {
        Self {
            kind: "percent".into(),
            duration: "once".into(),
            ..Self::default()
        }
    }

    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            let v = v.clone();
            match k.as_str() {
                "name" => f.name = v,
                "kind" => f.kind = v,
                "percent" => f.percent = v,
                "amounts" => f.amounts = v,
                "duration" => f.duration = v,
                "months" => f.months = v,
                "template" => f.templates.extend(v.parse::<i64>().ok().map(TemplateId)),
                "max_redemptions" => f.max_redemptions = v,
                "redeem_by" => f.redeem_by = v,
                "code" => f.code = v,
                "code_max_redemptions" => f.code_max_redemptions = v,
                "code_expires" => f.code_expires = v,
                "first_time" => f.first_time = !v.is_empty(),
                "minimum" => f.minimum = v,
                _ => {}
            }
        }
        f
    }

    pub fn has_template(&self, id: &TemplateId) -> bool {
        self.templates.contains(id)
    }

    /// The coupon and code to make at Stripe, with the templates the coupon is limited to (its
    /// `products` are theirs, filled in by the caller), or every mistake by field. `templates`
    /// are those it may be limited to.
    pub fn validate(&self, templates: &[service_template::Model]) -> Result<Valid, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.name.trim();
        if name.chars().count() > 40 {
            errors.add("name", "At most 40 characters (Stripe's limit).");
        }
        let off = match self.kind.as_str() {
            "percent" => parse_percent(&self.percent)
                .map(Off::Percent)
                .map_err(|m| errors.add("percent", m))
                .ok(),
            "amount" => parse_amounts(&self.amounts)
                .map(Off::Amounts)
                .map_err(|m| errors.add("amounts", m))
                .ok(),
            _ => {
                errors.add("kind", "Choose a percentage or an amount off.");
                None
            }
        };
        let duration = match self.duration.as_str() {
            "once" => Some(Duration::Once),
            "forever" => Some(Duration::Forever),
            "repeating" => match self.months.trim().parse::<u32>() {
                Ok(n @ 1..=36) => Some(Duration::Repeating(n)),
                _ => {
                    errors.add("months", "Give the months as a whole number from 1 to 36.");
                    None
                }
            },
            _ => {
                errors.add("duration", "Choose once, for some months, or forever.");
                None
            }
        };
        let mut chosen = Vec::new();
        for id in &self.templates {
            match templates.iter().find(|t| t.id == *id && t.on_sale()) {
                Some(t) => chosen.push(t.clone()),
                None => errors.add("templates", "A chosen service is no longer for sale."),
            }
        }
        let max_redemptions = count(&self.max_redemptions)
            .map_err(|m| errors.add("max_redemptions", m))
            .ok();
        let redeem_by = last_day(&self.redeem_by)
            .map_err(|m| errors.add("redeem_by", m))
            .ok();
        let code = parse_code(&self.code)
            .map_err(|m| errors.add("code", m))
            .ok();
        let code_max = count(&self.code_max_redemptions)
            .map_err(|m| errors.add("code_max_redemptions", m))
            .ok();
        let code_expires = last_day(&self.code_expires)
            .map_err(|m| errors.add("code_expires", m))
            .ok();
        let minimum = parse_minimum(&self.minimum)
            .map_err(|m| errors.add("minimum", m))
            .ok();
        match (
            off,
            duration,
            max_redemptions,
            redeem_by,
            code,
            code_max,
            code_expires,
            minimum,
        ) {
            (
                Some(off),
                Some(duration),
                Some(max_redemptions),
                Some(redeem_by),
                Some(code),
                Some(code_max),
                Some(code_expires),
                Some(minimum),
            ) if errors.is_empty() => Ok(Valid {
                coupon: NewCoupon {
                    name: if name.is_empty() {
                        code.clone()
                    } else {
                        name.to_string()
                    },
                    off,
                    duration,
                    products: Vec::new(),
                    max_redemptions,
                    redeem_by,
                },
                code: NewPromotionCode {
                    code,
                    max_redemptions: code_max,
                    expires_at: code_expires,
                    first_time_transaction: self.first_time,
                    minimum,
                },
                templates: chosen,
            }),
            _ => Err(errors),
        }
    }
}

/// A checked form: the coupon, its code, and the templates it is limited to.
pub struct Valid {
    pub coupon: NewCoupon,
    pub code: NewPromotionCode,
    pub templates: Vec<service_template::Model>,
}

/// "20" or "12.5" (percent) in hundredths: more than 0, at most 100.
fn parse_percent(raw: &str) -> Result<i64, String> {
    let raw = raw.trim().trim_end_matches('%').trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let ok = !whole.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && frac.len() <= 2
        && frac.chars().all(|c| c.is_ascii_digit());
    let hundredths = whole
        .parse::<i64>()
        .ok()
        .filter(|_| ok)
        .and_then(|w| w.checked_mul(100))
        .map(|w| w + format!("{frac:0<2}").parse::<i64>().unwrap_or(0));
    match hundredths {
        Some(h @ 1..=10_000) => Ok(h),
        _ => Err("Give a percentage above 0 and at most 100, e.g. 20 or 12.5.".into()),
    }
}

/// One amount a line (`USD 20`), each currency once, at least one.
fn parse_amounts(raw: &str) -> Result<Vec<Money>, String> {
    let parsed = prices::parse(raw, None)?;
    if parsed.values().any(|p| p.setup_fee > 0) {
        return Err("Write one amount a line, e.g. USD 20, without a +.".into());
    }
    // The first line's currency is the coupon's own.
    let first = raw
        .lines()
        .find_map(|l| l.split_whitespace().next().and_then(Currency::parse));
    let mut amounts: Vec<Money> = parsed.iter().map(|(c, p)| Money::new(p.unit, *c)).collect();
    if amounts.is_empty() {
        return Err("Give the amount off in at least one currency, e.g. USD 20.".into());
    }
    if amounts.iter().any(|m| m.minor == 0) {
        return Err("An amount off must be more than zero.".into());
    }
    amounts.sort_by_key(|m| Some(m.currency) != first);
    Ok(amounts)
}

/// A limit: empty for none, else a whole number from 1.
fn count(raw: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n @ 1..=1_000_000) => Ok(Some(n)),
        _ => Err("Leave it empty for no limit, or give a whole number from 1.".into()),
    }
}

/// The end of a day given as `YYYY-MM-DD` (UTC), in Unix seconds; not past.
fn last_day(raw: &str) -> Result<Option<i64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("'{raw}' is not a date: write it as 2027-03-31."))?;
    let end = day
        .and_hms_opt(23, 59, 59)
        .map(|t| t.and_utc().timestamp())
        .unwrap_or_default();
    if end <= Utc::now().timestamp() {
        return Err("That day has passed.".into());
    }
    Ok(Some(end))
}

/// A code as clients type it: 3 to 40 letters, digits, dashes or underscores; kept in capitals.
fn parse_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.chars().count() < 3 || !code_text(&code) {
        return Err(
            "Give a code of 3 to 40 letters, digits, dashes or underscores, e.g. SPRING24.".into(),
        );
    }
    Ok(code)
}

/// What a promotion code may be made of: at most 40 letters, digits, dashes or underscores.
fn code_text(s: &str) -> bool {
    s.chars().count() <= 40
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A minimum order, `USD 100`, or none.
fn parse_minimum(raw: &str) -> Result<Option<Money>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let amounts = parse_amounts(raw)?;
    match amounts.as_slice() {
        [one] => Ok(Some(*one)),
        _ => Err("Give one minimum, in one currency, e.g. USD 100.".into()),
    }
}

/// A promotion code as the list shows it.
pub struct Row {
    pub id: String,
    pub code: String,
    pub active: bool,
    /// "20% off, once".
    pub offer: String,
    /// The templates it is limited to (empty: everything).
    pub limited_to: Vec<String>,
    /// "3", "3 of 10".
    pub redemptions: String,
    /// "first-time customers", "orders of $100.00 or more", "until 2027-03-31", ….
    pub conditions: Vec<String>,
    /// Whether it can still be redeemed (on, not expired, not used up, its coupon valid).
    pub usable: bool,
    /// The orders paid with it and their revenue, per currency: "2 orders, $1,099.20".
    pub sales: Vec<String>,
}

impl Row {
    /// `sales` are every code's (`dashboard::sales_by_code`); a code's text is its key, as
    /// orders keep it.
    pub fn of(
        p: &PromotionCode,
        templates: &[service_template::Model],
        sales: &[CodeSales],
        now: i64,
    ) -> Self {
        let c = &p.coupon;
        let limited_to = c
            .products()
            .iter()
            .map(|product| {
                templates
                    .iter()
                    .find(|t| t.stripe_product_id.as_deref() == Some(product.as_str()))
                    .map_or_else(
                        || format!("a product not in the store ({product})"),
                        |t| t.name.clone(),
                    )
            })
            .collect();
        let max = match (p.max_redemptions, c.max_redemptions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut conditions = Vec::new();
        if p.restrictions.first_time_transaction {
            conditions.push("first-time customers only".to_string());
        }
        if let (Some(m), Some(cur)) = (
            p.restrictions.minimum_amount,
            p.restrictions
                .minimum_amount_currency
                .as_deref()
                .and_then(Currency::parse),
        ) {
            conditions.push(format!(
                "orders of {} or more",
                Money::new(m, cur).display()
            ));
        }
        let day = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        let until = match (p.expires_at, c.redeem_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let Some(t) = until {
            conditions.push(format!("until {}", day(t)));
        }
        let used_up = max.is_some_and(|m| p.times_redeemed >= m);
        Self {
            id: p.id.clone(),
            code: p.code.clone(),
            active: p.active,
            offer: format!("{}, {}", c.describe_off(), c.describe_duration()),
            limited_to,
            redemptions: match max {
                Some(m) => format!("{} of {m}", p.times_redeemed),
                None => p.times_redeemed.to_string(),
            },
            conditions,
            usable: p.active && c.valid && !used_up && until.is_none_or(|t| now < t),
            sales: sales
                .iter()
                .filter(|s| s.code.eq_ignore_ascii_case(&p.code))
                .map(|s| {
                    let orders = if s.orders == 1 { "order" } else { "orders" };
                    format!("{} {orders}, {}", s.orders, s.revenue().display())
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_amounts_read_as_typed() {
        assert_eq!(parse_percent("20"), Ok(2_000));
        assert_eq!(parse_percent("12.5%"), Ok(1_250));
        assert!(parse_percent("0").is_err());
        assert!(parse_percent("100.01").is_err());
        assert!(parse_percent("ten").is_err());
        let amounts = parse_amounts("EUR 18\nUSD 20").unwrap();
        assert_eq!(
            amounts[0],
            Money::new(1_800, Currency::parse("EUR").unwrap())
        );
        assert_eq!(amounts.len(), 2);
        assert!(parse_amounts("USD 0").is_err());
        assert!(parse_amounts("USD 20 + 5").is_err());
        assert!(parse_minimum("USD 100\nEUR 90").is_err());
        assert_eq!(parse_code(" spring24 "), Ok("SPRING24".into()));
        assert!(parse_code("no spaces").is_err());
        assert!(last_day("2001-01-01").is_err());
        assert!(last_day("31/03/2099").is_err());
    }
}

/// A promotion code applied in a cart: what Stripe said of it when it was applied, enough to
/// show the discount without asking again (checkout asks again).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Applied {
    /// Stripe's promotion code id (`promo_…`), passed to Checkout as `discounts`.
    pub id: String,
    pub code: String,
    /// Hundredths of a percent, or none for an amount off.
    pub percent: Option<i64>,
    /// An amount off by currency code.
    pub amounts: std::collections::BTreeMap<String, i64>,
    /// The Stripe products it is limited to (none: every line).
    pub products: Vec<String>,
}

impl Applied {
    pub fn from_json(json: &serde_json::Value) -> Option<Self> {
        serde_json::from_value(json.clone()).ok()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    /// Whether a line of `template` is discounted.
    pub fn applies_to(&self, template: &service_template::Model) -> bool {
        self.products.is_empty()
            || template
                .stripe_product_id
                .as_ref()
                .is_some_and(|p| self.products.contains(p))
    }

    /// The discount on `cart`'s lines as Checkout will compute it: the percentage of the lines
    /// it applies to, or its amount in the cart's currency (at most those lines' total).
    pub fn discount(&self, cart: &crate::cart::Cart) -> Option<Money> {
        let currency = cart.currency()?;
        let base: i64 = cart
            .lines
            .iter()
            .filter(|l| !l.unavailable() && self.applies_to(&l.template))
            .map(|l| l.due_today().minor)
            .sum();
        let minor = match self.percent {
            Some(h) => (i128::from(base) * i128::from(h) + 5_000) / 10_000,
            None => i128::from(*self.amounts.get(currency.code())?),
        };
        Some(Money::new(i64::try_from(minor).ok()?.min(base), currency))
    }
}

/// Checks the code Stripe found (`found`, `None` when it has no active code so named) against
/// the cart, as Checkout will: the refusal says why, naming the code as typed.
pub fn check(
    typed: &str,
    found: Option<&PromotionCode>,
    cart: &crate::cart::Cart,
    has_paid_before: bool,
) -> Result<Applied, String> {
    let typed = typed.trim();
    let Some(p) = found else {
        return Err(format!("There is no promotion code {typed}."));
    };
    let now = Utc::now().timestamp();
    let c = &p.coupon;
    if !c.valid
        || p.expires_at.is_some_and(|t| now >= t)
        || p.max_redemptions.is_some_and(|m| p.times_redeemed >= m)
    {
        return Err(format!("The code {typed} has expired or been used up."));
    }
    let currency = cart
        .currency()
        .ok_or_else(|| "Add a service to your cart first.".to_string())?;
    let mut amounts: std::collections::BTreeMap<String, i64> = c
        .currency_options
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.amount_off))
        .collect();
    if let (Some(a), Some(cur)) = (c.amount_off, &c.currency) {
        amounts.insert(cur.to_ascii_uppercase(), a);
    }
    let percent = c.percent_off.map(|p| (p * 100.0).round() as i64);
    if percent.is_none() && !amounts.contains_key(currency.code()) {
        return Err(format!(
            "The code {typed} cannot be used for a payment in {currency}."
        ));
    }
    let applied = Applied {
        id: p.id.clone(),
        code: p.code.clone(),
        percent,
        amounts,
        products: c.products().to_vec(),
    };
    if !cart
        .lines
        .iter()
        .any(|l| !l.unavailable() && applied.applies_to(&l.template))
    {
        return Err(format!(
            "The code {typed} does not apply to anything in your cart."
        ));
    }
    if p.restrictions.first_time_transaction && has_paid_before {
        return Err(format!(
            "The code {typed} is for first-time customers only."
        ));
    }
    if let (Some(min), Some(cur)) = (
        p.restrictions.minimum_amount,
        p.restrictions
            .minimum_amount_currency
            .as_deref()
            .and_then(Currency::parse),
    ) {
        let total = cart.total().map_or(0, |t| t.minor);
        if cur != currency || total < min {
            return Err(format!(
                "The code {typed} needs an order of at least {}.",
                Money::new(min, cur).display()
            ));
        }
    }
    Ok(applied)
}

/// Looks the typed code up at Stripe and checks it against the cart: what to keep on the cart,
/// or a 4xx at the `promotion_code` field saying why not.
pub async fn apply(
    db: &crate::db::Db,
    stripe: &crate::stripe::StripeClient,
    client_id: crate::ids::ClientId,
    cart: &crate::cart::Cart,
    typed: &str,
) -> crate::error::AppResult<Applied> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

    use crate::db::entities::order;
    use crate::error::AppError;

    let typed = typed.trim();
    if typed.is_empty() {
        return Err(AppError::invalid(
            "promotion_code",
            "Type a promotion code.",
        ));
    }
    // No code is made of anything else: not worth asking Stripe.
    if !code_text(typed) {
        return Err(AppError::invalid(
            "promotion_code",
            format!("There is no promotion code {typed}."),
        ));
    }
    let found = stripe.find_promotion_code(typed).await.map_err(|e| {
        e.into_app_error(
            "checking the promotion code",
            "Your cart is unchanged.",
            false,
        )
    })?;
    let paid_before = order::Entity::find()
        .select_only()
        .column(order::Column::Id)
        .filter(order::Column::ClientId.eq(client_id))
        .filter(order::Column::PaidAt.is_not_null())
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?
        .is_some();
    check(typed, found.as_ref(), cart, paid_before)
        .map_err(|m| AppError::invalid("promotion_code", m))
}
