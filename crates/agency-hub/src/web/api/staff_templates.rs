//! Service templates (`/api/templates`): their store settings, intake questions and tasks. A
//! template sent here is checked by the admin's form itself (it is turned into the form's
//! fields), so it passes or fails exactly as the form would, with the form's field names.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ErrorResponse;
use super::store::MoneyBody;
use crate::AppState;
use crate::activity::Actor;
use crate::catalog::{self, TemplateForm};
use crate::db::entities::service_template;
use crate::error::{AppError, AppResult};
use crate::ids::TemplateId;
use crate::web::auth::{RequireAdmin, RequireStaff};
use crate::web::extract::{Json, Path, Query};

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateTask {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Due this many days after the service is made.
    pub due_in_days: Option<i64>,
    #[serde(default)]
    pub client_visible: bool,
    /// Made again each paid period of a recurring service.
    #[serde(default)]
    pub each_period: bool,
}

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateQuestion {
    /// A saved question's id (kept on an edit, so its answers stay with it); absent for a new one.
    pub id: Option<u32>,
    #[serde(default)]
    pub label: String,
    #[serde(default)]
    pub help: String,
    /// short_text, long_text, single_choice, multiple_choice, number, date, url or file.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    /// before_payment or after_payment.
    #[serde(default)]
    pub when: String,
    /// For a choice question.
    #[serde(default)]
    pub choices: Vec<String>,
}

/// How the template is sold in the store.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateStore {
    #[serde(default)]
    pub purchasable: bool,
    /// In minor units of `currency`.
    #[serde(default)]
    pub price_minor: i64,
    /// USD, EUR, GBP or JPY.
    #[serde(default)]
    pub currency: String,
    /// The store's title, when not the template's name.
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub images: Vec<String>,
    pub max_quantity: Option<i64>,
    pub sort_order: Option<i64>,
    /// one_time or recurring.
    #[serde(default)]
    pub billing: String,
    /// For a recurring service: day, week, month or year, and how many a period lasts.
    #[serde(default)]
    pub interval: String,
    pub interval_count: Option<i64>,
    pub trial_days: Option<i64>,
    /// A recurring service's setup fee, in minor units.
    pub setup_fee_minor: Option<i64>,
    /// Stripe's product tax code (`txcd_…`).
    #[serde(default)]
    pub tax_code: String,
}

/// A template to create or replace.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "name": "Brand workshop", "description": "A half-day workshop on your brand.", "category": "Design",
    "tasks": [{"name": "Plan the workshop", "dueInDays": 3}, {"name": "Hold the workshop", "dueInDays": 10, "clientVisible": true}],
    "questions": [{"label": "Who will attend?", "kind": "short_text", "required": true, "when": "before_payment"}],
    "store": {"purchasable": true, "priceMinor": 120000, "currency": "USD", "billing": "one_time"}
}))]
pub struct TemplateInput {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub tasks: Vec<TemplateTask>,
    #[serde(default)]
    pub questions: Vec<TemplateQuestion>,
    #[serde(default)]
    pub store: TemplateStore,
}

impl TemplateInput {
    /// The admin's form with these values (errors then name the form's fields: `task-{i}-…`
    /// is `tasks[i]`, `question-{i}-…` is `questions[i]`).
    fn form(&self) -> TemplateForm {
        let mut pairs: Vec<(String, String)> = vec![
            ("name".into(), self.name.clone()),
            ("description".into(), self.description.clone()),
            ("category".into(), self.category.clone()),
        ];
        let mut push = |k: String, v: String| pairs.push((k, v));
        let flag = |b: bool| if b { "on".to_string() } else { String::new() };
        for (i, t) in self.tasks.iter().enumerate() {
            push(format!("task-{i}-name"), t.name.clone());
            push(format!("task-{i}-description"), t.description.clone());
            push(
                format!("task-{i}-due"),
                t.due_in_days.map(|d| d.to_string()).unwrap_or_default(),
            );
            push(format!("task-{i}-visible"), flag(t.client_visible));
            push(format!("task-{i}-period"), flag(t.each_period));
        }
        for (i, q) in self.questions.iter().enumerate() {
            push(
                format!("question-{i}-id"),
                q.id.map(|id| id.to_string()).unwrap_or_default(),
            );
            push(format!("question-{i}-label"), q.label.clone());
            push(format!("question-{i}-help"), q.help.clone());
            push(format!("question-{i}-kind"), q.kind.clone());
            push(format!("question-{i}-required"), flag(q.required));
            push(format!("question-{i}-when"), q.when.clone());
            push(format!("question-{i}-choices"), q.choices.join("\n"));
        }
        let s = &self.store;
        let currency = crate::money::Currency::parse(&s.currency);
        let money = |minor: i64| match currency {
            Some(c) => crate::money::Money::new(minor, c).plain(),
            None => minor.to_string(),
        };
        let number =
            |n: Option<i64>, default: &str| n.map_or(default.to_string(), |n| n.to_string());
        push("purchasable".into(), flag(s.purchasable));
        push("price".into(), money(s.price_minor));
        push(
            "currency".into(),
            if s.currency.is_empty() {
                "USD".into()
            } else {
                s.currency.clone()
            },
        );
        push("store_title".into(), s.title.clone());
        push("store_description".into(), s.description.clone());
        push("store_images".into(), s.images.join("\n"));
        push("max_quantity".into(), number(s.max_quantity, "1"));
        push("sort_order".into(), number(s.sort_order, "0"));
        push(
            "billing".into(),
            if s.billing.is_empty() {
                "one_time".into()
            } else {
                s.billing.clone()
            },
        );
        push(
            "interval".into(),
            if s.interval.is_empty() {
                "month".into()
            } else {
                s.interval.clone()
            },
        );
        push("interval_count".into(), number(s.interval_count, "1"));
        push("trial_days".into(), number(s.trial_days, "0"));
        push(
            "setup_fee".into(),
            s.setup_fee_minor.map(money).unwrap_or_default(),
        );
        push("tax_code".into(), s.tax_code.clone());
        TemplateForm::from_pairs(&pairs)
    }
}

/// A template as saved.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateBody {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub category: String,
    pub archived: bool,
    pub tasks: Vec<TemplateTask>,
    pub questions: Vec<TemplateQuestion>,
    pub store: TemplateStore,
    pub price: MoneyBody,
}

impl From<&service_template::Model> for TemplateBody {
    fn from(t: &service_template::Model) -> Self {
        let price = t.price();
        Self {
            id: t.id.get(),
            name: t.name.clone(),
            description: t.description.clone(),
            category: t.category.clone(),
            archived: t.archived_at.is_some(),
            tasks: t
                .tasks()
                .into_iter()
                .map(|d| TemplateTask {
                    name: d.name,
                    description: d.description,
                    due_in_days: d.due_in_days.map(i64::from),
                    client_visible: d.client_visible,
                    each_period: d.each_period,
                })
                .collect(),
            questions: t
                .questions()
                .into_iter()
                .map(|q| TemplateQuestion {
                    id: Some(q.id),
                    label: q.label,
                    help: q.help,
                    kind: q.kind.as_str().into(),
                    required: q.required,
                    when: q.when.as_str().into(),
                    choices: q.choices,
                })
                .collect(),
            store: TemplateStore {
                purchasable: t.is_purchasable,
                price_minor: t.price_minor,
                currency: price.currency.code().into(),
                title: t.store_title.clone(),
                description: t.store_description.clone(),
                images: t.images(),
                max_quantity: Some(i64::from(t.max_quantity)),
                sort_order: Some(i64::from(t.sort_order)),
                billing: if t.billing_interval.is_some() {
                    "recurring"
                } else {
                    "one_time"
                }
                .into(),
                interval: t.billing_interval.clone().unwrap_or_default(),
                interval_count: Some(i64::from(t.billing_interval_count)),
                trial_days: Some(i64::from(t.trial_days)),
                setup_fee_minor: Some(t.setup_fee_minor),
                tax_code: t.tax_code.clone().unwrap_or_default(),
            },
            price: price.into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ArchivedParam {
    #[serde(default)]
    archived: bool,
}

#[utoipa::path(
    get,
    path = "/api/templates",
    tag = "staff",
    summary = "Service templates, by category and name",
    description = "Staff only. Token scope: `templates:read`.",
    params(("archived" = Option<bool>, Query, description = "true for the archived ones")),
    responses(
        (status = 200, description = "The templates", body = Vec<TemplateBody>),
        (status = 403, description = "Not staff", body = ErrorResponse),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    Query(q): Query<ArchivedParam>,
) -> AppResult<axum::Json<Vec<TemplateBody>>> {
    let rows = catalog::list(&state.db, q.archived).await?;
    Ok(axum::Json(rows.iter().map(TemplateBody::from).collect()))
}

#[utoipa::path(
    get,
    path = "/api/templates/{id}",
    tag = "staff",
    summary = "One service template",
    description = "Staff only. Token scope: `templates:read`.",
    params(("id" = i64, Path, description = "The template's id")),
    responses(
        (status = 200, description = "The template", body = TemplateBody),
        (status = 403, description = "Not staff", body = ErrorResponse),
        (status = 404, description = "No such template", body = ErrorResponse),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    RequireStaff(_): RequireStaff,
    Path(id): Path<TemplateId>,
) -> AppResult<axum::Json<TemplateBody>> {
    Ok(axum::Json(TemplateBody::from(
        &catalog::get(&state.db, id).await?,
    )))
}

#[utoipa::path(
    post,
    path = "/api/templates",
    tag = "staff",
    summary = "Creates a service template",
    description = "Checked as the admin's form checks it; every mistake is in `error.fields`. Admins only. Token scope: `templates:write`.",
    request_body = TemplateInput,
    responses(
        (status = 201, description = "The new template", body = TemplateBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 409, description = "The change conflicts with the record's state", body = ErrorResponse),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Json(input): Json<TemplateInput>,
) -> AppResult<(StatusCode, axum::Json<TemplateBody>)> {
    let valid = input.form().validate().map_err(AppError::from)?;
    let actor = Actor::from(&admin);
    let saved = state
        .db
        .in_transaction(async |txn| catalog::create(txn, &actor, valid).await)
        .await?;
    state.store.changed().await;
    Ok((StatusCode::CREATED, axum::Json(TemplateBody::from(&saved))))
}

#[utoipa::path(
    put,
    path = "/api/templates/{id}",
    tag = "staff",
    summary = "Replaces a service template",
    description = "The whole template, as the form saves it (questions keep their `id`). Admins only. Token scope: `templates:write`.",
    params(("id" = i64, Path, description = "The template's id")),
    request_body = TemplateInput,
    responses(
        (status = 200, description = "The template", body = TemplateBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such template", body = ErrorResponse),
        (status = 409, description = "The change conflicts with the record's state", body = ErrorResponse),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<TemplateId>,
    Json(input): Json<TemplateInput>,
) -> AppResult<axum::Json<TemplateBody>> {
    catalog::get(&state.db, id).await?;
    let valid = input.form().validate().map_err(AppError::from)?;
    let actor = Actor::from(&admin);
    let saved = state
        .db
        .in_transaction(async |txn| catalog::update(txn, &actor, id, valid).await)
        .await?;
    state.store.changed().await;
    Ok(axum::Json(TemplateBody::from(&saved)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"archived": true}))]
pub struct ArchiveInput {
    /// true archives it (off the store, no longer assignable; services keep it), false
    /// restores it.
    pub archived: bool,
}

#[utoipa::path(
    post,
    path = "/api/templates/{id}/archive",
    tag = "staff",
    summary = "Archives or restores a template",
    description = "An archived template leaves the store and can no longer be assigned; bundles that hold it stop selling too. Admins only. Token scope: `templates:write`.",
    params(("id" = i64, Path, description = "The template's id")),
    request_body = ArchiveInput,
    responses(
        (status = 200, description = "The template", body = TemplateBody),
        (status = 403, description = "Not an admin", body = ErrorResponse),
        (status = 404, description = "No such template", body = ErrorResponse),
    ),
)]
pub async fn archive(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(id): Path<TemplateId>,
    Json(input): Json<ArchiveInput>,
) -> AppResult<axum::Json<TemplateBody>> {
    let actor = Actor::from(&admin);
    let saved = state
        .db
        .in_transaction(async |txn| catalog::set_archived(txn, &actor, id, input.archived).await)
        .await?;
    state.store.changed().await;
    Ok(axum::Json(TemplateBody::from(&saved)))
}
