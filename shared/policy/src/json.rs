//! A small reader over `serde_json::Value` that collects every field error with its path.
//!
//! serde's derive stops at the first error and names no field in a form an operator can
//! map back to an input box, so settings and the webhook body are read through this.

use serde_json::{Map, Value};

use crate::fields::{FieldError, ValidationErrors};

/// Errors collected while reading one document.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// `value` if nothing went wrong, else every error. `value` is `None` only when an error
    /// was recorded, so the fallback message below is never seen in practice.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, ValidationErrors> {
        match value {
            Some(value) if self.0.is_empty() => Ok(value),
            _ if !self.0.is_empty() => Err(ValidationErrors(self.0)),
            _ => Err(ValidationErrors::single("body", "invalid document")),
        }
    }
}

/// Joins a parent path and a key: `("", "call") -> "call"`, `("call", "id") -> "call.id"`.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Types read from one JSON value at `path`. Return `None` after recording errors.
pub(crate) trait FromJson: Sized {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self>;
}

/// Leaf values that fail with a single error.
pub(crate) trait FromJsonLeaf: Sized {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError>;
}

impl<T: FromJsonLeaf> FromJson for T {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        T::from_leaf(path, value).map_err(|e| errors.push(e)).ok()
    }
}

pub(crate) fn as_str<'v>(path: &str, value: &'v Value) -> Result<&'v str, FieldError> {
    value
        .as_str()
        .ok_or_else(|| FieldError::new(path, format!("expected a string, got {}", kind(value))))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl FromJsonLeaf for bool {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        value.as_bool().ok_or_else(|| {
            FieldError::new(path, format!("expected true or false, got {}", kind(value)))
        })
    }
}

impl FromJsonLeaf for String {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        as_str(path, value).map(str::to_owned)
    }
}

impl FromJsonLeaf for u32 {
    fn from_leaf(path: &str, value: &Value) -> Result<Self, FieldError> {
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| FieldError::new(path, "expected a non-negative whole number"))
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json_at(path: &str, value: &Value, errors: &mut Errors) -> Option<Self> {
        let Some(items) = value.as_array() else {
            errors.push(FieldError::new(
                path,
                format!("expected an array, got {}", kind(value)),
            ));
            return None;
        };
        let before = errors.len();
        let parsed: Vec<Option<T>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| T::from_json_at(&format!("{path}[{i}]"), item, errors))
            .collect();
        if errors.len() > before {
            return None;
        }
        parsed.into_iter().collect()
    }
}

/// A JSON object being read. `strict` objects reject keys they do not know.
pub(crate) struct Obj<'v> {
    path: String,
    map: &'v Map<String, Value>,
}

impl<'v> Obj<'v> {
    pub(crate) fn new(
        path: &str,
        value: &'v Value,
        known: &[&str],
        strict: bool,
        errors: &mut Errors,
    ) -> Option<Self> {
        let Some(map) = value.as_object() else {
            let field = if path.is_empty() { "body" } else { path };
            errors.push(FieldError::new(
                field,
                format!("expected an object, got {}", kind(value)),
            ));
            return None;
        };
        if strict {
            for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
                errors.push(FieldError::new(join(path, key), "unknown field"));
            }
        }
        Some(Self {
            path: path.to_owned(),
            map,
        })
    }

    pub(crate) fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The value at `key`; `null` counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The value at `key` of a setting: `null` and a blank or whitespace-only string
    /// count as absent, so a form's empty box means "use the default".
    pub(crate) fn get_setting(&self, key: &str) -> Option<&'v Value> {
        self.get(key)
            .filter(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()))
    }

    /// An optional setting: `None` when absent, `null` or blank (see
    /// [`Obj::get_setting`]) or invalid (an invalid value records its error).
    pub(crate) fn optional_setting<T: FromJson>(
        &self,
        key: &str,
        errors: &mut Errors,
    ) -> Option<T> {
        self.get_setting(key)
            .and_then(|value| T::from_json_at(&self.path(key), value, errors))
    }

    pub(crate) fn required<T: FromJson>(&self, key: &str, errors: &mut Errors) -> Option<T> {
        match self.get(key) {
            Some(value) => T::from_json_at(&self.path(key), value, errors),
            None => {
                errors.push(FieldError::new(self.path(key), "is required"));
                None
            }
        }
    }

    /// `None` when absent or invalid (an invalid value records its error).
    pub(crate) fn optional<T: FromJson>(&self, key: &str, errors: &mut Errors) -> Option<T> {
        self.get(key)
            .and_then(|value| T::from_json_at(&self.path(key), value, errors))
    }

    pub(crate) fn or_default<T: FromJson>(&self, key: &str, default: T, errors: &mut Errors) -> T {
        match self.get(key) {
            Some(value) => T::from_json_at(&self.path(key), value, errors).unwrap_or(default),
            None => default,
        }
    }
}
