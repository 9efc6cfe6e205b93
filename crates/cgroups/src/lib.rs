//! Linux control groups for containers.
//!
//! One [`CgroupManager`] trait with a cgroup v1 backend ([`v1::V1Manager`], also used on hybrid
//! hosts) and a cgroup v2 backend ([`v2::V2Manager`]); the small factory [`manager_for`] picks one
//! from what is mounted. The backends depend on the trait and on the shared leaf modules
//! ([`error`], [`stats`], [`fsutil`], [`convert`], [`devices`]); nothing shared imports a backend.
//!
//! Cargo features (all on by default) let an embedder drop backends: `v1` (cgroup v1 and
//! hybrid hosts), `v2` (unified hosts) and `systemd` (the `--systemd-cgroup` driver, which
//! drives whichever of `v1`/`v2` the host needs). Asking for a left-out backend is
//! [`CgroupError::NotBuiltIn`], never a silent fallback.
//!
//! ```no_run
//! use hezi_cgroups::{manager_for, CgroupConfig, FreezerState};
//! # fn main() -> Result<(), hezi_cgroups::CgroupError> {
//! let cfg = CgroupConfig::new("mycontainer");
//! let cg = manager_for(&cfg)?;
//! let resources = oci_spec::runtime::LinuxResources::default();
//! cg.validate(&resources)?; // refuse unsupported settings before anything exists
//! cg.create()?;
//! cg.apply(&resources)?;
//! cg.add_task(std::process::id() as i32)?;
//! cg.freeze(FreezerState::Frozen)?;
//! cg.freeze(FreezerState::Thawed)?;
//! println!("{}", serde_json::to_string(&cg.stats()?).unwrap_or_default());
//! cg.destroy()?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod convert;
pub mod devices;
pub mod disabled;
pub mod error;
pub mod fsutil;
pub mod hierarchy;
pub mod hugetlb;
pub mod path;
pub mod stats;
#[cfg(feature = "systemd")]
pub mod systemd;
#[cfg(feature = "v1")]
pub mod v1;
#[cfg(feature = "v2")]
pub mod v2;

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub use error::CgroupError;
pub use hierarchy::{detect, Hierarchy, Mounts};
pub use oci_spec::runtime::LinuxResources;
pub use stats::Stats;

/// The default root of the cgroup filesystems.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// State of the freezer of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FreezerState {
    /// Every task is stopped.
    Frozen,
    /// Tasks run normally.
    Thawed,
    /// v1 only: the kernel is still stopping tasks (reported, never requested).
    Freezing,
}

/// Everything needed to find (or create) the cgroup of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupConfig {
    /// `linux.cgroupsPath` from config.json. `None` means the default `/hezi/<id>`.
    /// With `systemd` it is `slice:prefix:name`.
    pub cgroups_path: Option<String>,
    /// The container id (used for the default path and in error messages).
    pub container_id: String,
    /// Use the systemd driver (`--systemd-cgroup`).
    pub systemd: bool,
    /// Where the cgroup filesystems are mounted; [`DEFAULT_ROOT`] in production, a fake tree in
    /// tests.
    pub root: PathBuf,
}

impl CgroupConfig {
    /// A config with the default path, the cgroupfs driver and root `/sys/fs/cgroup`.
    pub fn new(container_id: impl Into<String>) -> Self {
        Self {
            cgroups_path: None,
            container_id: container_id.into(),
            systemd: false,
            root: PathBuf::from(DEFAULT_ROOT),
        }
    }
}

/// A container's cgroup, whatever the hierarchy. Every method names the cgroup path in its
/// errors. Implementations do plain file I/O and are safe to call from a single-threaded
/// process before or after fork (never between fork and exec).
pub trait CgroupManager: std::fmt::Debug + Send + Sync {
    /// Which hierarchy this manager drives.
    fn hierarchy(&self) -> Hierarchy;
    /// The cgroup directory per controller (`""` is the v2 / unified directory). This is what
    /// runc records as `cgroup_paths` in its state.
    fn paths(&self) -> BTreeMap<String, PathBuf>;
    /// Refuses settings this host cannot enforce (missing controller, v2-only key on v1, ...)
    /// without touching anything. Call it before creating the container.
    fn validate(&self, r: &LinuxResources) -> Result<(), CgroupError>;
    /// Creates the cgroup directories (idempotent). On v2 enables the needed controllers in
    /// the ancestors' `cgroup.subtree_control`.
    fn create(&self) -> Result<(), CgroupError>;
    /// True when [`CgroupManager::create`] cannot make the cgroup by itself and the first
    /// [`CgroupManager::add_task`] after it creates the cgroup around that process (a systemd
    /// scope must hold a process when it starts). The caller must then place the first
    /// process with `add_task`, not through [`CgroupManager::paths`] or `clone_into_fd`.
    fn created_around_process(&self) -> bool {
        false
    }
    /// Moves a process into the cgroup (every hierarchy).
    fn add_task(&self, pid: i32) -> Result<(), CgroupError>;
    /// Writes the limits of `r` (used at create time and by `update`). Validates first.
    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError>;
    /// Freezes or thaws, and waits until the kernel reports the requested state.
    fn freeze(&self, state: FreezerState) -> Result<(), CgroupError>;
    /// The current freezer state.
    fn freezer_state(&self) -> Result<FreezerState, CgroupError>;
    /// Usage statistics in runc's `events --stats` shape.
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// Every pid in the cgroup.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// Sends `signal` to every process in the cgroup (`cgroup.kill` on v2 for SIGKILL).
    fn kill_all(&self, signal: i32) -> Result<(), CgroupError>;
    /// Kills what is left, then removes the container's cgroup directories (retrying while
    /// busy). A cgroup that does not exist is not an error.
    fn destroy(&self) -> Result<(), CgroupError>;
    /// v2 only: an `O_PATH|O_DIRECTORY` fd of the leaf for `clone3(CLONE_INTO_CGROUP)`.
    /// `None` on v1 / hybrid or when the cgroup does not exist yet.
    fn clone_into_fd(&self) -> Option<OwnedFd>;
    /// How many times the OOM killer has fired in this cgroup (`events` reports increases).
    fn oom_kill_count(&self) -> Result<u64, CgroupError>;
}

/// Chooses the backend for `cfg`: the systemd driver if asked, otherwise v2 on a unified host
/// and v1 on a hybrid or legacy host. Creates nothing.
pub fn manager_for(cfg: &CgroupConfig) -> Result<Box<dyn CgroupManager>, CgroupError> {
    if cfg.systemd {
        #[cfg(feature = "systemd")]
        return systemd::manager(cfg);
        #[cfg(not(feature = "systemd"))]
        return Err(CgroupError::NotBuiltIn {
            backend: "systemd driver",
            feature: "systemd",
        });
    }
    let mounts = Mounts::for_root(&cfg.root)?;
    let own = hierarchy::OwnCgroups::current()?;
    let rel = path::resolve(cfg.cgroups_path.as_deref(), &cfg.container_id)?;
    cgroupfs_manager(&mounts, &own, &rel)
}

/// The cgroupfs backend for the host's hierarchy (v2 when unified, v1 otherwise), over the
/// cgroup `rel`; an error naming the feature when that backend is not built in.
pub(crate) fn cgroupfs_manager(
    mounts: &Mounts,
    own: &hierarchy::OwnCgroups,
    rel: &path::CgroupPath,
) -> Result<Box<dyn CgroupManager>, CgroupError> {
    match mounts.hierarchy() {
        #[cfg(feature = "v2")]
        Hierarchy::Unified => Ok(Box::new(v2::V2Manager::new(mounts, own, rel)?)),
        #[cfg(not(feature = "v2"))]
        Hierarchy::Unified => {
            let _ = (own, rel);
            Err(CgroupError::NotBuiltIn {
                backend: "v2",
                feature: "v2",
            })
        }
        #[cfg(feature = "v1")]
        Hierarchy::Hybrid | Hierarchy::Legacy => {
            Ok(Box::new(v1::V1Manager::new(mounts, own, rel)?))
        }
        #[cfg(not(feature = "v1"))]
        Hierarchy::Hybrid | Hierarchy::Legacy => {
            let _ = (own, rel);
            Err(CgroupError::NotBuiltIn {
                backend: "v1",
                feature: "v1",
            })
        }
    }
}

/// Checks `r` against what the host under `cfg.root` supports, creating nothing
/// (shorthand for `manager_for(cfg)?.validate(r)`).
pub fn validate_resources(cfg: &CgroupConfig, r: &LinuxResources) -> Result<(), CgroupError> {
    manager_for(cfg)?.validate(r)
}

/// Loads a `LinuxResources` JSON document (as `update --resources` takes it).
pub fn resources_from_json(text: &str, source: &Path) -> Result<LinuxResources, CgroupError> {
    serde_json::from_str(text).map_err(|e| CgroupError::Parse {
        path: source.to_path_buf(),
        reason: format!("LinuxResources JSON: {e}"),
    })
}

#[cfg(test)]
mod feature_tests {
    use super::*;

    /// In a build without the systemd driver, asking for it names the missing feature.
    #[cfg(not(feature = "systemd"))]
    #[test]
    fn systemd_driver_left_out_is_named() {
        let mut cfg = CgroupConfig::new("c");
        cfg.systemd = true;
        let err = manager_for(&cfg)
            .err()
            .expect("no systemd driver in this build");
        assert!(
            matches!(
                err,
                CgroupError::NotBuiltIn {
                    feature: "systemd",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("feature `systemd`"), "{err}");
    }

    /// Every build gives a manager or a clear error for this host, never a panic; a default
    /// build always has the backend the host needs.
    #[test]
    fn manager_for_this_host_or_not_built_in() {
        let cfg = CgroupConfig::new("feature-probe");
        match manager_for(&cfg) {
            Ok(_) => {}
            Err(CgroupError::NotBuiltIn { backend, .. }) => {
                let built_in: &[&str] = &[
                    #[cfg(feature = "v1")]
                    "v1",
                    #[cfg(feature = "v2")]
                    "v2",
                ];
                assert!(
                    !built_in.contains(&backend),
                    "{backend} is built in, yet reported missing"
                );
            }
            // Hosts without a cgroup mount (some build containers) cannot say more.
            Err(CgroupError::NoHierarchy { .. }) | Err(CgroupError::Io { .. }) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
    }
}
