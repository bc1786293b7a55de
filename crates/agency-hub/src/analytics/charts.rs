//! Charts drawn on the server as SVG: readable without JavaScript, with a title and a
//! description for screen readers, and each bar's figure in its tooltip.

use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One bar: its label (under it) and value; `shown` is the value as people read it.
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub shown: String,
}

const W: f64 = 720.0;
const H: f64 = 220.0;
const PAD_L: f64 = 8.0;
const PAD_B: f64 = 28.0;
const PAD_T: f64 = 22.0;

/// Vertical bars over time (revenue or orders per day). Labels are thinned to stay readable.
pub fn bars(title: &str, description: &str, bars: &[Bar], color: &str) -> String {
    let id = title
        .to_lowercase()
        .replace(|c: char| !c.is_alphanumeric(), "-");
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        esc(title),
        esc(description)
    );
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let n = bars.len().max(1) as f64;
    let slot = (W - PAD_L * 2.0) / n;
    let plot = H - PAD_B - PAD_T;
    let _ = write!(
        svg,
        r##"<line x1="{PAD_L}" y1="{y}" x2="{x2}" y2="{y}" stroke="#ced4da"/>"##,
        y = H - PAD_B,
        x2 = W - PAD_L
    );
    let every = (bars.len() / 10).max(1);
    for (i, b) in bars.iter().enumerate() {
        let h = (b.value.max(0) as f64 / max) * plot;
        let x = PAD_L + slot * i as f64 + slot * 0.15;
        let y = H - PAD_B - h;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{color}" rx="2"><title>{}: {}</title></rect>"#,
            esc(&b.label),
            esc(&b.shown),
            w = slot * 0.7
        );
        if i % every == 0 {
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{ty}" font-size="13" text-anchor="middle" fill="#5c6670">{}</text>"##,
                esc(&b.label),
                cx = x + slot * 0.35,
                ty = H - 10.0
            );
        }
    }
    let top = bars.iter().max_by_key(|b| b.value);
    if let Some(top) = top.filter(|b| b.value > 0) {
        let _ = write!(
            svg,
            r##"<text x="{PAD_L}" y="15" font-size="14" fill="#5c6670">Highest: {} ({})</text>"##,
            esc(&top.shown),
            esc(&top.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The funnel: one horizontal bar a step, each with its count and its share of the first.
pub fn funnel(title: &str, steps: &[(&str, i64)]) -> String {
    let row = 34.0;
    let height = row * steps.len() as f64 + 8.0;
    let label_w = 150.0;
    let first = steps.first().map(|s| s.1).unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let summary: Vec<String> = steps.iter().map(|(l, n)| format!("{l}: {n}")).collect();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {height}" role="img" aria-labelledby="funnel-t funnel-d" xmlns="http://www.w3.org/2000/svg"><title id="funnel-t">{}</title><desc id="funnel-d">{}</desc>"#,
        esc(title),
        esc(&summary.join("; "))
    );
    for (i, (label, n)) in steps.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let w = (*n as f64 / first) * (W - label_w - 120.0);
        let share = *n as f64 / first * 100.0;
        let _ = write!(
            svg,
            r##"<text x="0" y="{ty:.1}" font-size="15" fill="#1b1f24">{}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="24" fill="#4263eb" rx="3"/><text x="{tx:.1}" y="{ty:.1}" font-size="15" fill="#1b1f24">{n} · {share:.0}%</text>"##,
            esc(label),
            ty = y + 17.0,
            tx = label_w + w + 8.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_chart_has_its_title_its_bars_and_escaped_labels() {
        let svg = bars(
            "Revenue",
            "Paid per day",
            &[
                Bar {
                    label: "11-01".into(),
                    value: 0,
                    shown: "$0.00".into(),
                },
                Bar {
                    label: "<b>".into(),
                    value: 250,
                    shown: "$2.50".into(),
                },
            ],
            "#4263eb",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"revenue-t\">Revenue</title>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("&lt;b&gt;: $2.50") && !svg.contains("<b>"));
        assert!(svg.contains("Highest: $2.50"));
    }

    #[test]
    fn the_funnel_shows_each_step_and_its_share_of_the_first() {
        let svg = funnel("Funnel", &[("Store view", 10), ("Paid", 2)]);
        assert!(
            svg.contains(">10 · 100%<") && svg.contains(">2 · 20%<"),
            "{svg}"
        );
        assert!(svg.contains("Store view: 10; Paid: 2"));
    }
}
