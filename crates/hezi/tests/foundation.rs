//! `hezi spec`, `hezi validate`, `hezi features` and `hezi --version` through the built
//! binary.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

fn hezi(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hezi"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run hezi")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every key path of a document (array elements under `[]`), for shape comparisons.
fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{prefix}.{k}");
                out.push(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    key_paths(v, "", &mut out);
    out.sort();
    out.dedup();
    out
}

#[test]
fn version_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = hezi(&["--version"], dir.path());
    assert!(out.status.success());
    let s = text(&out.stdout);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 3, "{s}");
    assert!(lines[0].starts_with("hezi version "), "{s}");
    assert!(lines[1].starts_with("commit: "), "{s}");
    assert_eq!(lines[2], "spec: 1.2.1");
}

#[test]
fn spec_writes_runc_shaped_config_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = hezi(&["spec"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ours = read_json(&dir.path().join("config.json"));
    assert_eq!(ours["ociVersion"], "1.2.1");
    assert_eq!(ours["process"]["args"], json!(["sh"]));

    let again = hezi(&["spec"], dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("File config.json exists. Remove it first"),
        "{}",
        text(&again.stderr)
    );

    // Same keys as runc's own output, when runc is installed.
    let rdir = tempfile::tempdir().unwrap();
    match Command::new("runc")
        .arg("spec")
        .current_dir(rdir.path())
        .status()
    {
        Ok(s) if s.success() => {
            let runc = read_json(&rdir.path().join("config.json"));
            assert_eq!(keys(&ours), keys(&runc));
        }
        _ => eprintln!("skipped runc comparison: runc not installed"),
    }
}

#[test]
fn spec_bundle_and_rootless() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("b");
    std::fs::create_dir(&bundle).unwrap();
    let out = hezi(&["spec", "--rootless", "--bundle", "b"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = read_json(&bundle.join("config.json"));
    let uid = nix::unistd::geteuid().as_raw();
    assert_eq!(v["linux"]["uidMappings"][0]["hostID"], json!(uid));
    let types: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    assert!(
        types.contains(&"user") && !types.contains(&"network"),
        "{types:?}"
    );

    let again = hezi(&["spec", "--bundle", "b"], dir.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("exists. Remove it first"));
}

#[test]
fn validate_good_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let spec = hezi_spec::defaults::default_spec();
    let config = hezi_spec::defaults::config_json(&spec).unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    let out = hezi(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "valid");
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn validate_reports_each_problem_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = hezi_testsupport::bundle_config(&["true"]);
    v["ociVersion"] = json!("one");
    v["mounts"][2]["destination"] = json!("dev/pts");
    v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOPE", "soft": 2, "hard": 1}]);
    v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [""], "action": "SCMP_ACT_LOG"}]});
    hezi_testsupport::write_config(dir.path(), &v).unwrap();
    let out = hezi(&["validate", "--bundle", "."], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for want in [
        "ociVersion: ",
        "mounts[2].destination: \"dev/pts\" must be an absolute path",
        "process.rlimits[0].type: ",
        "process.rlimits[0].soft: ",
        "linux.seccomp.syscalls[0].names[0]: ",
        "root.path: ",
    ] {
        assert!(
            err.lines().any(|l| l.starts_with(want)),
            "{want:?} not in:\n{err}"
        );
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn validate_missing_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = hezi(&["validate"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("config.json"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn features_document() {
    let dir = tempfile::tempdir().unwrap();
    let out = hezi(&["features"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ociVersionMin"], "1.0.0");
    assert_eq!(v["ociVersionMax"], "1.2.1");
    let host_apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'));
    assert_eq!(v["linux"]["apparmor"]["enabled"], host_apparmor);
    assert_eq!(v["linux"]["selinux"]["enabled"], false);
    assert!(v["annotations"]["io.github.hezi.version"].is_string());
    let seccomp = &v["linux"]["seccomp"];
    assert_eq!(seccomp["enabled"], true);
    assert!(seccomp["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("SCMP_ACT_ALLOW")));
    // The document reads as runtime-spec's Features type.
    let _: hezi_spec::oci_spec::runtime::Features = serde_json::from_value(v).unwrap();
}

/// Deletes the runc container on drop, even when the test fails.
struct RuncGuard {
    root: std::path::PathBuf,
    id: String,
}

impl Drop for RuncGuard {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", &self.id])
            .output();
    }
}

#[test]
fn runc_runs_a_bundle_from_hezi_spec() {
    hezi_testsupport::require_root!();
    if Command::new("runc").arg("--version").output().is_err() {
        eprintln!("skipped: runc not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = hezi(&["spec"], dir.path());
    assert!(spec.status.success(), "hezi spec: {}", text(&spec.stderr));
    let path = dir.path().join("config.json");
    let mut v = read_json(&path);
    v["process"]["args"] = json!(["true"]);
    v["process"]["terminal"] = json!(false);
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    hezi_testsupport::busybox_rootfs(&dir.path().join("rootfs")).unwrap();
    let guard = RuncGuard {
        root: dir.path().join("runc-state"),
        id: hezi_testsupport::unique_id("hezi-foundation"),
    };
    let out = Command::new("runc")
        .arg("--root")
        .arg(&guard.root)
        .args(["run", "--bundle"])
        .arg(dir.path())
        .arg(&guard.id)
        .output()
        .unwrap();
    assert!(out.status.success(), "runc run: {}", text(&out.stderr));
}

#[test]
fn completion_scripts_name_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let out = hezi(&["completion", "bash"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for word in [
        "create",
        "delete",
        "image",
        "login",
        "completion",
        "--bundle",
    ] {
        assert!(s.contains(word), "bash completion lacks {word}");
    }
    let out = hezi(&["completion", "fish"], dir.path());
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("complete -c hezi"));
    let out = hezi(&["completion", "tcsh"], dir.path());
    assert!(!out.status.success(), "an unknown shell is refused");
}

#[test]
fn man_pages_one_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = hezi(&["man", "pages"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pages = dir.path().join("pages");
    for page in ["hezi.1", "hezi-run.1", "hezi-spec.1", "hezi-image-unpack.1"] {
        assert!(
            pages.join(page).is_file(),
            "no {page}: {}",
            text(&out.stdout)
        );
    }
    let run = std::fs::read_to_string(pages.join("hezi-run.1")).unwrap();
    assert!(run.contains(".TH"), "not a man page: {run}");
    assert!(
        run.contains(r"\-\-detach"),
        "hezi-run.1 lacks --detach: {run}"
    );
    // man(1), when present, renders it with the flag spelled as users type it.
    if let Ok(o) = Command::new("man")
        .arg("-l")
        .arg(pages.join("hezi-run.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
    {
        if o.status.success() {
            assert!(text(&o.stdout).contains("--detach"), "{}", text(&o.stdout));
        }
    }
}
