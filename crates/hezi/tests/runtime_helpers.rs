//! Shared helpers of the runtime integration tests (included with `#[path]` by the
//! `runtime_*.rs` tests; compiled alone it is an empty test crate).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hezi_testsupport::{bundle_config, busybox_rootfs, unique_id, write_config, TempRoot};

/// One test's world: a temp dir with a `--root`, a busybox rootfs, and the containers it made
/// (force-deleted on drop, even when the test fails).
pub struct World {
    pub tmp: TempRoot,
    pub ids: std::cell::RefCell<Vec<String>>,
}

impl World {
    pub fn new(prefix: &str) -> Self {
        let tmp = TempRoot::new(prefix).expect("temp root");
        busybox_rootfs(&tmp.path().join("rootfs")).expect("rootfs");
        World {
            tmp,
            ids: Default::default(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.tmp.state_dir()
    }

    /// Writes a bundle (config from `edit(bundle_config(args))`) sharing the world's rootfs,
    /// returns its path.
    pub fn bundle(
        &self,
        name: &str,
        args: &[&str],
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> PathBuf {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir_all(&dir).expect("bundle dir");
        let mut cfg = bundle_config(args);
        cfg["root"]["path"] =
            serde_json::Value::String(self.tmp.path().join("rootfs").display().to_string());
        edit(&mut cfg);
        write_config(&dir, &cfg).expect("config");
        dir
    }

    pub fn id(&self, prefix: &str) -> String {
        let id = unique_id(prefix);
        self.ids.borrow_mut().push(id.clone());
        id
    }

    pub fn hezi(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hezi"));
        c.arg("--root").arg(self.root());
        c
    }

    /// `hezi <args>` with captured output (never for create/run --detach: the container
    /// would hold the pipes).
    pub fn out(&self, args: &[&str]) -> Output {
        self.hezi()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("spawn hezi")
    }

    /// `hezi <args>` with stdout/stderr to files (for commands that leave a container
    /// running); returns (success, stderr text).
    pub fn detached(&self, args: &[&str]) -> (bool, String) {
        let err = self.tmp.path().join(format!("stderr-{}", unique_id("e")));
        let f = std::fs::File::create(&err).expect("stderr file");
        let st = self
            .hezi()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(f)
            .status()
            .expect("spawn hezi");
        (
            st.success(),
            std::fs::read_to_string(&err).unwrap_or_default(),
        )
    }

    /// `hezi run` attached of a bundle: (exit code, stdout, stderr).
    pub fn run(&self, bundle: &Path, id: &str) -> (i32, String, String) {
        let o = self.out(&["run", "-b", &bundle.display().to_string(), id]);
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// Runs `script` with sh in a container from the default config edited by `edit`.
    pub fn sh(
        &self,
        script: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> (i32, String, String) {
        let id = self.id("sh");
        let b = self.bundle(&id, &["sh", "-c", script], edit);
        self.run(&b, &id)
    }

    pub fn status(&self, id: &str) -> String {
        let o = self.out(&["state", id]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        v["status"].as_str().unwrap_or("none").to_string()
    }

    pub fn state(&self, id: &str) -> serde_json::Value {
        let o = self.out(&["state", id]);
        serde_json::from_slice(&o.stdout).unwrap_or_default()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self
                .hezi()
                .args(["delete", "--force", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `readlink /proc/self/ns/<name>` of this process.
pub fn host_ns(name: &str) -> String {
    ns_of("self", name)
}

/// `readlink /proc/<pid>/ns/<name>` (empty when unreadable).
pub fn ns_of(pid: impl std::fmt::Display, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// Gives config `c` a new user namespace with `maps` as its uid and gid mappings.
pub fn with_userns(c: &mut serde_json::Value, maps: &serde_json::Value) {
    c["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(serde_json::json!({"type": "user"}));
    c["linux"]["uidMappings"] = maps.clone();
    c["linux"]["gidMappings"] = maps.clone();
}

/// Where hezi-cgroups puts a container's cgroup on a v1 memory hierarchy by default.
pub fn default_memory_cgroup(id: &str) -> PathBuf {
    PathBuf::from(format!("/sys/fs/cgroup/memory/hezi/{id}"))
}
