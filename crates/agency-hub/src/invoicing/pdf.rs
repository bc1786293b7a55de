//! Invoices and credit notes as PDF, drawn with `krilla` on A4 in DejaVu Sans (embedded, so
//! every currency's symbol prints the same everywhere; the fonts' licence is beside them in
//! `assets/fonts`). Text is measured with `skrifa` to right-align the amounts.

use std::sync::{Arc, LazyLock};

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;

static REGULAR: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

static FONTS: LazyLock<(Font, Font)> = LazyLock::new(|| {
    let load = |bytes: &'static [u8]| Font::new(bytes.into(), 0).expect("an embedded font");
    (load(REGULAR), load(BOLD))
});

/// A4, in points.
const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
/// Where a page's content stops (the rest is for the page's footer).
const BOTTOM: f32 = HEIGHT - 70.0;

/// What a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Invoice,
    CreditNote,
}

/// One line of the table.
#[derive(Clone, Debug)]
pub struct Line {
    pub description: String,
    pub quantity: i64,
    /// Formatted in the document's currency.
    pub unit_price: String,
    pub amount: String,
}

/// Everything a document shows, formatted (amounts in their currency's own way).
#[derive(Clone, Debug)]
pub struct Doc {
    pub kind: Kind,
    pub number: String,
    /// "2026-12-01".
    pub date: String,
    /// The agency: legal name, address lines, tax ID, footer, logo (PNG).
    pub seller_name: String,
    pub seller_address: String,
    pub seller_tax_id: String,
    pub footer: String,
    pub logo_png: Option<Vec<u8>>,
    /// The client company, and who bought.
    pub buyer_name: String,
    pub buyer_lines: Vec<String>,
    /// The order's number, and for a credit note the invoice it credits.
    pub references: Vec<(String, String)>,
    pub lines: Vec<Line>,
    /// (label, amount), the last one printed as the total.
    pub totals: Vec<(String, String)>,
    /// "Paid by card on 2026-12-01", or what was refunded.
    pub payment: String,
}

/// Measures and draws text.
struct Pen<'a, 'b> {
    surface: &'a mut Surface<'b>,
}

fn width_of(font_bytes: &[u8], size: f32, text: &str) -> f32 {
    let Ok(font) = skrifa::FontRef::new(font_bytes) else {
        return 0.0;
    };
    let charmap = font.charmap();
    let metrics = font.glyph_metrics(
        skrifa::instance::Size::new(size),
        skrifa::instance::LocationRef::default(),
    );
    text.chars()
        .map(|c| {
            charmap
                .map(c)
                .and_then(|g| metrics.advance_width(g))
                .unwrap_or(size * 0.6)
        })
        .sum()
}

impl Pen<'_, '_> {
    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str) {
        let font = if bold { &FONTS.1 } else { &FONTS.0 };
        self.surface.draw_text(
            Point::from_xy(x, y),
            font.clone(),
            size,
            text,
            false,
            TextDirection::Auto,
        );
    }

    /// Text ending at `right`.
    fn right(&mut self, right: f32, y: f32, size: f32, bold: bool, text: &str) {
        let w = width_of(if bold { BOLD } else { REGULAR }, size, text);
        self.text(right - w, y, size, bold, text);
    }

    fn color(&mut self, r: u8, g: u8, b: u8) {
        self.surface.set_fill(Some(Fill {
            paint: rgb::Color::new(r, g, b).into(),
            opacity: NormalizedF32::ONE,
            rule: Default::default(),
        }));
    }

    fn rule(&mut self, y: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(MARGIN, y);
        pb.line_to(WIDTH - MARGIN, y);
        if let Some(path) = pb.finish() {
            self.surface.set_stroke(Some(Stroke {
                paint: rgb::Color::new(200, 204, 212).into(),
                width: 0.7,
                ..Default::default()
            }));
            self.surface.draw_path(&path);
            self.surface.set_stroke(None);
        }
    }
}

/// Splits `text` into lines no wider than `width` (words longer than a line are cut).
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph
            .split_whitespace()
            .flat_map(|w| cut(w, size, width))
        {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if width_of(REGULAR, size, &candidate) <= width || line.is_empty() {
                line = candidate;
            } else {
                lines.push(std::mem::take(&mut line));
                line = word.to_string();
            }
        }
        lines.push(line);
    }
    lines
}

/// A word in pieces no wider than `width` (most words are one piece).
fn cut(word: &str, size: f32, width: f32) -> Vec<String> {
    let mut pieces = vec![String::new()];
    for c in word.chars() {
        let last = pieces.last_mut().expect("one piece at least");
        last.push(c);
        if width_of(REGULAR, size, last) > width && last.chars().count() > 1 {
            last.pop();
            pieces.push(c.to_string());
        }
    }
    pieces
}

/// The document as PDF bytes.
pub fn render(doc: &Doc) -> Result<Vec<u8>, String> {
    let mut document = Document::new();
    let title = match doc.kind {
        Kind::Invoice => "Invoice",
        Kind::CreditNote => "Credit note",
    };
    document.set_metadata(
        Metadata::new()
            .title(format!("{title} {}", doc.number))
            .creator(doc.seller_name.clone()),
    );
    let settings = || PageSettings::from_wh(WIDTH, HEIGHT).expect("A4 is a size");
    // The footer sits at the last page's bottom; the content stops above it (on every page,
    // which keeps the pages alike).
    let footer = wrap(&doc.footer, 8.5, WIDTH - 2.0 * MARGIN);
    let bottom = BOTTOM.min(HEIGHT - MARGIN - 11.0 * footer.len() as f32 - 16.0);
    let mut page = document.start_page_with(settings());
    let mut surface = page.surface();
    let mut pen = Pen {
        surface: &mut surface,
    };
    let right = WIDTH - MARGIN;

    // The head: the logo (or the agency's name), and what this is.
    let mut y = MARGIN;
    let logo = doc
        .logo_png
        .as_ref()
        .and_then(|png| Image::from_png(Arc::new(png.clone()).into(), true).ok());
    match logo {
        Some(image) => {
            let (w, h) = image.size();
            let scale = (200.0 / w as f32).min(60.0 / h as f32).min(1.0);
            let (w, h) = (w as f32 * scale, h as f32 * scale);
            pen.surface
                .push_transform(&Transform::from_translate(MARGIN, y));
            if let Some(size) = Size::from_wh(w, h) {
                pen.surface.draw_image(image, size);
            }
            pen.surface.pop();
            y += h + 16.0;
        }
        None => {
            pen.text(MARGIN, y + 18.0, 18.0, true, &doc.seller_name);
            y += 34.0;
        }
    }
    pen.color(29, 35, 48);
    pen.right(right, MARGIN + 18.0, 20.0, true, title);
    pen.right(right, MARGIN + 36.0, 10.0, false, &doc.number);
    pen.right(
        right,
        MARGIN + 50.0,
        10.0,
        false,
        &format!("Date: {}", doc.date),
    );
    let mut ry = MARGIN + 64.0;
    for (label, value) in &doc.references {
        pen.right(right, ry, 9.0, false, &format!("{label}: {value}"));
        ry += 13.0;
    }
    y = y.max(ry) + 10.0;

    // From and to.
    let column = MARGIN + 260.0;
    pen.color(93, 102, 119);
    pen.text(MARGIN, y, 8.5, true, "FROM");
    pen.text(column, y, 8.5, true, "BILL TO");
    pen.color(29, 35, 48);
    let mut from = vec![doc.seller_name.clone()];
    from.extend(doc.seller_address.lines().map(str::to_string));
    if !doc.seller_tax_id.is_empty() {
        from.push(format!("Tax ID: {}", doc.seller_tax_id));
    }
    let mut to = vec![doc.buyer_name.clone()];
    to.extend(doc.buyer_lines.iter().cloned());
    let (mut fy, mut ty) = (y + 15.0, y + 15.0);
    for (i, l) in from.iter().enumerate() {
        pen.text(MARGIN, fy, 10.0, i == 0, l);
        fy += 14.0;
    }
    for (i, l) in to.iter().enumerate() {
        pen.text(column, ty, 10.0, i == 0, l);
        ty += 14.0;
    }
    y = fy.max(ty) + 16.0;

    // The lines.
    let (qty_right, unit_right) = (MARGIN + 330.0, MARGIN + 410.0);
    let header = |pen: &mut Pen, y: f32| {
        pen.color(93, 102, 119);
        pen.text(MARGIN, y, 8.5, true, "DESCRIPTION");
        pen.right(qty_right, y, 8.5, true, "QTY");
        pen.right(unit_right, y, 8.5, true, "UNIT PRICE");
        pen.right(right, y, 8.5, true, "AMOUNT");
        pen.color(29, 35, 48);
        pen.rule(y + 6.0);
    };
    header(&mut pen, y);
    y += 22.0;
    // A new page: says what it continues, and heads the table again.
    macro_rules! next_page {
        () => {
            surface.finish();
            page.finish();
            page = document.start_page_with(settings());
            surface = page.surface();
            pen = Pen {
                surface: &mut surface,
            };
            pen.color(93, 102, 119);
            pen.text(
                MARGIN,
                MARGIN,
                9.0,
                false,
                &format!("{title} {} (continued)", doc.number),
            );
            y = MARGIN + 24.0;
            header(&mut pen, y);
            y += 22.0;
        };
    }
    for line in &doc.lines {
        let wrapped = wrap(&line.description, 10.0, qty_right - MARGIN - 50.0);
        if y + 14.0 * wrapped.len() as f32 > bottom {
            next_page!();
        }
        for (i, text) in wrapped.iter().enumerate() {
            pen.text(MARGIN, y + 14.0 * i as f32, 10.0, false, text);
        }
        pen.right(qty_right, y, 10.0, false, &line.quantity.to_string());
        pen.right(unit_right, y, 10.0, false, &line.unit_price);
        pen.right(right, y, 10.0, false, &line.amount);
        y += 14.0 * wrapped.len() as f32 + 6.0;
    }
    pen.rule(y - 4.0);
    y += 12.0;
    // The totals and the payment stay together, above the footer.
    if y + 20.0 * doc.totals.len() as f32 + 30.0 > bottom {
        next_page!();
    }

    // The totals, the last one bold.
    let count = doc.totals.len();
    for (i, (label, amount)) in doc.totals.iter().enumerate() {
        let last = i + 1 == count;
        let size = if last { 12.0 } else { 10.0 };
        pen.right(unit_right, y, size, last, label);
        pen.right(right, y, size, last, amount);
        y += if last { 20.0 } else { 15.0 };
    }
    y += 8.0;
    pen.text(MARGIN, y, 10.0, false, &doc.payment);

    // The footer, at the page's bottom.
    let mut fy = HEIGHT - MARGIN - 11.0 * (footer.len() as f32 - 1.0);
    pen.color(93, 102, 119);
    for l in &footer {
        pen.text(MARGIN, fy, 8.5, false, l);
        fy += 11.0;
    }
    surface.finish();
    page.finish();
    document.finish().map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lines: usize) -> Doc {
        Doc {
            kind: Kind::Invoice,
            number: "INV-2026-000042".into(),
            date: "2026-12-01".into(),
            seller_name: "Northwind Studio Ltd".into(),
            seller_address: "1 Harbour Street\nBristol BS1 4XE".into(),
            seller_tax_id: "GB123456789".into(),
            footer: "Payment due within 14 days. Bank: Northwind Bank, IBAN GB00 0000 0000 0000 0000 00.".into(),
            logo_png: None,
            buyer_name: "Acme Corp".into(),
            buyer_lines: vec!["billing@acme.example".into()],
            references: vec![("Order".into(), "AH-1001".into())],
            lines: (1..=lines)
                .map(|i| Line {
                    description: format!("Service number {i}, with a description long enough to wrap onto a second line"),
                    quantity: 1,
                    unit_price: "¥5,000".into(),
                    amount: "¥5,000".into(),
                })
                .collect(),
            totals: vec![("Subtotal".into(), "¥5,000".into()), ("Total".into(), "¥5,000".into())],
            payment: "Paid by card on 2026-12-01.".into(),
        }
    }

    #[test]
    fn a_long_invoice_runs_onto_more_pages_and_reads_back() {
        let one = render(&sample(3)).unwrap();
        assert!(one.starts_with(b"%PDF"));
        let long = render(&sample(40)).unwrap();
        let text = pdf_extract::extract_text_from_mem(&long).unwrap();
        assert!(text.contains("Service number 40"), "{text}");
        assert!(text.contains("¥5,000"));
        if let Ok(dir) = std::env::var("INVOICE_SAMPLE_DIR") {
            std::fs::write(format!("{dir}/sample.pdf"), &long).unwrap();
        }
        let pages = pdf_extract::extract_text_from_mem_by_pages(&long).unwrap();
        assert_eq!(pages.len(), 3);
        assert!(
            pages[1].contains("INV-2026-000042 (continued)"),
            "{}",
            pages[1]
        );
        assert!(pages[2].contains("Total"));
    }

    #[test]
    fn long_words_and_lines_wrap_within_the_width() {
        let lines = wrap(
            "Brand strategy workshop and a very long description",
            10.0,
            120.0,
        );
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines.iter().all(|l| width_of(REGULAR, 10.0, l) <= 120.0));
        assert!(width_of(REGULAR, 10.0, "¥5,000") > 0.0);
    }
}
