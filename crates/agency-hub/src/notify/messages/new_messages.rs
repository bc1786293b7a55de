//! New messages on a service: one email for one message (to those who want every message), or
//! a digest of those still unread (at most one per service every 10 minutes).

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;
use crate::ids::ServiceId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMessages {
    pub name: String,
    pub service_id: ServiceId,
    pub service_name: String,
    /// The reader is staff: the link is the staff's page.
    pub staff: bool,
    pub messages: Vec<Quoted>,
}

/// One message as the email quotes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quoted {
    pub author: String,
    /// When, as "2026-12-01 09:30 UTC".
    pub at: String,
    /// Markdown-lite source.
    pub body: String,
    /// A staff-only internal note.
    pub internal: bool,
}

impl Quoted {
    fn html(&self) -> String {
        crate::conversations::markup::to_html(&self.body)
    }
}

#[derive(Template)]
#[template(path = "emails/new_messages.html")]
struct Html<'a> {
    f: Frame<'a>,
    m: &'a NewMessages,
    url: String,
}

#[derive(Template)]
#[template(path = "emails/new_messages.txt")]
struct Text<'a> {
    f: Frame<'a>,
    m: &'a NewMessages,
    url: String,
}

impl NewMessages {
    fn url(&self, config: &Config) -> String {
        let page = if self.staff {
            format!("/services/{}#messages", self.service_id)
        } else {
            format!("/my/services/{}#messages", self.service_id)
        };
        config.url_for(&page)
    }
}

impl Email for NewMessages {
    fn subject(&self, _: &Config) -> String {
        match self.messages.as_slice() {
            [one] => format!("{} wrote on {}", one.author, self.service_name),
            many => format!("{} new messages on {}", many.len(), self.service_name),
        }
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        Html {
            f: Frame::new(config),
            m: self,
            url: self.url(config),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        Text {
            f: Frame::new(config),
            m: self,
            url: self.url(config),
        }
        .render()
    }
}
