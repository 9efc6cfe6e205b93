//! A small helper for walking a JSON document while collecting problems with paths.

use serde_json::{Map, Value};

use super::problems::Problem;

/// `parent.key`, or `key` at the top.
pub(crate) fn field(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// Collects problems.
#[derive(Default)]
pub(crate) struct Walker {
    problems: Vec<Problem>,
}

impl Walker {
    /// Records a problem.
    pub(crate) fn report(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    /// The problems collected.
    pub(crate) fn into_problems(self) -> Vec<Problem> {
        self.problems
    }

    /// `v` as an object, reporting a type problem otherwise.
    pub(crate) fn object<'a>(
        &mut self,
        v: &'a Value,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.report(path, format!("must be an object, not {}", kind(other)));
                None
            }
        }
    }

    /// `v` as an array, reporting a type problem otherwise.
    pub(crate) fn array<'a>(&mut self, v: &'a Value, path: &str) -> Option<&'a Vec<Value>> {
        match v {
            Value::Array(a) => Some(a),
            other => {
                self.report(path, format!("must be an array, not {}", kind(other)));
                None
            }
        }
    }

    /// `v` as a string, reporting a type problem otherwise.
    pub(crate) fn string<'a>(&mut self, v: &'a Value, path: &str) -> Option<&'a str> {
        match v {
            Value::String(s) => Some(s),
            other => {
                self.report(path, format!("must be a string, not {}", kind(other)));
                None
            }
        }
    }

    /// `v` as a boolean, reporting a type problem otherwise.
    pub(crate) fn boolean(&mut self, v: &Value, path: &str) -> Option<bool> {
        match v {
            Value::Bool(b) => Some(*b),
            other => {
                self.report(path, format!("must be a boolean, not {}", kind(other)));
                None
            }
        }
    }

    /// `v` as an integer in `min..=max`, reporting a type or range problem otherwise.
    pub(crate) fn int(&mut self, v: &Value, path: &str, min: i128, max: i128) -> Option<i128> {
        let n = match v {
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from)),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.report(path, format!("{n} is out of range {min}..={max}"));
                None
            }
            None => {
                self.report(path, format!("must be an integer, not {}", kind(v)));
                None
            }
        }
    }

    /// An array of strings at `path`, each element checked by `each`.
    pub(crate) fn strings<'a>(&mut self, v: &'a Value, path: &str) -> Vec<(String, &'a str)> {
        let mut out = Vec::new();
        if let Some(items) = self.array(v, path) {
            for (i, item) in items.iter().enumerate() {
                let p = index(path, i);
                if let Some(s) = self.string(item, &p) {
                    out.push((p, s));
                }
            }
        }
        out
    }

    /// Checks that the string at `path` is an absolute path.
    pub(crate) fn absolute(&mut self, v: &Value, path: &str) {
        if let Some(s) = self.string(v, path) {
            if !s.starts_with('/') {
                self.report(path, format!("{s:?} must be an absolute path"));
            }
        }
    }

    /// Checks a string against a list of allowed names.
    pub(crate) fn one_of(
        &mut self,
        v: &Value,
        path: &str,
        allowed: &[&str],
        what: &str,
    ) -> Option<String> {
        let s = self.string(v, path)?;
        if allowed.contains(&s) {
            Some(s.to_string())
        } else {
            self.report(path, format!("{s:?} is not a valid {what}"));
            None
        }
    }
}

/// A short name for a JSON value's type.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
