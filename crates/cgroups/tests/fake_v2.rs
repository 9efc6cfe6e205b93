//! cgroup v2 backend against a fake unified tree: conversions, file writes, controller
//! enabling, freezer protocol, stats. No root needed.

use std::fs;
use std::path::{Path, PathBuf};

use hezi_cgroups::{
    manager_for, resources_from_json, CgroupConfig, CgroupManager, FreezerState, Hierarchy,
};

struct Fake {
    _t: tempfile::TempDir,
    root: PathBuf,
    leaf: PathBuf,
}

fn fake_unified() -> Fake {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    let leaf = root.join("hezi/c1");
    fs::create_dir_all(&leaf).unwrap();
    fs::write(
        root.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids\n",
    )
    .unwrap();
    fs::write(root.join("cgroup.subtree_control"), "memory\n").unwrap();
    fs::write(
        root.join("hezi/cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids\n",
    )
    .unwrap();
    fs::write(root.join("hezi/cgroup.subtree_control"), "\n").unwrap();
    let files = [
        ("cpu.weight", "100\n"),
        ("cpu.max", "max 100000\n"),
        ("cpu.max.burst", "0\n"),
        ("cpu.idle", "0\n"),
        ("cpuset.cpus", "\n"),
        ("cpuset.mems", "\n"),
        ("memory.max", "max\n"),
        ("memory.low", "0\n"),
        ("memory.swap.max", "max\n"),
        ("memory.current", "8192\n"),
        ("memory.peak", "16384\n"),
        ("memory.swap.current", "100\n"),
        ("memory.stat", "anon 4096\nfile 2048\n"),
        ("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n"),
        ("memory.high", "max\n"),
        ("pids.max", "max\n"),
        ("pids.current", "2\n"),
        ("io.weight", "default 100\n"),
        ("io.max", "\n"),
        ("io.stat", "8:0 rbytes=4096 wbytes=1024 rios=2 wios=1 dbytes=0 dios=0\n"),
        ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n"),
        ("cgroup.procs", "\n"),
        ("cgroup.freeze", "0\n"),
        ("cgroup.events", "populated 1\nfrozen 0\n"),
    ];
    for (f, v) in files {
        fs::write(leaf.join(f), v).unwrap();
    }
    Fake { _t: t, root, leaf }
}

fn manager(root: &Path) -> Box<dyn CgroupManager> {
    let mut cfg = CgroupConfig::new("c1");
    cfg.root = root.to_path_buf();
    manager_for(&cfg).unwrap()
}

fn read(f: &Fake, file: &str) -> String {
    fs::read_to_string(f.leaf.join(file)).unwrap()
}

#[test]
fn creates_and_enables_controllers_in_ancestors() {
    let f = fake_unified();
    let m = manager(&f.root);
    assert_eq!(m.hierarchy(), Hierarchy::Unified);
    assert_eq!(m.paths()[""], f.leaf);
    m.create().unwrap();
    // Each missing controller is enabled with its own "+name" write; the plain file keeps the
    // last one. The root already had memory, so memory is not re-enabled there.
    assert_eq!(
        fs::read_to_string(f.root.join("cgroup.subtree_control")).unwrap(),
        "+pids"
    );
    assert_eq!(
        fs::read_to_string(f.root.join("hezi/cgroup.subtree_control")).unwrap(),
        "+pids"
    );
    assert!(m.clone_into_fd().is_some());
}

#[test]
fn converts_v1_values() {
    let f = fake_unified();
    let m = manager(&f.root);
    let r = resources_from_json(
        r#"{"cpu": {"shares": 1024, "quota": 50000, "period": 200000, "burst": 10, "idle": 1, "cpus": "0-1", "mems": "0"},
            "memory": {"limit": 1048576, "swap": 3145728, "reservation": 524288},
            "pids": {"limit": 10},
            "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}]},
            "unified": {"memory.high": "2000000"}}"#,
        Path::new("x"),
    )
    .unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&f, "cpu.weight"), "39");
    assert_eq!(read(&f, "cpu.max"), "50000 200000");
    assert_eq!(read(&f, "cpu.max.burst"), "10");
    assert_eq!(read(&f, "cpu.idle"), "1");
    assert_eq!(read(&f, "cpuset.cpus"), "0-1");
    assert_eq!(read(&f, "memory.max"), "1048576");
    assert_eq!(read(&f, "memory.swap.max"), "2097152");
    assert_eq!(read(&f, "memory.low"), "524288");
    assert_eq!(read(&f, "pids.max"), "10");
    assert_eq!(
        read(&f, "io.weight"),
        (1 + (500 - 10) * 9999 / 990).to_string()
    );
    assert_eq!(read(&f, "io.max"), "8:0 rbps=1000");
    assert_eq!(read(&f, "memory.high"), "2000000");
}

#[test]
fn period_alone_keeps_quota() {
    let f = fake_unified();
    fs::write(f.leaf.join("cpu.max"), "30000 100000\n").unwrap();
    let m = manager(&f.root);
    m.apply(&resources_from_json(r#"{"cpu": {"period": 50000}}"#, Path::new("x")).unwrap())
        .unwrap();
    assert_eq!(read(&f, "cpu.max"), "30000 50000");
}

#[test]
fn refuses_v1_only_settings() {
    let f = fake_unified();
    let m = manager(&f.root);
    let cases = [
        (r#"{"network": {"classID": 1}}"#, "network"),
        (r#"{"memory": {"swappiness": 1}}"#, "memory.swappiness"),
        (
            r#"{"memory": {"disableOOMKiller": true}}"#,
            "memory.disableOOMKiller",
        ),
        (r#"{"memory": {"swap": 100, "limit": 200}}"#, "memory.swap"),
        (
            r#"{"cpu": {"realtimeRuntime": 100}}"#,
            "cpu.realtimeRuntime",
        ),
        (r#"{"blockIO": {"leafWeight": 100}}"#, "blockIO.leafWeight"),
        (r#"{"rdma": {"mlx": {"hcaHandles": 1}}}"#, "rdma"),
        (r#"{"unified": {"rdma.max": "x"}}"#, "unified.\"rdma.max\""),
        (r#"{"unified": {"../../etc/passwd": "x"}}"#, "unified."),
        (
            r#"{"unified": {"cgroup.procs": "1"}}"#,
            "unified.\"cgroup.procs\"",
        ),
    ];
    for (json, setting) in cases {
        let r = resources_from_json(json, Path::new("x")).unwrap();
        let e = m.apply(&r).unwrap_err().to_string();
        assert!(
            e.contains(&format!("linux.resources.{setting}")),
            "{json}: {e}"
        );
    }
    assert_eq!(read(&f, "memory.max"), "max\n");
}

#[test]
fn blkio_weight_zero_is_unset() {
    // Docker sends `"blockIO": {"weight": 0}` for every container; runc reads 0 as unset.
    let f = fake_unified();
    let m = manager(&f.root);
    let r = resources_from_json(
        r#"{"blockIO": {"weight": 0, "leafWeight": 0}}"#,
        Path::new("x"),
    )
    .unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&f, "io.weight"), "default 100\n");
}

#[test]
fn zero_memory_limit_and_reservation_are_unset() {
    // `docker update --pids-limit 20` sends the other settings as zeros; runc skips them.
    let f = fake_unified();
    fs::write(f.leaf.join("memory.max"), "67108864\n").unwrap();
    let m = manager(&f.root);
    let r = resources_from_json(
        r#"{"memory": {"limit": 0, "reservation": 0, "kernel": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0},
            "pids": {"limit": 20}, "blockIO": {"weight": 0}}"#,
        Path::new("x"),
    )
    .unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&f, "memory.max"), "67108864\n");
    assert_eq!(read(&f, "memory.low"), "0\n");
    assert_eq!(read(&f, "cpu.weight"), "100\n");
    assert_eq!(read(&f, "cpu.max"), "max 100000\n");
    assert_eq!(read(&f, "pids.max"), "20");
}

#[test]
fn freezer_uses_cgroup_freeze_and_events() {
    let f = fake_unified();
    let m = manager(&f.root);
    // Freezing waits for the kernel's "frozen 1" in cgroup.events (pre-set in this fake).
    fs::write(f.leaf.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    m.freeze(FreezerState::Frozen).unwrap();
    assert_eq!(read(&f, "cgroup.freeze"), "1");
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Frozen);
    fs::write(f.leaf.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Freezing);
    m.freeze(FreezerState::Thawed).unwrap();
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Thawed);
}

#[test]
fn stats_from_v2_files() {
    let f = fake_unified();
    let m = manager(&f.root);
    let s = m.stats().unwrap();
    assert_eq!(s.cpu.usage.total, 1_500_000);
    assert_eq!(s.cpu.usage.user, 1_000_000);
    assert_eq!(s.cpu.usage.kernel, 500_000);
    assert_eq!(s.cpu.throttling.throttled_time, 30_000);
    assert_eq!(s.memory.usage.usage, 8192);
    assert_eq!(s.memory.usage.max, 16384);
    assert_eq!(s.memory.usage.limit, u64::MAX);
    assert_eq!(s.memory.usage.failcnt, 4);
    assert_eq!(s.memory.cache, 2048);
    assert_eq!(s.memory.swap.usage, 8292);
    assert_eq!(s.pids.current, 2);
    assert_eq!(s.blkio.io_service_bytes_recursive[0].value, 4096);
    assert_eq!(m.oom_kill_count().unwrap(), 1);
}

#[test]
fn destroy_removes_leaf_and_tolerates_missing() {
    let t = tempfile::tempdir().unwrap();
    fs::write(t.path().join("cgroup.controllers"), "pids\n").unwrap();
    let m = manager(t.path());
    // Nothing created yet: destroy of a missing cgroup is fine.
    m.destroy().unwrap();
    fs::create_dir_all(t.path().join("hezi/c1")).unwrap();
    m.destroy().unwrap();
    assert!(!t.path().join("hezi/c1").exists());
}

/// runc's `cpuset` section on v2 comes from the `.effective` lists; v1's flags stay 0.
#[test]
fn cpuset_stats_from_effective_lists() {
    let f = fake_unified();
    let m = manager(&f.root);
    // Without the cpuset controller enabled the files are missing: the section is there,
    // without lists, as runc prints it.
    let v = serde_json::to_value(m.stats().unwrap()).unwrap();
    assert_eq!(v["cpuset"]["cpu_exclusive"], 0, "{v}");
    assert!(v["cpuset"].get("cpus").is_none(), "{v}");

    fs::write(f.leaf.join("cpuset.cpus.effective"), "0-3,5,7-8\n").unwrap();
    fs::write(f.leaf.join("cpuset.mems.effective"), "0\n").unwrap();
    fs::write(f.leaf.join("cpuset.cpus.partition"), "member\n").unwrap();
    let s = m.stats().unwrap();
    let cs = s.cpuset.clone().expect("cpuset section");
    assert_eq!(cs.cpus, vec![0, 1, 2, 3, 5, 7, 8]);
    assert_eq!(cs.mems, vec![0]);
    assert_eq!(cs.sched_relax_domain_level, 0);
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(
        v["cpuset"]["cpus"],
        serde_json::json!([0, 1, 2, 3, 5, 7, 8])
    );
    assert_eq!(v["cpuset"]["mems"], serde_json::json!([0]));
    // The same keys as runc's v1/v2 CPUSet type.
    let mut keys: Vec<&str> = v["cpuset"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "cpu_exclusive",
            "cpus",
            "mem_exclusive",
            "mem_hardwall",
            "memory_migrate",
            "memory_pressure",
            "memory_spread_page",
            "memory_spread_slab",
            "mems",
            "sched_load_balance",
            "sched_relax_domain_level",
        ]
    );

    // A malformed list is an error naming the file.
    fs::write(f.leaf.join("cpuset.cpus.effective"), "3-1\n").unwrap();
    let e = m.stats().unwrap_err().to_string();
    assert!(e.contains("cpuset.cpus.effective"), "{e}");
}

/// `update --memory-swap` alone splits against the memory limit in force; a memory.max that
/// cannot be read as a number is an error naming it, not "unlimited".
#[test]
fn swap_alone_uses_the_memory_limit_in_force() {
    let f = fake_unified();
    let m = manager(&f.root);
    let r = resources_from_json(r#"{"memory": {"swap": 3000}}"#, Path::new("x")).unwrap();
    fs::write(f.leaf.join("memory.max"), "1000\n").unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&f, "memory.swap.max"), "2000");
    fs::write(f.leaf.join("memory.max"), "lots\n").unwrap();
    let e = m.apply(&r).unwrap_err().to_string();
    assert!(e.contains("memory.max") && e.contains("lots"), "{e}");
}

/// Memory stats follow runc's v2 rules when files are missing: without swap accounting the
/// memory+swap entry is the memory entry; without the memory controller it stays empty.
#[test]
fn memory_stats_without_swap_or_memory_controller() {
    let f = fake_unified();
    fs::write(f.leaf.join("memory.max"), "67108864\n").unwrap();
    let m = manager(&f.root);
    let s = m.stats().unwrap();
    assert_eq!(s.memory.swap.usage, 8192 + 100);
    assert_eq!(s.memory.swap.limit, u64::MAX, "swap max is max");

    fs::remove_file(f.leaf.join("memory.swap.current")).unwrap();
    fs::remove_file(f.leaf.join("memory.swap.max")).unwrap();
    let s = m.stats().unwrap();
    assert_eq!(s.memory.swap.usage, 8192);
    assert_eq!(s.memory.swap.limit, 67108864);

    for file in [
        "memory.current",
        "memory.max",
        "memory.peak",
        "memory.stat",
        "memory.events",
    ] {
        fs::remove_file(f.leaf.join(file)).unwrap();
    }
    let s = m.stats().unwrap();
    assert_eq!(s.memory, hezi_cgroups::stats::Memory::default());
}
