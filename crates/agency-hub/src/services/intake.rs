//! A service's intake: the questions asked after payment, answered by the client on the
//! service. A question not yet answered can be answered at any time while the service runs; an
//! answer given can be changed until the service's first task starts (then the client writes
//! to the agency instead). Each change is logged with the questions it touched.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QuerySelect};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::subject;
use crate::activity::{self, Actor};
use crate::auth::CurrentUser;
use crate::catalog::questions::Kind;
use crate::catalog::{Answers, Intake, Question, When};
use crate::config::FileSettings;
use crate::db::Db;
use crate::db::entities::notification::NoticeKind;
use crate::db::entities::service;
use crate::db::entities::service::ServiceStatus;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::files::{self, Attach, Storage, Upload};
use crate::ids::ServiceId;
use crate::jobs::{Enqueue, Job};
use crate::notify::inapp::{self, Notice};
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
    let who = match actor {
        Actor::User { name, .. } => name.as_str(),
        Actor::System => "The client",
    };
    let notice = Notice::service(
        NoticeKind::Answers,
        service.id,
        format!("{who} answered questions on {}", service.name),
        inapp::excerpt(&changed.join(" · "), 200),
    );
    inapp::tell_service(conn, &service, &notice, true, actor.user_id()).await?;
    Ok((
        service::Model {
            intake: json,
            ..service
        },
        changed,
    ))
}

/// Sets the answers as [`answer`] does, with files for the file questions (the pages' form
/// and the API): each upload `(question id, file)` is checked (with those before it, against
/// the service's room; a mistake names its question) and stored before the transaction, which
/// records it as that question's file and its name as the answer. A file question sent no
/// file keeps the answer it has, whatever `read` says of it; once work has started, a file
/// given cannot be replaced (a new one, even of the same name, is a change).
#[allow(clippy::too_many_arguments)]
pub async fn answer_with_files(
    db: &Db,
    settings: &FileSettings,
    storage: &Storage,
    user: &CurrentUser,
    service: service::Model,
    uploads: Vec<(u32, Upload)>,
    read: impl FnOnce(&[Question]) -> Result<Answers, FieldErrors>,
) -> AppResult<(service::Model, Vec<String>)> {
    let kept = service.intake().answers();
    let asked = questions(&service.intake());
    let mut errors = FieldErrors::default();
    for (i, (qid, _)) in uploads.iter().enumerate() {
        if !asked.iter().any(|q| q.id == *qid && q.kind == Kind::File) {
            errors.add(
                crate::catalog::questions::field(*qid),
                "No question asked here takes a file by this name.",
            );
        } else if uploads[..i].iter().any(|(other, _)| other == qid) {
            errors.add(
                crate::catalog::questions::field(*qid),
                "Send one file for this question.",
            );
        }
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let replacing: Vec<u32> = uploads
        .iter()
        .map(|(q, _)| *q)
        .filter(|q| kept.contains_key(q))
        .collect();
    if !replacing.is_empty() && super::work_started(db, service.id).await? {
        for q in replacing {
            errors.add(
                crate::catalog::questions::field(q),
                "Work has started, so this file can no longer change: send the new one in a message instead.",
            );
        }
        return Err(errors.into());
    }
    let mut names: Vec<(u32, String)> = Vec::new();
    let mut stored = Vec::new();
    let mut pending = 0u64;
    for (qid, upload) in uploads {
        let size = upload.bytes.len() as u64;
        names.push((qid, files::safe_name(&upload.name)));
        let accepted = files::accept(db, settings, storage, service.id, vec![upload], pending)
            .await
            .map_err(|mut e| {
                e.field = Some(crate::catalog::questions::field(qid));
                e
            });
        pending += size;
        match accepted {
            Ok(k) => stored.push((qid, k)),
            Err(e) => {
                for (_, k) in &stored {
                    files::remove(storage, k).await;
                }
                return Err(e);
            }
        }
    }
    let actor = Actor::from(user);
    let answered = db
        .in_transaction(async |txn| {
            // The service as it is now, held until this transaction ends: two saves at once
            // (the page and the API, two of the company's people) apply one after the other,
            // each on what the other left.
            let service = service::Entity::find_by_id(service.id)
                .lock_exclusive()
                .one(txn)
                .await?
                .ok_or_else(AppError::not_found)?;
            let kept = service.intake().answers();
            let answered = answer(txn, &actor, service.clone(), |questions| {
                let mut answers = read(questions)?;
                for q in questions.iter().filter(|q| q.kind == Kind::File) {
                    answers.remove(&q.id);
                    let given = match names.iter().find(|(id, _)| *id == q.id) {
                        Some((_, name)) => q.read(&[name]).ok().flatten(),
                        None => kept.get(&q.id).cloned(),
                    };
                    if let Some(a) = given {
                        answers.insert(q.id, a);
                    }
                }
                Ok(answers)
            })
            .await?;
            for (qid, k) in &stored {
                files::record(txn, user, &service, k, Attach::Answer(*qid)).await?;
            }
            Ok(answered)
        })
        .await;
    if answered.is_err() {
        for (_, k) in &stored {
            files::remove(storage, k).await;
        }
    }
    answered
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
