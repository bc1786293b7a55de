//! How a template is billed: once, or every N days, weeks, months or years (Stripe's
//! `recurring[interval]` and `interval_count`, at most a year), with an optional free trial and
//! a setup fee charged with the first period; and the sentences the store shows for it.

use crate::money::Money;

/// The longest free trial Stripe allows, in days.
pub const MAX_TRIAL_DAYS: u32 = 730;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    pub const ALL: [Interval; 4] = [Self::Day, Self::Week, Self::Month, Self::Year];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    /// Stripe's name, also the stored one.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// The most of these in one period: together at most a year, as on Stripe.
    pub fn max_count(self) -> u32 {
        match self {
            Self::Day => 365,
            Self::Week => 52,
            Self::Month => 12,
            Self::Year => 1,
        }
    }
}

/// A recurring template's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recurring {
    pub interval: Interval,
    /// Periods last `count` intervals (1..=`interval.max_count()`).
    pub count: u32,
    /// Days free before the first charge of the period price; 0 for none.
    pub trial_days: u32,
    /// Charged once, on the first invoice, in the template's currency.
    pub setup_fee_minor: i64,
}

impl Recurring {
    /// "month", "3 months".
    pub fn period(&self) -> String {
        let name = self.interval.as_str();
        if self.count == 1 {
            name.to_string()
        } else {
            format!("{} {name}s", self.count)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Billing {
    OneTime,
    Recurring(Recurring),
}

impl Billing {
    /// From a template's columns; an interval the app does not know reads as one-time.
    pub fn from_columns(
        interval: Option<&str>,
        count: i32,
        trial_days: i32,
        setup_fee_minor: i64,
    ) -> Self {
        match interval.and_then(Interval::parse) {
            Some(interval) => Self::Recurring(Recurring {
                interval,
                count: u32::try_from(count).unwrap_or(1).max(1),
                trial_days: u32::try_from(trial_days).unwrap_or(0),
                setup_fee_minor: setup_fee_minor.max(0),
            }),
            None => Self::OneTime,
        }
    }

    pub fn recurring(&self) -> Option<&Recurring> {
        match self {
            Self::Recurring(r) => Some(r),
            Self::OneTime => None,
        }
    }

    /// The stored interval column.
    pub fn interval(&self) -> Option<&'static str> {
        self.recurring().map(|r| r.interval.as_str())
    }

    /// The price's suffix in lists: " / month", " / 3 months"; empty for one-time.
    pub fn per(&self) -> String {
        self.recurring()
            .map(|r| format!(" / {}", r.period()))
            .unwrap_or_default()
    }

    /// What `quantity` units at `unit` each cost today and then each period, in the store's
    /// words: "$149.00 today, then $149.00 every month"; `None` for a one-time service.
    pub fn describe(&self, unit: Money, quantity: u32) -> Option<String> {
        let r = self.recurring()?;
        let each = Money::new(
            unit.minor.saturating_mul(i64::from(quantity)),
            unit.currency,
        );
        let fee = Money::new(r.setup_fee_minor, unit.currency);
        let period_today = if r.trial_days > 0 { 0 } else { each.minor };
        let today = Money::new(period_today.saturating_add(fee.minor), unit.currency);
        let mut text = format!("{} today", today.display());
        if fee.minor > 0 {
            text.push_str(&format!(" (includes a {} setup fee)", fee.display()));
        }
        text.push_str(&format!(", then {} every {}", each.display(), r.period()));
        if r.trial_days > 0 {
            text.push_str(&format!(" after a {}-day free trial", r.trial_days));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").unwrap())
    }

    fn monthly(count: u32, trial_days: u32, setup_fee_minor: i64) -> Billing {
        Billing::Recurring(Recurring {
            interval: Interval::Month,
            count,
            trial_days,
            setup_fee_minor,
        })
    }

    #[test]
    fn the_store_says_what_is_charged_today_and_what_recurs() {
        assert_eq!(Billing::OneTime.describe(usd(14_900), 1), None);
        assert_eq!(
            monthly(1, 0, 0).describe(usd(14_900), 1).unwrap(),
            "$149.00 today, then $149.00 every month"
        );
        assert_eq!(
            monthly(3, 0, 5_000).describe(usd(10_000), 2).unwrap(),
            "$250.00 today (includes a $50.00 setup fee), then $200.00 every 3 months"
        );
        assert_eq!(
            monthly(1, 14, 0).describe(usd(14_900), 1).unwrap(),
            "$0.00 today, then $149.00 every month after a 14-day free trial"
        );
        assert_eq!(monthly(1, 0, 0).per(), " / month");
        assert_eq!(Billing::OneTime.per(), "");
    }

    #[test]
    fn stored_columns_read_back_and_unknown_intervals_are_one_time() {
        assert_eq!(
            Billing::from_columns(Some("month"), 3, 14, 5_000),
            monthly(3, 14, 5_000)
        );
        assert_eq!(Billing::from_columns(None, 1, 0, 0), Billing::OneTime);
        assert_eq!(
            Billing::from_columns(Some("fortnight"), 1, 0, 0),
            Billing::OneTime
        );
        assert_eq!(Interval::Week.max_count(), 52);
    }
}
