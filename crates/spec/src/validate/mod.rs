//! Validation of a bundle's `config.json` that reports every problem, each with its
//! JSON path (`mounts[2].destination: must be an absolute path`).
//!
//! The checks run on the raw JSON document, so they keep going past the first problem
//! and still work when a field has the wrong type. The document is then decoded into
//! the typed [`Spec`]; a decoding error is reported with its path too. The checks
//! cover what `oci-runtime-tool validate` checks for Linux configs; AppArmor profiles
//! and SELinux labels are passed through unchecked.

mod config;
mod linux;
mod problems;
pub(crate) mod walk;

use std::path::Path;

use oci_spec::runtime::Spec;
use serde_json::Value;

pub use problems::{Problem, ValidationErrors};

/// Validates `config` and decodes it into a [`Spec`], or lists every problem found.
pub fn validate_config(config: &Value) -> Result<Spec, ValidationErrors> {
    let mut w = walk::Walker::default();
    config::check(&mut w, config);
    let typed = decode(config);
    let mut problems = w.into_problems();
    match typed {
        Ok(spec) if problems.is_empty() => Ok(spec),
        Ok(_) => Err(ValidationErrors::new(problems)),
        Err(p) => {
            // The checks above usually explain a decoding failure already, at the same
            // path or one inside it; report the decoder only when they did not.
            if !problems.iter().any(|q| q.path.starts_with(&p.path)) {
                problems.push(p);
            }
            Err(ValidationErrors::new(problems))
        }
    }
}

/// Decodes the document into the typed spec, naming the JSON path of the first error.
fn decode(config: &Value) -> Result<Spec, Problem> {
    serde_path_to_error::deserialize(config).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Problem::new(path, e.into_inner().to_string())
    })
}

/// Reads `dir/config.json`, validates it, and checks that the root filesystem it names
/// exists in the bundle.
pub fn validate_bundle(dir: &Path) -> Result<Spec, ValidationErrors> {
    let file = dir.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|e| {
        ValidationErrors::new(vec![Problem::new(
            "",
            format!("cannot read {}: {e}", file.display()),
        )])
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        ValidationErrors::new(vec![Problem::new(
            "",
            format!("{} is not valid JSON: {e}", file.display()),
        )])
    })?;
    let result = validate_config(&value);
    let mut problems = match &result {
        Ok(_) => Vec::new(),
        Err(e) => e.problems().to_vec(),
    };
    if let Some(root) = value.pointer("/root/path").and_then(Value::as_str) {
        if !root.is_empty() {
            let full = dir.join(root);
            match std::fs::metadata(&full) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => problems.push(Problem::new(
                    "root.path",
                    format!("{} is not a directory", full.display()),
                )),
                Err(e) => problems.push(Problem::new(
                    "root.path",
                    format!("{}: {e}", full.display()),
                )),
            }
        }
    }
    match result {
        Ok(spec) if problems.is_empty() => Ok(spec),
        _ => Err(ValidationErrors::new(problems)),
    }
}
