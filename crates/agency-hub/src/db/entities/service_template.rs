//! A service the agency offers, with the tasks a new service of it starts with.

use sea_orm::entity::prelude::*;

use crate::catalog::Billing;
use crate::money::Currency;

use crate::ids::TemplateId;
use serde::{Deserialize, Serialize};

/// One task a service made from the template starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultTask {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Due this many days after the service is created; no due date when absent.
    #[serde(default)]
    pub due_in_days: Option<u32>,
    #[serde(default)]
    pub client_visible: bool,
    /// Made again at the start of each paid period of a recurring service (due counted from
    /// the period's start) rather than once when the service is made.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub each_period: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "service_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: TemplateId,
    pub name: String,
    pub description: String,
    pub category: String,
    /// A JSON list of [`DefaultTask`].
    pub default_tasks: Json,
    pub archived_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Store settings: whether clients can buy it, and how it shows in the store.
    pub is_purchasable: bool,
    pub price_minor: i64,
    pub currency: Currency,
    pub store_title: String,
    pub store_description: String,
    /// A JSON list of image URLs.
    pub store_images: Json,
    pub max_quantity: i32,
    pub sort_order: i32,
    pub stripe_product_id: Option<String>,
    pub stripe_price_id: Option<String>,
    pub stripe_price_minor: Option<i64>,
    pub stripe_price_currency: Option<Currency>,
    /// none, pending, synced or failed (with `stripe_sync_error`).
    pub stripe_sync_status: String,
    pub stripe_sync_error: Option<String>,
    /// `day`, `week`, `month` or `year` for a recurring service; `None` for one-time.
    pub billing_interval: Option<String>,
    pub billing_interval_count: i32,
    pub trial_days: i32,
    /// Charged once, with the first period.
    pub setup_fee_minor: i64,
    /// The recurrence of `stripe_price_id`.
    pub stripe_price_interval: Option<String>,
    pub stripe_price_interval_count: Option<i32>,
    /// A JSON list of intake questions (`catalog::questions::Question`).
    pub questions: Json,
    /// Its prices in other currencies (`catalog::prices`).
    pub prices: Json,
    /// Stripe Tax's product tax code (`txcd_` and eight digits); `None`: the account's default.
    pub tax_code: Option<String>,
    /// Its approved reviews: how many, and their stars added up (`engagement::reviews`).
    pub review_count: i32,
    pub rating_sum: i64,
}

impl Model {
    pub fn tasks(&self) -> Vec<DefaultTask> {
        serde_json::from_value(self.default_tasks.clone()).unwrap_or_default()
    }

    /// The default tasks a client will see: what the store says is included.
    pub fn client_visible_tasks(&self) -> Vec<DefaultTask> {
        self.tasks()
            .into_iter()
            .filter(|t| t.client_visible)
            .collect()
    }

    pub fn questions(&self) -> Vec<crate::catalog::Question> {
        serde_json::from_value(self.questions.clone()).unwrap_or_default()
    }

    /// The questions asked at `when`.
    pub fn questions_asked(&self, when: crate::catalog::When) -> Vec<crate::catalog::Question> {
        let mut all = self.questions();
        all.retain(|q| q.when == when);
        all
    }

    pub fn images(&self) -> Vec<String> {
        serde_json::from_value(self.store_images.clone()).unwrap_or_default()
    }

    /// The price, in the template's currency (USD if the stored code is unknown).
    pub fn price(&self) -> crate::money::Money {
        crate::money::Money::new(self.price_minor, self.currency)
    }

    /// Its prices in other currencies than its own.
    pub fn other_prices(&self) -> crate::catalog::prices::OtherPrices {
        crate::catalog::prices::from_json(&self.prices)
    }

    /// Its price in `currency`, if it has one there (its own, or one of the others).
    pub fn price_in(&self, currency: crate::money::Currency) -> Option<crate::money::Money> {
        if currency == self.currency {
            return Some(self.price());
        }
        let other = self.other_prices().get(&currency).copied()?;
        Some(crate::money::Money::new(other.unit, currency))
    }

    /// How it is billed when paid in `currency` (a retainer's setup fee is that currency's).
    pub fn billing_in(&self, currency: crate::money::Currency) -> Billing {
        let fee = if currency == self.currency {
            self.setup_fee_minor
        } else {
            self.other_prices()
                .get(&currency)
                .map_or(0, |p| p.setup_fee)
        };
        Billing::from_columns(
            self.billing_interval.as_deref(),
            self.billing_interval_count,
            self.trial_days,
            fee,
        )
    }

    /// How it is billed: once, or every period (an unknown stored interval reads as one-time).
    pub fn billing(&self) -> Billing {
        Billing::from_columns(
            self.billing_interval.as_deref(),
            self.billing_interval_count,
            self.trial_days,
            self.setup_fee_minor,
        )
    }

    /// The price as lists show it in `currency`, if it has a price there: "$149.00", or
    /// "$149.00 / month" for a recurring service.
    pub fn price_label_in(&self, currency: crate::money::Currency) -> Option<String> {
        let price = self.price_in(currency)?;
        Some(format!("{price}{}", self.billing_in(currency).per()))
    }

    /// For a recurring service, what one costs today and then each period, in `currency`:
    /// "$149.00 today, then $149.00 every month".
    pub fn terms_in(&self, currency: crate::money::Currency) -> Option<String> {
        self.billing_in(currency)
            .describe(self.price_in(currency)?, 1)
    }

    /// "every month" for a recurring service's period tasks.
    pub fn each_period(&self) -> Option<String> {
        self.billing()
            .recurring()
            .map(|r| format!("every {}", r.period()))
    }

    /// Clients can buy it now: purchasable and not archived.
    pub fn on_sale(&self) -> bool {
        self.is_purchasable && self.archived_at.is_none()
    }

    /// The title the store shows (the template's name when no store title is set).
    pub fn title(&self) -> &str {
        if self.store_title.is_empty() {
            &self.name
        } else {
            &self.store_title
        }
    }

    /// "★ 4.5 (12 reviews)" when it has approved reviews.
    pub fn rating_label(&self) -> Option<String> {
        (self.review_count > 0).then(|| {
            let average = self.rating_sum as f64 / f64::from(self.review_count);
            format!(
                "★ {average:.1} ({} review{})",
                self.review_count,
                if self.review_count == 1 { "" } else { "s" }
            )
        })
    }

    /// The store description, else the template's description.
    pub fn blurb(&self) -> &str {
        if self.store_description.is_empty() {
            &self.description
        } else {
            &self.store_description
        }
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
