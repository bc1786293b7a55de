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
const H: f64 = 260.0;
/// Room for the y axis's figures on the left, the x axis's dates below, the legend above.
const PAD_L: f64 = 78.0;
const PAD_R: f64 = 16.0;
const PAD_B: f64 = 30.0;
const PAD_T: f64 = 34.0;
const INK: &str = "#3f4756";
const GRID: &str = "#e2e5eb";

/// A round step for about four gridlines up to `max` (1, 2 or 5 times a power of ten).
fn step_for(max: i64) -> i64 {
    let rough = (max.max(1) as f64 / 4.0).max(1.0);
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    step as i64
}

/// Vertical bars over time (money or counts per day), with a y axis of round figures
/// (`tick` writes one), gridlines, the dates under the bars (thinned to stay readable, the first
/// and the last kept inside the picture) and each bar's figure: written above it while few
/// bars have one, else in its tooltip and for the highest. `legend` says what is counted.
pub fn bars(
    title: &str,
    description: &str,
    legend: &str,
    bars: &[Bar],
    color: &str,
    tick: impl Fn(i64) -> String,
) -> String {
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
    // The legend: a swatch and what the bars are.
    let _ = write!(
        svg,
        r##"<rect x="{PAD_L}" y="8" width="12" height="12" fill="{color}" rx="2"/><text x="{x}" y="18" font-size="13" fill="{INK}">{}</text>"##,
        esc(legend),
        x = PAD_L + 18.0
    );
    let highest = bars.iter().map(|b| b.value).max().unwrap_or(0).max(0);
    let step = step_for(highest);
    let top = (highest.max(1) + step - 1) / step * step;
    let plot_h = H - PAD_B - PAD_T;
    let plot_w = W - PAD_L - PAD_R;
    let y_of = |v: i64| H - PAD_B - (v.max(0) as f64 / top as f64) * plot_h;
    let mut v = 0;
    while v <= top {
        let y = y_of(v);
        let _ = write!(
            svg,
            r##"<line x1="{PAD_L}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="{line}"/><text x="{tx}" y="{ty:.1}" font-size="12" text-anchor="end" fill="{INK}">{}</text>"##,
            esc(&tick(v)),
            x2 = W - PAD_R,
            line = if v == 0 { "#98a2b3" } else { GRID },
            tx = PAD_L - 6.0,
            ty = y + 4.0
        );
        v += step;
    }
    let n = bars.len().max(1) as f64;
    let slot = plot_w / n;
    // At most seven dates, evenly apart, the first and the last among them.
    let count = bars.len();
    let dated = |i: usize| count <= 8 || (0..=6).any(|j| (j * (count - 1) + 3) / 6 == i);
    let with_value = bars.iter().filter(|b| b.value > 0).count();
    let label_all = with_value <= 8 && slot >= 24.0;
    let top_bar = bars
        .iter()
        .enumerate()
        .max_by_key(|(_, b)| b.value)
        .filter(|(_, b)| b.value > 0)
        .map(|(i, _)| i);
    for (i, b) in bars.iter().enumerate() {
        let x = PAD_L + slot * i as f64 + slot * 0.15;
        let w = slot * 0.7;
        let y = y_of(b.value);
        let h = H - PAD_B - y;
        let _ = write!(
            svg,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{color}" rx="2"><title>{}: {}</title></rect>"#,
            esc(&b.label),
            esc(&b.shown),
        );
        let cx = x + w / 2.0;
        if b.value > 0 && (label_all || Some(i) == top_bar) {
            // Above the bar, kept inside the picture at either end.
            let anchor = edge_anchor(cx, 40.0);
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{ty:.1}" font-size="12" font-weight="600" text-anchor="{anchor}" fill="{INK}">{}</text>"##,
                esc(&b.shown),
                ty = (y - 5.0).max(PAD_T - 2.0)
            );
        }
        if dated(i) {
            let _ = write!(
                svg,
                r##"<text x="{cx:.1}" y="{ty}" font-size="12" text-anchor="{}" fill="{INK}">{}</text>"##,
                edge_anchor(cx, 24.0),
                esc(&b.label),
                ty = H - 10.0
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// How a text centred at `x` is anchored so that it stays inside the picture: from its start
/// near the left edge, from its end near the right one.
fn edge_anchor(x: f64, half: f64) -> &'static str {
    if x - half < PAD_L {
        "start"
    } else if x + half > W {
        "end"
    } else {
        "middle"
    }
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

    fn two_days(first: i64, second: i64) -> String {
        bars(
            "Revenue",
            "Paid per day",
            "Paid, before refunds",
            &[
                Bar {
                    label: "11-01".into(),
                    value: first,
                    shown: format!("${first}"),
                },
                Bar {
                    label: "<b>".into(),
                    value: second,
                    shown: format!("${second}"),
                },
            ],
            "#4263eb",
            |v| format!("${v}"),
        )
    }

    #[test]
    fn a_bar_chart_has_its_title_legend_axis_bars_values_and_escaped_labels() {
        let svg = two_days(0, 250);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title id=\"revenue-t\">Revenue</title>"));
        assert!(svg.contains(">Paid, before refunds</text>"), "the legend");
        // The legend's swatch and the two bars.
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("&lt;b&gt;: $250") && !svg.contains("<b>"));
        // Round gridlines up to above the highest bar: 0, 100, 200, 300.
        for tick in ["$0", "$100", "$200", "$300"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "{tick}: {svg}");
        }
        assert!(!svg.contains(">$400</text>"));
        // The bar's figure above it; none for the empty day.
        assert!(
            svg.contains(r##"font-weight="600" text-anchor="middle" fill="#3f4756">$250</text>"##),
            "{svg}"
        );
        assert_eq!(
            svg.matches(r#"font-weight="600""#).count(),
            1,
            "no figure on $0"
        );
    }

    #[test]
    fn a_month_of_bars_keeps_its_first_and_last_dates_inside_the_picture() {
        let days: Vec<Bar> = (1..=30)
            .map(|d| Bar {
                label: format!("Nov {d}"),
                value: d,
                shown: d.to_string(),
            })
            .collect();
        let svg = bars("Orders", "", "Orders paid", &days, "#237032", |v| {
            v.to_string()
        });
        assert!(
            svg.contains(r##"text-anchor="start" fill="#3f4756">Nov 1</text>"##),
            "{svg}"
        );
        // The last date ends before the picture's edge.
        let last = svg.find(">Nov 30</text>").expect("the last date");
        let x: f64 = svg[..last]
            .rsplit("<text x=\"")
            .next()
            .and_then(|t| t.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        let anchored_end = svg[..last].ends_with(r##"text-anchor="end" fill="#3f4756""##);
        assert!(anchored_end || x + 22.0 <= W, "Nov 30 at {x}");
        // Too many figures to write: only the highest's.
        assert_eq!(svg.matches(r#"font-weight="600""#).count(), 1);
    }

    #[test]
    fn the_gridlines_fall_on_round_figures() {
        assert_eq!(step_for(0), 1);
        assert_eq!(step_for(7), 2);
        assert_eq!(step_for(250), 100);
        assert_eq!(step_for(268_900), 100_000);
        assert_eq!(step_for(1_000), 500);
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
