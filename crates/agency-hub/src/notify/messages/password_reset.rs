//! The "forgot password" email: a one-time link to choose a new password, working for an hour.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub name: String,
    /// The one-time token of the link.
    pub token: String,
}

#[derive(Template)]
#[template(path = "emails/password_reset.html")]
struct PasswordResetHtml<'a> {
    f: Frame<'a>,
    name: &'a str,
    link: String,
}

#[derive(Template)]
#[template(path = "emails/password_reset.txt")]
struct PasswordResetText<'a> {
    f: Frame<'a>,
    name: &'a str,
    link: String,
}

impl Email for PasswordReset {
    fn subject(&self, config: &Config) -> String {
        format!("Choose a new password for {}", config.agency_name)
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        PasswordResetHtml {
            f: Frame::new(config),
            name: &self.name,
            link: config.url_for(&format!("/password/set?token={}", self.token)),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        PasswordResetText {
            f: Frame::new(config),
            name: &self.name,
            link: config.url_for(&format!("/password/set?token={}", self.token)),
        }
        .render()
    }
}
