//! Differential tests: the same bundle under Debian's runc and under hezi must show the same
//! identity, capabilities, hostname, limits, mount table of /proc /dev /sys (normalized) and
//! masked/read-only path behaviour. Root only; skipped when runc is missing.

#[path = "runtime_helpers.rs"]
mod helpers;

use std::path::Path;
use std::process::{Command, Stdio};

use helpers::World;
use hezi_testsupport::{require_root, unique_id};
use serde_json::json;

const RUNC: &str = "/usr/sbin/runc";

// Signals 32 and up are libc-internal; only the classic ones (1-31) are compared.
const PROBE: &str = r#"id; grep -E '^(Cap|SigBlk|NoNewPrivs|Seccomp:)' /proc/self/status
echo SigIgn=$(( 0x$(awk '/^SigIgn/ {print $2}' /proc/self/status) & 0x7fffffff ))
hostname; ulimit -n; ulimit -Hn; umask; pwd; echo $HOME
awk '$2 ~ /^\/(proc|dev|sys)/ && $2 !~ /^\/sys\/fs\/cgroup/ {split($4, o, ","); print $2, $3, o[1]}' /proc/mounts | sort
echo kcore=$(wc -c < /proc/kcore 2>&1)
echo firmware=$(ls /sys/firmware 2>&1 | wc -l)
echo sysrq=$(echo h > /proc/sysrq-trigger 2>/dev/null && echo ok || echo denied)
echo sys=$(echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo ok || echo denied)
echo root=$(touch /x 2>/dev/null && echo ok || echo denied)
ls -l /dev | awk 'NR > 1 {print $1, $NF}' | sort
readlink /proc/self/ns/user"#;

fn runc_output(bundle: &Path) -> String {
    let root = std::env::temp_dir().join(unique_id("runc-root"));
    let id = unique_id("diff");
    let o = Command::new(RUNC)
        .arg("--root")
        .arg(&root)
        .args(["run", "-b"])
        .arg(bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .expect("run runc");
    let _ = Command::new(RUNC)
        .arg("--root")
        .arg(&root)
        .args(["delete", "-f", &id])
        .output();
    let _ = std::fs::remove_dir_all(&root);
    assert!(
        o.status.success(),
        "runc failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn compare(name: &str, edit: impl Fn(&mut serde_json::Value)) {
    let w = World::new(&format!("rt-diff-{name}"));
    let id = w.id(name);
    let b = w.bundle(name, &["sh", "-c", PROBE], &edit);
    let (code, ours, err) = w.run(&b, &id);
    assert_eq!(code, 0, "hezi failed: {err}");
    let theirs = runc_output(&b);
    let a: Vec<&str> = ours.lines().collect();
    let r: Vec<&str> = theirs.lines().collect();
    for (i, (x, y)) in a.iter().zip(r.iter()).enumerate() {
        assert_eq!(
            x, y,
            "{name}: line {i} differs\n--- hezi\n{ours}\n--- runc\n{theirs}"
        );
    }
    assert_eq!(
        a.len(),
        r.len(),
        "{name}: line counts differ\n--- hezi\n{ours}\n--- runc\n{theirs}"
    );
}

#[test]
fn default_bundle_matches_runc() {
    require_root!();
    if !Path::new(RUNC).exists() {
        eprintln!("skipped: {RUNC} missing");
        return;
    }
    compare("default", |_| {});
}

#[test]
fn non_root_user_with_caps_and_limits_matches_runc() {
    require_root!();
    if !Path::new(RUNC).exists() {
        eprintln!("skipped: {RUNC} missing");
        return;
    }
    compare("user", |c| {
        c["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "additionalGids": [10], "umask": 18});
        c["process"]["cwd"] = json!("/tmp");
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["CAP_KILL"],
            "ambient": ["CAP_KILL"]
        });
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 300, "hard": 400}]);
        c["hostname"] = json!("differential");
    });
}

#[test]
fn user_namespace_matches_runc() {
    require_root!();
    if !Path::new(RUNC).exists() {
        eprintln!("skipped: {RUNC} missing");
        return;
    }
    compare("userns", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("ns")
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        // /proc/self/ns/user differs by nature; compare everything else.
        let args = c["process"]["args"].as_array_mut().expect("args");
        let script = args[2]
            .as_str()
            .expect("script")
            .replace("readlink /proc/self/ns/user", "true");
        args[2] = json!(script);
    });
}
