//! Money: an integer count of a currency's minor unit, never a float. Parsing what people type
//! ("1,250.50") and formatting for people ("$1,250.50", "¥5,000") both go through here.

use std::fmt;

use sea_orm::DeriveValueType;
use serde::Serialize;

/// The currencies the store accepts: ISO 4217 codes Stripe supports, with their minor-unit
/// exponent and a symbol for display.
const CURRENCIES: &[(&str, u32, &str)] = &[
    ("USD", 2, "$"),
    ("EUR", 2, "€"),
    ("GBP", 2, "£"),
    ("CAD", 2, "CA$"),
    ("AUD", 2, "A$"),
    ("NZD", 2, "NZ$"),
    ("CHF", 2, "CHF "),
    ("SEK", 2, "SEK "),
    ("NOK", 2, "NOK "),
    ("DKK", 2, "DKK "),
    ("PLN", 2, "PLN "),
    ("CZK", 2, "CZK "),
    ("HUF", 2, "HUF "),
    ("RON", 2, "RON "),
    ("SGD", 2, "S$"),
    ("HKD", 2, "HK$"),
    ("MXN", 2, "MX$"),
    ("BRL", 2, "R$"),
    ("INR", 2, "₹"),
    ("ZAR", 2, "ZAR "),
    ("AED", 2, "AED "),
    ("ILS", 2, "₪"),
    ("THB", 2, "THB "),
    ("MYR", 2, "MYR "),
    ("PHP", 2, "₱"),
    ("IDR", 2, "IDR "),
    ("TRY", 2, "TRY "),
    // Zero-decimal currencies: amounts are whole units.
    ("JPY", 0, "¥"),
    ("KRW", 0, "₩"),
    ("VND", 0, "₫"),
    ("CLP", 0, "CLP "),
    ("ISK", 0, "ISK "),
];

/// Stripe's limit on one amount in a two-decimal currency (99,999,999 minor units).
pub const MAX_MINOR: i64 = 99_999_999;

/// An ISO currency the store accepts. Stored as its code (a text column); a code the store
/// does not accept cannot be read back, nor written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, DeriveValueType)]
#[serde(into = "&'static str")]
#[sea_orm(value_type = "String")]
pub struct Currency(&'static str);

/// A currency code the store does not accept.
#[derive(Debug, thiserror::Error)]
#[error("'{0}' is not a currency the store accepts")]
pub struct UnknownCurrency(String);

/// The store's default: new templates are priced in it, and an empty report shows it.
impl Default for Currency {
    fn default() -> Self {
        Self::USD
    }
}

impl std::str::FromStr for Currency {
    type Err = UnknownCurrency;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or_else(|| UnknownCurrency(s.to_string()))
    }
}

impl From<Currency> for &'static str {
    fn from(c: Currency) -> Self {
        c.0
    }
}

impl Currency {
    pub const USD: Currency = Currency("USD");
    pub const EUR: Currency = Currency("EUR");

    /// Parses a code in any case; `None` for a currency the store does not accept.
    pub fn parse(raw: &str) -> Option<Self> {
        let upper = raw.trim().to_ascii_uppercase();
        CURRENCIES
            .iter()
            .find(|(code, _, _)| *code == upper)
            .map(|(code, _, _)| Self(code))
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    /// Digits after the decimal point: 2 for USD, 0 for JPY.
    pub fn exponent(self) -> u32 {
        CURRENCIES
            .iter()
            .find(|(c, _, _)| *c == self.0)
            .map_or(2, |(_, e, _)| *e)
    }

    fn symbol(self) -> &'static str {
        CURRENCIES
            .iter()
            .find(|(c, _, _)| *c == self.0)
            .map_or("", |(_, _, s)| *s)
    }

    pub fn all() -> impl Iterator<Item = Currency> {
        CURRENCIES.iter().map(|(c, _, _)| Currency(c))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An amount in a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Reads an amount as people type it in the currency's unit: "1250", "1,250.5", "12.00".
    /// Refuses negatives, more decimals than the currency has, and amounts over [`MAX_MINOR`].
    pub fn parse(raw: &str, currency: Currency) -> Result<Self, String> {
        let cleaned: String = raw
            .trim()
            .chars()
            .filter(|c| *c != ',' && *c != ' ' && *c != '_')
            .collect();
        if cleaned.is_empty() {
            return Err("Enter a price.".into());
        }
        if cleaned.starts_with('-') {
            return Err("A price cannot be negative.".into());
        }
        let exp = currency.exponent();
        let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if !digits(whole) || (!frac.is_empty() && !digits(frac)) {
            return Err(format!(
                "'{}' is not an amount (example: {}).",
                raw.trim(),
                Money::new(125_000, currency).plain()
            ));
        }
        if frac.len() as u32 > exp {
            return Err(if exp == 0 {
                format!("{currency} has no decimals: enter a whole amount.")
            } else {
                format!("{currency} has at most {exp} decimals.")
            });
        }
        let too_big = || format!("At most {}.", Money::new(MAX_MINOR, currency).display());
        let whole: i64 = whole.parse().map_err(|_| too_big())?;
        let frac_value: i64 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<width$}", width = exp as usize)
                .parse()
                .map_err(|_| too_big())?
        };
        let minor = whole
            .checked_mul(10i64.pow(exp))
            .and_then(|w| w.checked_add(frac_value))
            .filter(|m| *m <= MAX_MINOR)
            .ok_or_else(too_big)?;
        Ok(Self::new(minor, currency))
    }

    /// The amount in the currency's unit without symbol or grouping, for form fields: "1250.50".
    pub fn plain(&self) -> String {
        let exp = self.currency.exponent();
        if exp == 0 {
            return self.minor.to_string();
        }
        let div = 10i64.pow(exp);
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / div as u64,
            abs % div as u64,
            width = exp as usize
        )
    }

    /// For people: "$1,250.50", "¥5,000", "CHF 12.00".
    pub fn display(&self) -> String {
        let exp = self.currency.exponent();
        let div = 10u64.pow(exp);
        let abs = self.minor.unsigned_abs();
        let whole = group(abs / div);
        let sign = if self.minor < 0 { "-" } else { "" };
        let symbol = self.currency.symbol();
        if exp == 0 {
            format!("{sign}{symbol}{whole}")
        } else {
            format!(
                "{sign}{symbol}{whole}.{:0width$}",
                abs % div,
                width = exp as usize
            )
        }
    }

    pub fn checked_mul(self, n: i64) -> Option<Self> {
        self.minor
            .checked_mul(n)
            .map(|m| Self::new(m, self.currency))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

/// 1234567 -> "1,234,567".
fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn amounts_are_parsed_into_minor_units() {
        assert_eq!(Money::parse("1,250.5", c("usd")).unwrap().minor, 125_050);
        assert_eq!(Money::parse("12", c("USD")).unwrap().minor, 1_200);
        assert_eq!(Money::parse("0", c("USD")).unwrap().minor, 0);
        assert_eq!(Money::parse("5000", c("JPY")).unwrap().minor, 5_000);
        assert_eq!(
            Money::parse("999999.99", c("USD")).unwrap().minor,
            MAX_MINOR
        );
    }

    #[test]
    fn bad_amounts_are_refused_with_a_reason() {
        assert!(
            Money::parse("-5", c("USD"))
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            Money::parse("12.345", c("USD"))
                .unwrap_err()
                .contains("2 decimals")
        );
        assert!(
            Money::parse("12.5", c("JPY"))
                .unwrap_err()
                .contains("no decimals")
        );
        assert!(
            Money::parse("1000000", c("USD"))
                .unwrap_err()
                .contains("At most $999,999.99")
        );
        assert!(Money::parse("99999999999999999999", c("USD")).is_err());
        assert!(
            Money::parse("abc", c("USD"))
                .unwrap_err()
                .contains("not an amount")
        );
        assert!(Money::parse("1.2.3", c("USD")).is_err());
        assert!(Money::parse("", c("USD")).is_err());
    }

    #[test]
    fn amounts_are_shown_in_the_currencys_way() {
        assert_eq!(Money::new(125_050, c("USD")).display(), "$1,250.50");
        assert_eq!(Money::new(5, c("EUR")).display(), "€0.05");
        assert_eq!(Money::new(5_000, c("JPY")).display(), "¥5,000");
        assert_eq!(Money::new(1_200, c("CHF")).display(), "CHF 12.00");
        assert_eq!(Money::new(-1_200, c("USD")).display(), "-$12.00");
        assert_eq!(Money::new(125_050, c("USD")).plain(), "1250.50");
        assert_eq!(Money::new(5_000, c("JPY")).plain(), "5000");
        assert!(Currency::parse("XYZ").is_none());
    }

    #[test]
    fn a_stored_code_reads_back_as_its_currency_and_an_unknown_one_is_refused() {
        use std::str::FromStr;
        assert_eq!(Currency::from_str("jpy").unwrap(), c("JPY"));
        assert_eq!(Currency::from_str("JPY").unwrap().to_string(), "JPY");
        let e = Currency::from_str("XYZ").unwrap_err();
        assert_eq!(e.to_string(), "'XYZ' is not a currency the store accepts");
    }
}
