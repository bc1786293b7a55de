//! A template's prices in other currencies than its own: typed one per line on the template
//! form (`EUR 459`, `JPY 75000`, a retainer's setup fee after a `+`: `EUR 149 + 50`), kept as
//! JSON by currency code on the template (`{"EUR": {"unit": 45900, "setup_fee": 5000}}`). A
//! client pays in their company's billing currency; a service without a price in it is
//! unavailable to them, never converted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::{Currency, Money};

/// One other currency's price: the unit amount and, for a retainer, the setup fee.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherPrice {
    pub unit: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub setup_fee: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

pub type OtherPrices = BTreeMap<Currency, OtherPrice>;

/// Reads the stored JSON; an unknown currency or a bad entry is left out.
pub fn from_json(value: &serde_json::Value) -> OtherPrices {
    let map: BTreeMap<String, OtherPrice> =
        serde_json::from_value(value.clone()).unwrap_or_default();
    map.into_iter()
        .filter_map(|(code, p)| Some((Currency::parse(&code)?, p)))
        .collect()
}

pub fn to_json(prices: &OtherPrices) -> serde_json::Value {
    let map: BTreeMap<&str, &OtherPrice> = prices.iter().map(|(c, p)| (c.code(), p)).collect();
    serde_json::to_value(map).unwrap_or_default()
}

/// Reads the form's lines; each mistake names its line. `base` is the template's own
/// currency, which its own price field holds.
pub fn parse(raw: &str, base: Option<Currency>) -> Result<OtherPrices, String> {
    let mut prices = OtherPrices::new();
    for (n, line) in raw.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        if line.is_empty() {
            continue;
        }
        let (code, amounts) = line.split_once(char::is_whitespace).ok_or_else(|| {
            format!("Line {n} ('{line}'): write a currency and a price, e.g. EUR 459.")
        })?;
        let currency = Currency::parse(code)
            .ok_or_else(|| format!("Line {n}: '{code}' is not a currency the store accepts."))?;
        if Some(currency) == base {
            return Err(format!(
                "Line {n}: {code} is this service's own currency: its price is the one above."
            ));
        }
        if prices.contains_key(&currency) {
            return Err(format!("Line {n}: {code} is given twice."));
        }
        let (unit, fee) = match amounts.split_once('+') {
            Some((unit, fee)) => (unit, Some(fee)),
            None => (amounts, None),
        };
        let money = |raw: &str| {
            Money::parse(raw.trim(), currency).map_err(|m| format!("Line {n} ({code}): {m}"))
        };
        let unit = money(unit)?;
        let setup_fee = fee.map(money).transpose()?.map_or(0, |m| m.minor);
        prices.insert(
            currency,
            OtherPrice {
                unit: unit.minor,
                setup_fee,
            },
        );
    }
    Ok(prices)
}

/// The lines the form shows for stored prices.
pub fn to_lines(prices: &OtherPrices) -> String {
    prices
        .iter()
        .map(|(c, p)| {
            let unit = Money::new(p.unit, *c).plain();
            if p.setup_fee > 0 {
                format!(
                    "{} {unit} + {}",
                    c.code(),
                    Money::new(p.setup_fee, *c).plain()
                )
            } else {
                format!("{} {unit}", c.code())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn lines_read_with_their_currencys_decimals_and_name_their_mistakes() {
        let p = parse("EUR 459\n\n jpy 75,000 \nGBP 149.50 + 50", Some(c("USD"))).unwrap();
        assert_eq!(
            p[&c("EUR")],
            OtherPrice {
                unit: 45_900,
                setup_fee: 0
            }
        );
        assert_eq!(
            p[&c("JPY")],
            OtherPrice {
                unit: 75_000,
                setup_fee: 0
            }
        );
        assert_eq!(
            p[&c("GBP")],
            OtherPrice {
                unit: 14_950,
                setup_fee: 5_000
            }
        );
        assert_eq!(to_lines(&p), "EUR 459.00\nGBP 149.50 + 50.00\nJPY 75000");
        assert_eq!(parse(&to_lines(&p), Some(c("USD"))).unwrap(), p);
        assert_eq!(from_json(&to_json(&p)), p);

        assert!(
            parse("USD 10", Some(c("USD")))
                .unwrap_err()
                .contains("own currency")
        );
        assert!(
            parse("EUR 1\nEUR 2", None)
                .unwrap_err()
                .contains("given twice")
        );
        assert!(
            parse("XYZ 1", None)
                .unwrap_err()
                .contains("'XYZ' is not a currency")
        );
        assert!(parse("EUR", None).unwrap_err().contains("Line 1"));
        assert!(
            parse("EUR 1\nJPY 1.5", None)
                .unwrap_err()
                .starts_with("Line 2 (JPY)")
        );
    }
}
