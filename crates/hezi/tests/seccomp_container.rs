//! Seccomp inside real containers: Docker's default profile (the fixture hezi-seccomp's
//! differential tests compare with libseccomp) denies user namespaces, and a KILL rule kills.

#[path = "runtime_helpers.rs"]
mod helpers;

use helpers::World;
use hezi_testsupport::require_root;
use serde_json::json;

/// Docker's default profile as resolved for the default capabilities.
fn docker_profile() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../seccomp/tests/fixtures/docker-default.json"
    );
    serde_json::from_slice(&std::fs::read(path).expect("docker profile fixture")).expect("json")
}

#[test]
fn docker_default_profile_denies_user_namespaces() {
    require_root!();
    let w = World::new("hezi-seccomp-docker");
    let script = "unshare -U true 2>&1 || echo denied; echo still-alive; id -u";
    let (code, out, err) = w.sh(script, |c| c["linux"]["seccomp"] = docker_profile());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("denied"),
        "unshare(CLONE_NEWUSER) was allowed: {out}"
    );
    assert!(out.contains("still-alive\n0"), "{out}");
    // The same container without the profile may create a user namespace: the test can fail.
    let (_, out, _) = w.sh(script, |_| {});
    assert!(!out.contains("denied"), "{out}");
}

#[test]
fn kill_rule_kills_the_process() {
    require_root!();
    let w = World::new("hezi-seccomp-kill");
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]
    });
    // A child that makes the call dies of SIGSYS; the shell goes on.
    let (code, out, err) = w.sh(
        "mkdir /tmp/x; echo rc=$?; test -e /tmp/x || echo absent",
        |c| c["linux"]["seccomp"] = profile.clone(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("rc={}", 128 + libc::SIGSYS)), "{out}");
    assert!(out.contains("absent"), "{out}");
    // The container's own process making it: the container ends with SIGSYS.
    let (code, out, _) = w.sh("echo before; exec mkdir /tmp/x", |c| {
        c["linux"]["seccomp"] = profile.clone()
    });
    assert_eq!(code, 128 + libc::SIGSYS, "exit code {code}, output {out}");
    assert!(out.contains("before"), "{out}");
}

#[test]
fn errno_rule_returns_its_errno() {
    require_root!();
    let w = World::new("hezi-seccomp-errno");
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]
    });
    let (code, out, err) = w.sh("mkdir /tmp/x 2>&1; echo rc=$?", |c| {
        c["linux"]["seccomp"] = profile.clone()
    });
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("No space left on device"),
        "ENOSPC expected: {out}"
    );
}
