//! `validate_config` / `validate_bundle`: every problem reported, each with its path.

use hezi_spec::{defaults, validate};
use serde_json::{json, Value};

fn good() -> Value {
    let mut v = serde_json::to_value(defaults::default_spec()).unwrap();
    v["process"]["args"] = json!(["true"]);
    v["process"]["terminal"] = json!(false);
    v
}

fn problems(v: &Value) -> Vec<(String, String)> {
    match validate::validate_config(v) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .problems()
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect(),
    }
}

fn assert_problem(v: &Value, path: &str, fragment: &str) {
    let ps = problems(v);
    assert!(
        ps.iter().any(|(p, m)| p == path && m.contains(fragment)),
        "expected {path}: ...{fragment}... in {ps:#?}"
    );
}

#[test]
fn good_config_is_valid() {
    assert!(problems(&good()).is_empty(), "{:?}", problems(&good()));
}

#[test]
fn reports_every_problem_with_its_path() {
    let mut v = good();
    v["ociVersion"] = json!("1.0");
    v["mounts"][2]["destination"] = json!("dev/pts");
    v["process"]["cwd"] = json!("relative");
    v["process"]["capabilities"]["bounding"][1] = json!("CAP_FLY");
    v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "pid"}, {"type": "bogus"}]);
    let ps = problems(&v);
    let paths: Vec<&str> = ps.iter().map(|(p, _)| p.as_str()).collect();
    for want in [
        "ociVersion",
        "mounts[2].destination",
        "process.cwd",
        "process.capabilities.bounding[1]",
        "linux.namespaces[1].type",
        "linux.namespaces[2].type",
        // uts is gone, so the hostname can no longer be set.
        "hostname",
    ] {
        assert!(paths.contains(&want), "{want} missing from {ps:#?}");
    }
    let err = validate::validate_config(&v).unwrap_err();
    let text = err.to_string();
    assert_eq!(text.lines().count(), err.problems().len());
    assert!(
        text.contains("mounts[2].destination: \"dev/pts\" must be an absolute path"),
        "{text}"
    );
}

#[test]
fn wrong_types_get_paths() {
    let mut v = good();
    v["process"]["args"] = json!("true");
    v["root"]["readonly"] = json!("yes");
    v["linux"]["resources"]["devices"][0]["allow"] = json!(1);
    assert_problem(&v, "process.args", "must be an array");
    assert_problem(&v, "root.readonly", "must be a boolean");
    assert_problem(&v, "linux.resources.devices[0].allow", "must be a boolean");
}

#[test]
fn typed_decoding_errors_get_paths() {
    // A field the raw checks do not look at, with a type oci-spec rejects.
    let mut v = good();
    v["linux"]["intelRdt"] = json!({"closID": 5});
    let ps = problems(&v);
    assert!(
        ps.iter().any(|(p, _)| p == "linux.intelRdt.closID"),
        "{ps:#?}"
    );
}

#[test]
fn required_fields() {
    let v = json!({});
    for path in ["ociVersion", "root"] {
        assert_problem(&v, path, "required");
    }
    let mut v = good();
    v["process"].as_object_mut().unwrap().remove("cwd");
    v["root"] = json!({});
    v["process"]["args"] = json!([]);
    assert_problem(&v, "process.cwd", "required");
    assert_problem(&v, "root.path", "required");
    assert_problem(&v, "process.args", "must not be empty");
}

#[test]
fn rlimits() {
    let mut v = good();
    v["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5},
        {"type": "RLIMIT_NOFILE", "soft": 1, "hard": 5},
        {"type": "RLIMIT_FOO", "soft": 1, "hard": 5}
    ]);
    assert_problem(&v, "process.rlimits[0].soft", "above the hard limit");
    assert_problem(&v, "process.rlimits[1].type", "more than once");
    assert_problem(&v, "process.rlimits[2].type", "not a valid rlimit type");
}

#[test]
fn env_and_hooks_and_annotations() {
    let mut v = good();
    v["process"]["env"] = json!(["PATH=/bin", "NOEQUALS"]);
    v["hooks"] = json!({
        "prestart": [{"path": "relative/hook"}],
        "createRuntime": [{"path": "/bin/true", "timeout": 0}],
        "onSunday": []
    });
    v["annotations"] = json!({"a": 1});
    assert_problem(&v, "process.env[1]", "KEY=value");
    assert_problem(&v, "hooks.prestart[0].path", "absolute");
    assert_problem(&v, "hooks.createRuntime[0].timeout", "out of range");
    assert_problem(&v, "hooks.onSunday", "not a hook kind");
    assert_problem(&v, "annotations.a", "must be a string");
}

#[test]
fn id_mappings_need_user_namespace() {
    let mut v = good();
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    assert_problem(&v, "linux.uidMappings", "user namespace");
    let rootless = serde_json::to_value(defaults::rootless_spec(1000, 1000)).unwrap();
    assert!(problems(&rootless).is_empty());
    let mut v = rootless;
    v["linux"].as_object_mut().unwrap().remove("gidMappings");
    assert_problem(
        &v,
        "linux.gidMappings",
        "required when a new user namespace",
    );
}

#[test]
fn devices() {
    let mut v = good();
    v["linux"]["devices"] = json!([
        {"type": "c", "path": "/dev/null", "major": 1, "minor": 3},
        {"type": "x", "path": "/dev/x", "major": 1, "minor": 3},
        {"type": "b", "path": "dev/sda"},
        {"type": "p", "path": "/dev/fifo", "major": 4, "minor": 0},
        {"type": "c", "path": "/dev/null", "major": 1, "minor": 3},
        // What podman --privileged / --device sends: st_mode with the type bits (S_IFCHR).
        {"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 8576}
    ]);
    let ps = problems(&v);
    for ok in ["linux.devices[0]", "linux.devices[3]", "linux.devices[5]"] {
        assert!(!ps.iter().any(|(p, _)| p.starts_with(ok)), "{ok}: {ps:#?}");
    }
    assert_problem(&v, "linux.devices[1].type", "not a valid device type");
    assert_problem(&v, "linux.devices[2].path", "absolute");
    assert_problem(&v, "linux.devices[2].major", "required");
    assert_problem(&v, "linux.devices[4].path", "more than once");
    v["linux"]["resources"]["devices"] = json!([{"allow": true, "type": "z", "access": "rwx"}]);
    assert_problem(&v, "linux.resources.devices[0].type", "device rule type");
    assert_problem(&v, "linux.resources.devices[0].access", "r, w and m");
}

#[test]
fn seccomp() {
    let mut v = good();
    v["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_NOPE",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"],
        "flags": ["SECCOMP_FILTER_FLAG_BOGUS"],
        "syscalls": [
            {"names": ["read", ""], "action": "SCMP_ACT_ALLOW"},
            {"names": [], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["write"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1,
             "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_SORTOF"}]}
        ]
    });
    assert_problem(
        &v,
        "linux.seccomp.defaultAction",
        "not a valid seccomp action",
    );
    assert_problem(&v, "linux.seccomp.architectures[1]", "seccomp architecture");
    assert_problem(&v, "linux.seccomp.flags[0]", "filter flag");
    assert_problem(
        &v,
        "linux.seccomp.syscalls[0].names[1]",
        "must not be empty",
    );
    assert_problem(&v, "linux.seccomp.syscalls[1].names", "must not be empty");
    assert_problem(&v, "linux.seccomp.syscalls[2].errnoRet", "only applies");
    assert_problem(
        &v,
        "linux.seccomp.syscalls[2].args[0].index",
        "out of range",
    );
    assert_problem(
        &v,
        "linux.seccomp.syscalls[2].args[0].op",
        "seccomp operator",
    );
}

#[test]
fn sysctl_cgroups_path_and_paths() {
    let mut v = good();
    v["linux"]["sysctl"] = json!({
        "net.ipv4.ip_forward": "1",
        "kernel.shmmax": "100",
        "vm.swappiness": "1",
        "bad name": "1"
    });
    v["linux"]["cgroupsPath"] = json!("a:b");
    v["linux"]["maskedPaths"] = json!(["/ok", "proc/x"]);
    v["linux"]["rootfsPropagation"] = json!("sideways");
    let ps = problems(&v);
    assert!(
        !ps.iter()
            .any(|(p, _)| p == "linux.sysctl.net.ipv4.ip_forward"),
        "{ps:#?}"
    );
    assert!(
        !ps.iter().any(|(p, _)| p == "linux.sysctl.kernel.shmmax"),
        "{ps:#?}"
    );
    assert_problem(&v, "linux.sysctl.vm.swappiness", "not namespaced");
    assert_problem(&v, "linux.sysctl.bad name", "not a sysctl name");
    assert_problem(&v, "linux.cgroupsPath", "slice:prefix:name");
    assert_problem(&v, "linux.maskedPaths[1]", "absolute");
    assert_problem(&v, "linux.rootfsPropagation", "mount propagation");

    // Without a network namespace a net.* sysctl is refused.
    v["linux"]["namespaces"] = json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]);
    assert_problem(&v, "linux.sysctl.net.ipv4.ip_forward", "network namespace");

    v["linux"]["cgroupsPath"] = json!("system.slice:hezi:abc");
    let ps = problems(&v);
    assert!(!ps.iter().any(|(p, _)| p == "linux.cgroupsPath"), "{ps:#?}");
}

#[test]
fn bundle_checks_rootfs() {
    let dir = tempfile::tempdir().unwrap();
    let e = validate::validate_bundle(dir.path()).unwrap_err();
    assert!(e.to_string().contains("config.json"), "{e}");

    std::fs::write(
        dir.path().join("config.json"),
        serde_json::to_string(&good()).unwrap(),
    )
    .unwrap();
    let e = validate::validate_bundle(dir.path()).unwrap_err();
    assert!(e.has_path("root.path"), "{e}");

    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    validate::validate_bundle(dir.path()).unwrap();

    std::fs::write(dir.path().join("config.json"), "{not json").unwrap();
    let e = validate::validate_bundle(dir.path()).unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}

#[test]
fn fixture_bundle_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    hezi_testsupport::busybox_bundle(dir.path(), &["true"]).unwrap();
    if let Err(e) = validate::validate_bundle(dir.path()) {
        panic!("fixture bundle rejected:\n{e}");
    }
}

/// Real seccomp profiles (Docker's and podman's defaults, as the seccomp crate's fixtures)
/// pass: no false alarms on the profiles users actually run.
#[test]
fn real_seccomp_profiles_pass() {
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../seccomp/tests/fixtures");
    let mut checked = 0;
    for name in ["docker-default.json", "podman-default.json"] {
        let Ok(text) = std::fs::read_to_string(fixtures.join(name)) else {
            continue;
        };
        let profile: Value = serde_json::from_str(&text).unwrap();
        let mut v = good();
        v["linux"]["seccomp"] = profile;
        let ps = problems(&v);
        let ours: Vec<_> = ps
            .iter()
            .filter(|(p, _)| p.starts_with("linux.seccomp"))
            .collect();
        assert!(ours.is_empty(), "{name}: {ours:#?}");
        checked += 1;
    }
    if checked == 0 {
        eprintln!("skipped: no seccomp fixtures found");
    }
}

#[test]
fn blkio_weight_zero_is_unset() {
    // Docker sends `"blockIO": {"weight": 0}` for every container; runc reads 0 as unset.
    let mut v = good();
    v["linux"]["resources"] = json!({"blockIO": {"weight": 0, "leafWeight": 0}});
    assert!(problems(&v).is_empty(), "{:#?}", problems(&v));
    v["linux"]["resources"] = json!({"blockIO": {"weight": 5}});
    assert_problem(&v, "linux.resources.blockIO.weight", "out of range");
}
