//! A service's intake: the questions asked after payment, answered by the client on the
//! service. A question not yet answered can be answered at any time while the service runs; an
//! answer given can be changed until the service's first task starts (then the client writes
//! to the agency instead). Each change is logged with the questions it touched.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::subject;
use crate::activity::{self, Actor};
use crate::catalog::{Answers, Intake, Question, When};
use crate::db::Db;
use crate::db::entities::service;
use crate::db::entities::service::ServiceStatus;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::ids::ServiceId;
use crate::jobs::{Enqueue, Job};
use crate::notify::messages::AnswersNeeded;
use crate::notify::{self, Message, Outgoing};

/// The questions asked after payment, to answer on the service.
pub fn questions(intake: &Intake) -> Vec<Question> {
    intake
        .asked(When::AfterPayment)
        .map(|a| a.question.clone())
        .collect()
}

/// Sets the answers to the service's after-payment questions (`read` reads them, or says what
/// is wrong with each: then nothing is kept). Returns the service and the questions whose
/// answer changed.
pub async fn answer<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    service: service::Model,
    read: impl FnOnce(&[Question]) -> Result<Answers, FieldErrors>,
) -> AppResult<(service::Model, Vec<String>)> {
    let mut intake = service.intake();
    let asked = questions(&intake);
    if asked.is_empty() {
        return Err(AppError::invalid(
            "answers",
            "This service has no questions to answer.",
        ));
    }
    if matches!(
        service.status,
        ServiceStatus::Done | ServiceStatus::Cancelled
    ) {
        return Err(AppError::invalid(
            "answers",
            format!(
                "This service is {}: its answers can no longer change.",
                service.status.label().to_lowercase()
            ),
        ));
    }
    let answers = read(&asked)?;
    let before = intake.answers();
    // Once work started, an answer given stays as it is; one not given yet can still be.
    let locked: Vec<&Question> = asked
        .iter()
        .filter(|q| before.contains_key(&q.id) && before.get(&q.id) != answers.get(&q.id))
        .collect();
    if !locked.is_empty() && super::work_started(conn, service.id).await? {
        let mut errors = FieldErrors::default();
        for q in locked {
            errors.add(
                q.field(),
                "Work has started, so this answer can no longer change: write to the agency instead.",
            );
        }
        return Err(errors.into());
    }
    let changed = intake.answer(When::AfterPayment, &answers);
    if changed.is_empty() {
        return Ok((service, changed));
    }
    let json = intake.to_json();
    service::Entity::update(service::ActiveModel {
        id: Set(service.id),
        intake: Set(json.clone()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    activity::record(
        conn,
        actor,
        "service.answers_changed",
        subject(&service),
        json!({"questions": changed}),
    )
    .await?;
    Ok((
        service::Model {
            intake: json,
            ..service
        },
        changed,
    ))
}

/// Days after a service is made when its client is reminded of required questions still
/// unanswered.
pub const REMIND_AFTER_DAYS: [i64; 2] = [2, 7];

/// The reminder jobs of new services that ask required questions after payment, one statement
/// for all of them (in the caller's transaction).
pub async fn schedule_reminders<C: ConnectionTrait>(
    conn: &C,
    services: &[service::Model],
) -> Result<(), sea_orm::DbErr> {
    let jobs: Vec<Enqueue> = services
        .iter()
        .filter(|s| !s.intake().missing(When::AfterPayment).is_empty())
        .flat_map(|s| {
            REMIND_AFTER_DAYS.map(|days| {
                Enqueue::job(&Remind {
                    service_id: s.id,
                    days,
                })
                .run_at(s.created_at + chrono::Duration::days(days))
                .dedupe_key(format!("intake-reminder:{}:{days}", s.id))
            })
        })
        .collect();
    Enqueue::insert_many(conn, jobs).await?;
    Ok(())
}

/// Reminds the client's people of a service's required questions still unanswered (nothing
/// when they have been answered, or the service ended).
#[derive(Debug, Serialize, Deserialize)]
pub struct Remind {
    pub service_id: ServiceId,
    pub days: i64,
}

impl Job for Remind {
    const KIND: &'static str = "services.intake_reminder";
    type Env = Db;

    async fn run(self, db: &Db, _attempt: i32) -> anyhow::Result<()> {
        let Some(service) = service::Entity::find_by_id(self.service_id).one(db).await? else {
            return Ok(());
        };
        let intake = service.intake();
        let missing = intake.missing(When::AfterPayment);
        if missing.is_empty()
            || matches!(
                service.status,
                ServiceStatus::Done | ServiceStatus::Cancelled
            )
        {
            return Ok(());
        }
        let people = crate::notify::inapp::client_people(db, service.client_id).await?;
        let emails: Vec<Outgoing> = people
            .into_iter()
            .map(|person| Outgoing {
                dedupe_key: format!("intake-reminder:{}:{}:{}", service.id, self.days, person.id),
                to: person.email,
                message: Message::AnswersNeeded(AnswersNeeded {
                    name: person.name,
                    service_id: service.id,
                    service_name: service.name.clone(),
                    questions: missing.iter().map(|q| q.label.clone()).collect(),
                }),
            })
            .collect();
        let txn = db.write().await?;
        notify::enqueue_many(&txn, emails).await?;
        txn.commit().await?;
        Ok(())
    }
}
