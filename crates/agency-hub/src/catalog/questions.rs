//! Intake questions: what a template asks the client, either before payment (in the cart, for
//! each line) or after it (on the new service), and the answers given, each read and checked on
//! its own so a mistake shows beside its field.
//!
//! A cart line keeps its answers by question id. An order item and a service keep an
//! [`Intake`]: the questions as they were asked, each with its answer, so a later change to the
//! template changes nothing already bought.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const MAX_QUESTIONS: usize = 50;
pub const MAX_LABEL: usize = 200;
pub const MAX_HELP: usize = 1_000;
pub const MAX_CHOICES: usize = 30;
pub const MAX_CHOICE: usize = 100;
/// The longest answers, in characters.
pub const MAX_SHORT: usize = 200;
pub const MAX_LONG: usize = 10_000;
pub const MAX_URL: usize = 2_000;

/// What kind of answer a question takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ShortText,
    LongText,
    SingleChoice,
    MultipleChoice,
    Number,
    Date,
    Url,
    /// A file, sent with the answers once paid (it belongs to the service); the answer kept
    /// is the file's name, the file itself one of the service's files.
    File,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Self::ShortText,
        Self::LongText,
        Self::SingleChoice,
        Self::MultipleChoice,
        Self::Number,
        Self::Date,
        Self::Url,
        Self::File,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ShortText => "short_text",
            Self::LongText => "long_text",
            Self::SingleChoice => "single_choice",
            Self::MultipleChoice => "multiple_choice",
            Self::Number => "number",
            Self::Date => "date",
            Self::Url => "url",
            Self::File => "file",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw.trim())
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::ShortText => "Short text",
            Self::LongText => "Long text",
            Self::SingleChoice => "One choice",
            Self::MultipleChoice => "Several choices",
            Self::Number => "Number",
            Self::Date => "Date",
            Self::Url => "Web address",
            Self::File => "File upload",
        }
    }

    pub fn has_choices(self) -> bool {
        matches!(self, Self::SingleChoice | Self::MultipleChoice)
    }
}

/// When the client is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// In the cart: checkout waits for the required ones.
    BeforePayment,
    /// On the service, once paid.
    AfterPayment,
}

impl When {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforePayment => "before_payment",
            Self::AfterPayment => "after_payment",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "before_payment" => Some(Self::BeforePayment),
            "after_payment" => Some(Self::AfterPayment),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::BeforePayment => "Before payment",
            Self::AfterPayment => "After payment",
        }
    }
}

/// One question of a template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Stable within its template: answers are kept under it.
    pub id: u32,
    pub kind: Kind,
    pub label: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub required: bool,
    pub when: When,
    /// The choices of a single or multiple choice question, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// An answer as kept: text (short, long, one choice, a number as typed, a date as
/// `YYYY-MM-DD`, a web address) or several choices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Answer {
    Text(String),
    Choices(Vec<String>),
}

impl Answer {
    /// As one line ("Blue, Green" for choices).
    pub fn display(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Choices(c) => c.join(", "),
        }
    }
}

/// Answers by question id, as a cart line keeps them.
pub type Answers = BTreeMap<u32, Answer>;

/// The form field of a question's answer.
pub fn field(id: u32) -> String {
    format!("q{id}")
}

impl Question {
    pub fn field(&self) -> String {
        field(self.id)
    }

    /// Reads an answer from what was typed or ticked (several values for several choices):
    /// `Ok(None)` when left empty, else the answer or what is wrong with it.
    pub fn read(&self, values: &[&str]) -> Result<Option<Answer>, String> {
        let values: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let Some(&first) = values.first() else {
            return Ok(None);
        };
        let chars = first.chars().count();
        let answer = match self.kind {
            Kind::MultipleChoice => {
                let mut picked = Vec::new();
                for v in &values {
                    let choice = self.choice(v)?;
                    if !picked.contains(&choice) {
                        picked.push(choice);
                    }
                }
                // In the question's order, whatever order they came in.
                picked.sort_by_key(|c| self.choices.iter().position(|x| x == c));
                return Ok(Some(Answer::Choices(picked)));
            }
            _ if values.len() > 1 => return Err("Give one answer.".into()),
            Kind::SingleChoice => self.choice(first)?,
            Kind::ShortText if chars > MAX_SHORT => {
                return Err(format!(
                    "Use at most {MAX_SHORT} characters (this has {chars})."
                ));
            }
            Kind::LongText if chars > MAX_LONG => {
                return Err(format!(
                    "Use at most {MAX_LONG} characters (this has {chars})."
                ));
            }
            Kind::ShortText | Kind::LongText => first.to_string(),
            // The file's name (the file is sent beside it).
            Kind::File => first.chars().take(MAX_SHORT).collect(),
            Kind::Number => match first.replace(',', "").parse::<f64>() {
                Ok(n) if n.is_finite() && first.len() <= 30 => first.replace(',', ""),
                _ => return Err(format!("'{first}' is not a number (example: 12 or 4.5).")),
            },
            Kind::Date => match chrono::NaiveDate::parse_from_str(first, "%Y-%m-%d") {
                Ok(d) => d.format("%Y-%m-%d").to_string(),
                Err(_) => {
                    return Err(format!(
                        "'{first}' is not a date: use YYYY-MM-DD (example: 2027-03-31)."
                    ));
                }
            },
            Kind::Url => {
                let ok = first.len() <= MAX_URL
                    && url::Url::parse(first).is_ok_and(|u| {
                        matches!(u.scheme(), "http" | "https") && u.host().is_some()
                    });
                if !ok {
                    return Err(format!(
                        "'{first}' is not a web address (example: https://example.com)."
                    ));
                }
                first.to_string()
            }
        };
        Ok(Some(Answer::Text(answer)))
    }

    /// Reads an answer sent as JSON: a string, a number, an array of strings (several
    /// choices), or null for none.
    pub fn read_json(&self, value: &Value) -> Result<Option<Answer>, String> {
        if self.kind == Kind::File && !value.is_null() {
            return Err(
                "This question takes a file: send it on the service's answers page.".into(),
            );
        }
        match value {
            Value::Null => Ok(None),
            Value::String(s) => self.read(&[s]),
            Value::Number(n) => self.read(&[&n.to_string()]),
            Value::Array(items) => {
                let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                match texts {
                    Some(texts) => self.read(&texts),
                    None => Err("Give the choices as a list of strings.".into()),
                }
            }
            _ => Err("Give the answer as a string, a number or a list of strings.".into()),
        }
    }

    fn choice(&self, value: &str) -> Result<String, String> {
        self.choices
            .iter()
            .find(|c| c.as_str() == value)
            .cloned()
            .ok_or_else(|| format!("'{value}' is not one of the choices."))
    }

    /// Whether a kept answer still fits the question (a template's question may have changed
    /// since a cart line was answered).
    fn accepts(&self, answer: &Answer) -> bool {
        let values: Vec<&str> = match answer {
            Answer::Text(t) => vec![t],
            Answer::Choices(c) => c.iter().map(String::as_str).collect(),
        };
        matches!(self.read(&values), Ok(Some(a)) if &a == answer)
    }
}

/// Reads the answers to `questions` from a form's pairs (field `q{id}`; a multiple choice
/// question's boxes each send one): every answer, or every mistake by field. Questions left
/// empty have no answer.
pub fn read_form<'q>(
    questions: impl IntoIterator<Item = &'q Question>,
    pairs: &[(String, String)],
) -> Result<Answers, BTreeMap<String, String>> {
    let mut answers = Answers::new();
    let mut errors = BTreeMap::new();
    for q in questions {
        let name = q.field();
        let values: Vec<&str> = pairs
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        match q.read(&values) {
            Ok(Some(a)) => {
                answers.insert(q.id, a);
            }
            Ok(None) => {}
            Err(message) => {
                errors.insert(name, message);
            }
        }
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

/// Reads answers sent as JSON, an object by question id (`{"1": "Acme", "2": ["Blue"]}`):
/// every answer, or every mistake by field (`q{id}`). A question left out or null has no
/// answer; an id the questions lack is a mistake.
pub fn read_json_map(
    questions: &[Question],
    answers: &serde_json::Map<String, Value>,
) -> Result<Answers, BTreeMap<String, String>> {
    let mut read = Answers::new();
    let mut errors = BTreeMap::new();
    for (key, value) in answers {
        let Some(q) = key
            .parse::<u32>()
            .ok()
            .and_then(|id| questions.iter().find(|q| q.id == id))
        else {
            errors.insert(
                format!("q{key}"),
                format!("'{key}' is not the id of a question asked here."),
            );
            continue;
        };
        match q.read_json(value) {
            Ok(Some(a)) => {
                read.insert(q.id, a);
            }
            Ok(None) => {}
            Err(message) => {
                errors.insert(q.field(), message);
            }
        }
    }
    if errors.is_empty() {
        Ok(read)
    } else {
        Err(errors)
    }
}

/// A question as it was asked, with its answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    #[serde(flatten)]
    pub question: Question,
    #[serde(default)]
    pub answer: Option<Answer>,
}

/// The questions an order item or a service was asked, with their answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Intake(pub Vec<Asked>);

impl Intake {
    /// The questions with the answers kept for them (an answer that no longer fits its
    /// question is dropped).
    pub fn of(questions: &[Question], answers: &Answers) -> Self {
        Self(
            questions
                .iter()
                .map(|q| Asked {
                    question: q.clone(),
                    answer: answers.get(&q.id).filter(|a| q.accepts(a)).cloned(),
                })
                .collect(),
        )
    }

    pub fn from_json(value: &Value) -> Self {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Array(Vec::new()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The questions asked at `when`.
    pub fn asked(&self, when: When) -> impl Iterator<Item = &Asked> {
        self.0.iter().filter(move |a| a.question.when == when)
    }

    /// The required questions asked at `when` still without an answer.
    pub fn missing(&self, when: When) -> Vec<&Question> {
        self.asked(when)
            .filter(|a| a.question.required && a.answer.is_none())
            .map(|a| &a.question)
            .collect()
    }

    /// The answers by question id.
    pub fn answers(&self) -> Answers {
        self.0
            .iter()
            .filter_map(|a| Some((a.question.id, a.answer.clone()?)))
            .collect()
    }

    /// The answers given, in the questions' order: (label, answer).
    pub fn given(&self) -> impl Iterator<Item = (&str, &Answer)> {
        self.0
            .iter()
            .filter_map(|a| Some((a.question.label.as_str(), a.answer.as_ref()?)))
    }

    /// Sets the answers to the questions asked at `when` (others kept); returns the labels of
    /// the questions whose answer changed.
    pub fn answer(&mut self, when: When, answers: &Answers) -> Vec<String> {
        let mut changed = Vec::new();
        for asked in self.0.iter_mut().filter(|a| a.question.when == when) {
            let new = answers.get(&asked.question.id).cloned();
            if new != asked.answer {
                changed.push(asked.question.label.clone());
                asked.answer = new;
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(kind: Kind, choices: &[&str]) -> Question {
        Question {
            id: 7,
            kind,
            label: "Q".into(),
            help: String::new(),
            required: true,
            when: When::BeforePayment,
            choices: choices.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn each_kind_reads_its_answers_and_names_what_is_wrong() {
        let text = q(Kind::ShortText, &[]);
        assert_eq!(text.read(&["  hi "]), Ok(Some(Answer::Text("hi".into()))));
        assert_eq!(text.read(&["  "]), Ok(None));
        assert!(text.read(&[&"x".repeat(201)]).unwrap_err().contains("200"));
        assert!(text.read(&["a", "b"]).unwrap_err().contains("one answer"));

        let number = q(Kind::Number, &[]);
        assert_eq!(
            number.read(&["1,250.5"]),
            Ok(Some(Answer::Text("1250.5".into())))
        );
        assert!(
            number
                .read(&["twelve"])
                .unwrap_err()
                .contains("not a number")
        );

        let date = q(Kind::Date, &[]);
        assert_eq!(
            date.read(&["2027-03-31"]),
            Ok(Some(Answer::Text("2027-03-31".into())))
        );
        assert!(
            date.read(&["31/03/2027"])
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );

        let url = q(Kind::Url, &[]);
        assert!(url.read(&["https://acme.example/brand"]).unwrap().is_some());
        assert!(
            url.read(&["javascript:alert(1)"])
                .unwrap_err()
                .contains("web address")
        );

        let one = q(Kind::SingleChoice, &["Blue", "Green"]);
        assert_eq!(one.read(&["Green"]), Ok(Some(Answer::Text("Green".into()))));
        assert!(
            one.read(&["Red"])
                .unwrap_err()
                .contains("'Red' is not one of the choices")
        );

        let many = q(Kind::MultipleChoice, &["Blue", "Green", "Red"]);
        assert_eq!(
            many.read(&["Red", "Blue", "Red"]),
            Ok(Some(Answer::Choices(vec!["Blue".into(), "Red".into()])))
        );
        assert!(many.read(&["Blue", "Pink"]).is_err());
        assert_eq!(
            many.read_json(&serde_json::json!(["Green"])),
            Ok(Some(Answer::Choices(vec!["Green".into()])))
        );
        assert_eq!(
            number.read_json(&serde_json::json!(12)),
            Ok(Some(Answer::Text("12".into())))
        );
        assert!(number.read_json(&serde_json::json!({"n": 1})).is_err());
    }

    #[test]
    fn an_intake_keeps_answers_that_still_fit_and_says_what_is_missing() {
        let mut colour = q(Kind::SingleChoice, &["Blue", "Green"]);
        colour.id = 1;
        let mut site = q(Kind::Url, &[]);
        site.id = 2;
        site.required = false;
        let mut later = q(Kind::LongText, &[]);
        later.id = 3;
        later.when = When::AfterPayment;
        let answers: Answers = [
            (1, Answer::Text("Red".into())), // no longer a choice
            (2, Answer::Text("https://acme.example".into())),
        ]
        .into();
        let mut intake = Intake::of(&[colour, site, later], &answers);
        assert_eq!(intake.missing(When::BeforePayment).len(), 1);
        assert_eq!(intake.missing(When::AfterPayment).len(), 1);
        let changed = intake.answer(
            When::AfterPayment,
            &[(3, Answer::Text("Our story".into()))].into(),
        );
        assert_eq!(changed, ["Q"]);
        assert!(intake.missing(When::AfterPayment).is_empty());
        // Answering after payment leaves the answers given before it.
        assert_eq!(intake.given().count(), 2);
        let back = Intake::from_json(&intake.to_json());
        assert_eq!(back, intake);
    }

    #[test]
    fn a_form_is_read_whole_with_each_mistake_under_its_field() {
        let mut a = q(Kind::Number, &[]);
        a.id = 1;
        let mut b = q(Kind::MultipleChoice, &["x", "y"]);
        b.id = 2;
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let ok = read_form([&a, &b], &pairs(&[("q1", "3"), ("q2", "y"), ("q2", "x")])).unwrap();
        assert_eq!(ok[&2], Answer::Choices(vec!["x".into(), "y".into()]));
        let bad = read_form([&a, &b], &pairs(&[("q1", "three"), ("q2", "z")])).unwrap_err();
        assert_eq!(bad.len(), 2);
        assert!(bad["q1"].contains("three"));

        let json = |v: Value| v.as_object().cloned().unwrap();
        let both = [a, b];
        let ok = read_json_map(&both, &json(serde_json::json!({"1": 4.5, "2": ["y"]}))).unwrap();
        assert_eq!(ok[&1], Answer::Text("4.5".into()));
        let bad = read_json_map(&both, &json(serde_json::json!({"9": "x", "1": "n"}))).unwrap_err();
        assert!(bad["q9"].contains("'9' is not the id"));
        assert!(bad["q1"].contains("not a number"));
    }
}
