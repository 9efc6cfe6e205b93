//! Property: changing the JSON type of any field of a valid config is reported at that
//! field's path (or a parent's), and validation never panics.

use hezi_spec::{defaults, validate};
use proptest::prelude::*;
use serde_json::{json, Value};

/// (display path, JSON pointer) of every leaf.
fn leaves(v: &Value, path: &str, ptr: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(x, &p, &format!("{ptr}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, &format!("{path}[{i}]"), &format!("{ptr}/{i}"), out);
            }
        }
        _ => out.push((path.to_string(), ptr.to_string())),
    }
}

fn base() -> Value {
    serde_json::to_value(defaults::default_spec()).unwrap()
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z/]{0,8}".prop_map(Value::from),
        Just(json!([1, "x"])),
        Just(json!({"k": 1})),
    ]
}

proptest! {
    #[test]
    fn type_changes_are_reported_at_their_path(pick in any::<prop::sample::Index>(), new in replacement()) {
        let mut doc = base();
        let mut all = Vec::new();
        leaves(&doc, "", "", &mut all);
        let (path, ptr) = pick.get(&all).clone();
        let slot = doc.pointer_mut(&ptr).unwrap();
        prop_assume!(!same_type(slot, &new));
        *slot = new;
        let err = validate::validate_config(&doc).unwrap_err();
        let hit = err.problems().iter().any(|p| path == p.path || path.starts_with(&format!("{}.", p.path)) || path.starts_with(&format!("{}[", p.path)));
        prop_assert!(hit, "{} changed, problems:\n{}", path, err);
    }
}
