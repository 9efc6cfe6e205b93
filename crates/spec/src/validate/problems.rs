//! [`Problem`] and [`ValidationErrors`].

use std::fmt;

/// One thing wrong with a config, at a JSON path such as `mounts[2].destination`
/// (empty for the document as a whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: dotted field names with `[index]` for array elements.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a config; displays one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    problems: Vec<Problem>,
}

impl ValidationErrors {
    /// Wraps a list of problems.
    pub fn new(problems: Vec<Problem>) -> ValidationErrors {
        ValidationErrors { problems }
    }

    /// The problems, in document order of the checks.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// True if some problem is reported at exactly `path`.
    pub fn has_path(&self, path: &str) -> bool {
        self.problems.iter().any(|p| p.path == path)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
