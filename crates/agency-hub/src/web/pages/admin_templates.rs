//! Service templates (ADMIN): list, create, edit (tasks added, removed and reordered without
//! JavaScript), archive and restore.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::activity::Actor;
use crate::auth::CurrentUser;
use crate::catalog::bundles::{self, Bundles};
use crate::catalog::{self, Intent, TemplateForm};
use crate::db::entities::service_template;
use crate::error::{AppResult, FieldErrors};
use crate::ids::TemplateId;
use crate::money::Currency;
use crate::web::auth::RequireAdmin;
use crate::web::extract::{Form, Path, Query, Submitted, bool_field};
use crate::web::form::settle;
use crate::web::layout::{FlashKind, PageCtx, flash};

#[derive(Template, WebTemplate)]
#[template(path = "admin/templates.html")]
pub struct TemplatesPage {
    ctx: PageCtx,
    templates: Vec<service_template::Model>,
    bundles: Bundles,
    archived: bool,
}

impl TemplatesPage {
    /// "4" tasks, or "Bundle of 3" for a bundle.
    fn made_of(&self, t: &service_template::Model) -> String {
        let parts = self.bundles.parts(t.id);
        if parts.is_empty() {
            t.tasks().len().to_string()
        } else {
            let services: i32 = parts.iter().map(|p| p.quantity).sum();
            format!("Bundle of {services}")
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ArchivedQuery {
    #[serde(default)]
    archived: bool,
}

pub async fn list(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Query(q): Query<ArchivedQuery>,
) -> AppResult<TemplatesPage> {
    Ok(TemplatesPage {
        ctx,
        templates: catalog::list(&state.db, q.archived).await?,
        bundles: Bundles::load(&state.db, None).await?,
        archived: q.archived,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/template_form.html")]
pub struct TemplateFormPage {
    ctx: PageCtx,
    /// None for a new template.
    template: Option<service_template::Model>,
    form: TemplateForm,
    errors: FieldErrors,
    categories: Vec<String>,
    /// What a bundle can be made of: (id, name), one-time services that are not bundles.
    part_options: Vec<(String, String)>,
}

impl TemplateFormPage {
    fn currencies(&self) -> Vec<Currency> {
        Currency::all().collect()
    }

    fn intervals(&self) -> [crate::catalog::Interval; 4] {
        crate::catalog::Interval::ALL
    }

    fn question_kinds(&self) -> [crate::catalog::questions::Kind; 8] {
        crate::catalog::questions::Kind::ALL
    }

    fn question_times(&self) -> [crate::catalog::When; 2] {
        [
            crate::catalog::When::BeforePayment,
            crate::catalog::When::AfterPayment,
        ]
    }

    fn preview_title(&self) -> &str {
        let t = self.form.store.title.trim();
        if t.is_empty() {
            self.form.name.trim()
        } else {
            t
        }
    }

    fn preview_blurb(&self) -> &str {
        let d = self.form.store.description.trim();
        if d.is_empty() {
            self.form.description.trim()
        } else {
            d
        }
    }

    fn action(&self) -> String {
        match &self.template {
            Some(t) => format!("/admin/templates/{}", t.id),
            None => "/admin/templates".into(),
        }
    }
}

async fn form_page(
    state: &AppState,
    ctx: PageCtx,
    template: Option<service_template::Model>,
    form: TemplateForm,
    errors: FieldErrors,
) -> AppResult<TemplateFormPage> {
    let in_use = catalog::list(&state.db, false).await?;
    let mut categories: Vec<String> = in_use.iter().map(|t| t.category.clone()).collect();
    categories.dedup();
    let bundles = Bundles::load(&state.db, None).await?;
    let this = template.as_ref().map(|t| t.id);
    let mut part_options: Vec<(String, String)> = in_use
        .iter()
        .filter(|t| Some(t.id) != this && t.billing_interval.is_none() && !bundles.is_bundle(t.id))
        .map(|t| (t.id.to_string(), t.name.clone()))
        .collect();
    // A part archived since it was chosen stays in the bundle (and the list).
    let missing: Vec<TemplateId> = form
        .parts
        .iter()
        .filter(|p| !part_options.iter().any(|(id, _)| *id == p.template))
        .filter_map(|p| p.template.trim().parse().ok())
        .collect();
    if !missing.is_empty() {
        for t in catalog::get_many(&state.db, &missing).await? {
            let label = if t.archived_at.is_some() {
                format!("{} (archived)", t.name)
            } else {
                t.name.clone()
            };
            part_options.push((t.id.to_string(), label));
        }
    }
    Ok(TemplateFormPage {
        ctx,
        template,
        form,
        errors,
        categories,
        part_options,
    })
}

pub async fn show_new(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
) -> AppResult<TemplateFormPage> {
    form_page(
        &state,
        ctx,
        None,
        TemplateForm::blank(),
        FieldErrors::default(),
    )
    .await
}

pub async fn show_edit(
    State(state): State<AppState>,
    RequireAdmin(_): RequireAdmin,
    ctx: PageCtx,
    Path(id): Path<TemplateId>,
) -> AppResult<TemplateFormPage> {
    let template = catalog::get(&state.db, id).await?;
    let parts = Bundles::load(&state.db, Some(&[id])).await?.parts_of(id);
    let form = TemplateForm::from_model(&template, &parts);
    form_page(&state, ctx, Some(template), form, FieldErrors::default()).await
}

/// Handles every button of the form: only "save" writes; the others show the form again
/// with its rows rearranged.
async fn submit(
    state: &AppState,
    admin: &CurrentUser,
    session: &Session,
    ctx: PageCtx,
    template: Option<service_template::Model>,
    mut submitted: Submitted,
) -> AppResult<Response> {
    let intent = Intent::parse(submitted.get("intent"));
    let mut form = TemplateForm::from_pairs(&submitted.fields);
    // Pictures sent are kept whatever else the form has wrong: their addresses come back in it.
    if let Err(e) = keep_pictures(state, &mut form, &mut submitted).await {
        if !e.is_correctable() {
            return Err(e);
        }
        let errors = FieldErrors::of(&e, "store_images");
        let status = e.status;
        return Ok((status, form_page(state, ctx, template, form, errors).await?).into_response());
    }
    if intent != Intent::Save {
        form.apply(intent);
        return Ok(
            form_page(state, ctx, template, form, FieldErrors::default())
                .await?
                .into_response(),
        );
    }
    let actor = Actor::from(admin);
    let saved = match form.validate() {
        Err(errors) => Err(errors.into()),
        Ok(valid) => {
            state
                .db
                .in_transaction(async |txn| match &template {
                    None => catalog::create(txn, &actor, valid).await,
                    Some(t) => catalog::update(txn, &actor, t.id, valid).await,
                })
                .await
        }
    };
    settle(
        saved,
        async |saved| {
            state.store.changed().await;
            let message = format!("{} was saved.", saved.name);
            flash(session, FlashKind::Success, message).await?;
            Ok(Redirect::to("/admin/templates").into_response())
        },
        async |e| form_page(state, ctx, template, form, FieldErrors::of(&e, "name")).await,
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    form: Submitted,
) -> AppResult<Response> {
    submit(&state, &admin, &session, ctx, None, form).await
}

pub async fn update(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<TemplateId>,
    form: Submitted,
) -> AppResult<Response> {
    let template = catalog::get(&state.db, id).await?;
    submit(&state, &admin, &session, ctx, Some(template), form).await
}

/// The largest a store picture is kept (it is shrunk to fit).
const PICTURE_WIDTH: u32 = 1600;
const PICTURE_HEIGHT: u32 = 1200;
/// Where uploaded store pictures are kept, and the address they are served at.
const PICTURES: &str = "store/images/";

/// The pictures sent with the form (`store_image_files`), each kept and its address added to
/// the form's images. The first refused stops there, naming the field.
async fn keep_pictures(
    state: &AppState,
    form: &mut TemplateForm,
    submitted: &mut Submitted,
) -> AppResult<()> {
    if let Some(mut e) = submitted.refused.take() {
        e.field = Some("store_images".into());
        return Err(e);
    }
    for upload in std::mem::take(&mut submitted.files) {
        if upload.field != "store_image_files" {
            continue;
        }
        let key = crate::files::keep_picture(
            &state.storage,
            upload,
            "store_images",
            PICTURE_WIDTH,
            PICTURE_HEIGHT,
            PICTURES,
        )
        .await?;
        let address = format!("/{key}");
        let images = &mut form.store.images;
        if !images.trim().is_empty() && !images.ends_with('\n') {
            images.push('\n');
        }
        images.push_str(&address);
    }
    Ok(())
}

/// An uploaded store picture, to anyone (the store's cards show it); its name is new for each
/// upload, so it is cached for good.
pub async fn image(State(state): State<AppState>, Path(name): Path<String>) -> AppResult<Response> {
    use futures_util::TryStreamExt;
    let valid = name
        .strip_suffix(".png")
        .is_some_and(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()));
    if !valid {
        return Err(crate::error::AppError::not_found());
    }
    let got = state
        .storage
        .get(&format!("{PICTURES}{name}"))
        .await
        .map_err(|_| crate::error::AppError::not_found())?;
    let body = axum::body::Body::from_stream(got.into_stream().map_err(std::io::Error::other));
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/png"),
            (
                axum::http::header::CACHE_CONTROL,
                "public, max-age=31536000, immutable",
            ),
        ],
        body,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct ArchiveFields {
    #[serde(default)]
    archived: String,
    /// Archive even though bundles on sale hold it.
    #[serde(default)]
    confirm: String,
}

/// Asks before archiving a template that bundles in use are made of.
#[derive(Template, WebTemplate)]
#[template(path = "admin/template_archive.html")]
pub struct ArchiveWarningPage {
    ctx: PageCtx,
    template: service_template::Model,
    bundles: Vec<service_template::Model>,
}

pub async fn set_archived(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    session: Session,
    ctx: PageCtx,
    Path(id): Path<TemplateId>,
    Form(f): Form<ArchiveFields>,
) -> AppResult<Response> {
    let archived = bool_field("archived", &f.archived)?;
    if archived && f.confirm.is_empty() {
        let mut holders = bundles::containing(&state.db, id).await?;
        holders.retain(|b| b.archived_at.is_none());
        if !holders.is_empty() {
            return Ok(ArchiveWarningPage {
                ctx,
                template: catalog::get(&state.db, id).await?,
                bundles: holders,
            }
            .into_response());
        }
    }
    let t = state
        .db
        .in_transaction(async |txn| {
            catalog::set_archived(txn, &Actor::from(&admin), id, archived).await
        })
        .await?;
    state.store.changed().await;
    let message = if archived {
        format!(
            "{} is archived: it can no longer be assigned. Existing services keep it.",
            t.name
        )
    } else {
        format!("{} is restored.", t.name)
    };
    flash(&session, FlashKind::Success, message).await?;
    Ok(Redirect::to("/admin/templates").into_response())
}
