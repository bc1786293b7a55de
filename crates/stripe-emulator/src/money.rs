//! Currencies and amounts: minor units, zero-decimal currencies, display, and the integer
//! arithmetic of discounts and tax.

/// Currencies whose smallest unit is the whole unit (Stripe's list).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Currencies with three decimals (Stripe takes their amounts in thousandths).
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

pub fn decimals(currency: &str) -> u32 {
    let c = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&c.as_str()) {
        0
    } else if THREE_DECIMAL.contains(&c.as_str()) {
        3
    } else {
        2
    }
}

/// A currency code is three ASCII letters; Stripe answers in lower case.
pub fn parse_currency(input: &str) -> Option<String> {
    (input.len() == 3 && input.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| input.to_ascii_lowercase())
}

/// Formats minor units for people: `$1,234.56`, `¥5,000`, `CHF 12.50`.
pub fn format(minor: i64, currency: &str) -> String {
    let d = decimals(currency);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(d);
    let whole = group_thousands(abs / scale);
    let number = if d == 0 {
        whole
    } else {
        format!("{whole}.{:0width$}", abs % scale, width = d as usize)
    };
    match currency.to_ascii_lowercase().as_str() {
        "usd" => format!("{sign}${number}"),
        "eur" => format!("{sign}€{number}"),
        "gbp" => format!("{sign}£{number}"),
        "jpy" => format!("{sign}¥{number}"),
        "krw" => format!("{sign}₩{number}"),
        other => format!("{sign}{} {number}", other.to_ascii_uppercase()),
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `amount × rate / 10 000`, rounded half up, for non-negative amounts and rates given in
/// hundredths of a percent (basis points).
pub fn apply_basis_points(amount: i64, basis_points: i64) -> i64 {
    let product = i128::from(amount) * i128::from(basis_points);
    i64::try_from((product + 5_000) / 10_000).unwrap_or(i64::MAX)
}

/// The tax inside `amount` when `amount` includes tax at `basis_points`: the amount less its
/// net, `amount / (1 + rate)` rounded half up.
pub fn included_part(amount: i64, basis_points: i64) -> i64 {
    let net = (i128::from(amount) * 10_000 * 2 + i128::from(10_000 + basis_points))
        / (2 * i128::from(10_000 + basis_points));
    amount - i64::try_from(net).unwrap_or(0)
}

/// Splits `total` over `weights` in proportion, the remainder going to the first lines so that
/// the parts always add up to `total`.
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i64 = weights.iter().sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<i64> = weights
        .iter()
        .map(|w| i64::try_from(i128::from(total) * i128::from(*w) / i128::from(sum)).unwrap_or(0))
        .collect();
    let mut rest = total - parts.iter().sum::<i64>();
    for (part, weight) in parts.iter_mut().zip(weights) {
        if rest == 0 {
            break;
        }
        if *weight > 0 {
            *part += 1;
            rest -= 1;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_currency_exponent() {
        assert_eq!(format(123_456, "usd"), "$1,234.56");
        assert_eq!(format(5_000, "jpy"), "¥5,000");
        assert_eq!(format(5, "eur"), "€0.05");
        assert_eq!(format(1_250, "chf"), "CHF 12.50");
        assert_eq!(format(1_500, "kwd"), "KWD 1.500");
        assert_eq!(format(-200, "gbp"), "-£2.00");
    }

    #[test]
    fn basis_points_round_half_up() {
        assert_eq!(apply_basis_points(5_000, 1_000), 500);
        assert_eq!(apply_basis_points(5, 1_000), 1);
        assert_eq!(apply_basis_points(4, 1_000), 0);
        assert_eq!(apply_basis_points(999, 2_500), 250);
    }

    #[test]
    fn included_tax_is_the_amount_less_its_rounded_net() {
        assert_eq!(included_part(12_000, 2_000), 2_000);
        assert_eq!(included_part(100, 2_000), 17);
        assert_eq!(included_part(0, 2_000), 0);
        assert_eq!(included_part(1_000, 0), 0);
    }

    #[test]
    fn allocation_adds_up() {
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(7, &[5_000, 0, 2_500]), vec![5, 0, 2]);
        assert_eq!(allocate(0, &[1, 2]), vec![0, 0]);
    }
}
