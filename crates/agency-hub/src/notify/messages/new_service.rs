//! The new-service email, to every manager and admin: a purchase made a service, linked so they
//! can start the work.

use askama::Template;
use serde::{Deserialize, Serialize};

use super::{Email, Frame};
use crate::config::Config;
use crate::ids::ServiceId;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewService {
    pub client_name: String,
    pub service_id: ServiceId,
    pub service_name: String,
    pub order_number: String,
    /// The client's answers so far (question, answer), as given before payment.
    #[serde(default)]
    pub answers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "emails/new_service.html")]
struct NewServiceHtml<'a> {
    f: Frame<'a>,
    client_name: &'a str,
    service_name: &'a str,
    order_number: &'a str,
    answers: &'a [(String, String)],
    service_url: String,
}

#[derive(Template)]
#[template(path = "emails/new_service.txt")]
struct NewServiceText<'a> {
    f: Frame<'a>,
    client_name: &'a str,
    service_name: &'a str,
    order_number: &'a str,
    answers: &'a [(String, String)],
    service_url: String,
}

impl NewService {
    fn service_url(&self, config: &Config) -> String {
        config.url_for(&format!("/services/{}", self.service_id))
    }
}

impl Email for NewService {
    fn subject(&self, _: &Config) -> String {
        format!(
            "New service from a purchase: {} for {}",
            self.service_name, self.client_name
        )
    }

    fn html(&self, config: &Config) -> askama::Result<String> {
        NewServiceHtml {
            f: Frame::new(config),
            client_name: &self.client_name,
            service_name: &self.service_name,
            order_number: &self.order_number,
            answers: &self.answers,
            service_url: self.service_url(config),
        }
        .render()
    }

    fn text(&self, config: &Config) -> askama::Result<String> {
        NewServiceText {
            f: Frame::new(config),
            client_name: &self.client_name,
            service_name: &self.service_name,
            order_number: &self.order_number,
            answers: &self.answers,
            service_url: self.service_url(config),
        }
        .render()
    }
}
