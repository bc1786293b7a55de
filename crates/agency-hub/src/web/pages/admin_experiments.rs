//! Experiments (ADMIN): A/B experiments on the store, started from a form, each with its report
//! (people, conversion rates, uplift with its interval, significance) and a stop that keeps a
//! winner.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::catalog;
use crate::engagement::experiments::{
    self, Arm, Element, Experiment, ExperimentForm, GOALS, compare, percent, points,
};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::web::auth::RequireAdmin;
use crate::web::extract::Path;
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "admin/experiments.html")]
pub struct ExperimentsPage {
    ctx: PageCtx,
    experiments: Vec<Experiment>,
    elements: [Element; 4],
    form: ExperimentForm,
    errors: FieldErrors,
}

async fn list_page(
    state: &AppState,
    ctx: PageCtx,
    form: ExperimentForm,
    errors: FieldErrors,
) -> AppResult<ExperimentsPage> {
    Ok(ExperimentsPage {
        ctx,
        experiments: experiments::list(&state.db).await?,
        elements: Element::ALL,
        form,
        errors,
    })
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<ExperimentsPage> {
    list_page(&state, ctx, ExperimentForm::blank(), FieldErrors::default()).await
}

pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = ExperimentForm::from_pairs(&pairs);
    let actor = Actor::from(&admin);
    let started = async {
        let valid = form.validate(&catalog::store::all_on_sale(&state.db).await?)?;
        state
            .db
            .in_transaction(async |txn| experiments::start(txn, &actor, valid).await)
            .await
    }
    .await;
    settle(
        started,
        async |row| {
            state.experiments_changed();
            flash(
                &session,
                FlashKind::Success,
                format!("The experiment '{}' is running.", row.name),
            )
            .await?;
            Ok(Redirect::to(&format!("/admin/experiments/{}", row.id)).into_response())
        },
        async |e| list_page(&state, ctx, form, FieldErrors::of(&e, "name")).await,
    )
    .await
}

/// One goal's figures for one variant, as the report shows them.
pub struct GoalRow {
    pub variant: String,
    pub users: u64,
    pub converted: u64,
    pub rate: String,
    /// Against the control: "+50.00 %", the interval in points, z and p; empty for the control.
    pub uplift: String,
    pub interval: String,
    pub z: String,
    pub p: String,
    pub verdict: String,
}

/// A goal's table.
pub struct Goal {
    pub label: &'static str,
    pub rows: Vec<GoalRow>,
}

fn goals(arms: &[Arm]) -> Vec<Goal> {
    GOALS
        .iter()
        .enumerate()
        .map(|(g, (_, label))| Goal {
            label,
            rows: arms
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let rate = if a.users == 0 {
                        "—".to_string()
                    } else {
                        percent(a.converted[g] as f64 / a.users as f64)
                    };
                    let mut row = GoalRow {
                        variant: a.name.clone(),
                        users: a.users,
                        converted: a.converted[g],
                        rate,
                        uplift: String::new(),
                        interval: String::new(),
                        z: String::new(),
                        p: String::new(),
                        verdict: if i == 0 {
                            "Control".into()
                        } else {
                            String::new()
                        },
                    };
                    if i == 0 {
                        return row;
                    }
                    match compare(
                        (arms[0].users, arms[0].converted[g]),
                        (a.users, a.converted[g]),
                    ) {
                        Some(c) => {
                            row.uplift = c
                                .uplift
                                .map_or_else(|| "—".into(), |u| format!("{:+.2} %", u * 100.0));
                            row.interval = format!("{} to {}", points(c.low), points(c.high));
                            row.z = format!("{:.3}", c.z);
                            row.p = format!("{:.4}", c.p);
                            row.verdict = if c.p < 0.05 {
                                if c.difference > 0.0 {
                                    "Better than the control (95 %)".into()
                                } else {
                                    "Worse than the control (95 %)".into()
                                }
                            } else {
                                "No significant difference yet".into()
                            };
                        }
                        None => row.verdict = "Not enough data yet".into(),
                    }
                    row
                })
                .collect(),
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/experiment.html")]
pub struct ExperimentPage {
    ctx: PageCtx,
    e: Experiment,
    arms: Vec<Arm>,
    goals: Vec<Goal>,
    /// What each variant sets, in words.
    values: Vec<String>,
}

pub async fn show(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Path(id): Path<i64>,
) -> AppResult<ExperimentPage> {
    let e = experiments::get(&state.db, id).await?;
    let arms = experiments::results(&state.db, &e).await?;
    let titles = catalog::by_id(
        &state.db,
        e.variants
            .iter()
            .filter_map(|v| v.value.parse::<crate::ids::TemplateId>().ok()),
    )
    .await?;
    let values = e
        .variants
        .iter()
        .map(|v| match e.element {
            Element::Featured => v
                .value
                .parse::<crate::ids::TemplateId>()
                .ok()
                .and_then(|id| titles.get(&id))
                .map_or_else(|| "No featured service".into(), |t| t.title().to_string()),
            Element::DefaultSort => crate::catalog::store::Sort::parse(&v.value)
                .map_or_else(|_| v.value.clone(), |s| s.label().to_string()),
            Element::ReviewStars if v.value == "hide" => "Stars hidden".into(),
            Element::ReviewStars => "Stars shown".into(),
            Element::CtaText => format!("“{}”", v.value),
        })
        .collect();
    Ok(ExperimentPage {
        ctx,
        goals: goals(&arms),
        arms,
        values,
        e,
    })
}

#[derive(Debug, Deserialize)]
pub struct StopFields {
    /// The variant's number to keep, or `none`.
    #[serde(default)]
    keep: String,
}

pub async fn stop(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    Path(id): Path<i64>,
    Form(f): Form<StopFields>,
) -> AppResult<Response> {
    let keep = match f.keep.trim() {
        "none" => None,
        raw => Some(
            raw.parse::<usize>()
                .map_err(|_| AppError::invalid("keep", "Choose the variant to keep, or none."))?,
        ),
    };
    let actor = Actor::from(&admin);
    let stopped = state
        .db
        .in_transaction(async |txn| experiments::stop(txn, &actor, id, keep).await)
        .await?;
    state.experiments_changed();
    let message = match stopped.winner() {
        Some(w) => format!("Stopped: every client now sees {}.", w.name),
        None => "Stopped: every client sees the store's default again.".to_string(),
    };
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to(&format!("/admin/experiments/{id}")).into_response())
}
