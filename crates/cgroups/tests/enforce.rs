//! Root-only: limits are ENFORCED by the kernel, not just written. Runs on whatever hierarchy
//! the host has (v1/hybrid here; cgroup v2 inside the VM suite, tests/vm/v2-suite.sh).
//! Each test uses its own top-level cgroup (`/hezi-test-<pid>-<name>`) and a Drop guard that
//! kills and removes it even when an assertion fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hezi_cgroups::{
    manager_for, resources_from_json, CgroupConfig, CgroupManager, FreezerState, Hierarchy,
};

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! need_root {
    () => {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

struct Guard {
    cg: Box<dyn CgroupManager>,
    children: Vec<Child>,
}

impl Guard {
    fn new(name: &str, resources: &str) -> Self {
        let mut cfg = CgroupConfig::new(name);
        cfg.cgroups_path = Some(format!("/hezi-test-{}-{name}", std::process::id()));
        let cg = manager_for(&cfg).expect("manager");
        let g = Guard {
            cg,
            children: Vec::new(),
        };
        g.cg.create().expect("create");
        let r = resources_from_json(resources, Path::new("test")).expect("resources json");
        g.cg.apply(&r).expect("apply");
        g
    }

    /// Starts `sh -c script` held at a `read`, moves it into the cgroup, then releases it.
    fn spawn(&mut self, script: &str, out: &Path) -> u32 {
        let log = std::fs::File::create(out).expect("log file");
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("read _go; {script}"))
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        self.cg.add_task(pid as i32).expect("add_task");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"go\n")
            .expect("release child");
        self.children.push(child);
        pid
    }

    fn wait_child(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = self.children[0].try_wait().expect("try_wait") {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = self.cg.destroy() {
            eprintln!("cleanup: {e}");
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(path: &Path, needle: &str, limit: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || start.elapsed() > limit {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tmp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join(name);
    (d, p)
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    need_root!();
    let mut g = Guard::new("pids", r#"{"pids": {"limit": 5}}"#);
    let (_d, out) = tmp("out");
    g.spawn(
        "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; echo LOOP_DONE; sleep 30",
        &out,
    );
    // dash gives up on the script at the first failed fork; either way the loop is over when
    // the output says so or the shell has exited.
    let start = Instant::now();
    while !std::fs::read_to_string(&out)
        .unwrap_or_default()
        .contains("LOOP_DONE")
        && g.children[0].try_wait().expect("try_wait").is_none()
        && start.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let n = g.cg.pids().expect("pids").len();
    assert!(
        text.to_lowercase().contains("fork"),
        "no fork failure; output: {text:?}"
    );
    assert!(n <= 5, "{n} processes in a cgroup limited to 5");
    let s = g.cg.stats().expect("stats");
    assert_eq!(s.pids.limit, 5);
    assert!(s.pids.current <= 5 && s.pids.current >= 1, "{:?}", s.pids);
}

#[test]
fn memory_limit_oom_kills_a_hog() {
    need_root!();
    // memory+swap equal to memory: no escape into swap on v1; swap.max 0 on v2.
    let mut g = Guard::new(
        "mem",
        r#"{"memory": {"limit": 33554432, "swap": 33554432}}"#,
    );
    let (_d, out) = tmp("out");
    g.spawn("exec dd if=/dev/zero of=/dev/null bs=256M count=1", &out);
    let st = g
        .wait_child(Duration::from_secs(30))
        .expect("hog did not end");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        st.signal(),
        Some(libc::SIGKILL),
        "hog was not OOM-killed: {st:?}"
    );
    assert!(g.cg.oom_kill_count().expect("oom count") >= 1);
    let s = g.cg.stats().expect("stats");
    assert_eq!(s.memory.usage.limit, 33554432);
}

#[test]
fn denied_device_cannot_be_opened() {
    need_root!();
    let mut g = Guard::new(
        "dev",
        r#"{"devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}]}"#,
    );
    let (_d, out) = tmp("out");
    g.spawn(
        "if cat /dev/null; then echo NULL_OPENED; else echo NULL_DENIED; fi; \
         if head -c 1 /dev/zero | wc -c | grep -q 1; then echo ZERO_OPENED; else echo ZERO_DENIED; fi; echo END",
        &out,
    );
    let text = wait_for(&out, "END", Duration::from_secs(10));
    assert!(text.contains("NULL_DENIED"), "{text:?}");
    assert!(text.contains("ZERO_OPENED"), "{text:?}");
    assert!(
        text.to_lowercase().contains("not permitted"),
        "expected EPERM: {text:?}"
    );
}

fn counter(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Polls the counter file until it exceeds `above` (up to 10 s); returns the last value read.
/// The shell rewrites the file constantly, so a read can see it empty: only the value read
/// inside the loop counts.
fn counter_above(path: &Path, above: u64) -> u64 {
    let start = Instant::now();
    loop {
        let v = counter(path);
        if v > above || start.elapsed() > Duration::from_secs(10) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn frozen_cgroup_makes_no_progress() {
    need_root!();
    let mut g = Guard::new("freeze", "{}");
    let (_d, out) = tmp("out");
    let cnt = out.with_file_name("count");
    g.spawn(
        &format!(
            "i=0; while :; do i=$((i+1)); echo $i > {}; done",
            cnt.display()
        ),
        &out,
    );
    let before = counter_above(&cnt, 50);
    assert!(before > 50, "counter never ran");
    g.cg.freeze(FreezerState::Frozen).expect("freeze");
    assert_eq!(g.cg.freezer_state().expect("state"), FreezerState::Frozen);
    let a = std::fs::read_to_string(&cnt).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(500));
    let b = std::fs::read_to_string(&cnt).unwrap_or_default();
    assert_eq!(a, b, "counter advanced while frozen");
    // (The freeze may have caught the shell between truncating and writing the file.)
    let frozen_at = counter(&cnt).max(before);
    g.cg.freeze(FreezerState::Thawed).expect("thaw");
    assert_eq!(g.cg.freezer_state().expect("state"), FreezerState::Thawed);
    assert!(
        counter_above(&cnt, frozen_at + 10) > frozen_at + 10,
        "counter did not resume after thaw"
    );
}

#[test]
fn destroy_kills_everything_and_removes_the_cgroup() {
    need_root!();
    let mut g = Guard::new("kill", "{}");
    let (_d, out) = tmp("out");
    g.spawn("sleep 100 & sleep 100 & echo STARTED; wait", &out);
    wait_for(&out, "STARTED", Duration::from_secs(10));
    let start = Instant::now();
    while g.cg.pids().expect("pids").len() < 3 && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(g.cg.pids().expect("pids").len(), 3);
    if g.cg.hierarchy() == Hierarchy::Unified {
        assert!(
            Path::new(&g.cg.paths()[""]).join("cgroup.kill").exists(),
            "cgroup.kill missing"
        );
    }
    g.cg.destroy().expect("destroy");
    let st = g
        .wait_child(Duration::from_secs(5))
        .expect("sh survived destroy");
    assert!(!st.success());
    for p in g.cg.paths().values() {
        assert!(!p.exists(), "{} still exists", p.display());
    }
}

/// A container may make sub-cgroups and move processes there (a nested runtime, systemd in
/// the container): `pids` (what `ps` shows) lists them, and `destroy` kills them and removes
/// the sub-cgroups too, as runc does.
#[test]
fn destroy_reaches_processes_in_sub_cgroups() {
    need_root!();
    let mut g = Guard::new("sub", "{}");
    let (_d, out) = tmp("out");
    let top = g.spawn("echo STARTED; exec sleep 100", &out) as i32;
    wait_for(&out, "STARTED", Duration::from_secs(10));
    let paths = g.cg.paths();
    let dir = if g.cg.hierarchy() == Hierarchy::Unified {
        paths[""].clone()
    } else {
        paths["pids"].clone()
    };
    let sub = dir.join("sub/inner");
    std::fs::create_dir_all(&sub).expect("mkdir sub-cgroup");
    let sleeper = Command::new("/bin/sleep")
        .arg("100")
        .spawn()
        .expect("spawn sleep");
    let nested = sleeper.id() as i32;
    g.children.push(sleeper);
    std::fs::write(sub.join("cgroup.procs"), nested.to_string()).expect("move into sub");

    let mut pids = g.cg.pids().expect("pids");
    pids.sort();
    let mut want = vec![top, nested];
    want.sort();
    assert_eq!(pids, want, "pids() must include the sub-cgroup's process");

    g.cg.destroy().expect("destroy with a sub-cgroup");
    let start = Instant::now();
    let mut gone = false;
    while start.elapsed() < Duration::from_secs(5) {
        if g.children[1].try_wait().expect("try_wait").is_some() {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone, "the process in the sub-cgroup survived destroy");
    assert!(
        !sub.exists() && !dir.exists(),
        "{} left behind",
        sub.display()
    );
}

#[test]
fn kernel_accepts_a_full_resource_set() {
    need_root!();
    let g = Guard::new(
        "full",
        r#"{"memory": {"limit": 67108864, "swap": 67108864, "reservation": 33554432},
            "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"},
            "pids": {"limit": 7}}"#,
    );
    let s = g.cg.stats().expect("stats");
    assert_eq!(s.memory.usage.limit, 67108864);
    assert_eq!(s.pids.limit, 7);
    // A second apply (what `update` does) changes the limit in place.
    let r = resources_from_json(
        r#"{"memory": {"limit": 134217728}, "pids": {"limit": 9}}"#,
        Path::new("u"),
    )
    .unwrap();
    g.cg.apply(&r).expect("update");
    let s = g.cg.stats().expect("stats");
    assert_eq!(s.memory.usage.limit, 134217728);
    assert_eq!(s.pids.limit, 9);
}

fn need_v2(g: &Guard) -> bool {
    if g.cg.hierarchy() != Hierarchy::Unified {
        eprintln!("skipped: needs a cgroup v2 host (see tests/vm/v2-suite.sh)");
        return false;
    }
    true
}

#[test]
fn v2_device_program_is_attached() {
    need_root!();
    let rules = r#"{"devices": [{"allow": false, "access": "rwm"},
                                {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}"#;
    let g = Guard::new("bpf", rules);
    if !need_v2(&g) {
        return;
    }
    let dir = g.cg.paths()[""].clone();
    assert_eq!(
        hezi_cgroups::v2::bpf::attached_device_programs(&dir).expect("query"),
        1
    );
    // A second apply (update) replaces the filter instead of stacking a second one.
    g.cg.apply(&resources_from_json(rules, Path::new("u")).unwrap())
        .expect("re-apply");
    assert_eq!(
        hezi_cgroups::v2::bpf::attached_device_programs(&dir).expect("query"),
        1
    );
}

#[test]
fn v2_cgroup_kill_kills_a_forking_tree() {
    need_root!();
    let mut g = Guard::new("cgkill", "{}");
    if !need_v2(&g) {
        return;
    }
    let (_d, out) = tmp("out");
    g.spawn("while true; do sleep 100 & sleep 0.01; done", &out);
    let start = Instant::now();
    while g.cg.pids().expect("pids").len() < 5 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(g.cg.pids().expect("pids").len() >= 5);
    g.cg.kill_all(libc::SIGKILL).expect("cgroup.kill");
    let start = Instant::now();
    while !g.cg.pids().expect("pids").is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        g.cg.pids().expect("pids").is_empty(),
        "processes survived cgroup.kill"
    );
    let st = g
        .wait_child(Duration::from_secs(5))
        .expect("shell survived");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGKILL));
}

#[test]
fn v2_io_max_on_scratch_disk() {
    need_root!();
    // A pure cgroup v2 host (the VM suite's) and a whole disk to limit. The test must not
    // guess the VM from a device name: hosts have a vda too.
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        eprintln!("skipped: needs a cgroup v2 (unified) host; tests/vm/v2-suite.sh runs it");
        return;
    }
    let Some(dev) = std::fs::read_dir("/sys/block").ok().and_then(|rd| {
        let mut names: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        names
            .into_iter()
            .filter(|p| {
                !p.to_string_lossy().contains("/loop") && !p.to_string_lossy().contains("/ram")
            })
            .find_map(|p| std::fs::read_to_string(p.join("dev")).ok())
    }) else {
        eprintln!("skipped: no block device");
        return;
    };
    let (major, minor) = dev.trim().split_once(':').expect("maj:min");
    let json = format!(
        r#"{{"blockIO": {{"weight": 500, "throttleReadBpsDevice": [{{"major": {major}, "minor": {minor}, "rate": 1048576}}],
                        "throttleWriteIOPSDevice": [{{"major": {major}, "minor": {minor}, "rate": 50}}]}}}}"#
    );
    let g = Guard::new("io", &json);
    if !need_v2(&g) {
        return;
    }
    let io_max = std::fs::read_to_string(g.cg.paths()[""].join("io.max")).expect("io.max");
    let line = format!("{major}:{minor} rbps=1048576 wbps=max riops=max wiops=50");
    assert!(
        io_max.contains(&line),
        "io.max is {io_max:?}, want {line:?}"
    );
}

/// On a hybrid host whose hugetlb controller lives only in the cgroup2 mount and is not
/// delegated there (this development host), hugepage limits are refused up front with the
/// reason, never written nowhere. Needs no root: nothing is created.
#[test]
fn hybrid_host_refuses_undelegated_hugetlb() {
    let Ok(mounts) = hezi_cgroups::Mounts::for_root(Path::new("/sys/fs/cgroup")) else {
        eprintln!("skipped: no cgroup filesystem");
        return;
    };
    let delegated = mounts
        .unified
        .as_ref()
        .and_then(|u| std::fs::read_to_string(u.mountpoint.join("cgroup.subtree_control")).ok())
        .is_some_and(|s| s.split_whitespace().any(|c| c == "hugetlb"));
    if mounts.hierarchy() != Hierarchy::Hybrid || mounts.v1.contains_key("hugetlb") || delegated {
        eprintln!("skipped: needs a hybrid host with hugetlb only in an undelegated cgroup2 mount");
        return;
    }
    let cg = manager_for(&CgroupConfig::new("hugetlb-check")).expect("manager");
    let r = resources_from_json(
        r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}"#,
        Path::new("t"),
    )
    .unwrap();
    let e = cg.validate(&r).unwrap_err().to_string();
    assert!(e.contains("linux.resources.hugepageLimits[0]"), "{e}");
    assert!(e.contains("subtree_control"), "{e}");
}
