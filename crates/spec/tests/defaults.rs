//! The default configs against `runc spec` (when runc is installed) and the validator,
//! and, as root, `runc run` on a bundle made from the default config.

use std::path::Path;
use std::process::Command;

use hezi_spec::{defaults, validate, SPEC_VERSION};
use serde_json::Value;

fn runc_spec(dir: &Path, rootless: bool) -> Option<Value> {
    let mut cmd = Command::new("runc");
    cmd.arg("spec").current_dir(dir);
    if rootless {
        cmd.arg("--rootless");
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = std::fs::read_to_string(dir.join("config.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// Capability lists sorted: oci-spec keeps capabilities in a hash set, so their order
/// in the output is not fixed.
fn sorted_caps(mut v: Value) -> Value {
    if let Some(sets) = v
        .pointer_mut("/process/capabilities")
        .and_then(Value::as_object_mut)
    {
        for list in sets.values_mut() {
            if let Some(a) = list.as_array_mut() {
                a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
            }
        }
    }
    v
}

/// runc's document with hezi's version and hostname, for comparison.
fn normalized(mut v: Value) -> Value {
    v["ociVersion"] = Value::from(SPEC_VERSION);
    v["hostname"] = Value::from(defaults::DEFAULT_HOSTNAME);
    sorted_caps(v)
}

#[test]
fn default_spec_equals_runc_spec() {
    let dir = tempfile::tempdir().unwrap();
    let Some(runc) = runc_spec(dir.path(), false) else {
        eprintln!("skipped: runc not installed");
        return;
    };
    let ours = sorted_caps(serde_json::to_value(defaults::default_spec()).unwrap());
    assert_eq!(ours, normalized(runc), "hezi: {ours:#}");
}

#[test]
fn rootless_spec_equals_runc_spec_rootless() {
    let dir = tempfile::tempdir().unwrap();
    let Some(runc) = runc_spec(dir.path(), true) else {
        eprintln!("skipped: runc not installed");
        return;
    };
    let uid = runc["linux"]["uidMappings"][0]["hostID"].as_u64().unwrap() as u32;
    let gid = runc["linux"]["gidMappings"][0]["hostID"].as_u64().unwrap() as u32;
    let ours = sorted_caps(serde_json::to_value(defaults::rootless_spec(uid, gid)).unwrap());
    assert_eq!(ours, normalized(runc), "hezi: {ours:#}");
}

#[test]
fn defaults_pass_validation() {
    for spec in [
        defaults::default_spec(),
        defaults::rootless_spec(1000, 1000),
    ] {
        let v = serde_json::to_value(&spec).unwrap();
        let back = validate::validate_config(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, spec);
    }
}

/// Removes the runc container on drop, even when the test fails.
struct RuncContainer<'a> {
    root: &'a Path,
    id: String,
}

impl Drop for RuncContainer<'_> {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(self.root)
            .args(["delete", "--force", &self.id])
            .output();
    }
}

#[test]
fn runc_runs_the_default_spec() {
    hezi_testsupport::require_root!();
    if Command::new("runc").arg("--version").output().is_err() {
        eprintln!("skipped: runc not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    hezi_testsupport::busybox_rootfs(&bundle.join("rootfs")).unwrap();
    let mut spec = defaults::default_spec();
    if let Some(p) = spec.process_mut() {
        p.set_args(Some(vec!["true".to_string()]));
        p.set_terminal(Some(false));
    }
    std::fs::write(
        bundle.join("config.json"),
        defaults::config_json(&spec).unwrap(),
    )
    .unwrap();
    let state = dir.path().join("runc-state");
    let guard = RuncContainer {
        root: &state,
        id: hezi_testsupport::unique_id("hezi-spec-default"),
    };
    let out = Command::new("runc")
        .arg("--root")
        .arg(&state)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&guard.id)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "runc run: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
