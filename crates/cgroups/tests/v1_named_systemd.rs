//! Root-only, v1 / hybrid hosts with systemd's named hierarchy mounted (this host): the
//! cgroupfs driver creates, joins and removes the container's directory in `name=systemd`,
//! as runc's does. Skipped (with a message) elsewhere, e.g. in the pure-v2 VM.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use hezi_cgroups::{manager_for, CgroupConfig, CgroupManager, Hierarchy};

/// Kills the child and destroys the cgroup even when an assertion fails.
struct Guard {
    cg: Box<dyn CgroupManager>,
    child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cg.destroy();
    }
}

/// The path `/proc/<pid>/cgroup` gives for hierarchy `key` (`name=systemd`, `memory`).
fn proc_cgroup(pid: u32, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| {
        let mut it = l.splitn(3, ':');
        let (_, ctrls, path) = (it.next()?, it.next()?, it.next()?);
        ctrls.split(',').any(|c| c == key).then(|| path.to_string())
    })
}

#[test]
fn container_joins_and_leaves_the_named_systemd_hierarchy() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mounts = hezi_cgroups::Mounts::for_root(Path::new(hezi_cgroups::DEFAULT_ROOT))
        .expect("cgroup mounts");
    if mounts.hierarchy() == Hierarchy::Unified || !mounts.v1.contains_key("name=systemd") {
        eprintln!("skipped: needs a v1/hybrid host with name=systemd mounted");
        return;
    }
    let id = format!("hezi-test-named-{}", std::process::id());
    let cfg = CgroupConfig::new(&id);
    let mut g = Guard {
        cg: manager_for(&cfg).expect("manager"),
        child: None,
    };
    let paths = g.cg.paths();
    let sd: PathBuf = paths
        .get("name=systemd")
        .cloned()
        .unwrap_or_else(|| panic!("paths() lacks name=systemd: {paths:?}"));
    assert_eq!(
        sd,
        mounts.v1["name=systemd"]
            .mountpoint
            .join(format!("hezi/{id}"))
    );
    g.cg.create().expect("create");
    assert!(sd.is_dir(), "{} not created", sd.display());

    let child = Command::new("/bin/sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    let pid = child.id();
    g.child = Some(child);
    g.cg.add_task(pid as i32).expect("add_task");
    let want = format!("/hezi/{id}");
    assert_eq!(proc_cgroup(pid, "name=systemd").as_deref(), Some(&*want));
    assert_eq!(proc_cgroup(pid, "memory").as_deref(), Some(&*want));

    // The named hierarchy carries no statistics and no limits; stats still work.
    g.cg.stats().expect("stats");

    if let Some(mut c) = g.child.take() {
        c.kill().expect("kill");
        c.wait().expect("wait");
    }
    g.cg.destroy().expect("destroy");
    assert!(!sd.exists(), "{} left behind", sd.display());
}
