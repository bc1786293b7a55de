//! The emails the app sends, each with an HTML and a plain-text template (one file per email
//! here). A message carries the data its templates need (amounts already formatted in their
//! currency); links are built from `APP_URL` when it is rendered.

mod answers_needed;
mod new_messages;
mod new_service;
mod order_confirmation;
mod order_flagged;
mod order_refunded;
mod password_reset;
mod payment_failed;
mod refund_issued;
mod subscription;
mod webhook_disabled;
mod welcome;

pub use answers_needed::AnswersNeeded;
pub use new_messages::{NewMessages, Quoted};
pub use new_service::NewService;
pub use order_confirmation::OrderConfirmation;
pub use order_flagged::OrderFlagged;
pub use order_refunded::OrderRefunded;
pub use password_reset::PasswordReset;
pub use payment_failed::PaymentFailed;
pub use refund_issued::RefundIssued;
pub use subscription::{SubscriptionEvent, SubscriptionNotice};
pub use webhook_disabled::WebhookDisabled;
pub use welcome::Welcome;

use serde::{Deserialize, Serialize};

use crate::config::Config;

/// One line of an order in an email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub name: String,
    pub quantity: i64,
    pub unit_price: String,
    pub total: String,
    /// A recurring service's terms: "$298.00 today, then $298.00 every month".
    #[serde(default)]
    pub terms: Option<String>,
}

/// What the outbox stores of an email (its JSON is the `emails.payload` column, so queued emails
/// must keep reading back: the variants, their fields and `kind` names stay as they are).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// A new user: how to sign in, with a link to set their password when they have none yet.
    Welcome(Welcome),
    /// To the client: what they bought and paid.
    OrderConfirmation(OrderConfirmation),
    /// To every manager and admin: a purchase made a service.
    NewServiceFromPurchase(NewService),
    /// To every admin: Stripe's amount does not match an order, which is held for review.
    OrderFlagged(OrderFlagged),
    /// To the client: the payment did not go through.
    PaymentFailed(PaymentFailed),
    /// To every manager and admin: an order was refunded; the services it cancelled, and those
    /// whose work had started, left for them to decide.
    OrderRefunded(OrderRefunded),
    /// To the client: money came back, and which services it affects.
    RefundIssued(RefundIssued),
    /// To the client: a subscription started, renewed, failed to renew, will end, or ended.
    Subscription(SubscriptionNotice),
    /// To the client's people: a service waits for answers to its questions.
    AnswersNeeded(AnswersNeeded),
    /// New messages on a service (one, or a digest), to the client's people or its staff.
    NewMessages(NewMessages),
    /// "Forgot password": a one-time link to choose a new one.
    PasswordReset(PasswordReset),
    /// To the endpoint's admin: a webhook endpoint failed for three days and was turned off.
    WebhookDisabled(WebhookDisabled),
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

impl<'a> Frame<'a> {
    fn new(config: &'a Config) -> Self {
        Self {
            agency: &config.agency_name,
            home_url: config.url_for("/dashboard"),
        }
    }
}

/// One email, borrowing its message's data: its subject and its two bodies, each body from its
/// own template.
trait Email {
    fn subject(&self, config: &Config) -> String;
    fn html(&self, config: &Config) -> askama::Result<String>;
    fn text(&self, config: &Config) -> askama::Result<String>;
}

impl Message {
    /// The kind, as stored in the outbox.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Welcome(_) => "welcome",
            Self::OrderConfirmation(_) => "order_confirmation",
            Self::NewServiceFromPurchase(_) => "new_service",
            Self::OrderFlagged(_) => "order_flagged",
            Self::PaymentFailed(_) => "payment_failed",
            Self::RefundIssued(_) => "refund_issued",
            Self::OrderRefunded(_) => "order_refunded",
            Self::Subscription(m) => m.kind(),
            Self::AnswersNeeded(_) => "answers_needed",
            Self::NewMessages(_) => "new_messages",
            Self::PasswordReset(_) => "password_reset",
            Self::WebhookDisabled(_) => "webhook_disabled",
        }
    }

    pub fn render(&self, config: &Config) -> Result<Rendered, askama::Error> {
        let email = self.email();
        Ok(Rendered {
            subject: email.subject(config),
            html: email.html(config)?,
            text: email.text(config)?,
        })
    }

    /// The email this message is.
    fn email(&self) -> &dyn Email {
        match self {
            Self::Welcome(m) => m,
            Self::OrderConfirmation(m) => m,
            Self::NewServiceFromPurchase(m) => m,
            Self::OrderFlagged(m) => m,
            Self::PaymentFailed(m) => m,
            Self::OrderRefunded(m) => m,
            Self::RefundIssued(m) => m,
            Self::Subscription(m) => m,
            Self::AnswersNeeded(m) => m,
            Self::NewMessages(m) => m,
            Self::PasswordReset(m) => m,
            Self::WebhookDisabled(m) => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrderId, ServiceId};
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
        let r = Message::OrderConfirmation(OrderConfirmation {
            name: "Ana".into(),
            order_id: OrderId(42),
            order_number: "AH-2026-000042".into(),
            items: vec![
                OrderLine {
                    name: "Logo Design".into(),
                    quantity: 2,
                    unit_price: "$499.00".into(),
                    total: "$998.00".into(),
                    terms: None,
                },
                OrderLine {
                    name: "SEO Audit".into(),
                    quantity: 1,
                    unit_price: "$350.00".into(),
                    total: "$350.00".into(),
                    terms: Some("$350.00 today, then $350.00 every month".into()),
                },
            ],
            subtotal: "$1,348.00".into(),
            discount: Some("-$100.00".into()),
            tax: Some("$124.80".into()),
            total: "$1,372.80".into(),
        })
        .render(&config())
        .unwrap();
        assert_eq!(r.subject, "Your order AH-2026-000042 is confirmed");
        for needle in [
            "Logo Design",
            "$998.00",
            "SEO Audit",
            "$350.00 today, then $350.00 every month",
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
    fn each_subscription_email_says_what_happened_with_its_links() {
        let notice = |event| {
            Message::Subscription(SubscriptionNotice {
                event,
                name: "Ana".into(),
                service_name: "Website Care".into(),
                terms: "$149.00 every month".into(),
                amount: Some("$149.00".into()),
                date: Some("March 3, 2027".into()),
                invoice_url: Some("https://pay.example/i/in_1".into()),
            })
            .render(&config())
            .unwrap()
        };
        let failed = notice(SubscriptionEvent::PaymentFailed);
        assert!(
            failed
                .subject
                .contains("Payment for your Website Care subscription failed")
        );
        for needle in [
            "$149.00",
            "Pay the invoice",
            "https://pay.example/i/in_1",
            "https://portal.example.com/store/subscriptions",
        ] {
            both(&failed, needle);
        }
        let cases = [
            (
                SubscriptionEvent::Started,
                "has started",
                "It renews on March 3, 2027",
            ),
            (SubscriptionEvent::Renewed, "renewed", "until March 3, 2027"),
            (
                SubscriptionEvent::CancellationScheduled,
                "will end",
                "it ends on March 3, 2027",
            ),
            (
                SubscriptionEvent::Ended,
                "has ended",
                "Nothing more will be charged",
            ),
        ];
        for (event, subject, body) in cases {
            let r = notice(event);
            assert!(r.subject.contains(subject), "{}", r.subject);
            both(&r, body);
        }
    }

    #[test]
    fn the_welcome_email_links_to_setting_a_password_or_signing_in() {
        let r = Message::Welcome(Welcome {
            name: "Ana".into(),
            email: "ana@acme.example".into(),
            set_password_token: Some("tok123".into()),
            invited_by: None,
        })
        .render(&config())
        .unwrap();
        assert_eq!(r.subject, "Welcome to Northwind Studio");
        both(&r, "https://portal.example.com/password/set?token=tok123");
        both(&r, "ana@acme.example");
        both(&r, "Northwind Studio created an account for you");
        let r = Message::Welcome(Welcome {
            name: "Ana".into(),
            email: "ana@acme.example".into(),
            set_password_token: None,
            invited_by: Some("Bea Acme".into()),
        })
        .render(&config())
        .unwrap();
        both(&r, "https://portal.example.com/login");
        both(&r, "Bea Acme invited you to Northwind Studio");
    }

    #[test]
    fn the_answers_reminder_lists_the_questions_and_links_to_them() {
        let r = Message::AnswersNeeded(AnswersNeeded {
            name: "Ana".into(),
            service_id: ServiceId(9),
            service_name: "Logo Design".into(),
            questions: vec!["Tell us about your brand".into(), "Logo & colours".into()],
        })
        .render(&config())
        .unwrap();
        assert!(r.subject.contains("Logo Design"));
        both(&r, "https://portal.example.com/my/services/9#questions");
        both(&r, "Tell us about your brand");
        assert!(r.html.contains("Logo &#38; colours") && r.text.contains("Logo & colours"));
    }

    #[test]
    fn staff_payment_and_refund_emails_say_what_happened_and_what_to_do() {
        let r = Message::NewServiceFromPurchase(NewService {
            client_name: "Acme Corp".into(),
            service_id: ServiceId(7),
            service_name: "Logo Design".into(),
            order_number: "AH-2026-000042".into(),
            answers: vec![("Name on the logo".into(), "Acme & Sons".into())],
        })
        .render(&config())
        .unwrap();
        assert!(r.subject.contains("Logo Design") && r.subject.contains("Acme Corp"));
        both(&r, "Name on the logo");
        assert!(r.html.contains("Acme &#38; Sons") && r.text.contains("Acme & Sons"));
        both(&r, "https://portal.example.com/services/7");

        let r = Message::PaymentFailed(PaymentFailed {
            name: "Ana".into(),
            order_number: "AH-1".into(),
            reason: "Your card was declined.".into(),
        })
        .render(&config())
        .unwrap();
        both(&r, "Your card was declined.");
        both(&r, "https://portal.example.com/store/cart");

        let r = Message::RefundIssued(RefundIssued {
            name: "Ana".into(),
            order_id: OrderId(42),
            order_number: "AH-1".into(),
            amount: "$499.00".into(),
            full: false,
            services_affected: vec!["Logo Design".into()],
        })
        .render(&config())
        .unwrap();
        assert_eq!(r.subject, "A refund of $499.00 for order AH-1");
        both(&r, "Logo Design");
        both(&r, "https://portal.example.com/store/orders/42");
    }

    #[test]
    fn names_are_escaped_in_html_but_not_in_text() {
        let r = Message::PaymentFailed(PaymentFailed {
            name: "<b>Ana</b>".into(),
            order_number: "AH-1".into(),
            reason: "x".into(),
        })
        .render(&config())
        .unwrap();
        assert!(r.html.contains("&#60;b&#62;Ana") && !r.html.contains("<b>Ana"));
        assert!(r.text.contains("<b>Ana</b>"));
    }

    #[test]
    fn queued_payloads_still_read_back() {
        // The outbox holds this JSON for emails not sent yet: it must keep reading back.
        let stored = serde_json::json!({
            "kind": "order_refunded",
            "order_id": 42,
            "order_number": "AH-1",
            "client_name": "Acme Corp",
            "amount": "$499.00",
            "full": false,
            "cancelled": ["Logo Design"],
            "to_review": [],
        });
        let message: Message = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(message.kind(), "order_refunded");
        assert_eq!(serde_json::to_value(&message).unwrap(), stored);
        let r = message.render(&config()).unwrap();
        assert_eq!(r.subject, "Order AH-1 was refunded $499.00");
        both(&r, "https://portal.example.com/admin/orders/42");
    }

    #[test]
    fn the_webhook_disabled_email_names_the_endpoint_and_links_its_log() {
        let r = Message::WebhookDisabled(WebhookDisabled {
            endpoint_id: 7,
            url: "https://hooks.example.com/in".into(),
            reason: "Failing since 2026-11-29 09:00 UTC; the last answer was HTTP 500".into(),
        })
        .render(&config())
        .unwrap();
        assert_eq!(r.subject, "A webhook endpoint was turned off");
        both(&r, "https://hooks.example.com/in");
        both(&r, "the last answer was HTTP 500");
        both(&r, "https://portal.example.com/admin/webhooks/7");
    }
}
