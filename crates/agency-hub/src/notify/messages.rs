//! The emails the app sends, each with an HTML and a plain-text template. A message carries the
//! data its templates need (amounts already formatted in their currency); links are built from
//! `APP_URL` when it is rendered.

use askama::Template;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ids::{OrderId, ServiceId};

/// One line of an order in an email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub total: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// A new user: how to sign in, with a link to set their password when they have none yet.
    Welcome {
        name: String,
        email: String,
        /// The one-time token of the set-password link.
        set_password_token: Option<String>,
    },
    /// To the client: what they bought and paid.
    OrderConfirmation {
        name: String,
        order_id: OrderId,
        order_number: String,
        items: Vec<OrderLine>,
        subtotal: String,
        discount: Option<String>,
        tax: Option<String>,
        total: String,
    },
    /// To every manager and admin: a purchase made a service.
    NewServiceFromPurchase {
        client_name: String,
        service_id: ServiceId,
        service_name: String,
        order_number: String,
    },
    /// To every admin: Stripe's amount does not match an order, which is held for review.
    OrderFlagged {
        order_id: OrderId,
        order_number: String,
        reason: String,
    },
    /// To the client: the payment did not go through.
    PaymentFailed {
        name: String,
        order_number: String,
        reason: String,
    },
    /// To every manager and admin: an order was refunded; the services it cancelled, and those
    /// whose work had started, left for them to decide.
    OrderRefunded {
        order_id: OrderId,
        order_number: String,
        client_name: String,
        amount: String,
        full: bool,
        cancelled: Vec<String>,
        to_review: Vec<String>,
    },
    /// To the client: money came back, and which services it affects.
    RefundIssued {
        name: String,
        order_id: OrderId,
        order_number: String,
        amount: String,
        full: bool,
        services_affected: Vec<String>,
    },
}

/// An email ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// What every email's layout shows.
struct Frame<'a> {
    agency: &'a str,
    home_url: String,
}

#[derive(Template)]
#[template(path = "emails/welcome.html")]
struct WelcomeHtml<'a> {
    f: Frame<'a>,
    name: &'a str,
    email: &'a str,
    link: String,
    set_password: bool,
}

#[derive(Template)]
#[template(path = "emails/welcome.txt")]
struct WelcomeText<'a> {
    f: Frame<'a>,
    name: &'a str,
    email: &'a str,
    link: String,
    set_password: bool,
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

#[derive(Template)]
#[template(path = "emails/new_service.html")]
struct NewServiceHtml<'a> {
    f: Frame<'a>,
    client_name: &'a str,
    service_name: &'a str,
    order_number: &'a str,
    service_url: String,
}

#[derive(Template)]
#[template(path = "emails/new_service.txt")]
struct NewServiceText<'a> {
    f: Frame<'a>,
    client_name: &'a str,
    service_name: &'a str,
    order_number: &'a str,
    service_url: String,
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

impl Message {
    /// The kind, as stored in the outbox.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::OrderConfirmation { .. } => "order_confirmation",
            Self::NewServiceFromPurchase { .. } => "new_service",
            Self::OrderFlagged { .. } => "order_flagged",
            Self::PaymentFailed { .. } => "payment_failed",
            Self::RefundIssued { .. } => "refund_issued",
            Self::OrderRefunded { .. } => "order_refunded",
        }
    }

    pub fn render(&self, config: &Config) -> Result<Rendered, askama::Error> {
        let frame = || Frame {
            agency: &config.agency_name,
            home_url: config.url_for("/dashboard"),
        };
        let agency = &config.agency_name;
        let (subject, html, text) = match self {
            Self::Welcome {
                name,
                email,
                set_password_token,
            } => {
                let link = match set_password_token {
                    Some(t) => config.url_for(&format!("/password/set?token={t}")),
                    None => config.url_for("/login"),
                };
                let set_password = set_password_token.is_some();
                (
                    format!("Welcome to {agency}"),
                    WelcomeHtml {
                        f: frame(),
                        name,
                        email,
                        link: link.clone(),
                        set_password,
                    }
                    .render()?,
                    WelcomeText {
                        f: frame(),
                        name,
                        email,
                        link,
                        set_password,
                    }
                    .render()?,
                )
            }
            Self::OrderConfirmation {
                name,
                order_id,
                order_number,
                items,
                subtotal,
                discount,
                tax,
                total,
            } => {
                let order_url = config.url_for(&format!("/store/orders/{order_id}"));
                let services_url = config.url_for("/my/services");
                (
                    format!("Your order {order_number} is confirmed"),
                    OrderHtml {
                        f: frame(),
                        name,
                        order_number,
                        items,
                        subtotal,
                        discount: discount.as_deref(),
                        tax: tax.as_deref(),
                        total,
                        order_url: order_url.clone(),
                        services_url: services_url.clone(),
                    }
                    .render()?,
                    OrderText {
                        f: frame(),
                        name,
                        order_number,
                        items,
                        subtotal,
                        discount: discount.as_deref(),
                        tax: tax.as_deref(),
                        total,
                        order_url,
                        services_url,
                    }
                    .render()?,
                )
            }
            Self::NewServiceFromPurchase {
                client_name,
                service_id,
                service_name,
                order_number,
            } => {
                let service_url = config.url_for(&format!("/services/{service_id}"));
                (
                    format!("New service from a purchase: {service_name} for {client_name}"),
                    NewServiceHtml {
                        f: frame(),
                        client_name,
                        service_name,
                        order_number,
                        service_url: service_url.clone(),
                    }
                    .render()?,
                    NewServiceText {
                        f: frame(),
                        client_name,
                        service_name,
                        order_number,
                        service_url,
                    }
                    .render()?,
                )
            }
            Self::OrderFlagged {
                order_id,
                order_number,
                reason,
            } => {
                let order_url = config.url_for(&format!("/admin/orders/{order_id}"));
                (
                    format!("Order {order_number} needs a review"),
                    FlaggedHtml {
                        f: frame(),
                        order_number,
                        reason,
                        order_url: order_url.clone(),
                    }
                    .render()?,
                    FlaggedText {
                        f: frame(),
                        order_number,
                        reason,
                        order_url,
                    }
                    .render()?,
                )
            }
            Self::PaymentFailed {
                name,
                order_number,
                reason,
            } => {
                let cart_url = config.url_for("/store/cart");
                (
                    format!("Your payment for order {order_number} did not go through"),
                    PaymentFailedHtml {
                        f: frame(),
                        name,
                        order_number,
                        reason,
                        cart_url: cart_url.clone(),
                    }
                    .render()?,
                    PaymentFailedText {
                        f: frame(),
                        name,
                        order_number,
                        reason,
                        cart_url,
                    }
                    .render()?,
                )
            }
            Self::OrderRefunded {
                order_id,
                order_number,
                client_name,
                amount,
                full,
                cancelled,
                to_review,
            } => {
                let order_url = config.url_for(&format!("/admin/orders/{order_id}"));
                (
                    format!("Order {order_number} was refunded {amount}"),
                    OrderRefundedHtml {
                        f: frame(),
                        order_number,
                        client_name,
                        amount,
                        full: *full,
                        cancelled,
                        to_review,
                        order_url: order_url.clone(),
                    }
                    .render()?,
                    OrderRefundedText {
                        f: frame(),
                        order_number,
                        client_name,
                        amount,
                        full: *full,
                        cancelled,
                        to_review,
                        order_url,
                    }
                    .render()?,
                )
            }
            Self::RefundIssued {
                name,
                order_id,
                order_number,
                amount,
                full,
                services_affected,
            } => {
                let order_url = config.url_for(&format!("/store/orders/{order_id}"));
                (
                    format!("A refund of {amount} for order {order_number}"),
                    RefundHtml {
                        f: frame(),
                        name,
                        order_number,
                        amount,
                        full: *full,
                        services_affected,
                        order_url: order_url.clone(),
                    }
                    .render()?,
                    RefundText {
                        f: frame(),
                        name,
                        order_number,
                        amount,
                        full: *full,
                        services_affected,
                        order_url,
                    }
                    .render()?,
                )
            }
        };
        Ok(Rendered {
            subject,
            html,
            text,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config() -> Config {
        let vars: HashMap<&str, &str> = [
            ("APP_URL", "https://portal.example.com"),
            ("AGENCY_NAME", "Northwind Studio"),
        ]
        .into();
        Config::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap()
    }

    fn both(r: &Rendered, needle: &str) {
        assert!(
            r.html.contains(needle),
            "HTML lacks {needle:?}:\n{}",
            r.html
        );
        assert!(
            r.text.contains(needle),
            "text lacks {needle:?}:\n{}",
            r.text
        );
    }

    #[test]
    fn the_order_confirmation_lists_items_totals_and_links() {
        let r = Message::OrderConfirmation {
            name: "Ana".into(),
            order_id: OrderId(42),
            order_number: "AH-2026-000042".into(),
            items: vec![
                OrderLine {
                    name: "Logo Design".into(),
                    quantity: 2,
                    unit_price: "$499.00".into(),
                    total: "$998.00".into(),
                },
                OrderLine {
                    name: "SEO Audit".into(),
                    quantity: 1,
                    unit_price: "$350.00".into(),
                    total: "$350.00".into(),
                },
            ],
            subtotal: "$1,348.00".into(),
            discount: Some("-$100.00".into()),
            tax: Some("$124.80".into()),
            total: "$1,372.80".into(),
        }
        .render(&config())
        .unwrap();
        assert_eq!(r.subject, "Your order AH-2026-000042 is confirmed");
        for needle in [
            "Logo Design",
            "$998.00",
            "SEO Audit",
            "$1,348.00",
            "-$100.00",
            "$124.80",
            "$1,372.80",
            "https://portal.example.com/store/orders/42",
            "https://portal.example.com/my/services",
            "Northwind Studio",
        ] {
            both(&r, needle);
        }
    }

    #[test]
    fn the_welcome_email_links_to_setting_a_password_or_signing_in() {
        let r = Message::Welcome {
            name: "Ana".into(),
            email: "ana@acme.example".into(),
            set_password_token: Some("tok123".into()),
        }
        .render(&config())
        .unwrap();
        assert_eq!(r.subject, "Welcome to Northwind Studio");
        both(&r, "https://portal.example.com/password/set?token=tok123");
        both(&r, "ana@acme.example");
        let r = Message::Welcome {
            name: "Ana".into(),
            email: "ana@acme.example".into(),
            set_password_token: None,
        }
        .render(&config())
        .unwrap();
        both(&r, "https://portal.example.com/login");
    }

    #[test]
    fn staff_payment_and_refund_emails_say_what_happened_and_what_to_do() {
        let r = Message::NewServiceFromPurchase {
            client_name: "Acme Corp".into(),
            service_id: ServiceId(7),
            service_name: "Logo Design".into(),
            order_number: "AH-2026-000042".into(),
        }
        .render(&config())
        .unwrap();
        assert!(r.subject.contains("Logo Design") && r.subject.contains("Acme Corp"));
        both(&r, "https://portal.example.com/services/7");

        let r = Message::PaymentFailed {
            name: "Ana".into(),
            order_number: "AH-1".into(),
            reason: "Your card was declined.".into(),
        }
        .render(&config())
        .unwrap();
        both(&r, "Your card was declined.");
        both(&r, "https://portal.example.com/store/cart");

        let r = Message::RefundIssued {
            name: "Ana".into(),
            order_id: OrderId(42),
            order_number: "AH-1".into(),
            amount: "$499.00".into(),
            full: false,
            services_affected: vec!["Logo Design".into()],
        }
        .render(&config())
        .unwrap();
        assert_eq!(r.subject, "A refund of $499.00 for order AH-1");
        both(&r, "Logo Design");
        both(&r, "https://portal.example.com/store/orders/42");
    }

    #[test]
    fn names_are_escaped_in_html_but_not_in_text() {
        let r = Message::PaymentFailed {
            name: "<b>Ana</b>".into(),
            order_number: "AH-1".into(),
            reason: "x".into(),
        }
        .render(&config())
        .unwrap();
        assert!(r.html.contains("&#60;b&#62;Ana") && !r.html.contains("<b>Ana"));
        assert!(r.text.contains("<b>Ana</b>"));
    }
}
