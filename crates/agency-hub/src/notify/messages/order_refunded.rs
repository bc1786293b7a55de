//! The order-refunded email, to every manager and admin: an order was refunded; the services it
//! cancelled, and those whose work had started, left for them to decide.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;
use crate::ids::OrderId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRefunded {
    pub order_id: OrderId,
    pub order_number: String,
    pub client_name: String,
    pub amount: String,
    pub full: bool,
    pub cancelled: Vec<String>,
    pub to_review: Vec<String>,
}

#[derive(Template)]
#[template(path = "emails/order_refunded.html")]
struct OrderRefundedHtml<'a> {
    f: Frame<'a>,
    order_number: &'a str,
    client_name: &'a str,
    amount: &'a str,
    full: bool,
    cancelled: &'a [String],
    to_review: &'a [String],
    order_url: String,
}

#[derive(Template)]
#[template(path = "emails/order_refunded.txt")]
struct OrderRefundedText<'a> {
    f: Frame<'a>,
    order_number: &'a str,
    client_name: &'a str,
    amount: &'a str,
    full: bool,
    cancelled: &'a [String],
    to_review: &'a [String],
    order_url: String,
}

impl OrderRefunded {
    /// The admin's view of the order: staff decide there about the services to review.
    fn order_url(&self, config: &Config) -> String {
        config.url_for(&format!("/admin/orders/{}", self.order_id))
    }
}

impl Email for OrderRefunded {
    fn subject(&self, _: &Config) -> String {
        format!("Order {} was refunded {}", self.order_number, self.amount)
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        OrderRefundedHtml {
            f: Frame::new(config),
            order_number: &self.order_number,
            client_name: &self.client_name,
            amount: &self.amount,
            full: self.full,
            cancelled: &self.cancelled,
            to_review: &self.to_review,
            order_url: self.order_url(config),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        OrderRefundedText {
            f: Frame::new(config),
            order_number: &self.order_number,
            client_name: &self.client_name,
            amount: &self.amount,
            full: self.full,
            cancelled: &self.cancelled,
            to_review: &self.to_review,
            order_url: self.order_url(config),
        }
        .render()
    }
}
