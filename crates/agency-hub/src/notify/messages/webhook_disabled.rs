//! The webhook-disabled email, to the endpoint's admin: it failed for three days and was
//! turned off.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDisabled {
    pub endpoint_id: i64,
    pub url: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "emails/webhook_disabled.html")]
struct DisabledHtml<'a> {
    f: Frame<'a>,
    m: &'a WebhookDisabled,
    endpoint_url: String,
}

#[derive(Template)]
#[template(path = "emails/webhook_disabled.txt")]
struct DisabledText<'a> {
    f: Frame<'a>,
    m: &'a WebhookDisabled,
    endpoint_url: String,
}

impl WebhookDisabled {
    /// The endpoint's page, with its log and the switch to turn it on again.
    fn page(&self, config: &Config) -> String {
        config.url_for(&format!("/admin/webhooks/{}", self.endpoint_id))
    }
}

impl Email for WebhookDisabled {
    fn subject(&self, _: &Config) -> String {
        "A webhook endpoint was turned off".to_string()
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        DisabledHtml {
            f: Frame::new(config),
            m: self,
            endpoint_url: self.page(config),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        DisabledText {
            f: Frame::new(config),
            m: self,
            endpoint_url: self.page(config),
        }
        .render()
    }
}
