//! The subscription emails, to the client: started, renewed (with the invoice), payment failed
//! (with Stripe's page to pay), cancellation scheduled, ended. One message with what happened;
//! the templates word each.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;

/// What happened to the subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionEvent {
    Started,
    Renewed,
    PaymentFailed,
    CancellationScheduled,
    Ended,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionNotice {
    pub event: SubscriptionEvent,
    pub name: String,
    pub service_name: String,
    /// "$149.00 every month".
    pub terms: String,
    /// What was charged or is due ("$149.00"), when the event is about money.
    pub amount: Option<String>,
    /// The day it renews, ends or ended, as people read it ("March 3, 2027").
    pub date: Option<String>,
    /// Stripe's page of the invoice: to pay it, or to see and download it.
    pub invoice_url: Option<String>,
}

impl SubscriptionNotice {
    pub fn kind(&self) -> &'static str {
        match self.event {
            SubscriptionEvent::Started => "subscription_started",
            SubscriptionEvent::Renewed => "subscription_renewed",
            SubscriptionEvent::PaymentFailed => "subscription_payment_failed",
            SubscriptionEvent::CancellationScheduled => "subscription_cancellation_scheduled",
            SubscriptionEvent::Ended => "subscription_ended",
        }
    }
}

#[derive(Template)]
#[template(path = "emails/subscription.html")]
struct Html<'a> {
    f: Frame<'a>,
    n: &'a SubscriptionNotice,
    e: &'static str,
    page_url: String,
}

#[derive(Template)]
#[template(path = "emails/subscription.txt")]
struct Text<'a> {
    f: Frame<'a>,
    n: &'a SubscriptionNotice,
    e: &'static str,
    page_url: String,
}

impl SubscriptionNotice {
    /// What happened, in a line (the email's subject, the notification's title).
    pub fn headline(&self) -> String {
        let s = &self.service_name;
        match self.event {
            SubscriptionEvent::Started => format!("Your {s} subscription has started"),
            SubscriptionEvent::Renewed => format!("Your {s} subscription renewed"),
            SubscriptionEvent::PaymentFailed => {
                format!("Payment for your {s} subscription failed: please pay the invoice")
            }
            SubscriptionEvent::CancellationScheduled => {
                format!("Your {s} subscription will end")
            }
            SubscriptionEvent::Ended => format!("Your {s} subscription has ended"),
        }
    }
}

impl Email for SubscriptionNotice {
    fn subject(&self, _: &Config) -> String {
        self.headline()
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        Html {
            f: Frame::new(config),
            n: self,
            e: self.kind().trim_start_matches("subscription_"),
            page_url: config.url_for("/store/subscriptions"),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        Text {
            f: Frame::new(config),
            n: self,
            e: self.kind().trim_start_matches("subscription_"),
            page_url: config.url_for("/store/subscriptions"),
        }
        .render()
    }
}
