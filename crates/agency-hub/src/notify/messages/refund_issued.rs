//! The refund-issued email, to the client: money came back, and which services it affects.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;
use crate::ids::OrderId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundIssued {
    pub name: String,
    pub order_id: OrderId,
    pub order_number: String,
    pub amount: String,
    pub full: bool,
    pub services_affected: Vec<String>,
}

#[derive(Template)]
#[template(path = "emails/refund_issued.html")]
struct RefundHtml<'a> {
    f: Frame<'a>,
    name: &'a str,
    order_number: &'a str,
    amount: &'a str,
    full: bool,
    services_affected: &'a [String],
    order_url: String,
}

#[derive(Template)]
#[template(path = "emails/refund_issued.txt")]
struct RefundText<'a> {
    f: Frame<'a>,
    name: &'a str,
    order_number: &'a str,
    amount: &'a str,
    full: bool,
    services_affected: &'a [String],
    order_url: String,
}

impl RefundIssued {
    /// The client's own view of the order, not the admin's.
    fn order_url(&self, config: &Config) -> String {
        config.url_for(&format!("/store/orders/{}", self.order_id))
    }
}

impl Email for RefundIssued {
    fn subject(&self, _: &Config) -> String {
        format!(
            "A refund of {} for order {}",
            self.amount, self.order_number
        )
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        RefundHtml {
            f: Frame::new(config),
            name: &self.name,
            order_number: &self.order_number,
            amount: &self.amount,
            full: self.full,
            services_affected: &self.services_affected,
            order_url: self.order_url(config),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        RefundText {
            f: Frame::new(config),
            name: &self.name,
            order_number: &self.order_number,
            amount: &self.amount,
            full: self.full,
            services_affected: &self.services_affected,
            order_url: self.order_url(config),
        }
        .render()
    }
}
