//! The welcome email: how a new user signs in, with a link to set their password when they have
//! none yet.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub name: String,
    pub email: String,
    /// The one-time token of the set-password link.
    pub set_password_token: Option<String>,
    /// The teammate who invited them, when one did (rather than the agency).
    #[serde(default)]
    pub invited_by: Option<String>,
}

#[derive(Template)]
#[template(path = "emails/welcome.html")]
struct WelcomeHtml<'a> {
    f: Frame<'a>,
    name: &'a str,
    email: &'a str,
    invited_by: Option<&'a str>,
    link: String,
    set_password: bool,
}

#[derive(Template)]
#[template(path = "emails/welcome.txt")]
struct WelcomeText<'a> {
    f: Frame<'a>,
    name: &'a str,
    email: &'a str,
    invited_by: Option<&'a str>,
    link: String,
    set_password: bool,
}

impl Welcome {
    /// A user with a password given by the agency only needs the sign-in page.
    fn link(&self, config: &Config) -> String {
        match &self.set_password_token {
            Some(t) => config.url_for(&format!("/password/set?token={t}")),
            None => config.url_for("/login"),
        }
    }
}

impl Email for Welcome {
    fn subject(&self, config: &Config) -> String {
        format!("Welcome to {}", config.agency_name)
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        WelcomeHtml {
            f: Frame::new(config),
            name: &self.name,
            email: &self.email,
            invited_by: self.invited_by.as_deref(),
            link: self.link(config),
            set_password: self.set_password_token.is_some(),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        WelcomeText {
            f: Frame::new(config),
            name: &self.name,
            email: &self.email,
            invited_by: self.invited_by.as_deref(),
            link: self.link(config),
            set_password: self.set_password_token.is_some(),
        }
        .render()
    }
}
