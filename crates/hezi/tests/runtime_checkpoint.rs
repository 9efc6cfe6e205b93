//! `hezi checkpoint` / `hezi restore` on the host. Where the host's CRIU cannot work (Debian's
//! criu 3.17 on a 6.x kernel whose vDSO it does not know), `checkpoint` must fail naming
//! CRIU's problem and leave the container running and intact; where CRIU works, a
//! `--leave-running` checkpoint must succeed. The full cycle beside runc runs in the VM
//! (tests/vm/criu-suite.sh), whose kernel Debian's criu supports.

#[path = "runtime_helpers.rs"]
mod helpers;

use std::path::Path;
use std::process::Command;

use helpers::World;
use hezi_testsupport::require_root;

fn criu_works() -> Option<bool> {
    let bin = ["/usr/sbin/criu", "/usr/bin/criu"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    Some(
        Command::new(bin)
            .arg("check")
            .output()
            .is_ok_and(|o| o.status.success()),
    )
}

#[test]
fn checkpoint_names_criu_problem_or_succeeds_and_leaves_the_container_running() {
    require_root!();
    let Some(works) = criu_works() else {
        eprintln!("skipped: no criu installed (scripts/deps.sh installs it)");
        return;
    };
    let w = World::new("ckpt");
    let id = w.id("ckpt");
    let b = w.bundle(&id, &["sleep", "600"], |_| {});
    let (ok, err) = w.detached(&["run", "-d", "--bundle", &b.display().to_string(), &id]);
    assert!(ok, "run: {err}");
    let images = w.tmp.path().join("images");
    let o = w.out(&[
        "checkpoint",
        "--leave-running",
        "--image-path",
        &images.display().to_string(),
        &id,
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    if works {
        assert!(
            o.status.success(),
            "criu works here, checkpoint must too: {stderr}"
        );
        assert!(images.join("descriptors.json").exists());
        assert!(images.join("inventory.img").exists());
    } else {
        assert!(
            !o.status.success(),
            "checkpoint cannot succeed without a working criu"
        );
        assert!(
            stderr.contains(&format!("checkpoint container {id}")) && stderr.contains("criu"),
            "the error names the container and criu: {stderr}"
        );
        assert!(
            stderr.contains("Error ("),
            "the error carries CRIU's own reason: {stderr}"
        );
    }
    assert_eq!(w.status(&id), "running", "the container is intact");
}

#[test]
fn checkpoint_of_a_stopped_or_unknown_container_is_refused() {
    require_root!();
    let w = World::new("ckpt-stopped");
    let id = w.id("ckpt");
    let b = w.bundle(&id, &["true"], |_| {});
    let (ok, err) = w.detached(&["create", "--bundle", &b.display().to_string(), &id]);
    assert!(ok, "create: {err}");
    let images = w.tmp.path().join("images");
    let o = w.out(&[
        "checkpoint",
        "--image-path",
        &images.display().to_string(),
        &id,
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("is not running: created"), "{stderr}");
    let o = w.out(&["checkpoint", "no-such-container"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn unsupported_and_bad_flags_are_named_before_anything_happens() {
    let w = World::new("ckpt-flags");
    for (args, needle) in [
        (
            vec!["checkpoint", "--page-server", "1.2.3.4:5", "x"],
            "--page-server is not supported",
        ),
        (
            vec!["checkpoint", "--lazy-pages", "x"],
            "--lazy-pages is not supported",
        ),
        (
            vec!["checkpoint", "--manage-cgroups-mode", "hard", "x"],
            "invalid manage cgroups mode",
        ),
        (
            vec!["restore", "--empty-ns", "pid", "x"],
            "namespace \\\"pid\\\" is not supported",
        ),
    ] {
        let o = w.out(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(
        !w.root().join("x").exists(),
        "no state left by refused flags"
    );
}

#[test]
fn features_report_checkpoint_support_and_criu() {
    let w = World::new("ckpt-features");
    let o = w.out(&["--criu", "/nonexistent/criu", "features"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("features json");
    let a = &v["annotations"];
    assert_eq!(a["org.opencontainers.runc.checkpoint.enabled"], "false");
    let criu = a["io.github.hezi.checkpoint.criu"].as_str().unwrap_or("");
    assert!(
        criu.starts_with("unavailable: ") && criu.contains("/nonexistent/criu"),
        "{criu}"
    );
    if criu_works().is_some() {
        let o = w.out(&["features"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("features json");
        let a = &v["annotations"];
        assert_eq!(
            a["org.opencontainers.runc.checkpoint.enabled"], "true",
            "{a}"
        );
        let version = a["io.github.hezi.checkpoint.criu"].as_str().unwrap_or("");
        assert!(
            version.starts_with('3') || version.starts_with('4'),
            "{version}"
        );
    }
}
