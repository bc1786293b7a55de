//! The template form: its fields as typed (kept to show them again with their errors), read
//! from the posted pairs, rearranged by its buttons, and validated field by field into a
//! [`ValidTemplate`].

use std::collections::BTreeMap;

use super::bundles::{MAX_PART_QUANTITY, MAX_PARTS, PartOf};
use super::questions::{Kind, MAX_CHOICE, MAX_CHOICES, MAX_HELP, MAX_LABEL, MAX_QUESTIONS};
use super::{Billing, Interval, MAX_TRIAL_DAYS, Question, Recurring, When};
use crate::db::entities::service_template::{self, DefaultTask};
use crate::error::FieldErrors;
use crate::ids::TemplateId;
use crate::money::{Currency, Money};

pub const MAX_NAME: usize = 200;
pub const MAX_CATEGORY: usize = 100;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_TASKS: usize = 100;
pub const MAX_DUE_DAYS: u32 = 3650;
/// Blank task rows the form offers for adding tasks without JavaScript.
pub const BLANK_ROWS: usize = 2;
/// Blank part rows the form offers (a bundle is a template with parts).
pub const BLANK_PARTS: usize = 2;

/// One task row of the form, as typed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskRow {
    pub name: String,
    pub description: String,
    pub due: String,
    pub visible: bool,
    /// Made each paid period of a recurring service, not once.
    pub each_period: bool,
}

impl TaskRow {
    fn is_blank(&self) -> bool {
        self.name.trim().is_empty()
            && self.description.trim().is_empty()
            && self.due.trim().is_empty()
    }
}

/// One part of a bundle, as chosen (`part-{i}-template`, `part-{i}-quantity`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PartRow {
    /// The template's id, as the list sent it; empty for none.
    pub template: String,
    pub quantity: String,
}

impl PartRow {
    fn is_blank(&self) -> bool {
        self.template.trim().is_empty()
    }

    /// The part of row `i`.
    fn validate(&self, i: usize, errors: &mut FieldErrors) -> Option<PartOf> {
        let template = self.template.trim().parse::<i64>().ok().map(TemplateId);
        if template.is_none() {
            errors.add(
                format!("part-{i}-template"),
                "Choose a service from the list.",
            );
        }
        let quantity = self
            .quantity
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|q| (1..=MAX_PART_QUANTITY).contains(q));
        if quantity.is_none() {
            errors.add(
                format!("part-{i}-quantity"),
                format!("Give a whole number from 1 to {MAX_PART_QUANTITY}."),
            );
        }
        Some(PartOf {
            template_id: template?,
            quantity: quantity?,
        })
    }
}

/// One intake question of the form, as typed (`question-{i}-…`).
#[derive(Clone, Debug, PartialEq)]
pub struct QuestionRow {
    /// The question's id when it was saved before (hidden); empty for a new one.
    pub id: String,
    pub label: String,
    pub help: String,
    pub kind: String,
    pub required: bool,
    pub when: String,
    /// One choice a line, for a choice question.
    pub choices: String,
}

impl Default for QuestionRow {
    fn default() -> Self {
        Self {
            id: String::new(),
            label: String::new(),
            help: String::new(),
            kind: Kind::ShortText.as_str().into(),
            required: false,
            when: When::AfterPayment.as_str().into(),
            choices: String::new(),
        }
    }
}

impl QuestionRow {
    fn is_blank(&self) -> bool {
        self.label.trim().is_empty()
            && self.help.trim().is_empty()
            && self.choices.trim().is_empty()
    }

    fn from_question(q: &Question) -> Self {
        Self {
            id: q.id.to_string(),
            label: q.label.clone(),
            help: q.help.clone(),
            kind: q.kind.as_str().into(),
            required: q.required,
            when: q.when.as_str().into(),
            choices: q.choices.join("\n"),
        }
    }

    /// The question of row `i`; its id is 0 when new (numbered on save).
    fn validate(&self, i: usize, errors: &mut FieldErrors) -> Question {
        let field = |f: &str| format!("question-{i}-{f}");
        let label = self.label.trim();
        if label.is_empty() {
            errors.add(field("label"), "Write the question.");
        } else if label.chars().count() > MAX_LABEL {
            errors.add(
                field("label"),
                format!("Use at most {MAX_LABEL} characters."),
            );
        }
        if self.help.chars().count() > MAX_HELP {
            errors.add(field("help"), format!("Use at most {MAX_HELP} characters."));
        }
        let kind = Kind::parse(&self.kind).unwrap_or_else(|| {
            errors.add(field("kind"), "Choose what kind of answer it takes.");
            Kind::ShortText
        });
        let when = When::parse(&self.when).unwrap_or_else(|| {
            errors.add(field("when"), "Choose before or after payment.");
            When::AfterPayment
        });
        if kind == Kind::File && when == When::BeforePayment {
            errors.add(
                field("when"),
                "A file is asked after payment: it belongs to the service it is for.",
            );
        }
        let mut choices: Vec<String> = Vec::new();
        if kind.has_choices() {
            for c in self
                .choices
                .lines()
                .map(str::trim)
                .filter(|c| !c.is_empty())
            {
                if c.chars().count() > MAX_CHOICE {
                    errors.add(
                        field("choices"),
                        format!("Each choice has at most {MAX_CHOICE} characters."),
                    );
                } else if choices.iter().any(|x| x == c) {
                    errors.add(field("choices"), format!("'{c}' is there twice."));
                } else {
                    choices.push(c.to_string());
                }
            }
            if choices.len() < 2 {
                errors.add(field("choices"), "Give at least two choices, one a line.");
            } else if choices.len() > MAX_CHOICES {
                errors.add(field("choices"), format!("At most {MAX_CHOICES} choices."));
            }
        }
        Question {
            id: self.id.trim().parse().unwrap_or(0),
            kind,
            label: label.to_string(),
            help: self.help.trim().to_string(),
            required: self.required,
            when,
            choices,
        }
    }
}

/// Gives the new questions (id 0) the next ids after every id in `known` (the template as
/// stored) and in `questions`. A removed last question's id can come back; a cart answer kept
/// under it is read again against the new question and dropped unless it fits
/// (`Intake::of`).
pub fn number_questions(questions: &mut [Question], known: &[Question]) {
    let mut next = questions
        .iter()
        .chain(known)
        .map(|q| q.id)
        .max()
        .unwrap_or(0);
    for q in questions.iter_mut().filter(|q| q.id == 0) {
        next += 1;
        q.id = next;
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
    /// The intake questions with something typed in them, in order.
    pub questions: Vec<QuestionRow>,
    /// Empty question rows to offer below them.
    pub blank_questions: usize,
    /// A bundle's parts with a service chosen, in order; none for a single service.
    pub parts: Vec<PartRow>,
    /// Empty part rows to offer below them.
    pub blank_parts: usize,
    pub store: StoreForm,
}

/// The "Store settings" part of the template form, as typed.
#[derive(Clone, Debug, Default)]
pub struct StoreForm {
    pub purchasable: bool,
    pub price: String,
    pub currency: String,
    pub title: String,
    pub description: String,
    /// One URL a line.
    pub images: String,
    pub max_quantity: String,
    pub sort_order: String,
    /// `one_time` or `recurring`.
    pub billing: String,
    /// For a recurring service: `day`, `week`, `month` or `year`, how many of them a period
    /// lasts, the free trial's days and the setup fee, as typed.
    pub interval: String,
    pub interval_count: String,
    pub trial_days: String,
    pub setup_fee: String,
    /// When saved, move the running subscriptions to the new price from their next period.
    pub apply_to_existing: bool,
    /// Prices in other currencies, one a line (`catalog::prices`).
    pub other_prices: String,
    /// Stripe's product tax code (`txcd_…`), or empty for the account's default.
    pub tax_code: String,
}

impl StoreForm {
    fn defaults() -> Self {
        Self {
            currency: "USD".into(),
            max_quantity: "1".into(),
            sort_order: "0".into(),
            billing: "one_time".into(),
            interval: "month".into(),
            interval_count: "1".into(),
            trial_days: "0".into(),
            ..Default::default()
        }
    }

    pub fn is_recurring(&self) -> bool {
        self.billing == "recurring"
    }

    /// The billing choice; the recurring fields are read only for a recurring service.
    fn validate_billing(
        &self,
        currency: Option<crate::money::Currency>,
        errors: &mut FieldErrors,
    ) -> Option<Billing> {
        match self.billing.trim() {
            "" | "one_time" => return Some(Billing::OneTime),
            "recurring" => {}
            other => {
                errors.add(
                    "billing",
                    format!("'{other}' is not a billing choice: use one_time or recurring."),
                );
                return None;
            }
        }
        let interval = Interval::parse(&self.interval);
        if interval.is_none() {
            errors.add("interval", "Choose days, weeks, months or years.");
        }
        let most = interval.map_or(1, Interval::max_count) as i32;
        let count = parse_int(errors, "interval_count", &self.interval_count, 1, 1, most);
        let trial = parse_int(
            errors,
            "trial_days",
            &self.trial_days,
            0,
            0,
            MAX_TRIAL_DAYS as i32,
        );
        let fee = currency.and_then(|c| {
            if self.setup_fee.trim().is_empty() {
                return Some(Money::new(0, c));
            }
            Money::parse(&self.setup_fee, c)
                .map_err(|m| errors.add("setup_fee", m))
                .ok()
        });
        Some(Billing::Recurring(Recurring {
            interval: interval?,
            count: count? as u32,
            trial_days: trial? as u32,
            setup_fee_minor: fee?.minor,
        }))
    }

    /// The price as typed, if it reads as one (for the card preview), with its period when
    /// recurring: "$149.00 / month".
    pub fn price_preview(&self) -> Option<String> {
        let currency = Currency::parse(&self.currency)?;
        let price = Money::parse(&self.price, currency).ok()?.display();
        let per = match Interval::parse(&self.interval) {
            Some(interval) if self.is_recurring() => Billing::Recurring(Recurring {
                interval,
                count: self.interval_count.trim().parse().unwrap_or(1),
                trial_days: 0,
                setup_fee_minor: 0,
            })
            .per(),
            _ => String::new(),
        };
        Some(format!("{price}{per}"))
    }

    /// The billing fields of a stored template (a one-time one offers monthly when switched).
    fn billing_of(t: &service_template::Model) -> Self {
        let defaults = Self::defaults();
        match t.billing() {
            Billing::OneTime => defaults,
            Billing::Recurring(r) => Self {
                billing: "recurring".into(),
                interval: r.interval.as_str().into(),
                interval_count: r.count.to_string(),
                trial_days: r.trial_days.to_string(),
                setup_fee: if r.setup_fee_minor > 0 {
                    Money::new(r.setup_fee_minor, t.currency).plain()
                } else {
                    String::new()
                },
                ..defaults
            },
        }
    }

    pub fn first_image(&self) -> Option<&str> {
        self.images.lines().map(str::trim).find(|l| !l.is_empty())
    }
}

pub const MAX_IMAGES: usize = 8;
pub const MAX_QUANTITY: i32 = 100;

impl StoreForm {
    fn validate(&self, errors: &mut FieldErrors) -> Option<StoreSettings> {
        let currency = Currency::parse(if self.currency.trim().is_empty() {
            "USD"
        } else {
            &self.currency
        });
        if currency.is_none() {
            errors.add(
                "currency",
                format!(
                    "'{}' is not a currency the store accepts (example: USD).",
                    self.currency.trim()
                ),
            );
        }
        let price = currency.and_then(|c| {
            if self.price.trim().is_empty() && !self.purchasable {
                return Some(Money::new(0, c));
            }
            Money::parse(&self.price, c)
                .map_err(|m| errors.add("price", m))
                .ok()
        });
        let title = self.title.trim();
        if title.chars().count() > MAX_NAME {
            errors.add("store_title", format!("Use at most {MAX_NAME} characters."));
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            errors.add(
                "store_description",
                format!("Use at most {MAX_DESCRIPTION} characters."),
            );
        }
        let images: Vec<String> = self
            .images
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if images.len() > MAX_IMAGES {
            errors.add("store_images", format!("At most {MAX_IMAGES} images."));
        }
        for image in &images {
            if !is_image_url(image) {
                errors.add("store_images", format!("'{image}' is not an http(s) address (example: https://example.com/logo.png): upload the picture instead."));
            }
        }
        let max_quantity = parse_int(
            errors,
            "max_quantity",
            &self.max_quantity,
            1,
            1,
            MAX_QUANTITY,
        );
        let sort_order = parse_int(errors, "sort_order", &self.sort_order, 0, -100_000, 100_000);
        let billing = self.validate_billing(currency, errors);
        let other_prices = super::prices::parse(&self.other_prices, currency)
            .map_err(|m| errors.add("other_prices", m))
            .ok();
        // A setup fee goes with a retainer, in every currency it is sold in.
        if let (Some(billing), Some(others)) = (&billing, &other_prices) {
            match billing {
                Billing::OneTime if others.values().any(|p| p.setup_fee > 0) => errors.add(
                    "other_prices",
                    "A setup fee (after a +) is for a recurring service: this one is paid once.",
                ),
                Billing::Recurring(r) if r.setup_fee_minor > 0 => {
                    if let Some((c, _)) = others.iter().find(|(_, p)| p.setup_fee == 0) {
                        errors.add(
                            "other_prices",
                            format!("This service has a setup fee: give it in {c} too, after a + (e.g. {c} 149 + 50)."),
                        );
                    }
                }
                _ => {}
            }
        }
        let tax_code = parse_tax_code(&self.tax_code)
            .map_err(|m| errors.add("tax_code", m))
            .ok();
        Some(StoreSettings {
            tax_code: tax_code?,
            other_prices: other_prices?,
            billing: billing?,
            is_purchasable: self.purchasable,
            price: price?,
            title: title.to_string(),
            description: self.description.trim().to_string(),
            images,
            max_quantity: max_quantity?,
            sort_order: sort_order?,
            apply_to_existing: self.apply_to_existing && self.is_recurring(),
        })
    }
}

/// A Stripe product tax code: `txcd_` and eight digits (`None` when left empty).
fn parse_tax_code(raw: &str) -> Result<Option<String>, String> {
    let code = raw.trim().to_ascii_lowercase();
    if code.is_empty() {
        return Ok(None);
    }
    let digits = code.strip_prefix("txcd_").unwrap_or_default();
    if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(code))
    } else {
        Err(format!(
            "'{}' is not a Stripe tax code: they read txcd_ and eight digits (e.g. txcd_20030000).",
            raw.trim()
        ))
    }
}

/// An http(s) address with a host, or an image the app serves itself (`/static/...`).
fn is_image_url(raw: &str) -> bool {
    if raw.len() > 2000 {
        return false;
    }
    // The app's own pictures: the demo's, and those uploaded with a template.
    if let Some(path) = raw
        .strip_prefix("/static/")
        .or_else(|| raw.strip_prefix("/store/images/"))
    {
        return !path.is_empty() && !path.contains("..");
    }
    url::Url::parse(raw).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A whole number in `min..=max`; `default` when left empty.
fn parse_int(
    errors: &mut FieldErrors,
    field: &str,
    raw: &str,
    default: i32,
    min: i32,
    max: i32,
) -> Option<i32> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Some(default);
    }
    match raw.parse::<i64>() {
        Ok(n) if n >= i64::from(min) && n <= i64::from(max) => Some(n as i32),
        Ok(_) => {
            errors.add(field, format!("Use a whole number from {min} to {max}."));
            None
        }
        Err(_) => {
            errors.add(field, format!("'{raw}' is not a whole number."));
            None
        }
    }
}

/// Store settings that passed validation.
#[derive(Clone, Debug)]
pub struct StoreSettings {
    pub is_purchasable: bool,
    pub price: Money,
    /// Its prices in other currencies.
    pub other_prices: super::prices::OtherPrices,
    pub tax_code: Option<String>,
    /// The template's name when left empty in the form.
    pub title: String,
    pub description: String,
    pub images: Vec<String>,
    pub max_quantity: i32,
    pub sort_order: i32,
    pub billing: Billing,
    /// Move the running subscriptions to a new price (from their next period, no proration).
    pub apply_to_existing: bool,
}

/// A template that passed validation.
#[derive(Clone, Debug)]
pub struct ValidTemplate {
    pub name: String,
    pub description: String,
    pub category: String,
    pub tasks: Vec<DefaultTask>,
    /// New questions have id 0 ([`number_questions`] numbers them).
    pub questions: Vec<Question>,
    /// A bundle's parts (checked against the catalogue when saved: `bundles::save_parts`).
    pub parts: Vec<PartOf>,
    pub store: StoreSettings,
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
    AddQuestion,
    RemoveQuestion(usize),
    QuestionUp(usize),
    QuestionDown(usize),
    AddPart,
}

impl Intent {
    pub fn parse(raw: Option<&str>) -> Self {
        let raw = raw.unwrap_or("save");
        let (verb, n) = raw.split_once(':').unwrap_or((raw, ""));
        match (verb, n.parse::<usize>()) {
            ("add", _) => Self::AddRow,
            ("question-add", _) => Self::AddQuestion,
            ("part-add", _) => Self::AddPart,
            ("question-remove", Ok(i)) => Self::RemoveQuestion(i),
            ("question-up", Ok(i)) => Self::QuestionUp(i),
            ("question-down", Ok(i)) => Self::QuestionDown(i),
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
        form.store.currency = "USD".into();
        form.store.billing = "one_time".into();
        let mut rows: BTreeMap<usize, TaskRow> = BTreeMap::new();
        let mut question_rows: BTreeMap<usize, QuestionRow> = BTreeMap::new();
        let mut part_rows: BTreeMap<usize, PartRow> = BTreeMap::new();
        for (key, value) in pairs {
            if let Some((i, field)) = key
                .strip_prefix("part-")
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(i, f)| Some((i.parse::<usize>().ok().filter(|&i| i < 1000)?, f)))
            {
                let row = part_rows.entry(i).or_default();
                match field {
                    "template" => row.template = value.clone(),
                    "quantity" => row.quantity = value.clone(),
                    _ => {}
                }
                continue;
            }
            if let Some((i, field)) = key
                .strip_prefix("question-")
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(i, f)| Some((i.parse::<usize>().ok().filter(|&i| i < 1000)?, f)))
            {
                let row = question_rows.entry(i).or_default();
                match field {
                    "id" => row.id = value.clone(),
                    "label" => row.label = value.clone(),
                    "help" => row.help = value.clone(),
                    "kind" => row.kind = value.clone(),
                    "required" => row.required = !value.is_empty(),
                    "when" => row.when = value.clone(),
                    "choices" => row.choices = value.clone(),
                    _ => {}
                }
                continue;
            }
            match key.as_str() {
                "name" => form.name = value.clone(),
                "description" => form.description = value.clone(),
                "category" => form.category = value.clone(),
                "purchasable" => form.store.purchasable = !value.is_empty(),
                "price" => form.store.price = value.clone(),
                "currency" => form.store.currency = value.clone(),
                "store_title" => form.store.title = value.clone(),
                "store_description" => form.store.description = value.clone(),
                "store_images" => form.store.images = value.clone(),
                "max_quantity" => form.store.max_quantity = value.clone(),
                "sort_order" => form.store.sort_order = value.clone(),
                "billing" => form.store.billing = value.clone(),
                "interval" => form.store.interval = value.clone(),
                "interval_count" => form.store.interval_count = value.clone(),
                "trial_days" => form.store.trial_days = value.clone(),
                "setup_fee" => form.store.setup_fee = value.clone(),
                "apply_to_existing" => form.store.apply_to_existing = !value.is_empty(),
                "other_prices" => form.store.other_prices = value.clone(),
                "tax_code" => form.store.tax_code = value.clone(),
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
                        "period" => row.each_period = !value.is_empty(),
                        _ => {}
                    }
                }
            }
        }
        let (blank, typed): (Vec<TaskRow>, Vec<TaskRow>) =
            rows.into_values().partition(TaskRow::is_blank);
        form.tasks = typed;
        form.blank_rows = blank.len().clamp(BLANK_ROWS, 20);
        let (blank, typed): (Vec<QuestionRow>, Vec<QuestionRow>) =
            question_rows.into_values().partition(QuestionRow::is_blank);
        form.questions = typed;
        form.blank_questions = blank.len().clamp(1, 20);
        let (blank, chosen): (Vec<PartRow>, Vec<PartRow>) =
            part_rows.into_values().partition(PartRow::is_blank);
        form.parts = chosen;
        form.blank_parts = blank.len().clamp(BLANK_PARTS, 20);
        form
    }

    /// The form of a saved template, with its parts if it is a bundle.
    pub fn from_model(t: &service_template::Model, parts: &[PartOf]) -> Self {
        Self {
            parts: parts
                .iter()
                .map(|p| PartRow {
                    template: p.template_id.to_string(),
                    quantity: p.quantity.to_string(),
                })
                .collect(),
            blank_parts: BLANK_PARTS,
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
                    each_period: d.each_period,
                })
                .collect(),
            blank_rows: BLANK_ROWS,
            questions: t
                .questions()
                .iter()
                .map(QuestionRow::from_question)
                .collect(),
            blank_questions: 1,
            store: StoreForm {
                purchasable: t.is_purchasable,
                price: t.price().plain(),
                currency: t.price().currency.code().to_string(),
                title: if t.store_title == t.name {
                    String::new()
                } else {
                    t.store_title.clone()
                },
                description: t.store_description.clone(),
                images: t.images().join("\n"),
                max_quantity: t.max_quantity.to_string(),
                sort_order: t.sort_order.to_string(),
                other_prices: super::prices::to_lines(&t.other_prices()),
                tax_code: t.tax_code.clone().unwrap_or_default(),
                ..StoreForm::billing_of(t)
            },
        }
    }

    /// An empty form for a new template.
    pub fn blank() -> Self {
        Self {
            blank_rows: BLANK_ROWS,
            blank_questions: 1,
            blank_parts: BLANK_PARTS,
            store: StoreForm::defaults(),
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
            // `i` comes from the form: `i + 1` could overflow.
            Intent::Down(i) if i < n.saturating_sub(1) => self.tasks.swap(i, i + 1),
            Intent::AddQuestion => self.blank_questions = (self.blank_questions + 1).min(20),
            Intent::AddPart => self.blank_parts = (self.blank_parts + 1).min(20),
            Intent::RemoveQuestion(i) if i < self.questions.len() => {
                self.questions.remove(i);
            }
            Intent::QuestionUp(i) if i > 0 && i < self.questions.len() => {
                self.questions.swap(i, i - 1)
            }
            Intent::QuestionDown(i) if i < self.questions.len().saturating_sub(1) => {
                self.questions.swap(i, i + 1)
            }
            _ => {}
        }
    }

    /// The template, or every mistake in the form, each under its field's name.
    pub fn validate(&self) -> Result<ValidTemplate, FieldErrors> {
        let mut errors = FieldErrors::default();
        let name = self.name.trim();
        let category = self.category.trim();
        self.check_details(name, category, &mut errors);
        let tasks = self.validate_tasks(&mut errors);
        let questions = self.validate_questions(&mut errors);
        let store = self.store.validate(&mut errors);
        let parts = self.validate_parts(&mut errors);
        if !self.store.is_recurring() {
            for (i, row) in self.tasks.iter().enumerate() {
                if row.each_period {
                    errors.add(
                        format!("task-{i}-period"),
                        "Only a recurring service has tasks each period: make it recurring or untick this.",
                    );
                }
            }
        }
        match store {
            Some(mut store) if errors.is_empty() => Ok(ValidTemplate {
                store: StoreSettings {
                    title: if store.title.is_empty() {
                        name.to_string()
                    } else {
                        std::mem::take(&mut store.title)
                    },
                    ..store
                },
                name: name.to_string(),
                description: self.description.trim().to_string(),
                category: category.to_string(),
                tasks,
                questions,
                parts,
            }),
            _ => Err(errors),
        }
    }

    /// The template's own fields (`name` and `category` trimmed).
    fn check_details(&self, name: &str, category: &str, errors: &mut FieldErrors) {
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
        if category.is_empty() {
            errors.add("category", "Choose or type a category.");
        } else if category.chars().count() > MAX_CATEGORY {
            errors.add(
                "category",
                format!("Use at most {MAX_CATEGORY} characters."),
            );
        }
    }

    /// The task rows, in order. Every row is read even past `MAX_TASKS`, so each mistake shows
    /// beside its row.
    fn validate_tasks(&self, errors: &mut FieldErrors) -> Vec<DefaultTask> {
        if self.tasks.len() > MAX_TASKS {
            errors.add(
                "tasks",
                format!(
                    "A template has at most {MAX_TASKS} tasks (this has {}).",
                    self.tasks.len()
                ),
            );
        }
        self.tasks
            .iter()
            .enumerate()
            .map(|(i, row)| row.validate(i, errors))
            .collect()
    }
}

impl TemplateForm {
    /// A bundle's parts, in order: each chosen once, with a quantity. A bundle is bought once
    /// and its parts bring their own tasks and questions, so it has none of its own.
    fn validate_parts(&self, errors: &mut FieldErrors) -> Vec<PartOf> {
        if self.parts.is_empty() {
            return Vec::new();
        }
        if self.parts.len() > MAX_PARTS {
            errors.add(
                "parts",
                format!(
                    "A bundle has at most {MAX_PARTS} services (this has {}).",
                    self.parts.len()
                ),
            );
        }
        if self.store.is_recurring() {
            errors.add(
                "billing",
                "A bundle is bought once: make it one-time, or remove its services.",
            );
        }
        if !self.tasks.is_empty() {
            errors.add(
                "tasks",
                "A bundle's services bring their own tasks: remove these, or the bundle's services.",
            );
        }
        if !self.questions.is_empty() {
            errors.add(
                "questions",
                "A bundle's services ask their own questions: remove these, or the bundle's services.",
            );
        }
        let mut seen = std::collections::HashSet::new();
        let mut parts = Vec::with_capacity(self.parts.len());
        for (i, row) in self.parts.iter().enumerate() {
            let part = row.validate(i, errors);
            if let Ok(id) = row.template.trim().parse::<i64>()
                && !seen.insert(id)
            {
                errors.add(
                    format!("part-{i}-template"),
                    "This service is listed above: raise its quantity instead.",
                );
            }
            parts.extend(part);
        }
        parts
    }

    /// The questions, in order (a repeated id, from a tampered form, counts as new).
    fn validate_questions(&self, errors: &mut FieldErrors) -> Vec<Question> {
        if self.questions.len() > MAX_QUESTIONS {
            errors.add(
                "questions",
                format!(
                    "A template has at most {MAX_QUESTIONS} questions (this has {}).",
                    self.questions.len()
                ),
            );
        }
        let mut seen = std::collections::HashSet::new();
        self.questions
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut q = row.validate(i, errors);
                if q.id != 0 && !seen.insert(q.id) {
                    q.id = 0;
                }
                q
            })
            .collect()
    }
}

impl TaskRow {
    /// The task of row `i` (its fields are named `task-{i}-…`).
    fn validate(&self, i: usize, errors: &mut FieldErrors) -> DefaultTask {
        let task_name = self.name.trim();
        if task_name.is_empty() {
            errors.add(format!("task-{i}-name"), "Give the task a name.");
        } else if task_name.chars().count() > MAX_NAME {
            errors.add(
                format!("task-{i}-name"),
                format!("Use at most {MAX_NAME} characters."),
            );
        }
        if self.description.chars().count() > MAX_DESCRIPTION {
            errors.add(
                format!("task-{i}-description"),
                format!("Use at most {MAX_DESCRIPTION} characters."),
            );
        }
        DefaultTask {
            name: task_name.to_string(),
            description: self.description.trim().to_string(),
            due_in_days: self.due_in_days(i, errors),
            client_visible: self.visible,
            each_period: self.each_period,
        }
    }

    /// Days after the service starts; none when left empty.
    fn due_in_days(&self, i: usize, errors: &mut FieldErrors) -> Option<u32> {
        let due = self.due.trim();
        if due.is_empty() {
            return None;
        }
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
    }
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
    fn a_file_is_asked_after_payment_only() {
        let row = |when: &str| QuestionRow {
            label: "Your current logo".into(),
            kind: "file".into(),
            when: when.into(),
            ..QuestionRow::default()
        };
        let mut errors = FieldErrors::default();
        let q = row("after_payment").validate(0, &mut errors);
        assert!(errors.is_empty());
        assert_eq!(q.kind, Kind::File);
        row("before_payment").validate(0, &mut errors);
        assert_eq!(
            errors.get("question-0-when"),
            Some("A file is asked after payment: it belongs to the service it is for.")
        );
    }

    #[test]
    fn a_bundle_reads_its_parts_and_has_no_tasks_or_terms_of_its_own() {
        let base = [
            ("name", "Brand Starter"),
            ("category", "Design"),
            ("price", "1000"),
            ("part-0-template", "7"),
            ("part-0-quantity", "1"),
            ("part-1-template", ""),
            ("part-1-quantity", "1"),
            ("part-2-template", "9"),
            ("part-2-quantity", "2"),
        ];
        let form = TemplateForm::from_pairs(&pairs(&base));
        assert_eq!(form.parts.len(), 2, "a row without a service is blank");
        let valid = form.validate().expect("valid");
        assert_eq!(
            valid.parts,
            [
                PartOf {
                    template_id: TemplateId(7),
                    quantity: 1
                },
                PartOf {
                    template_id: TemplateId(9),
                    quantity: 2
                }
            ]
        );

        let mut bad = base.to_vec();
        bad.extend([
            ("part-3-template", "7"),
            ("part-3-quantity", "0"),
            ("task-0-name", "Kick-off"),
            ("billing", "recurring"),
        ]);
        let errors = TemplateForm::from_pairs(&pairs(&bad))
            .validate()
            .expect_err("invalid");
        assert_eq!(
            errors.get("part-2-template"),
            Some("This service is listed above: raise its quantity instead."),
            "rows are numbered as shown: the blank one is dropped"
        );
        assert_eq!(
            errors.get("part-2-quantity"),
            Some("Give a whole number from 1 to 20.")
        );
        assert!(
            errors
                .get("tasks")
                .is_some_and(|e| e.contains("bring their own tasks"))
        );
        assert!(
            errors
                .get("billing")
                .is_some_and(|e| e.contains("bought once"))
        );
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
    fn a_recurring_template_reads_its_terms_and_period_tasks() {
        let base = [
            ("name", "Maintenance"),
            ("category", "Web"),
            ("price", "149"),
            ("billing", "recurring"),
            ("interval", "month"),
            ("interval_count", "3"),
            ("trial_days", "14"),
            ("setup_fee", "50"),
            ("task-0-name", "Kick-off"),
            ("task-1-name", "Monthly report"),
            ("task-1-due", "25"),
            ("task-1-period", "on"),
        ];
        let valid = TemplateForm::from_pairs(&pairs(&base)).validate().unwrap();
        let Billing::Recurring(r) = valid.store.billing else {
            panic!("recurring expected");
        };
        assert_eq!(
            (r.interval, r.count, r.trial_days, r.setup_fee_minor),
            (Interval::Month, 3, 14, 5_000)
        );
        assert!(!valid.tasks[0].each_period && valid.tasks[1].each_period);

        let with = |k: &'static str, v: &'static str| {
            let mut p = base.to_vec();
            p.retain(|(key, _)| *key != k);
            p.push((k, v));
            TemplateForm::from_pairs(&pairs(&p)).validate().unwrap_err()
        };
        assert!(
            with("interval_count", "13")
                .get("interval_count")
                .unwrap()
                .contains("1 to 12")
        );
        assert!(with("interval", "fortnight").get("interval").is_some());
        assert!(
            with("trial_days", "731")
                .get("trial_days")
                .unwrap()
                .contains("730")
        );
        assert!(with("setup_fee", "-5").get("setup_fee").is_some());
        assert!(with("billing", "weekly-ish").get("billing").is_some());
        assert!(
            with("tax_code", "txcd_2003")
                .get("tax_code")
                .unwrap()
                .contains("eight digits")
        );
        let mut p = base.to_vec();
        p.push(("tax_code", " TXCD_20030000 "));
        let valid = TemplateForm::from_pairs(&pairs(&p)).validate().unwrap();
        assert_eq!(valid.store.tax_code.as_deref(), Some("txcd_20030000"));
        // A period task on a one-time service is refused at its row.
        let errors = with("billing", "one_time");
        assert!(errors.get("task-1-period").unwrap().contains("recurring"));
        // One-time ignores the recurring fields, whatever they hold.
        let mut p = base.to_vec();
        p.retain(|(k, _)| *k != "task-1-period" && *k != "billing");
        p.push(("interval_count", "99"));
        let valid = TemplateForm::from_pairs(&pairs(&p)).validate().unwrap();
        assert_eq!(valid.store.billing, Billing::OneTime);
    }

    #[test]
    fn more_than_100_tasks_are_refused() {
        let mut form = TemplateForm {
            name: "Big".into(),
            category: "X".into(),
            ..TemplateForm::blank()
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
