//! Invoices and credit notes. Every paid one-time order gets an invoice number and every refund
//! of an invoiced order a credit note, each from a gapless sequence per year
//! (`INV-2026-000123`, `CN-2026-000007`). A number is taken by raising the year's counter in
//! the very transaction that records it (the fulfilment's, the refund's): the row stays locked
//! until that transaction ends, so concurrent fulfilments take numbers one after the other, and
//! a transaction that rolls back gives its numbers back with it. None is skipped, none is given
//! twice, on either database.
//!
//! Orders paid through a subscription are billed by Stripe: their invoices are Stripe's.

pub mod pdf;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::config::Config;
use crate::db::Db;
use crate::db::entities::{
    credit_note, order, order_item, subscription, subscription_invoice, user,
};
use crate::error::{AppError, AppResult};
use crate::files::Storage;

/// A numbered series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Series {
    Invoice,
    CreditNote,
}

impl Series {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Invoice => "INV",
            Self::CreditNote => "CN",
        }
    }
}

/// A number as printed: `INV-2026-000123`.
pub fn format(series: Series, year: i32, n: i64) -> String {
    format!("{}-{year}-{n:06}", series.prefix())
}

/// Takes the next `n` numbers of `series` in `year`, in order, in the caller's transaction
/// (which must be the one that records them).
pub async fn take<C: ConnectionTrait>(
    conn: &C,
    series: Series,
    year: i32,
    n: usize,
) -> Result<Vec<String>, DbErr> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let table = Alias::new("invoice_sequences");
    let (kind, yr, last) = (Alias::new("kind"), Alias::new("year"), Alias::new("last"));
    // The year's counter, made by its first number.
    let create = Query::insert()
        .into_table(table.clone())
        .columns([kind.clone(), yr.clone(), last.clone()])
        .values_panic([series.prefix().into(), year.into(), 0i64.into()])
        .on_conflict(
            OnConflict::columns([kind.clone(), yr.clone()])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    conn.execute(&create).await?;
    // Raising it locks it until the transaction ends; what it returns is ours alone.
    let raise = Query::update()
        .table(table)
        .value(last.clone(), Expr::col(last.clone()).add(n as i64))
        .and_where(Expr::col(kind).eq(series.prefix()))
        .and_where(Expr::col(yr).eq(year))
        .returning_col(last)
        .to_owned();
    let row = conn
        .query_one(&raise)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("invoice_sequences".into()))?;
    let top: i64 = row.try_get("", "last")?;
    let first = top - n as i64 + 1;
    Ok((first..=top).map(|k| format(series, year, k)).collect())
}

/// An order's credit notes, oldest first.
pub async fn credit_notes_of<C: ConnectionTrait>(
    conn: &C,
    order_id: crate::ids::OrderId,
) -> Result<Vec<credit_note::Model>, DbErr> {
    credit_note::Entity::find()
        .filter(credit_note::Column::OrderId.eq(order_id))
        .order_by_asc(credit_note::Column::Id)
        .all(conn)
        .await
}

/// An order's documents: our invoice's credit notes, and for an order that started a
/// subscription, Stripe's invoices of it (linked, not issued again by us).
pub struct Documents {
    pub credit_notes: Vec<credit_note::Model>,
    pub stripe_invoices: Vec<subscription_invoice::Model>,
}

impl Documents {
    pub async fn of<C: ConnectionTrait>(
        conn: &C,
        order_id: crate::ids::OrderId,
        items: &[order_item::Model],
    ) -> Result<Self, DbErr> {
        let credit_notes = credit_notes_of(conn, order_id).await?;
        let recurring: Vec<_> = items
            .iter()
            .filter(|i| i.is_recurring())
            .map(|i| i.id)
            .collect();
        let stripe_invoices = if recurring.is_empty() {
            Vec::new()
        } else {
            let subscriptions: Vec<crate::ids::SubscriptionId> = subscription::Entity::find()
                .select_only()
                .column(subscription::Column::Id)
                .filter(subscription::Column::OrderItemId.is_in(recurring))
                .into_tuple()
                .all(conn)
                .await?;
            subscription_invoice::Entity::find()
                .filter(subscription_invoice::Column::SubscriptionId.is_in(subscriptions))
                .filter(subscription_invoice::Column::Status.ne("draft"))
                .filter(subscription_invoice::Column::HostedInvoiceUrl.is_not_null())
                .order_by_desc(subscription_invoice::Column::PeriodStart)
                .order_by_desc(subscription_invoice::Column::Id)
                .all(conn)
                .await?
        };
        Ok(Self {
            credit_notes,
            stripe_invoices,
        })
    }
}

/// A PDF to download: its file name and bytes.
pub struct Pdf {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The order's invoice, or its credit note `number`, as a PDF (404 when it has none: not paid
/// yet, or billed by Stripe). What the agency's settings say now is what it shows.
pub async fn pdf(
    db: &Db,
    config: &Config,
    storage: &Storage,
    order: &order::Model,
    credit_note: Option<&str>,
) -> AppResult<Pdf> {
    let invoice = order
        .invoice_number
        .clone()
        .ok_or_else(AppError::not_found)?;
    let note = match credit_note {
        Some(number) => Some(
            credit_notes_of(db, order.id)
                .await?
                .into_iter()
                .find(|n| n.number == number)
                .ok_or_else(AppError::not_found)?,
        ),
        None => None,
    };
    let settings = crate::agency::get(db, config).await?;
    let logo_png = match &settings.logo_key {
        Some(key) => match storage.get(key).await {
            Ok(got) => Some(got.bytes().await.map_err(AppError::internal)?.to_vec()),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "the logo could not be read; the invoice shows the name"
                );
                None
            }
        },
        None => None,
    };
    let client = crate::clients::get(db, order.client_id).await?;
    let buyer = match order.user_id {
        Some(id) => user::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let items = crate::orders::items_of(db, order.id).await?;
    let mut buyer_lines = Vec::new();
    if let Some(email) = &client.billing_email {
        buyer_lines.push(email.clone());
    }
    if let Some(b) = &buyer {
        buyer_lines.push(format!("Ordered by {} <{}>", b.name, b.email));
    }
    if let Some(id) = &order.customer_tax_id {
        buyer_lines.push(format!("Tax ID: {id}"));
    }
    let day = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d").to_string();
    let money = |minor: i64| order.money(minor).display();
    let paid_on = order.paid_at.map(day).unwrap_or_default();
    let mut doc = pdf::Doc {
        kind: pdf::Kind::Invoice,
        number: invoice.clone(),
        date: paid_on.clone(),
        seller_name: settings.legal_name,
        seller_address: settings.address,
        seller_tax_id: settings.tax_id,
        footer: settings.invoice_footer,
        logo_png,
        buyer_name: client.name,
        buyer_lines,
        references: vec![("Order".into(), order.order_number.clone())],
        lines: items
            .iter()
            .map(|i| pdf::Line {
                description: i.service_name.clone(),
                quantity: i64::from(i.quantity),
                unit_price: money(i.unit_price_minor),
                amount: money(i.total_minor),
            })
            .collect(),
        totals: Vec::new(),
        payment: match (&order.payment_method, paid_on.is_empty()) {
            (Some(m), false) => format!("Paid by {m} on {paid_on}."),
            (None, false) => format!("Paid on {paid_on}."),
            _ => String::new(),
        },
    };
    doc.totals
        .push(("Subtotal".into(), money(order.subtotal_minor)));
    if order.discount_minor > 0 {
        doc.totals
            .push(("Discount".into(), money(-order.discount_minor)));
    }
    for (label, amount) in crate::orders::lines::tax_rows(order, &items) {
        doc.totals.push((label, amount.display()));
    }
    doc.totals.push(("Total".into(), money(order.total_minor)));
    let file_name = match note {
        None => format!("{invoice}.pdf"),
        Some(n) => {
            doc.kind = pdf::Kind::CreditNote;
            doc.number = n.number.clone();
            doc.date = day(n.created_at);
            doc.references
                .push(("Credits invoice".into(), invoice.clone()));
            doc.lines = vec![pdf::Line {
                description: format!("Refund on invoice {invoice}"),
                quantity: 1,
                unit_price: n.money().display(),
                amount: n.money().display(),
            }];
            doc.totals = vec![("Credited".into(), n.money().display())];
            doc.payment = format!(
                "Refunded to the original payment method on {}.",
                day(n.created_at)
            );
            format!("{}.pdf", n.number)
        }
    };
    let bytes = tokio::task::spawn_blocking(move || pdf::render(&doc))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::internal(anyhow::anyhow!("drawing the PDF: {e}")))?;
    Ok(Pdf { file_name, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_printed() {
        assert_eq!(format(Series::Invoice, 2026, 123), "INV-2026-000123");
        assert_eq!(format(Series::CreditNote, 2027, 1), "CN-2027-000001");
        assert_eq!(format(Series::Invoice, 2026, 1_234_567), "INV-2026-1234567");
    }
}
