//! `hezi pause|resume|update|events` on a real container (root only; skipped otherwise).
//! Each test uses its own `--root`, a unique id and a guard that force-deletes the container.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hezi_testsupport::{busybox_bundle, require_root, unique_id, TempRoot};

struct Ctr {
    root: PathBuf,
    id: String,
    _tmp: TempRoot,
}

/// The hezi binary under test: `$HEZI_BIN` when set (tests/vm/v2-suite.sh runs a private
/// copy, safe from concurrent rebuilds of the shared target dir), else this build's.
fn hezi_exe() -> PathBuf {
    std::env::var_os("HEZI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hezi")))
}

fn hezi(root: &Path, args: &[&str]) -> Output {
    Command::new(hezi_exe())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hezi")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "hezi failed: {}\nstdout: {}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `hezi create`: the container inherits hezi's stdout/stderr, so they go to a file (a pipe
/// would stay open as long as the container runs).
fn create(root: &Path, bundle: &Path, id: &str) {
    let log = bundle.with_file_name(format!("{id}.log"));
    let f = std::fs::File::create(&log).expect("log");
    let st = Command::new(hezi_exe())
        .arg("--root")
        .arg(root)
        .args(["create", "--bundle"])
        .arg(bundle)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(f.try_clone().expect("dup"))
        .stderr(f)
        .status()
        .expect("run hezi create");
    assert!(
        st.success(),
        "hezi create failed: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

impl Ctr {
    /// Creates and starts `sh -c script` from a busybox bundle.
    fn start(script: &str) -> Self {
        let tmp = TempRoot::new("hezi-cgcli").expect("temp root");
        let bundle = tmp.path().join("bundle");
        busybox_bundle(&bundle, &["sh", "-c", script]).expect("bundle");
        // A writable rootfs: the tests read what the container writes there.
        let cfg_path = bundle.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg_path).expect("read config")).expect("json");
        cfg["root"]["readonly"] = serde_json::Value::Bool(false);
        std::fs::write(&cfg_path, serde_json::to_vec(&cfg).expect("ser")).expect("write config");
        let c = Ctr {
            root: tmp.state_dir(),
            id: unique_id("cg"),
            _tmp: tmp,
        };
        create(&c.root, &bundle, &c.id);
        ok(&hezi(&c.root, &["start", &c.id]));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut v: Vec<&str> = args.to_vec();
        v.push(&self.id);
        hezi(&self.root, &v)
    }

    fn status(&self) -> String {
        let out = ok(&self.run(&["state"]));
        let v: serde_json::Value = serde_json::from_str(&out).expect("state json");
        v["status"].as_str().unwrap_or("").to_string()
    }

    fn stats(&self) -> serde_json::Value {
        let out = ok(&self.run(&["events", "--stats"]));
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("events json");
        assert_eq!(v["type"], "stats");
        assert_eq!(v["id"], self.id.as_str());
        v["data"].clone()
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = hezi(&self.root, &["delete", "--force", &self.id]);
    }
}

/// The counter the container writes to its rootfs (/c).
fn counter(c: &Ctr) -> u64 {
    let cfg = c.root.parent().expect("tmp").join("bundle/rootfs/c");
    std::fs::read_to_string(cfg)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Polls the counter until it exceeds `above` (up to 10 s) and returns the last value read:
/// the container rewrites the file constantly, so a single read may see it empty.
fn counter_above(c: &Ctr, above: u64) -> u64 {
    let t = Instant::now();
    loop {
        let v = counter(c);
        if v > above || t.elapsed() > Duration::from_secs(10) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_and_resume_stop_and_restart_the_container() {
    require_root!();
    let c = Ctr::start("i=0; while true; do i=$((i+1)); echo $i > /c; done");
    let before = counter_above(&c, 20);
    assert!(before > 20, "the container's counter never ran");
    assert_eq!(c.status(), "running");
    ok(&c.run(&["pause"]));
    assert_eq!(c.status(), "paused");
    let cpath = c.root.parent().expect("tmp").join("bundle/rootfs/c");
    let a = std::fs::read_to_string(&cpath).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(400));
    let b = std::fs::read_to_string(&cpath).unwrap_or_default();
    assert_eq!(a, b, "container ran while paused");
    let again = c.run(&["pause"]);
    assert!(
        !again.status.success(),
        "pausing a paused container must fail"
    );
    let paused_at = counter(&c).max(before);
    ok(&c.run(&["resume"]));
    assert_eq!(c.status(), "running");
    assert!(
        counter_above(&c, paused_at + 10) > paused_at + 10,
        "container did not resume"
    );
    let e = c.run(&["resume"]);
    assert!(String::from_utf8_lossy(&e.stderr).contains("not paused"));
}

#[test]
fn update_changes_limits_and_events_reports_them() {
    require_root!();
    let c = Ctr::start("sleep 1000");
    ok(&c.run(&["update", "--memory", "64m", "--pids-limit", "17"]));
    let s = c.stats();
    assert_eq!(s["memory"]["usage"]["limit"], 64u64 << 20);
    assert_eq!(s["pids"]["limit"], 17);
    assert!(s["pids"]["current"].as_u64().unwrap_or(0) >= 1);
    // --resources from a file, as containerd sends it (on stdin with -).
    let f = c.root.parent().expect("tmp").join("r.json");
    std::fs::write(&f, r#"{"pids": {"limit": 23}}"#).expect("write");
    ok(&c.run(&["update", "--resources", f.to_str().expect("utf8")]));
    assert_eq!(c.stats()["pids"]["limit"], 23);
    // Unsupported settings are refused, never ignored.
    let e = c.run(&["update", "--l3-cache-schema", "L3:0=f"]);
    assert!(!e.status.success());
}

#[test]
fn events_streams_until_the_container_stops() {
    require_root!();
    // Long enough to outlive the slow start of a TCG VM; events must end by itself after.
    let c = Ctr::start("sleep 6");
    let out = c.run(&["events", "--interval", "300ms"]);
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "expected several samples: {text}");
    for l in lines {
        let v: serde_json::Value = serde_json::from_str(l).expect("json line");
        assert_eq!(v["type"], "stats");
    }
}

#[test]
fn events_reports_oom() {
    require_root!();
    let tmp = TempRoot::new("hezi-cgcli").expect("temp root");
    let bundle = tmp.path().join("bundle");
    busybox_bundle(
        &bundle,
        &[
            "sh",
            "-c",
            "sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1000",
        ],
    )
    .expect("bundle");
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cfg_path).expect("read")).expect("json");
    cfg["linux"]["resources"]["memory"] = serde_json::json!({"limit": 16777216, "swap": 16777216});
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).expect("ser")).expect("write");
    let c = Ctr {
        root: tmp.state_dir(),
        id: unique_id("cgoom"),
        _tmp: tmp,
    };
    create(&c.root, &bundle, &c.id);
    let mut child = Command::new(hezi_exe())
        .arg("--root")
        .arg(&c.root)
        .args(["events", "--interval", "10s", &c.id])
        .stdout(Stdio::piped())
        .spawn()
        .expect("events");
    ok(&c.run(&["start"]));
    std::thread::sleep(Duration::from_secs(4));
    let _ = child.kill();
    let out = child.wait_with_output().expect("events output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.contains(r#""type":"oom""#)),
        "no oom event in: {text}"
    );
}
