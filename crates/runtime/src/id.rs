//! Container id validation (runc's rule: `^[\w+-\.]+$`, and not `.` or `..`).

use crate::error::{Result, RuntimeError};

/// The longest container id: a file name's limit (`NAME_MAX`).
pub const MAX_ID_LEN: usize = 255;

/// Checks that `id` is a valid container id: non-empty, only ASCII letters, digits, `_`, `+`,
/// `-` and `.`, not `.` or `..`, at most 255 bytes (it names the state directory and the
/// cgroup directories, and a file name cannot be longer).
pub fn validate_id(id: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.');
    if id.is_empty() || id == "." || id == ".." || id.len() > MAX_ID_LEN || !id.chars().all(ok_char)
    {
        return Err(RuntimeError::InvalidId(id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_ids() {
        for id in ["a", "abc-123", "x.y_z+1", "A.B"] {
            assert!(validate_id(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn rejects_bad_ids() {
        let long = "a".repeat(256);
        assert!(validate_id(&"a".repeat(255)).is_ok());
        for id in [
            "",
            ".",
            "..",
            "a/b",
            "../x",
            "a b",
            "é",
            "a\0",
            long.as_str(),
        ] {
            assert!(
                matches!(validate_id(id), Err(RuntimeError::InvalidId(_))),
                "{id:?}"
            );
        }
    }
}
