//! To the client: a service still waits for answers to its questions (sent 2 and 7 days after
//! it was made, while a required one is unanswered).

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;
use crate::ids::ServiceId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswersNeeded {
    pub name: String,
    pub service_id: ServiceId,
    pub service_name: String,
    /// The required questions still unanswered.
    pub questions: Vec<String>,
}

#[derive(Template)]
#[template(path = "emails/answers_needed.html")]
struct Html<'a> {
    f: Frame<'a>,
    m: &'a AnswersNeeded,
    url: String,
}

#[derive(Template)]
#[template(path = "emails/answers_needed.txt")]
struct Text<'a> {
    f: Frame<'a>,
    m: &'a AnswersNeeded,
    url: String,
}

impl AnswersNeeded {
    fn url(&self, config: &Config) -> String {
        config.url_for(&format!("/my/services/{}#questions", self.service_id))
    }
}

impl Email for AnswersNeeded {
    fn subject(&self, _: &Config) -> String {
        format!("{}: we need your answers to get started", self.service_name)
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
