//! cgroup v1 backend against a fake cgroupfs tree (plain files in a tempdir): every
//! controller's file writes, validation errors, stats parsing. No root needed.

use std::fs;
use std::path::{Path, PathBuf};

use hezi_cgroups::{
    manager_for, resources_from_json, CgroupConfig, CgroupManager, FreezerState, Hierarchy,
};

const CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
];

/// Files a real v1 leaf cgroup has, with their initial contents.
fn leaf_files(ctrl: &str) -> Vec<(&'static str, &'static str)> {
    match ctrl {
        "cpu" => vec![
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_period_us", "100000\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_burst_us", "0\n"),
            ("cpu.rt_period_us", "1000000\n"),
            ("cpu.rt_runtime_us", "0\n"),
            ("cpu.idle", "0\n"),
            (
                "cpu.stat",
                "nr_periods 10\nnr_throttled 3\nthrottled_time 5000\n",
            ),
        ],
        "cpuacct" => vec![
            ("cpuacct.usage", "123456\n"),
            ("cpuacct.usage_percpu", "100000 23456 \n"),
            ("cpuacct.usage_percpu_sys", "1 2 \n"),
            ("cpuacct.usage_percpu_user", "3 4 \n"),
            ("cpuacct.stat", "user 7\nsystem 3\n"),
        ],
        "cpuset" => vec![("cpuset.cpus", "0-1\n"), ("cpuset.mems", "0\n")],
        "memory" => vec![
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory.soft_limit_in_bytes", "9223372036854771712\n"),
            ("memory.swappiness", "60\n"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
            ("memory.use_hierarchy", "1\n"),
            ("memory.usage_in_bytes", "4096\n"),
            ("memory.max_usage_in_bytes", "8192\n"),
            ("memory.failcnt", "1\n"),
            ("memory.stat", "cache 100\nrss 200\ntotal_cache 150\n"),
        ],
        "devices" => vec![("devices.allow", ""), ("devices.deny", "")],
        "freezer" => vec![("freezer.state", "THAWED\n")],
        "blkio" => vec![
            ("blkio.bfq.weight", "100\n"),
            ("blkio.bfq.weight_device", ""),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_bps_device", ""),
            ("blkio.throttle.read_iops_device", ""),
            ("blkio.throttle.write_iops_device", ""),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 512\nTotal 4608\n",
            ),
            (
                "blkio.throttle.io_serviced_recursive",
                "8:0 Read 2\n8:0 Write 1\n",
            ),
        ],
        "pids" => vec![
            ("pids.max", "max\n"),
            ("pids.current", "3\n"),
            ("cgroup.procs", ""),
        ],
        _ => vec![],
    }
}

struct Fake {
    _t: tempfile::TempDir,
    root: PathBuf,
}

/// A hybrid host like this one: separate cpu and cpuacct, hugetlb only in cgroup2.
fn fake_hybrid(with_memsw_root: bool) -> Fake {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().to_path_buf();
    for c in CONTROLLERS {
        let leaf = root.join(c).join("hezi/c1");
        fs::create_dir_all(&leaf).unwrap();
        for (f, v) in leaf_files(c) {
            fs::write(leaf.join(f), v).unwrap();
            fs::write(root.join(c).join("hezi").join(f), v).unwrap();
        }
        fs::write(leaf.join("cgroup.procs"), "").unwrap();
    }
    fs::write(root.join("cpu/cpu.cfs_burst_us"), "0").unwrap();
    fs::write(root.join("cpu/cpu.idle"), "0").unwrap();
    fs::write(root.join("cpu/cpu.rt_runtime_us"), "950000").unwrap();
    // A kernel with BFQ: the weight knob exists at the hierarchy's root too.
    fs::write(root.join("blkio/blkio.bfq.weight"), "100\n").unwrap();
    if with_memsw_root {
        fs::write(root.join("memory/memory.memsw.limit_in_bytes"), "max").unwrap();
    }
    fs::create_dir_all(root.join("unified/hezi/c1")).unwrap();
    fs::write(root.join("unified/cgroup.controllers"), "hugetlb\n").unwrap();
    fs::write(root.join("unified/cgroup.subtree_control"), "\n").unwrap();
    Fake { _t: t, root }
}

fn manager(root: &Path) -> Box<dyn CgroupManager> {
    let mut cfg = CgroupConfig::new("c1");
    cfg.root = root.to_path_buf();
    manager_for(&cfg).unwrap()
}

fn read(root: &Path, ctrl: &str, file: &str) -> String {
    fs::read_to_string(root.join(ctrl).join("hezi/c1").join(file)).unwrap()
}

#[test]
fn io_weight_without_a_weight_file_is_refused_before_create() {
    // This CI host's kernel: schedulers none/mq-deadline/kyber, no blkio.weight nor
    // blkio.bfq.weight. The weight is refused by name; throttling still passes.
    let f = fake_hybrid(true);
    fs::remove_file(f.root.join("blkio/blkio.bfq.weight")).unwrap();
    let m = manager(&f.root);
    for (json, setting) in [
        (
            r#"{"blockIO": {"weight": 500}}"#,
            "linux.resources.blockIO.weight",
        ),
        (
            r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0, "weight": 200}]}}"#,
            "linux.resources.blockIO.weightDevice[0].weight",
        ),
    ] {
        let r = resources_from_json(json, Path::new("t")).unwrap();
        let e = m.validate(&r).unwrap_err().to_string();
        assert!(e.starts_with(setting), "{e}");
        assert!(e.contains("no proportional I/O weight"), "{e}");
    }
    let ok = r#"{"blockIO": {"weight": 0, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}}"#;
    m.validate(&resources_from_json(ok, Path::new("t")).unwrap())
        .expect("throttling needs no weight file");
}

#[test]
fn detects_hybrid_and_default_paths() {
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    assert_eq!(m.hierarchy(), Hierarchy::Hybrid);
    let p = m.paths();
    assert_eq!(p["memory"], f.root.join("memory/hezi/c1"));
    assert_eq!(p["cpuacct"], f.root.join("cpuacct/hezi/c1"));
    assert_eq!(p[""], f.root.join("unified/hezi/c1"));
    assert!(m.clone_into_fd().is_none());
}

#[test]
fn writes_every_v1_controller() {
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    let r = resources_from_json(
        r#"{
        "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200, "swappiness": 10,
                   "disableOOMKiller": true, "kernel": 1000},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 1000, "idle": 1,
                "realtimePeriod": 1000000, "realtimeRuntime": 1000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
        "blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]},
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
    }"#,
        Path::new("test.json"),
    )
    .unwrap();
    m.create().unwrap();
    m.apply(&r).unwrap();
    assert_eq!(
        read(&f.root, "memory", "memory.limit_in_bytes"),
        "104857600"
    );
    assert_eq!(
        read(&f.root, "memory", "memory.memsw.limit_in_bytes"),
        "209715200"
    );
    assert_eq!(
        read(&f.root, "memory", "memory.soft_limit_in_bytes"),
        "52428800"
    );
    assert_eq!(read(&f.root, "memory", "memory.swappiness"), "10");
    assert_eq!(read(&f.root, "memory", "memory.oom_control"), "1");
    assert_eq!(read(&f.root, "cpu", "cpu.shares"), "512");
    assert_eq!(read(&f.root, "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&f.root, "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(read(&f.root, "cpu", "cpu.cfs_burst_us"), "1000");
    assert_eq!(read(&f.root, "cpu", "cpu.idle"), "1");
    assert_eq!(read(&f.root, "cpu", "cpu.rt_period_us"), "1000000");
    assert_eq!(read(&f.root, "cpu", "cpu.rt_runtime_us"), "1000");
    assert_eq!(read(&f.root, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(read(&f.root, "pids", "pids.max"), "42");
    assert_eq!(read(&f.root, "blkio", "blkio.bfq.weight"), "300");
    assert_eq!(read(&f.root, "blkio", "blkio.bfq.weight_device"), "8:0 200");
    assert_eq!(
        read(&f.root, "blkio", "blkio.throttle.read_bps_device"),
        "8:0 1048576"
    );
    assert_eq!(
        read(&f.root, "blkio", "blkio.throttle.write_iops_device"),
        "8:16 100"
    );
    // Plain files keep only the last write: the allow rule after the deny-all.
    assert_eq!(read(&f.root, "devices", "devices.allow"), "c 1:3 rwm");
    assert_eq!(read(&f.root, "devices", "devices.deny"), "a");
}

#[test]
fn unlimited_values() {
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    let r = resources_from_json(
        r#"{"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1}}"#,
        Path::new("x"),
    )
    .unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&f.root, "memory", "memory.limit_in_bytes"), "-1");
    assert_eq!(read(&f.root, "memory", "memory.memsw.limit_in_bytes"), "-1");
    assert_eq!(read(&f.root, "pids", "pids.max"), "max");
    assert_eq!(read(&f.root, "cpu", "cpu.cfs_quota_us"), "-1");
}

#[test]
fn refuses_what_this_host_cannot_enforce() {
    let f = fake_hybrid(false);
    let m = manager(&f.root);
    let cases = [
        (r#"{"unified": {"memory.high": "1G"}}"#, "unified"),
        (r#"{"network": {"classID": 1}}"#, "network.classID"),
        (
            r#"{"network": {"priorities": [{"name": "eth0", "priority": 1}]}}"#,
            "network.priorities",
        ),
        (r#"{"rdma": {"mlx5_0": {"hcaHandles": 1}}}"#, "rdma"),
        (
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1048576}]}"#,
            "hugepageLimits[0]",
        ),
        (
            r#"{"memory": {"limit": 1000, "swap": 2000}}"#,
            "memory.swap",
        ),
        (r#"{"memory": {"swappiness": 101}}"#, "memory.swappiness"),
        (r#"{"blockIO": {"weight": 5}}"#, "blockIO.weight"),
        (r#"{"blockIO": {"leafWeight": 500}}"#, "blockIO.leafWeight"),
        (
            r#"{"devices": [{"allow": false, "type": "p"}]}"#,
            "devices[0]",
        ),
    ];
    for (json, setting) in cases {
        let r = resources_from_json(json, Path::new("x")).unwrap();
        let e = m.validate(&r).unwrap_err().to_string();
        assert!(
            e.contains(&format!("linux.resources.{setting}")),
            "{json}: {e}"
        );
        // apply validates too, and writes nothing.
        assert!(m.apply(&r).is_err());
    }
    assert_eq!(
        read(&f.root, "memory", "memory.limit_in_bytes"),
        "9223372036854771712\n"
    );
    let e = m
        .validate(
            &resources_from_json(
                r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#,
                Path::new("x"),
            )
            .unwrap(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not reconfigure host hierarchies"), "{e}");
}

#[test]
fn hybrid_hugetlb_goes_to_the_unified_mount_when_delegated() {
    let f = fake_hybrid(true);
    fs::write(f.root.join("unified/cgroup.subtree_control"), "hugetlb\n").unwrap();
    fs::write(f.root.join("unified/hezi/cgroup.subtree_control"), "\n").unwrap();
    fs::write(f.root.join("unified/hezi/c1/hugetlb.2MB.max"), "max\n").unwrap();
    let m = manager(&f.root);
    m.create().unwrap();
    assert_eq!(
        fs::read_to_string(f.root.join("unified/hezi/cgroup.subtree_control")).unwrap(),
        "+hugetlb"
    );
    let r = resources_from_json(
        r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#,
        Path::new("x"),
    )
    .unwrap();
    if std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        m.apply(&r).unwrap();
        assert_eq!(
            fs::read_to_string(f.root.join("unified/hezi/c1/hugetlb.2MB.max")).unwrap(),
            "4194304"
        );
    }
}

#[test]
fn stats_from_v1_files() {
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    let s = m.stats().unwrap();
    assert_eq!(s.cpu.usage.total, 123456);
    assert_eq!(s.cpu.usage.percpu, vec![100000, 23456]);
    assert_eq!(s.cpu.usage.user, 70_000_000);
    assert_eq!(s.cpu.usage.kernel, 30_000_000);
    assert_eq!(s.cpu.throttling.throttled_periods, 3);
    assert_eq!(s.memory.usage.usage, 4096);
    assert_eq!(s.memory.usage.max, 8192);
    assert_eq!(s.memory.usage.failcnt, 1);
    assert_eq!(s.memory.cache, 150);
    assert_eq!(s.memory.raw["rss"], 200);
    assert_eq!(s.pids.current, 3);
    assert_eq!(s.pids.limit, 0);
    assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
    assert_eq!(s.blkio.io_serviced_recursive[0].value, 2);
    assert_eq!(m.oom_kill_count().unwrap(), 2);
    let v = serde_json::to_value(&s).unwrap();
    assert_eq!(v["memory"]["usage"]["max"], 8192);
}

/// A stats file that exists but holds garbage is an error naming it, not a silent 0 or -1;
/// the same file absent (an older kernel) still reads as runc reports it.
#[test]
fn stats_report_garbage_and_default_only_absent_files() {
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    let cpuacct = f.root.join("cpuacct/hezi/c1");
    let cpuset = f.root.join("cpuset/hezi/c1");
    fs::write(cpuset.join("cpuset.sched_relax_domain_level"), "2\n").unwrap();
    assert_eq!(
        m.stats().unwrap().cpuset.unwrap().sched_relax_domain_level,
        2
    );
    fs::remove_file(cpuset.join("cpuset.sched_relax_domain_level")).unwrap();
    assert_eq!(
        m.stats().unwrap().cpuset.unwrap().sched_relax_domain_level,
        -1
    );
    fs::write(cpuset.join("cpuset.sched_relax_domain_level"), "x\n").unwrap();
    let e = m.stats().unwrap_err().to_string();
    assert!(e.contains("cpuset.sched_relax_domain_level"), "{e}");
    fs::remove_file(cpuset.join("cpuset.sched_relax_domain_level")).unwrap();

    fs::remove_file(cpuacct.join("cpuacct.usage_percpu")).unwrap();
    assert!(m.stats().unwrap().cpu.usage.percpu.is_empty());
    fs::write(cpuacct.join("cpuacct.usage_percpu"), "100 oops 3\n").unwrap();
    let e = m.stats().unwrap_err().to_string();
    assert!(
        e.contains("cpuacct.usage_percpu") && e.contains("oops"),
        "{e}"
    );
}

#[test]
fn freezer_and_pids_on_fake_tree() {
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    m.freeze(FreezerState::Frozen).unwrap();
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Frozen);
    m.freeze(FreezerState::Thawed).unwrap();
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Thawed);
    fs::write(f.root.join("pids/hezi/c1/cgroup.procs"), "12\n34\n").unwrap();
    assert_eq!(m.pids().unwrap(), vec![12, 34]);
}

#[test]
fn relative_and_custom_paths() {
    let f = fake_hybrid(true);
    let mut cfg = CgroupConfig::new("c1");
    cfg.root = f.root.clone();
    cfg.cgroups_path = Some("/custom/../my/ctr".into());
    let m = manager_for(&cfg).unwrap();
    assert_eq!(m.paths()["pids"], f.root.join("pids/my/ctr"));
    cfg.cgroups_path = Some("/..".into());
    let e = manager_for(&cfg).err().unwrap().to_string();
    assert!(e.contains("linux.cgroupsPath"), "{e}");
}

#[test]
fn memory_above_memsw_is_refused_or_moved_along() {
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    let mem = f.root.join("memory/hezi/c1");
    // Swap allowed (memsw 300 > memory 100): raising memory alone above memsw is refused.
    fs::write(mem.join("memory.limit_in_bytes"), "100\n").unwrap();
    fs::write(mem.join("memory.memsw.limit_in_bytes"), "300\n").unwrap();
    let r = resources_from_json(r#"{"memory": {"limit": 500}}"#, Path::new("x")).unwrap();
    let e = m.apply(&r).unwrap_err().to_string();
    assert!(
        e.contains("linux.resources.memory.limit") && e.contains("300"),
        "{e}"
    );
    // No swap (memsw == memory): memsw follows the new memory limit.
    fs::write(mem.join("memory.memsw.limit_in_bytes"), "100\n").unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&f.root, "memory", "memory.limit_in_bytes"), "500");
    assert_eq!(
        read(&f.root, "memory", "memory.memsw.limit_in_bytes"),
        "500"
    );
    // An unreadable memsw limit is an error naming it, not "no swap accounting".
    fs::write(mem.join("memory.memsw.limit_in_bytes"), "junk\n").unwrap();
    let r = resources_from_json(r#"{"memory": {"limit": 600}}"#, Path::new("x")).unwrap();
    let e = m.apply(&r).unwrap_err().to_string();
    assert!(e.contains("memory.memsw.limit_in_bytes"), "{e}");
    assert_eq!(read(&f.root, "memory", "memory.limit_in_bytes"), "500");
    // Without swap accounting (no memsw file) the memory limit is written alone.
    fs::remove_file(mem.join("memory.memsw.limit_in_bytes")).unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(&f.root, "memory", "memory.limit_in_bytes"), "600");
}

#[test]
fn zero_memory_limit_and_reservation_are_unset() {
    // `docker update --pids-limit 20` sends the other settings as zeros; runc skips them.
    let f = fake_hybrid(true);
    let m = manager(&f.root);
    let mem = f.root.join("memory/hezi/c1");
    fs::write(mem.join("memory.limit_in_bytes"), "67108864\n").unwrap();
    fs::write(mem.join("memory.soft_limit_in_bytes"), "1024\n").unwrap();
    let r = resources_from_json(
        r#"{"memory": {"limit": 0, "reservation": 0, "kernel": 0},
            "cpu": {"shares": 0, "quota": 0, "period": 0},
            "pids": {"limit": 20}, "blockIO": {"weight": 0}}"#,
        Path::new("x"),
    )
    .unwrap();
    m.apply(&r).unwrap();
    assert_eq!(
        read(&f.root, "memory", "memory.limit_in_bytes"),
        "67108864\n"
    );
    assert_eq!(
        read(&f.root, "memory", "memory.soft_limit_in_bytes"),
        "1024\n"
    );
    assert_eq!(read(&f.root, "pids", "pids.max"), "20");
}

/// runc's cgroupfs driver also joins the named `name=systemd` hierarchy: hezi creates,
/// joins and removes the container's directory there, but never writes limits into it.
#[test]
fn named_systemd_hierarchy_is_created_joined_and_removed() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for d in ["memory", "pids", "systemd"] {
        fs::create_dir(root.join(d)).unwrap();
    }
    let m = manager(root);
    assert_eq!(m.hierarchy(), Hierarchy::Legacy);
    let sd = root.join("systemd/hezi/c1");
    assert_eq!(m.paths().get("name=systemd"), Some(&sd), "{:?}", m.paths());
    assert_eq!(m.paths()["memory"], root.join("memory/hezi/c1"));
    m.create().unwrap();
    assert!(sd.is_dir(), "create made no name=systemd directory");

    // The kernel provides cgroup.procs; the fake tree needs it written by hand.
    for d in ["memory", "pids", "systemd"] {
        fs::write(root.join(d).join("hezi/c1/cgroup.procs"), "").unwrap();
    }
    m.add_task(4242).unwrap();
    assert_eq!(fs::read_to_string(sd.join("cgroup.procs")).unwrap(), "4242");

    // Limits and stats ignore it: nothing is written there besides cgroup.procs.
    fs::write(root.join("pids/hezi/c1/pids.max"), "max\n").unwrap();
    let r = resources_from_json(r#"{"pids":{"limit":9}}"#, Path::new("test")).unwrap();
    m.apply(&r).unwrap();
    assert_eq!(read(root, "pids", "pids.max"), "9");
    let mut names: Vec<String> = fs::read_dir(&sd)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["cgroup.procs".to_string()]);
    m.stats().unwrap();

    // destroy removes the leaf and the emptied shared parent in every hierarchy.
    for d in ["memory", "pids", "systemd"] {
        fs::remove_file(root.join(d).join("hezi/c1/cgroup.procs")).unwrap();
    }
    fs::remove_file(root.join("pids/hezi/c1/pids.max")).unwrap();
    m.destroy().unwrap();
    assert!(!sd.exists(), "{} left behind", sd.display());
    assert!(
        !root.join("systemd/hezi").exists(),
        "shared parent left behind"
    );
    assert!(!root.join("memory/hezi").exists());
}

/// A host whose only v1 mount is `name=systemd` has no controller to drive.
#[test]
fn named_systemd_alone_is_not_a_v1_hierarchy_to_use() {
    let t = tempfile::tempdir().unwrap();
    fs::create_dir(t.path().join("systemd")).unwrap();
    let mut cfg = CgroupConfig::new("c1");
    cfg.root = t.path().to_path_buf();
    let e = manager_for(&cfg).expect_err("no controllers").to_string();
    assert!(e.contains(&t.path().display().to_string()), "{e}");
}

/// A container made before hezi joined `name=systemd` (its cgroup exists, the named
/// directory does not) is still joined everywhere else, e.g. by `exec`.
#[test]
fn existing_container_without_a_named_systemd_directory_is_still_joinable() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for d in ["memory", "pids", "systemd"] {
        fs::create_dir(root.join(d)).unwrap();
    }
    for d in ["memory", "pids"] {
        fs::create_dir_all(root.join(d).join("hezi/c1")).unwrap();
        fs::write(root.join(d).join("hezi/c1/cgroup.procs"), "").unwrap();
    }
    let m = manager(root);
    assert!(!m.paths().contains_key("name=systemd"), "{:?}", m.paths());
    m.add_task(77).unwrap();
    assert_eq!(read(root, "pids", "cgroup.procs"), "77");
    assert!(!root.join("systemd/hezi/c1").exists());
}
