//! An invoice as a one-page PDF (the `invoice_pdf` link): Helvetica, one of the fonts every PDF
//! reader has, so nothing is embedded.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::Invoice;
use crate::money;
use crate::store::Store;

const FONT: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Text in the font's WinAnsi encoding: Latin-1 as it is, a few common signs mapped, anything
/// else shown as `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '€' => 0x80,
            '–' => 0x96,
            '—' => 0x97,
            '•' => 0x95,
            c if u32::from(c) < 0x100 => u32::from(c) as u8,
            _ => b'?',
        })
        .collect()
}

fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%B %-d, %Y").to_string())
        .unwrap_or_default()
}

/// Lines of text placed top-down on an A4 page.
struct Page {
    content: Content,
    y: f32,
}

impl Page {
    fn text(&mut self, font: Name, size: f32, x: f32, text: &str) {
        self.content
            .begin_text()
            .set_font(font, size)
            .next_line(x, self.y)
            .show(Str(&win_ansi(text)))
            .end_text();
    }

    /// A row: text at the left, an amount in the right column; then down one line.
    fn row(&mut self, font: Name, left: &str, right: &str) {
        self.text(font, 10.0, 50.0, left);
        self.text(font, 10.0, 450.0, right);
        self.y -= 16.0;
    }
}

/// The invoice as PDF bytes: who it is for, its number and dates, each line, the totals and
/// whether it is paid.
pub fn invoice_pdf(store: &Store, invoice: &Invoice) -> Vec<u8> {
    let c = &invoice.currency;
    let mut page = Page {
        content: Content::new(),
        y: 780.0,
    };
    page.text(BOLD, 20.0, 50.0, "Invoice");
    page.y -= 30.0;
    let number = invoice.number.as_deref().unwrap_or("Draft");
    page.row(FONT, "Invoice number", number);
    page.row(
        FONT,
        "Date of issue",
        &date(invoice.finalized_at.unwrap_or(invoice.created)),
    );
    if let Some(email) = &invoice.customer_email {
        page.row(FONT, "Bill to", email);
    }
    page.row(FONT, "Status", invoice.status.as_str());
    page.y -= 14.0;
    page.row(BOLD, "Description", "Amount");
    for line in &invoice.lines {
        page.row(FONT, &line.description, &money::format(line.amount, c));
        if line.period_end > line.period_start {
            let period = format!("{} – {}", date(line.period_start), date(line.period_end));
            page.row(FONT, &format!("    {period}"), "");
        }
    }
    page.y -= 6.0;
    page.row(FONT, "Subtotal", &money::format(invoice.subtotal(), c));
    if invoice.discount() > 0 {
        page.row(
            FONT,
            "Discount",
            &format!("-{}", money::format(invoice.discount(), c)),
        );
    }
    if invoice.tax() > 0 {
        page.row(FONT, "Tax", &money::format(invoice.tax(), c));
    }
    page.row(BOLD, "Total", &money::format(invoice.total(), c));
    page.row(
        FONT,
        "Amount paid",
        &money::format(invoice.amount_paid(), c),
    );
    let due = invoice.total() - invoice.amount_paid();
    page.row(BOLD, "Amount due", &money::format(due, c));
    page.y -= 14.0;
    page.text(
        FONT,
        9.0,
        50.0,
        &format!("Pay online: {}", invoice.hosted_url(&store.base_url)),
    );

    let (catalog, tree, page_id, font, bold, content) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
        Ref::new(6),
    );
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut p = pdf.page(page_id);
    p.media_box(Rect::new(0.0, 0.0, 595.0, 842.0));
    p.parent(tree);
    p.contents(content);
    let mut resources = p.resources();
    let mut fonts = resources.fonts();
    fonts.pair(FONT, font);
    fonts.pair(BOLD, bold);
    fonts.finish();
    resources.finish();
    p.finish();
    for (id, base) in [(font, &b"Helvetica"[..]), (bold, &b"Helvetica-Bold"[..])] {
        pdf.type1_font(id)
            .base_font(Name(base))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.stream(content, &page.content.finish());
    pdf.finish()
}
