//! Stripe's form wire format: bracket-notation parsing, typed validation against a schema, and
//! read access to the validated parameters.

use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// The raw shape of a form body before any schema is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Leaf(String),
    Tree(IndexMap<String, Node>),
}

/// Parses `a[b][0][c]=v&expand[]=x` into a tree; `[]` appends to a list.
pub fn parse_form(input: &str) -> ApiResult<IndexMap<String, Node>> {
    let mut root: IndexMap<String, Node> = IndexMap::new();
    for (key, value) in form_pairs(input)? {
        let segments = split_key(&key)?;
        insert(&mut root, &segments, value, &key)?;
    }
    Ok(root)
}

fn form_pairs(input: &str) -> ApiResult<Vec<(String, String)>> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(input)
        .map_err(|e| ApiError::invalid(format!("Invalid form-encoded body: {e}")))
}

fn split_key(key: &str) -> ApiResult<Vec<String>> {
    let bad = || ApiError::invalid(format!("Invalid parameter name: {key}")).param(key);
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(bad());
    }
    let mut segments = vec![head.to_string()];
    while !rest.is_empty() {
        if !rest.starts_with('[') {
            return Err(bad());
        }
        let close = rest.find(']').ok_or_else(bad)?;
        segments.push(rest[1..close].to_string());
        rest = &rest[close + 1..];
    }
    Ok(segments)
}

fn insert(
    map: &mut IndexMap<String, Node>,
    segments: &[String],
    value: String,
    full: &str,
) -> ApiResult<()> {
    let conflict =
        || ApiError::invalid(format!("Conflicting values for parameter {full}")).param(full);
    let key = if segments[0].is_empty() {
        map.len().to_string()
    } else {
        segments[0].clone()
    };
    if segments.len() == 1 {
        if map.contains_key(&key) {
            return Err(conflict());
        }
        map.insert(key, Node::Leaf(value));
        return Ok(());
    }
    let child = map
        .entry(key)
        .or_insert_with(|| Node::Tree(IndexMap::new()));
    match child {
        Node::Tree(inner) => insert(inner, &segments[1..], value, full),
        Node::Leaf(_) => Err(conflict()),
    }
}

/// What a parameter may hold. Built at run time: schemas are small and this keeps them readable.
#[derive(Debug, Clone)]
pub enum Ty {
    Str,
    Int,
    Bool,
    /// A number with up to two decimals, kept as hundredths (percentages such as `percent_off`).
    Hundredths,
    Enum(&'static [&'static str]),
    /// Stripe's `metadata`: string keys to string values; an empty string unsets.
    Metadata,
    Obj(Vec<Field>),
    Arr(Box<Ty>),
    /// Stripe's range query (`created` on lists): an integer to match exactly, or a hash of
    /// integer bounds `gt`, `gte`, `lt`, `lte` (see [`Ty::range_fields`]), combinable.
    Range,
    /// The inner type, or an empty string that unsets the parameter (`address=` on a customer).
    OrEmpty(Box<Ty>),
    /// A hash with keys of the caller's choosing, each of one type (`currency_options[eur]`).
    Map(Box<Ty>),
}

impl Ty {
    /// The bounds a [`Ty::Range`] hash may hold.
    pub fn range_fields() -> Vec<Field> {
        ["gt", "gte", "lt", "lte"]
            .into_iter()
            .map(|name| opt(name, Ty::Int))
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

pub fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

pub fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

pub fn obj(fields: impl IntoIterator<Item = Field>) -> Ty {
    Ty::Obj(fields.into_iter().collect())
}

pub fn arr(item: Ty) -> Ty {
    Ty::Arr(Box::new(item))
}

/// Checks the raw tree against `schema` (an `Obj`) and returns typed JSON; every failure names
/// the parameter in Stripe's bracket notation.
pub fn validate(root: &IndexMap<String, Node>, schema: &Ty) -> ApiResult<Params> {
    let Ty::Obj(fields) = schema else {
        unreachable!("top-level schemas are objects")
    };
    let value = validate_fields(root, fields, None)?;
    Ok(Params(value))
}

fn join(prefix: Option<&str>, key: &str) -> String {
    match prefix {
        Some(p) => format!("{p}[{key}]"),
        None => key.to_string(),
    }
}

fn validate_fields(
    map: &IndexMap<String, Node>,
    fields: &[Field],
    prefix: Option<&str>,
) -> ApiResult<Map<String, Value>> {
    for key in map.keys() {
        if !fields.iter().any(|f| f.name == key) {
            return Err(ApiError::unknown_param(&join(prefix, key)));
        }
    }
    let mut out = Map::new();
    for field in fields {
        let path = join(prefix, field.name);
        match map.get(field.name) {
            Some(node) => {
                out.insert(
                    field.name.to_string(),
                    validate_node(node, &field.ty, &path)?,
                );
            }
            None if field.required => return Err(ApiError::missing_param(&path)),
            None => {}
        }
    }
    Ok(out)
}

fn validate_node(node: &Node, ty: &Ty, path: &str) -> ApiResult<Value> {
    let leaf = |what: &str| leaf(node, what, path);
    match ty {
        Ty::Str => Ok(Value::String(leaf("string")?.to_string())),
        Ty::Int => {
            let s = leaf("integer")?;
            s.parse::<i64>().map(Value::from).map_err(|_| {
                ApiError::invalid(format!("Invalid integer: {s}"))
                    .code("parameter_invalid_integer")
                    .param(path)
            })
        }
        Ty::Bool => match leaf("boolean")? {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            s => Err(ApiError::invalid(format!("Invalid boolean: {s}")).param(path)),
        },
        Ty::Hundredths => {
            let s = leaf("decimal")?;
            parse_hundredths(s).map(Value::from).ok_or_else(|| {
                ApiError::invalid(format!("Invalid decimal: {s} (at most two decimal places)"))
                    .param(path)
            })
        }
        Ty::Enum(allowed) => {
            let s = leaf("string")?;
            if allowed.contains(&s) {
                Ok(Value::String(s.to_string()))
            } else {
                Err(ApiError::invalid(format!(
                    "Invalid {path}: must be one of {}",
                    allowed.join(", ")
                ))
                .param(path))
            }
        }
        Ty::Metadata => validate_metadata(node, path),
        Ty::Obj(fields) => match node {
            Node::Tree(map) => Ok(Value::Object(validate_fields(map, fields, Some(path))?)),
            Node::Leaf(_) => Err(ApiError::invalid(format!(
                "Invalid object for {path}: expected a hash"
            ))
            .param(path)),
        },
        Ty::Arr(item) => validate_array(node, item, path),
        Ty::Range => match node {
            Node::Leaf(_) => validate_node(node, &Ty::Int, path),
            Node::Tree(_) => validate_node(node, &Ty::Obj(Ty::range_fields()), path),
        },
        Ty::OrEmpty(inner) => match node {
            Node::Leaf(s) if s.is_empty() => Ok(Value::String(String::new())),
            _ => validate_node(node, inner, path),
        },
        Ty::Map(inner) => match node {
            Node::Tree(map) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), validate_node(v, inner, &join(Some(path), k))?)))
                .collect::<ApiResult<Map<String, Value>>>()
                .map(Value::Object),
            Node::Leaf(_) => Err(ApiError::invalid(format!(
                "Invalid object for {path}: expected a hash"
            ))
            .param(path)),
        },
    }
}

/// Whether `x` passes a validated [`Ty::Range`] value: equal to its integer, or within every
/// bound of its hash. No value (the parameter was not given) lets everything pass.
pub fn in_range(range: Option<&Value>, x: i64) -> bool {
    match range {
        None => true,
        Some(Value::Object(bounds)) => bounds.iter().all(|(op, bound)| {
            let Some(b) = bound.as_i64() else {
                return false;
            };
            match op.as_str() {
                "gt" => x > b,
                "gte" => x >= b,
                "lt" => x < b,
                "lte" => x <= b,
                _ => false,
            }
        }),
        Some(v) => v.as_i64() == Some(x),
    }
}

/// The single value a scalar parameter must be; `what` names its type in the error.
fn leaf<'a>(node: &'a Node, what: &str, path: &str) -> ApiResult<&'a str> {
    match node {
        Node::Leaf(s) if s.is_empty() => Err(ApiError::invalid(format!(
            "You passed an empty string for '{path}'. We assume empty values are an attempt to unset a parameter; however '{path}' cannot be unset."
        ))
        .code("parameter_invalid_empty")
        .param(path)),
        Node::Leaf(s) => Ok(s.as_str()),
        Node::Tree(_) => Err(ApiError::invalid(format!("Invalid {what} for {path}: expected a {what}, got an object")).param(path)),
    }
}

/// A `metadata` hash of short strings; an empty string (to clear it) stays as it is.
fn validate_metadata(node: &Node, path: &str) -> ApiResult<Value> {
    let map = match node {
        Node::Leaf(s) if s.is_empty() => return Ok(Value::String(String::new())),
        Node::Leaf(_) => {
            return Err(ApiError::invalid(format!(
                "Invalid {path}: expected a hash of string keys and values"
            ))
            .param(path));
        }
        Node::Tree(map) => map,
    };
    if map.len() > 50 {
        return Err(
            ApiError::invalid(format!("Invalid {path}: at most 50 keys are allowed")).param(path),
        );
    }
    let mut out = Map::new();
    for (k, v) in map {
        let item = format!("{path}[{k}]");
        let Node::Leaf(v) = v else {
            return Err(ApiError::invalid(format!(
                "Invalid {item}: metadata values must be strings"
            ))
            .param(item));
        };
        if k.chars().count() > 40 || v.chars().count() > 500 {
            return Err(ApiError::invalid(format!(
                "Invalid {item}: keys are limited to 40 characters and values to 500"
            ))
            .param(item));
        }
        out.insert(k.clone(), Value::String(v.clone()));
    }
    Ok(Value::Object(out))
}

/// An array given as `path[]=` or `path[i]=`, in index order, each element checked as `item`.
fn validate_array(node: &Node, item: &Ty, path: &str) -> ApiResult<Value> {
    let Node::Tree(map) = node else {
        return Err(ApiError::invalid(format!(
            "Invalid array for {path}: use {path}[]=value or {path}[0]=value"
        ))
        .param(path));
    };
    let mut indexed = Vec::with_capacity(map.len());
    for (k, v) in map {
        let i: usize = k.parse().map_err(|_| {
            ApiError::invalid(format!(
                "Invalid array for {path}: index '{k}' is not a number"
            ))
            .param(format!("{path}[{k}]"))
        })?;
        indexed.push((i, v));
    }
    indexed.sort_by_key(|(i, _)| *i);
    let mut out = Vec::with_capacity(indexed.len());
    for (i, v) in indexed {
        out.push(validate_node(v, item, &format!("{path}[{i}]"))?);
    }
    Ok(Value::Array(out))
}

fn parse_hundredths(s: &str) -> Option<i64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

/// Validated parameters; the accessors trust the schema that produced them.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Map<String, Value>);

impl Params {
    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(Value::as_i64)
    }

    pub fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(Value::as_bool)
    }

    pub fn obj(&self, key: &str) -> Option<Params> {
        self.0
            .get(key)
            .and_then(Value::as_object)
            .map(|m| Params(m.clone()))
    }

    pub fn list(&self, key: &str) -> Vec<Value> {
        self.0
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    }

    pub fn strings(&self, key: &str) -> Vec<String> {
        self.list(key)
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

/// Applies a `metadata` update the way Stripe does: keys merge, an empty value removes a key,
/// and `metadata=` clears everything.
pub fn merge_metadata(current: &mut Map<String, Value>, update: Option<&Value>) {
    match update {
        Some(Value::String(s)) if s.is_empty() => current.clear(),
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if v.as_str() == Some("") {
                    current.remove(k);
                } else {
                    current.insert(k.clone(), v.clone());
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty_line_items() -> Ty {
        obj([
            opt(
                "line_items",
                arr(obj([
                    opt("price", Ty::Str),
                    opt("quantity", Ty::Int),
                    opt(
                        "price_data",
                        obj([req("currency", Ty::Str), opt("unit_amount", Ty::Int)]),
                    ),
                ])),
            ),
            opt("expand", arr(Ty::Str)),
            opt("metadata", Ty::Metadata),
        ])
    }

    #[test]
    fn brackets_become_typed_json() {
        let raw = parse_form(
            "line_items[1][price]=price_b&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=5000&expand[]=a&expand[]=b&metadata[order_id]=42",
        )
        .unwrap();
        let p = validate(&raw, &ty_line_items()).unwrap();
        let items = p.list("line_items");
        assert_eq!(items[0]["price_data"]["unit_amount"], 5000);
        assert_eq!(items[1]["price"], "price_b");
        assert_eq!(p.strings("expand"), ["a", "b"]);
        assert_eq!(p.obj("metadata").unwrap().str("order_id"), Some("42"));
    }

    #[test]
    fn errors_name_the_parameter() {
        let schema = ty_line_items();
        let cases = [
            (
                "line_items[0][price_data][unit_amount]=abc&line_items[0][price_data][currency]=usd",
                "line_items[0][price_data][unit_amount]",
                Some("parameter_invalid_integer"),
            ),
            (
                "line_items[0][price_data][unit_amount]=1",
                "line_items[0][price_data][currency]",
                Some("parameter_missing"),
            ),
            (
                "line_items[0][colour]=red",
                "line_items[0][colour]",
                Some("parameter_unknown"),
            ),
            ("nope=1", "nope", Some("parameter_unknown")),
            ("line_items=1", "line_items", None),
        ];
        for (body, param, code) in cases {
            let err = validate(&parse_form(body).unwrap(), &schema).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{body}");
            assert_eq!(err.code, code, "{body}");
            assert_eq!(err.status, 400);
        }
    }

    fn ty_created() -> Ty {
        obj([opt("created", Ty::Range)])
    }

    fn created(query: &str) -> ApiResult<Option<Value>> {
        let p = validate(&parse_form(query).unwrap(), &ty_created())?;
        Ok(p.raw("created").cloned())
    }

    #[test]
    fn a_range_is_an_integer_or_a_hash_of_bounds() {
        assert_eq!(created("created=100").unwrap(), Some(Value::from(100)));
        assert_eq!(
            created("created[gt]=100&created[lte]=200").unwrap(),
            Some(serde_json::json!({"gt": 100, "lte": 200}))
        );
        assert_eq!(created("").unwrap(), None);
        for (query, param, code) in [
            (
                "created=yesterday",
                "created",
                Some("parameter_invalid_integer"),
            ),
            (
                "created[gt]=1.5",
                "created[gt]",
                Some("parameter_invalid_integer"),
            ),
            (
                "created[lte]=abc",
                "created[lte]",
                Some("parameter_invalid_integer"),
            ),
            (
                "created[since]=1",
                "created[since]",
                Some("parameter_unknown"),
            ),
            (
                "created[gte]=",
                "created[gte]",
                Some("parameter_invalid_empty"),
            ),
            ("created[gt][x]=1", "created[gt]", None),
        ] {
            let err = created(query).unwrap_err();
            assert_eq!(err.status, 400, "{query}");
            assert_eq!(err.kind, "invalid_request_error", "{query}");
            assert_eq!(err.param.as_deref(), Some(param), "{query}");
            assert_eq!(err.code, code, "{query}");
        }
    }

    #[test]
    fn in_range_applies_every_bound() {
        let range = |q: &str| created(q).unwrap();
        let passing = |q: &str| {
            (98..=102)
                .filter(|x| in_range(range(q).as_ref(), *x))
                .collect::<Vec<_>>()
        };
        assert_eq!(passing(""), [98, 99, 100, 101, 102]);
        assert_eq!(passing("created=100"), [100]);
        assert_eq!(passing("created[gt]=100"), [101, 102]);
        assert_eq!(passing("created[gte]=100"), [100, 101, 102]);
        assert_eq!(passing("created[lt]=100"), [98, 99]);
        assert_eq!(passing("created[lte]=100"), [98, 99, 100]);
        assert_eq!(passing("created[gt]=98&created[lt]=102"), [99, 100, 101]);
        assert!(passing("created[gt]=101&created[lt]=101").is_empty());
    }

    #[test]
    fn or_empty_takes_the_inner_type_or_an_empty_string() {
        let schema = obj([opt(
            "address",
            Ty::OrEmpty(Box::new(obj([opt("city", Ty::Str)]))),
        )]);
        let check = |q: &str| validate(&parse_form(q).unwrap(), &schema);
        assert_eq!(
            check("address[city]=Lyon").unwrap().raw("address"),
            Some(&serde_json::json!({"city": "Lyon"}))
        );
        assert_eq!(
            check("address=").unwrap().raw("address"),
            Some(&Value::String(String::new()))
        );
        let err = check("address=Lyon").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("address"));
        let err = check("address[street]=x").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("address[street]"));
        assert_eq!(err.code, Some("parameter_unknown"));
    }

    #[test]
    fn hundredths_are_exact() {
        assert_eq!(parse_hundredths("25"), Some(2500));
        assert_eq!(parse_hundredths("12.5"), Some(1250));
        assert_eq!(parse_hundredths("0.01"), Some(1));
        assert_eq!(parse_hundredths("1.005"), None);
        assert_eq!(parse_hundredths("-1"), None);
    }

    #[test]
    fn metadata_merges_and_clears() {
        let mut m = Map::new();
        merge_metadata(&mut m, Some(&serde_json::json!({"a": "1", "b": "2"})));
        merge_metadata(&mut m, Some(&serde_json::json!({"a": ""})));
        assert_eq!(Value::Object(m.clone()), serde_json::json!({"b": "2"}));
        merge_metadata(&mut m, Some(&serde_json::json!("")));
        assert!(m.is_empty());
    }
}
