//! The order confirmation, to the client: what they bought and paid, with links to the order
//! and to their services.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame, OrderLine};
use crate::config::Config;
use crate::ids::OrderId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConfirmation {
    pub name: String,
    pub order_id: OrderId,
    pub order_number: String,
    pub items: Vec<OrderLine>,
    pub subtotal: String,
    pub discount: Option<String>,
    pub tax: Option<String>,
    pub total: String,
}

#[derive(Template)]
#[template(path = "emails/order_confirmation.html")]
struct OrderHtml<'a> {
    f: Frame<'a>,
    name: &'a str,
    order_number: &'a str,
    items: &'a [OrderLine],
    subtotal: &'a str,
    discount: Option<&'a str>,
    tax: Option<&'a str>,
    total: &'a str,
    order_url: String,
    services_url: String,
}

#[derive(Template)]
#[template(path = "emails/order_confirmation.txt")]
struct OrderText<'a> {
    f: Frame<'a>,
    name: &'a str,
    order_number: &'a str,
    items: &'a [OrderLine],
    subtotal: &'a str,
    discount: Option<&'a str>,
    tax: Option<&'a str>,
    total: &'a str,
    order_url: String,
    services_url: String,
}

impl OrderConfirmation {
    /// The client's own view of the order, not the admin's.
    fn order_url(&self, config: &Config) -> String {
        config.url_for(&format!("/store/orders/{}", self.order_id))
    }
}

impl Email for OrderConfirmation {
    fn subject(&self, _: &Config) -> String {
        format!("Your order {} is confirmed", self.order_number)
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        OrderHtml {
            f: Frame::new(config),
            name: &self.name,
            order_number: &self.order_number,
            items: &self.items,
            subtotal: &self.subtotal,
            discount: self.discount.as_deref(),
            tax: self.tax.as_deref(),
            total: &self.total,
            order_url: self.order_url(config),
            services_url: config.url_for("/my/services"),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        OrderText {
            f: Frame::new(config),
            name: &self.name,
            order_number: &self.order_number,
            items: &self.items,
            subtotal: &self.subtotal,
            discount: self.discount.as_deref(),
            tax: self.tax.as_deref(),
            total: &self.total,
            order_url: self.order_url(config),
            services_url: config.url_for("/my/services"),
        }
        .render()
    }
}
