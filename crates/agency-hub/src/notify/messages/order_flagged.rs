//! The order-flagged email, to every admin: Stripe's amount does not match an order, which is
//! held for their review.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;
use crate::ids::OrderId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFlagged {
    pub order_id: OrderId,
    pub order_number: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "emails/order_flagged.html")]
struct FlaggedHtml<'a> {
    f: Frame<'a>,
    order_number: &'a str,
    reason: &'a str,
    order_url: String,
}

#[derive(Template)]
#[template(path = "emails/order_flagged.txt")]
struct FlaggedText<'a> {
    f: Frame<'a>,
    order_number: &'a str,
    reason: &'a str,
    order_url: String,
}

impl OrderFlagged {
    /// The admin's view of the order, where the review happens.
    fn order_url(&self, config: &Config) -> String {
        config.url_for(&format!("/admin/orders/{}", self.order_id))
    }
}

impl Email for OrderFlagged {
    fn subject(&self, _: &Config) -> String {
        format!("Order {} needs a review", self.order_number)
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        FlaggedHtml {
            f: Frame::new(config),
            order_number: &self.order_number,
            reason: &self.reason,
            order_url: self.order_url(config),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        FlaggedText {
            f: Frame::new(config),
            order_number: &self.order_number,
            reason: &self.reason,
            order_url: self.order_url(config),
        }
        .render()
    }
}
