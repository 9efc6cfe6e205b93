//! The digest grammar of the OCI image-spec (`descriptor.md`):
//!
//! ```text
//! digest                ::= algorithm ":" encoded
//! algorithm             ::= algorithm-component (algorithm-separator algorithm-component)*
//! algorithm-component   ::= [a-z0-9]+
//! algorithm-separator   ::= [+._-]
//! encoded               ::= [a-zA-Z0-9=_-]+
//! ```

/// True if `s` is a valid `algorithm` production.
pub(crate) fn is_algorithm(s: &str) -> bool {
    !s.is_empty()
        && s.split(['+', '.', '_', '-']).all(|component| {
            !component.is_empty()
                && component
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// True if `s` is a valid `encoded` production.
pub(crate) fn is_encoded(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_grammar() {
        for ok in [
            "sha256",
            "sha256+b64u",
            "multihash+base58",
            "a.b_c-d+e",
            "0",
        ] {
            assert!(is_algorithm(ok), "{ok}");
        }
        for bad in [
            "", "SHA256", "sha256+", "+sha", "sha__256", "sha 256", "sha:256",
        ] {
            assert!(!is_algorithm(bad), "{bad}");
        }
    }

    #[test]
    fn encoded_grammar() {
        for ok in ["abc", "LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", "a=="] {
            assert!(is_encoded(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a+b", "a:b"] {
            assert!(!is_encoded(bad), "{bad}");
        }
    }
}
