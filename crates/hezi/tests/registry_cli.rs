//! `hezi login`, `hezi image push`, `hezi image pull`, `hezi logout` and
//! `hezi run --image docker://... --pull=...` through the binary against Debian's
//! `docker-registry` with htpasswd auth (skipped with a message when it is missing).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use hezi_testsupport::registry::{htpasswd, DockerRegistry};
use hezi_testsupport::{require_root, require_tool};

fn hezi(store: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hezi"));
    c.arg("--store")
        .arg(store)
        .args(args)
        .env_remove("REGISTRY_AUTH_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn ok(store: &Path, args: &[&str]) -> String {
    let o = hezi(store, args, None);
    assert!(
        o.status.success(),
        "hezi {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(store: &Path, args: &[&str]) -> String {
    let o = hezi(store, args, None);
    assert!(!o.status.success(), "hezi {args:?} succeeded");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn login_push_pull_logout_with_htpasswd() {
    require_tool!("docker-registry");
    require_tool!("htpasswd");
    let t = tempfile::tempdir().unwrap();
    let pw = t.path().join("htpasswd");
    htpasswd(&pw, "alice", "s3cret").unwrap();
    let reg = DockerRegistry::start(Some(&pw)).unwrap();
    let addr = reg.addr.as_str();
    let layout = t.path().join("layout");
    let digest = hezi_testsupport::busybox_oci_layout(&layout, "busybox:latest").unwrap();
    let src = t.path().join("src");
    ok(&src, &["image", "import", layout.to_str().unwrap()]);
    let authfile = t.path().join("auth/auth.json");
    let af = authfile.to_str().unwrap();

    // A wrong password is refused and nothing is written.
    let o = hezi(
        &src,
        &[
            "login",
            addr,
            "-u",
            "alice",
            "--password-stdin",
            "--authfile",
            af,
        ],
        Some("wrong\n"),
    );
    assert!(!o.status.success());
    assert!(!authfile.exists());
    let o = hezi(
        &src,
        &[
            "login",
            addr,
            "-u",
            "alice",
            "--password-stdin",
            "--authfile",
            af,
        ],
        Some("s3cret\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mode = fs::metadata(&authfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let dest = format!("docker://{addr}/hezi/busybox:v1");
    let e = fails(&src, &["image", "push", "busybox:latest", &dest]);
    assert!(
        e.contains("authentication required") && e.contains(addr),
        "{e}"
    );
    let out = ok(
        &src,
        &["image", "push", "busybox:latest", &dest, "--authfile", af],
    );
    assert!(out.contains(&digest), "{out}");

    let fresh = t.path().join("fresh");
    let out = ok(
        &fresh,
        &["image", "pull", &dest, "--authfile", af, "--jobs", "2"],
    );
    assert!(out.contains(&digest), "{out}");
    let ls = ok(&fresh, &["image", "ls", "-q"]);
    assert_eq!(ls.trim(), format!("{addr}/hezi/busybox:v1"));
    ok(&fresh, &["image", "verify"]);
    // --creds works too; a missing tag names registry, repository and tag.
    let e = fails(
        &fresh,
        &[
            "image",
            "pull",
            &format!("{addr}/hezi/busybox:nope"),
            "--creds",
            "alice:s3cret",
        ],
    );
    assert!(
        e.contains(addr) && e.contains("hezi/busybox") && e.contains("nope"),
        "{e}"
    );

    ok(&src, &["logout", addr, "--authfile", af]);
    let e = fails(&src, &["logout", addr, "--authfile", af]);
    assert!(e.contains("not logged into"), "{e}");
}

#[test]
fn run_pulls_a_missing_image() {
    require_root!();
    require_tool!("docker-registry");
    let t = tempfile::tempdir().unwrap();
    let reg = DockerRegistry::start(None).unwrap();
    let layout = t.path().join("layout");
    hezi_testsupport::busybox_oci_layout(&layout, "busybox:latest").unwrap();
    let src = t.path().join("src");
    ok(&src, &["image", "import", layout.to_str().unwrap()]);
    let dest = format!("docker://{}/run/busybox:v1", reg.addr);
    ok(&src, &["image", "push", "busybox:latest", &dest]);

    let store = t.path().join("store");
    let root = t.path().join("root");
    let id = hezi_testsupport::unique_id("hezi-pullrun");
    let run = |policy: &str, id: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hezi"));
        c.arg("--root").arg(&root).arg("--store").arg(&store).args([
            "run",
            "--image",
            &dest,
            "--pull",
            policy,
            id,
            "--",
            "echo",
            "pulled-and-ran",
        ]);
        c.output().unwrap()
    };
    let o = run("never", &id);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--pull=never"));
    let o = run("missing", &id);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("pulled-and-ran"));
    let ls = ok(&store, &["image", "ls", "-q"]);
    assert_eq!(ls.trim(), format!("{}/run/busybox:v1", reg.addr));
}

/// `hezi <args>` with `dir` first on PATH (where the fake credential helpers are).
fn hezi_with_path(store: &Path, dir: &Path, args: &[&str]) -> Output {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new(env!("CARGO_BIN_EXE_hezi"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("REGISTRY_AUTH_FILE")
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Writes an executable `docker-credential-<name>` into `dir` that answers `get` for
/// `server` with `user`/`secret` and says "credentials not found" for any other server.
fn fake_helper(dir: &Path, name: &str, server: &str, user: &str, secret: &str) {
    let script = format!(
        "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\nif [ \"$server\" = '{server}' ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
    );
    let p = dir.join(format!("docker-credential-{name}"));
    fs::write(&p, script).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn credential_helpers_from_docker_config() {
    require_tool!("docker-registry");
    require_tool!("htpasswd");
    let t = tempfile::tempdir().unwrap();
    let pw = t.path().join("htpasswd");
    htpasswd(&pw, "alice", "s3cret").unwrap();
    let reg = DockerRegistry::start(Some(&pw)).unwrap();
    let addr = reg.addr.as_str();
    let layout = t.path().join("layout");
    let digest = hezi_testsupport::busybox_oci_layout(&layout, "busybox:latest").unwrap();
    let src = t.path().join("src");
    ok(&src, &["image", "import", layout.to_str().unwrap()]);
    let image = format!("docker://{addr}/hezi/helper:v1");
    ok(
        &src,
        &[
            "image",
            "push",
            "busybox:latest",
            &image,
            "--creds",
            "alice:s3cret",
        ],
    );

    let bin = t.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    fake_helper(&bin, "fake", addr, "alice", "s3cret");
    fake_helper(&bin, "wrong", addr, "alice", "nope");
    fake_helper(&bin, "token", addr, "<token>", "refresh");
    fake_helper(&bin, "elsewhere", "other.example:1", "alice", "s3cret");
    let config = |name: &str, doc: serde_json::Value| {
        let p = t.path().join(format!("{name}.json"));
        fs::write(&p, doc.to_string()).unwrap();
        p.display().to_string()
    };
    let pull = |n: &str, cfg: &str| {
        hezi_with_path(
            &t.path().join(format!("store-{n}")),
            &bin,
            &["image", "pull", &image, "--authfile", cfg],
        )
    };
    // credsStore (with Docker's empty placeholder entry) and credHelpers both pull.
    for (n, doc) in [
        (
            "store",
            serde_json::json!({"credsStore": "fake", "auths": {addr: {}}}),
        ),
        (
            "helpers",
            serde_json::json!({"credHelpers": {addr: "fake"}}),
        ),
        (
            "helper-wins",
            serde_json::json!({"credHelpers": {addr: "fake"},
                               "auths": {addr: {"auth": "YWxpY2U6bm9wZQ=="}}}),
        ),
    ] {
        let o = pull(n, &config(n, doc));
        assert!(
            o.status.success(),
            "{n}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains(&digest), "{n}");
    }
    // A helper with the wrong secret, a helper with nothing for this registry, a missing
    // helper and an identity token: each a clear error.
    for (n, doc, needle) in [
        (
            "wrong",
            serde_json::json!({"credHelpers": {addr: "wrong"}}),
            "authentication required",
        ),
        (
            "notfound",
            serde_json::json!({"credsStore": "elsewhere"}),
            "authentication required",
        ),
        (
            "missing",
            serde_json::json!({"credsStore": "no-such-helper"}),
            "docker-credential-no-such-helper",
        ),
        (
            "token",
            serde_json::json!({"credHelpers": {addr: "token"}}),
            "identity token",
        ),
    ] {
        let o = pull(n, &config(n, doc));
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{n} succeeded");
        assert!(e.contains(needle), "{n}: {e}");
    }
}

#[test]
fn all_platforms_and_platform_exclude_each_other() {
    let t = tempfile::tempdir().unwrap();
    let o = hezi(
        t.path(),
        &[
            "image",
            "pull",
            "--all-platforms",
            "--platform",
            "linux/arm64",
            "127.0.0.1:1/x:y",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--all-platforms") && e.contains("--platform"),
        "{e}"
    );
}
