//! Service templates: what the agency offers and the tasks each service starts with.
//! The template form is parsed and validated here, field by field.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};
use serde_json::json;

use crate::activity::{self, Actor, Subject};
use crate::db::entities::service_template::{self, DefaultTask};
use crate::error::{AppError, AppResult, FieldErrors};

pub const MAX_NAME: usize = 200;
pub const MAX_CATEGORY: usize = 100;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_TASKS: usize = 100;
pub const MAX_DUE_DAYS: u32 = 3650;
/// Blank task rows the form offers for adding tasks without JavaScript.
pub const BLANK_ROWS: usize = 2;

/// One task row of the form, as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskRow {
    pub name: String,
    pub description: String,
    pub due: String,
    pub visible: bool,
}

impl TaskRow {
    fn is_blank(&self) -> bool {
        self.name.trim().is_empty()
            && self.description.trim().is_empty()
            && self.due.trim().is_empty()
    }
}

/// The template form as typed, kept to show it again with its errors.
#[derive(Clone, Debug, Default)]
pub struct TemplateForm {
    pub name: String,
    pub description: String,
    pub category: String,
    /// The task rows with something typed in them, in order.
    pub tasks: Vec<TaskRow>,
    /// How many empty rows to offer below them, for new tasks.
    pub blank_rows: usize,
}

/// A template that passed validation.
#[derive(Clone, Debug)]
pub struct ValidTemplate {
    pub name: String,
    pub description: String,
    pub category: String,
    pub tasks: Vec<DefaultTask>,
}

/// What a button of the form asks for. Only `Save` writes; the others rearrange the rows
/// and show the form again, so the form works without JavaScript.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    Save,
    AddRow,
    Remove(usize),
    Up(usize),
    Down(usize),
}

impl Intent {
    pub fn parse(raw: Option<&str>) -> Self {
        let raw = raw.unwrap_or("save");
        let (verb, n) = raw.split_once(':').unwrap_or((raw, ""));
        match (verb, n.parse::<usize>()) {
            ("add", _) => Self::AddRow,
            ("remove", Ok(i)) => Self::Remove(i),
            ("up", Ok(i)) => Self::Up(i),
            ("down", Ok(i)) => Self::Down(i),
            _ => Self::Save,
        }
    }
}

impl TemplateForm {
    /// Reads the form's fields: `name`, `description`, `category`, and per task row `i`
    /// `task-{i}-name`, `task-{i}-description`, `task-{i}-due`, `task-{i}-visible`. Rows come
    /// back in their index order; empty rows only count towards `blank_rows`.
    pub fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut form = Self::default();
        let mut rows: BTreeMap<usize, TaskRow> = BTreeMap::new();
        for (key, value) in pairs {
            match key.as_str() {
                "name" => form.name = value.clone(),
                "description" => form.description = value.clone(),
                "category" => form.category = value.clone(),
                _ => {
                    let Some(rest) = key.strip_prefix("task-") else {
                        continue;
                    };
                    let Some((i, field)) = rest.split_once('-') else {
                        continue;
                    };
                    let Ok(i) = i.parse::<usize>() else { continue };
                    if i >= 1000 {
                        continue;
                    }
                    let row = rows.entry(i).or_default();
                    match field {
                        "name" => row.name = value.clone(),
                        "description" => row.description = value.clone(),
                        "due" => row.due = value.clone(),
                        "visible" => row.visible = !value.is_empty(),
                        _ => {}
                    }
                }
            }
        }
        let (blank, typed): (Vec<TaskRow>, Vec<TaskRow>) =
            rows.into_values().partition(TaskRow::is_blank);
        form.tasks = typed;
        form.blank_rows = blank.len().clamp(BLANK_ROWS, 20);
        form
    }

    pub fn from_model(t: &service_template::Model) -> Self {
        Self {
            name: t.name.clone(),
            description: t.description.clone(),
            category: t.category.clone(),
            tasks: t
                .tasks()
                .into_iter()
                .map(|d| TaskRow {
                    name: d.name,
                    description: d.description,
                    due: d.due_in_days.map(|n| n.to_string()).unwrap_or_default(),
                    visible: d.client_visible,
                })
                .collect(),
            blank_rows: BLANK_ROWS,
        }
    }

    /// An empty form for a new template.
    pub fn blank() -> Self {
        Self {
            blank_rows: BLANK_ROWS,
            ..Default::default()
        }
    }

    /// Rearranges the rows as a button asked; indexes are those of `tasks`, as shown.
    pub fn apply(&mut self, intent: Intent) {
        let n = self.tasks.len();
        match intent {
            Intent::Save => {}
            Intent::AddRow => self.blank_rows = (self.blank_rows + 1).min(20),
            Intent::Remove(i) if i < n => {
                self.tasks.remove(i);
            }
            Intent::Up(i) if i > 0 && i < n => self.tasks.swap(i, i - 1),
            Intent::Down(i) if i + 1 < n => self.tasks.swap(i, i + 1),
            _ => {}
        }
    }

    pub fn validate(&self) -> Result<ValidTemplate, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.name.trim();
        if name.is_empty() {
            errors.add("name", "Give the template a name.");
        } else if name.chars().count() > MAX_NAME {
            errors.add(
                "name",
                format!(
                    "Use at most {MAX_NAME} characters (this has {}).",
                    name.chars().count()
                ),
            );
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            errors.add(
                "description",
                format!("Use at most {MAX_DESCRIPTION} characters."),
            );
        }
        let category = self.category.trim();
        if category.is_empty() {
            errors.add("category", "Choose or type a category.");
        } else if category.chars().count() > MAX_CATEGORY {
            errors.add(
                "category",
                format!("Use at most {MAX_CATEGORY} characters."),
            );
        }
        if self.tasks.len() > MAX_TASKS {
            errors.add(
                "tasks",
                format!(
                    "A template has at most {MAX_TASKS} tasks (this has {}).",
                    self.tasks.len()
                ),
            );
        }
        let mut tasks = Vec::with_capacity(self.tasks.len());
        for (i, row) in self.tasks.iter().enumerate() {
            let task_name = row.name.trim();
            if task_name.is_empty() {
                errors.add(format!("task-{i}-name"), "Give the task a name.");
            } else if task_name.chars().count() > MAX_NAME {
                errors.add(
                    format!("task-{i}-name"),
                    format!("Use at most {MAX_NAME} characters."),
                );
            }
            if row.description.chars().count() > MAX_DESCRIPTION {
                errors.add(
                    format!("task-{i}-description"),
                    format!("Use at most {MAX_DESCRIPTION} characters."),
                );
            }
            let due = row.due.trim();
            let due_in_days = if due.is_empty() {
                None
            } else {
                match due.parse::<i64>() {
                    Ok(n) if n < 0 => {
                        errors.add(
                            format!("task-{i}-due"),
                            "Days cannot be negative: use 0 for the same day.",
                        );
                        None
                    }
                    Ok(n) if n > i64::from(MAX_DUE_DAYS) => {
                        errors.add(
                            format!("task-{i}-due"),
                            format!("Use at most {MAX_DUE_DAYS} days."),
                        );
                        None
                    }
                    Ok(n) => Some(n as u32),
                    Err(_) => {
                        errors.add(
                            format!("task-{i}-due"),
                            format!("'{due}' is not a whole number of days."),
                        );
                        None
                    }
                }
            };
            tasks.push(DefaultTask {
                name: task_name.to_string(),
                description: row.description.trim().to_string(),
                due_in_days,
                client_visible: row.visible,
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidTemplate {
            name: name.to_string(),
            description: self.description.trim().to_string(),
            category: category.to_string(),
            tasks,
        })
    }
}

fn subject(id: i64) -> Subject<'static> {
    Subject {
        entity_type: "template",
        entity_id: id,
        client_id: None,
    }
}

pub async fn create<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    t: ValidTemplate,
) -> AppResult<service_template::Model> {
    let now = Utc::now();
    let model = service_template::Entity::insert(service_template::ActiveModel {
        name: Set(t.name),
        description: Set(t.description),
        category: Set(t.category),
        default_tasks: Set(json!(t.tasks)),
        archived_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(conn)
    .await?;
    activity::record(
        conn,
        actor,
        "template.created",
        subject(model.id),
        json!({"name": model.name}),
    )
    .await?;
    Ok(model)
}

pub async fn update<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: i64,
    t: ValidTemplate,
) -> AppResult<service_template::Model> {
    let current = get(conn, id).await?;
    let mut active: service_template::ActiveModel = current.into();
    active.name = Set(t.name);
    active.description = Set(t.description);
    active.category = Set(t.category);
    active.default_tasks = Set(json!(t.tasks));
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    activity::record(
        conn,
        actor,
        "template.updated",
        subject(id),
        json!({"name": model.name}),
    )
    .await?;
    Ok(model)
}

/// Archives (hides from new assignments) or restores a template. Existing services keep it.
pub async fn set_archived<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    id: i64,
    archived: bool,
) -> AppResult<service_template::Model> {
    let current = get(conn, id).await?;
    if current.archived_at.is_some() == archived {
        return Ok(current);
    }
    let mut active: service_template::ActiveModel = current.into();
    active.archived_at = Set(archived.then(Utc::now));
    active.updated_at = Set(Utc::now());
    let model = active.update(conn).await?;
    let action = if archived {
        "template.archived"
    } else {
        "template.restored"
    };
    activity::record(
        conn,
        actor,
        action,
        subject(id),
        json!({"name": model.name}),
    )
    .await?;
    Ok(model)
}

pub async fn get<C: ConnectionTrait>(conn: &C, id: i64) -> AppResult<service_template::Model> {
    service_template::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(AppError::not_found)
}

/// Templates by category and name; archived ones only when asked.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    archived: bool,
) -> Result<Vec<service_template::Model>, DbErr> {
    let q = service_template::Entity::find()
        .order_by_asc(service_template::Column::Category)
        .order_by_asc(service_template::Column::Name);
    let q = if archived {
        q.filter(service_template::Column::ArchivedAt.is_not_null())
    } else {
        q.filter(service_template::Column::ArchivedAt.is_null())
    };
    q.all(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn rows_are_read_in_order_and_blank_ones_ignored() {
        let form = TemplateForm::from_pairs(&pairs(&[
            ("name", "Logo"),
            ("category", "Design"),
            ("task-1-name", "Second"),
            ("task-0-name", "First"),
            ("task-0-due", "3"),
            ("task-0-visible", "on"),
            ("task-2-name", ""),
        ]));
        assert_eq!(form.blank_rows, BLANK_ROWS);
        let valid = form.validate().unwrap();
        assert_eq!(valid.tasks.len(), 2);
        assert_eq!(valid.tasks[0].name, "First");
        assert_eq!(valid.tasks[0].due_in_days, Some(3));
        assert!(valid.tasks[0].client_visible);
        assert!(!valid.tasks[1].client_visible);
    }

    #[test]
    fn each_mistake_names_its_field() {
        let mut p = vec![
            ("name", ""),
            ("category", "Design"),
            ("task-0-name", "x"),
            ("task-0-due", "-2"),
            ("task-1-description", "no name"),
        ];
        let long = "n".repeat(201);
        let errors = TemplateForm::from_pairs(&pairs(&p)).validate().unwrap_err();
        assert!(errors.get("name").is_some());
        assert!(errors.get("task-0-due").unwrap().contains("negative"));
        assert!(errors.get("task-1-name").is_some());
        p[0] = ("name", &long);
        let errors = TemplateForm::from_pairs(&pairs(&p)).validate().unwrap_err();
        assert!(errors.get("name").unwrap().contains("200"));
    }

    #[test]
    fn more_than_100_tasks_are_refused() {
        let mut form = TemplateForm {
            name: "Big".into(),
            category: "X".into(),
            ..Default::default()
        };
        form.tasks = (0..101)
            .map(|i| TaskRow {
                name: format!("t{i}"),
                ..Default::default()
            })
            .collect();
        assert!(
            form.validate()
                .unwrap_err()
                .get("tasks")
                .unwrap()
                .contains("100")
        );
        form.tasks.pop();
        assert!(form.validate().is_ok());
    }

    #[test]
    fn buttons_add_remove_and_reorder_rows() {
        let row = |n: &str| TaskRow {
            name: n.into(),
            ..Default::default()
        };
        let mut form = TemplateForm {
            tasks: vec![row("a"), row("b"), row("c")],
            ..TemplateForm::blank()
        };
        form.apply(Intent::parse(Some("up:1")));
        assert_eq!(
            form.tasks
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["b", "a", "c"]
        );
        form.apply(Intent::parse(Some("down:1")));
        assert_eq!(
            form.tasks
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["b", "c", "a"]
        );
        form.apply(Intent::parse(Some("remove:0")));
        assert_eq!(
            form.tasks
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["c", "a"]
        );
        form.apply(Intent::parse(Some("add")));
        assert_eq!(form.blank_rows, BLANK_ROWS + 1);
        form.apply(Intent::parse(Some("up:0")));
        form.apply(Intent::parse(Some("remove:9")));
        assert_eq!(form.tasks.len(), 2, "out-of-range buttons do nothing");
        assert_eq!(Intent::parse(None), Intent::Save);
    }
}
