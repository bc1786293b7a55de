//! The payment-failed email, to the client: the payment did not go through, and their cart is
//! where to try again.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub name: String,
    pub order_number: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "emails/payment_failed.html")]
struct PaymentFailedHtml<'a> {
    f: Frame<'a>,
    name: &'a str,
    order_number: &'a str,
    reason: &'a str,
    cart_url: String,
}

#[derive(Template)]
#[template(path = "emails/payment_failed.txt")]
struct PaymentFailedText<'a> {
    f: Frame<'a>,
    name: &'a str,
    order_number: &'a str,
    reason: &'a str,
    cart_url: String,
}

impl Email for PaymentFailed {
    fn subject(&self, _: &Config) -> String {
        format!(
            "Your payment for order {} did not go through",
            self.order_number
        )
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        PaymentFailedHtml {
            f: Frame::new(config),
            name: &self.name,
            order_number: &self.order_number,
            reason: &self.reason,
            cart_url: config.url_for("/store/cart"),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        PaymentFailedText {
            f: Frame::new(config),
            name: &self.name,
            order_number: &self.order_number,
            reason: &self.reason,
            cart_url: config.url_for("/store/cart"),
        }
        .render()
    }
}
