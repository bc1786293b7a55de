//! Coupons and promotion codes at Stripe: made, listed and turned on or off from the admin's
//! promotions page (`crate::promotions`). Stripe keeps them; we keep nothing but what orders
//! used.

use std::collections::HashMap;

use serde::Deserialize;

use super::client::{StripeClient, StripeError, new_attempt};
use crate::money::{Currency, Money};

#[derive(Clone, Debug, Deserialize)]
pub struct Coupon {
    pub id: String,
    pub name: Option<String>,
    pub percent_off: Option<f64>,
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    pub duration: String,
    pub duration_in_months: Option<i64>,
    pub max_redemptions: Option<i64>,
    pub redeem_by: Option<i64>,
    #[serde(default)]
    pub times_redeemed: i64,
    #[serde(default)]
    pub valid: bool,
    /// Asked for with `expand`: the products it is limited to.
    #[serde(default)]
    pub applies_to: Option<AppliesTo>,
    /// Asked for with `expand`: its amount in other currencies.
    #[serde(default)]
    pub currency_options: HashMap<String, CurrencyOption>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AppliesTo {
    #[serde(default)]
    pub products: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CurrencyOption {
    pub amount_off: i64,
}

impl Coupon {
    /// "20% off", "$10.00 off (€9.00 in EUR)".
    pub fn describe_off(&self) -> String {
        if let Some(p) = self.percent_off {
            let p = format!("{p:.2}");
            return format!("{}% off", p.trim_end_matches('0').trim_end_matches('.'));
        }
        let money = |minor: i64, code: &str| {
            Currency::parse(code).map_or_else(
                || format!("{minor} {code}"),
                |c| Money::new(minor, c).display(),
            )
        };
        let mut text = match (self.amount_off, &self.currency) {
            (Some(a), Some(c)) => format!("{} off", money(a, c)),
            _ => "a discount".to_string(),
        };
        let mut others: Vec<_> = self.currency_options.iter().collect();
        others.sort_by(|a, b| a.0.cmp(b.0));
        let others: Vec<String> = others
            .iter()
            .filter(|(c, _)| Some(c.as_str()) != self.currency.as_deref())
            .map(|(c, o)| money(o.amount_off, c))
            .collect();
        if !others.is_empty() {
            text.push_str(&format!(" ({} in other currencies)", others.join(", ")));
        }
        text
    }

    /// "once", "for 3 months", "forever" (a duration counts for subscriptions).
    pub fn describe_duration(&self) -> String {
        match (self.duration.as_str(), self.duration_in_months) {
            ("repeating", Some(1)) => "for 1 month".into(),
            ("repeating", Some(n)) => format!("for {n} months"),
            ("forever", _) => "forever".into(),
            _ => "once".into(),
        }
    }

    pub fn products(&self) -> &[String] {
        self.applies_to.as_ref().map_or(&[], |a| &a.products)
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct PromotionCode {
    pub id: String,
    pub code: String,
    pub active: bool,
    pub coupon: Coupon,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub times_redeemed: i64,
    pub restrictions: Restrictions,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Restrictions {
    #[serde(default)]
    pub first_time_transaction: bool,
    pub minimum_amount: Option<i64>,
    pub minimum_amount_currency: Option<String>,
}

/// What a coupon takes off.
#[derive(Clone, Debug, PartialEq)]
pub enum Off {
    /// In hundredths of a percent (`1250` is 12.5%).
    Percent(i64),
    /// An amount in each currency it may be used in (the first is the coupon's own).
    Amounts(Vec<Money>),
}

/// How long a coupon keeps discounting a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duration {
    Once,
    Repeating(u32),
    Forever,
}

#[derive(Clone, Debug)]
pub struct NewCoupon {
    pub name: String,
    pub off: Off,
    pub duration: Duration,
    /// The Stripe products of the templates it is limited to (none: everything).
    pub products: Vec<String>,
    pub max_redemptions: Option<i64>,
    /// Unix seconds.
    pub redeem_by: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct NewPromotionCode {
    pub code: String,
    pub max_redemptions: Option<i64>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    pub first_time_transaction: bool,
    pub minimum: Option<Money>,
}

impl StripeClient {
    pub async fn create_coupon(&self, c: &NewCoupon) -> Result<Coupon, StripeError> {
        let mut p: Vec<(String, String)> = vec![("name".into(), c.name.clone())];
        match &c.off {
            Off::Percent(h) => {
                p.push(("percent_off".into(), format!("{}.{:02}", h / 100, h % 100)))
            }
            Off::Amounts(amounts) => {
                if let Some((first, others)) = amounts.split_first() {
                    p.push(("amount_off".into(), first.minor.to_string()));
                    p.push((
                        "currency".into(),
                        first.currency.code().to_ascii_lowercase(),
                    ));
                    for m in others {
                        p.push((
                            format!(
                                "currency_options[{}][amount_off]",
                                m.currency.code().to_ascii_lowercase()
                            ),
                            m.minor.to_string(),
                        ));
                    }
                }
            }
        }
        match c.duration {
            Duration::Once => p.push(("duration".into(), "once".into())),
            Duration::Forever => p.push(("duration".into(), "forever".into())),
            Duration::Repeating(months) => {
                p.push(("duration".into(), "repeating".into()));
                p.push(("duration_in_months".into(), months.to_string()));
            }
        }
        for product in &c.products {
            p.push(("applies_to[products][]".into(), product.clone()));
        }
        if let Some(m) = c.max_redemptions {
            p.push(("max_redemptions".into(), m.to_string()));
        }
        if let Some(t) = c.redeem_by {
            p.push(("redeem_by".into(), t.to_string()));
        }
        let key = self.idempotency_key(&format!("coupon-{}", new_attempt()));
        self.send(reqwest::Method::POST, "/v1/coupons", &p, Some(&key))
            .await
    }

    pub async fn create_promotion_code(
        &self,
        coupon: &str,
        c: &NewPromotionCode,
    ) -> Result<PromotionCode, StripeError> {
        let mut p: Vec<(String, String)> = vec![
            ("coupon".into(), coupon.to_string()),
            ("code".into(), c.code.clone()),
        ];
        if let Some(m) = c.max_redemptions {
            p.push(("max_redemptions".into(), m.to_string()));
        }
        if let Some(t) = c.expires_at {
            p.push(("expires_at".into(), t.to_string()));
        }
        if c.first_time_transaction {
            p.push(("restrictions[first_time_transaction]".into(), "true".into()));
        }
        if let Some(m) = &c.minimum {
            p.push(("restrictions[minimum_amount]".into(), m.minor.to_string()));
            p.push((
                "restrictions[minimum_amount_currency]".into(),
                m.currency.code().to_ascii_lowercase(),
            ));
        }
        let key = self.idempotency_key(&format!("promotion-code-{}", new_attempt()));
        self.send(reqwest::Method::POST, "/v1/promotion_codes", &p, Some(&key))
            .await
    }

    /// Every promotion code, newest first, with its coupon's limits.
    pub async fn list_promotion_codes(&self) -> Result<Vec<PromotionCode>, StripeError> {
        self.list_all(
            "/v1/promotion_codes",
            &["data.coupon.applies_to", "data.coupon.currency_options"],
            |p: &PromotionCode| p.id.clone(),
        )
        .await
    }

    /// The active promotion code a client typed, if Stripe has one.
    pub async fn find_promotion_code(
        &self,
        code: &str,
    ) -> Result<Option<PromotionCode>, StripeError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<PromotionCode>,
        }
        let page: Page = self
            .send(
                reqwest::Method::GET,
                "/v1/promotion_codes",
                &[
                    ("code".into(), code.to_string()),
                    ("active".into(), "true".into()),
                    ("limit".into(), "1".into()),
                    ("expand[]".into(), "data.coupon.applies_to".into()),
                    ("expand[]".into(), "data.coupon.currency_options".into()),
                ],
                None,
            )
            .await?;
        Ok(page.data.into_iter().next())
    }

    pub async fn set_promotion_code_active(
        &self,
        id: &str,
        active: bool,
    ) -> Result<PromotionCode, StripeError> {
        self.send(
            reqwest::Method::POST,
            &format!("/v1/promotion_codes/{id}"),
            &[("active".into(), active.to_string())],
            Some(&self.idempotency_key(&format!("promotion-code-{id}-{}", new_attempt()))),
        )
        .await
    }
}
