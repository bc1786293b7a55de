//! Each line's discount and tax as Stripe computed them, and the promotion code behind the
//! discount (also one typed on Stripe's page). The webhook's Checkout Session carries only
//! totals; its line items (with their taxes and discounts) are read after payment, outside the
//! fulfilment's transaction, by this job, which the fulfilment queues when the session had a
//! discount or tax.

use std::collections::BTreeMap;

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::db::entities::{order, order_item};
use crate::ids::{OrderId, OrderItemId};
use crate::jobs::{Enqueue, Job};
use crate::stripe::StripeClient;
use crate::stripe::client::LineOwner;

/// One tax on an order item, by rate, as stored in `order_items.taxes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineTax {
    /// "VAT", "Sales Tax".
    pub name: String,
    pub percentage: f64,
    /// Included in the price rather than added to it.
    pub inclusive: bool,
    pub amount: i64,
}

impl LineTax {
    pub fn list(json: &serde_json::Value) -> Vec<Self> {
        serde_json::from_value(json.clone()).unwrap_or_default()
    }

    /// "VAT 20%", "Sales Tax 8.875%".
    pub fn label(&self) -> String {
        let rate = format!("{:.3}", self.percentage);
        let rate = rate.trim_end_matches('0').trim_end_matches('.');
        format!("{} {rate}%", self.name)
    }
}

/// Reads the session's line items and stores each order item's share.
#[derive(Debug, Serialize, Deserialize)]
pub struct ReadLineAmounts {
    pub order_id: OrderId,
    pub session_id: String,
}

impl ReadLineAmounts {
    pub fn enqueue(order_id: OrderId, session_id: &str) -> Enqueue {
        Enqueue::job(&Self {
            order_id,
            session_id: session_id.to_string(),
        })
        .dedupe_key(format!("order-line-amounts-{order_id}"))
    }
}

/// An order item's discount, tax and taxes by rate, summed over its lines at Stripe (a
/// recurring item and its setup fee are two).
#[derive(Default)]
struct Amounts {
    discount: i64,
    tax: i64,
    taxes: Vec<LineTax>,
}

impl Job for ReadLineAmounts {
    const KIND: &'static str = "orders.read_line_amounts";
    type Env = (Db, StripeClient);

    async fn run(self, (db, stripe): &(Db, StripeClient), _attempt: i32) -> anyhow::Result<()> {
        let lines = stripe.checkout_line_items(&self.session_id).await?;
        let items = super::items_of(db, self.order_id).await?;
        let mut by_item: BTreeMap<OrderItemId, Amounts> = BTreeMap::new();
        let code = lines
            .iter()
            .find_map(|l| l.promotion_code())
            .map(str::to_string);
        for line in lines {
            let item = match line.owner() {
                Some(LineOwner::Item(id)) => Some(id),
                Some(LineOwner::Template(t)) => {
                    items.iter().find(|i| i.template_id == t).map(|i| i.id)
                }
                None => None,
            };
            // A session made before its lines named what they are for: the order keeps its
            // totals only.
            let Some(item) = item else {
                tracing::warn!(
                    order.id = self.order_id.get(),
                    stripe.session_id = %self.session_id,
                    "a Checkout line names no order item; its amounts stay on the order only"
                );
                continue;
            };
            let a = by_item.entry(item).or_default();
            a.discount += line.amount_discount;
            a.tax += line.amount_tax;
            for t in line.taxes {
                add(
                    &mut a.taxes,
                    LineTax {
                        name: t.rate.display_name,
                        percentage: t.rate.percentage,
                        inclusive: t.rate.inclusive,
                        amount: t.amount,
                    },
                );
            }
        }
        let txn = db.write().await?;
        for (item, a) in by_item {
            order_item::Entity::update_many()
                .col_expr(order_item::Column::DiscountMinor, Expr::value(a.discount))
                .col_expr(order_item::Column::TaxMinor, Expr::value(a.tax))
                .col_expr(
                    order_item::Column::Taxes,
                    Expr::value(serde_json::to_value(&a.taxes)?),
                )
                .filter(order_item::Column::Id.eq(item))
                .filter(order_item::Column::OrderId.eq(self.order_id))
                .exec(&txn)
                .await?;
        }
        // A code typed on Stripe's page is recorded as one applied in our cart is.
        if let Some(code) = code {
            order::Entity::update_many()
                .col_expr(order::Column::PromotionCode, Expr::value(code))
                .filter(order::Column::Id.eq(self.order_id))
                .filter(order::Column::PromotionCode.is_null())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// An order's tax lines, labelled: by rate once Stripe's lines are read ("VAT 20%", or
/// "Includes VAT 20%" for a tax in the prices), else its total tax as "Tax"; none without tax.
pub fn tax_rows(
    order: &order::Model,
    items: &[order_item::Model],
) -> Vec<(String, crate::money::Money)> {
    let rates = by_rate(items);
    if rates.is_empty() {
        return (order.tax_minor > 0)
            .then(|| ("Tax".to_string(), order.money(order.tax_minor)))
            .into_iter()
            .collect();
    }
    rates
        .iter()
        .map(|t| {
            let label = if t.inclusive {
                format!("Includes {}", t.label())
            } else {
                t.label()
            };
            (label, order.money(t.amount))
        })
        .collect()
}

/// Taxes by rate over several items (an invoice's), in the order first met.
pub fn by_rate<'a>(items: impl IntoIterator<Item = &'a order_item::Model>) -> Vec<LineTax> {
    let mut all: Vec<LineTax> = Vec::new();
    for tax in items.into_iter().flat_map(|i| LineTax::list(&i.taxes)) {
        add(&mut all, tax);
    }
    all
}

/// Adds `tax` to the same rate's amount, or as a new rate.
fn add(all: &mut Vec<LineTax>, tax: LineTax) {
    match all.iter_mut().find(|x| {
        x.name == tax.name && x.percentage == tax.percentage && x.inclusive == tax.inclusive
    }) {
        Some(x) => x.amount += tax.amount,
        None => all.push(tax),
    }
}
