//! The JSON-schema subset `extract` supports, parsed once per request, and a validator used to
//! double-check every constrained answer. Supported: `object` with `properties` / `required`
//! (properties are emitted in the schema's order), `enum` of strings, `string` with `maxLength`
//! and `format: "date"`, `integer` with `minimum` / `maximum`, `boolean`. Anything else is an
//! `InvalidRequest` (never silently unconstrained).

use serde_json::Value;

use crate::{Error, Result};

/// Longest string allowed when the schema gives no `maxLength` (keeps decoding finite).
pub const DEFAULT_MAX_LENGTH: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub enum Schema {
    Object { props: Vec<(String, Schema)>, required: Vec<bool> },
    /// The JSON-escaped contents of each allowed string.
    Enum(Vec<String>),
    String { max_len: usize, date: bool },
    Integer { min: i64, max: i64 },
    Boolean,
}

fn invalid(why: impl Into<String>) -> Error {
    Error::InvalidRequest(format!("schema: {}", why.into()))
}

impl Schema {
    pub fn parse(value: &Value) -> Result<Self> {
        let schema = Self::parse_node(value, 0)?;
        match schema {
            Schema::Object { .. } => Ok(schema),
            _ => Err(invalid("the top level must be an object")),
        }
    }

    fn parse_node(value: &Value, depth: usize) -> Result<Self> {
        if depth > 8 {
            return Err(invalid("nested too deeply"));
        }
        let obj = value.as_object().ok_or_else(|| invalid("each schema must be an object"))?;
        if let Some(values) = obj.get("enum") {
            let values = values.as_array().ok_or_else(|| invalid("enum must be an array"))?;
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                let s = v.as_str().ok_or_else(|| invalid("only string enums are supported"))?;
                let quoted = serde_json::to_string(s).map_err(|e| invalid(e.to_string()))?;
                out.push(quoted[1..quoted.len() - 1].to_string());
            }
            if out.is_empty() {
                return Err(invalid("enum must not be empty"));
            }
            return Ok(Schema::Enum(out));
        }
        match obj.get("type").and_then(Value::as_str) {
            Some("object") => Self::parse_object(obj, depth),
            Some("string") => {
                let date = match obj.get("format").and_then(Value::as_str) {
                    None => false,
                    Some("date") => true,
                    Some(other) => return Err(invalid(format!("unsupported format {other:?}"))),
                };
                let max_len = obj.get("maxLength").and_then(Value::as_u64).map(|n| n as usize);
                Ok(Schema::String { max_len: if date { 10 } else { max_len.unwrap_or(DEFAULT_MAX_LENGTH) }, date })
            }
            Some("integer") => {
                let min = obj.get("minimum").and_then(Value::as_i64).unwrap_or(-999_999_999);
                let max = obj.get("maximum").and_then(Value::as_i64).unwrap_or(999_999_999);
                if min > max {
                    return Err(invalid("minimum is above maximum"));
                }
                Ok(Schema::Integer { min, max })
            }
            Some("boolean") => Ok(Schema::Boolean),
            other => Err(invalid(format!("unsupported type {other:?}"))),
        }
    }

    fn parse_object(obj: &serde_json::Map<String, Value>, depth: usize) -> Result<Self> {
        let props_value = obj.get("properties").and_then(Value::as_object)
            .ok_or_else(|| invalid("object needs properties"))?;
        let required: Vec<&str> = obj.get("required").and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut props = Vec::with_capacity(props_value.len());
        for (name, sub) in props_value {
            if name.is_empty() || name.contains(['"', '\\']) || name.chars().any(char::is_control) {
                return Err(invalid("property names must be plain text"));
            }
            props.push((name.clone(), Self::parse_node(sub, depth + 1)?));
        }
        if let Some(missing) = required.iter().find(|r| !props.iter().any(|(n, _)| n == *r)) {
            return Err(invalid(format!("required property {missing:?} is not defined")));
        }
        let required = props.iter().map(|(n, _)| required.contains(&n.as_str())).collect();
        Ok(Schema::Object { props, required })
    }

    /// Whether `value` satisfies this schema.
    pub fn validate(&self, value: &Value) -> bool {
        match (self, value) {
            (Schema::Object { props, required }, Value::Object(map)) => {
                map.keys().all(|k| props.iter().any(|(n, _)| n == k))
                    && props.iter().zip(required).all(|((name, sub), &req)| match map.get(name) {
                        Some(v) => sub.validate(v),
                        None => !req,
                    })
            }
            (Schema::Enum(values), Value::String(s)) => {
                let quoted = serde_json::to_string(s).unwrap_or_default();
                values.iter().any(|v| quoted.len() >= 2 && *v == quoted[1..quoted.len() - 1])
            }
            (Schema::String { max_len, date }, Value::String(s)) => {
                s.chars().count() <= *max_len && (!date || is_date(s))
            }
            (Schema::Integer { min, max }, Value::Number(n)) => {
                n.as_i64().is_some_and(|i| (*min..=*max).contains(&i))
            }
            (Schema::Boolean, Value::Bool(_)) => true,
            _ => false,
        }
    }
}

/// `YYYY-MM-DD` with a real day of that month.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else { return false };
    if !b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()) {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}
