//! Fast cgroup placement of a freshly cloned, single-threaded process.
//!
//! Moving a whole thread group (`cgroup.procs`) takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing, which waits for an RCU grace period: 10-20 ms on
//! this class of machine, the largest single cost of `create`. Moving only the *calling*
//! thread through a v1 hierarchy's `tasks` file (writing `0`) skips that lock, and a
//! single-threaded process is fully moved that way; the v2 hierarchy is joined atomically at
//! clone time with `CLONE_INTO_CGROUP`. [`JoinPlan`] says which is possible; the parent falls
//! back to `CgroupManager::add_task` otherwise.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use hezi_cgroups::CgroupManager;

use crate::error::{Result, RuntimeError};

/// How the new process gets into its cgroup.
#[derive(Debug, Default)]
pub struct JoinPlan {
    /// `tasks` files of the v1 hierarchies the child writes `0` into.
    pub v1_tasks: Vec<PathBuf>,
    /// O_PATH fd of the v2 directory for `CLONE_INTO_CGROUP`.
    pub v2_fd: Option<OwnedFd>,
}

impl JoinPlan {
    /// A duplicate of the v2 directory fd for one `CLONE_INTO_CGROUP` clone. With a fast-join
    /// plan nothing else places the process in the v2 cgroup, so a failed dup (EMFILE) is an
    /// error, never a process left outside its cgroup.
    pub fn dup_v2_fd(&self) -> crate::error::Result<Option<OwnedFd>> {
        self.v2_fd
            .as_ref()
            .map(|f| f.try_clone())
            .transpose()
            .map_err(|e| crate::error::RuntimeError::io("cgroup: dup the v2 directory fd", e))
    }

    /// Plans the fast join for `cg`; `None` when it cannot be used (the manager offers no paths,
    /// or a v2 directory cannot be opened).
    pub fn new(cg: &dyn CgroupManager) -> Option<Self> {
        // Without a plan the caller joins the slow way (clone_into_fd, else cgroup.procs),
        // which reports an unusable directory itself.
        Self::from_dirs(cg.paths()).ok()
    }

    /// Plans the join of an `exec --cgroup` process: for each of the container's cgroup
    /// directories, the sub-cgroup `subs` names for its controller (`""`: every controller,
    /// and the v2 / unified directory), as runc's `exec --cgroup [CONTROLLERS:]PATH` does. The
    /// sub-cgroups must exist (runc: "an (existing) sub-cgroup").
    pub fn with_sub_cgroups(
        cg: &dyn CgroupManager,
        subs: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let paths = cg.paths();
        if paths.is_empty() {
            return Err(RuntimeError::Unsupported {
                setting: "--cgroup".into(),
                msg: "the container's cgroup has no directories to place a process in".into(),
            });
        }
        for controller in subs.keys().filter(|k| !k.is_empty()) {
            if !paths.contains_key(controller) {
                return Err(RuntimeError::Unsupported {
                    setting: format!("--cgroup {controller}:{}", subs[controller]),
                    msg: format!("the container has no {controller} cgroup"),
                });
            }
        }
        let mut dirs = BTreeMap::new();
        for (controller, dir) in paths {
            let sub = subs.get(&controller).or_else(|| subs.get(""));
            let dir = match sub {
                Some(sub) => {
                    let rel = std::path::Path::new(sub.trim_start_matches('/'));
                    if rel
                        .components()
                        .any(|c| !matches!(c, std::path::Component::Normal(_)))
                    {
                        return Err(RuntimeError::Unsupported {
                            setting: format!("--cgroup {sub}"),
                            msg:
                                "a sub-cgroup is a path of plain names below the container's cgroup"
                                    .into(),
                        });
                    }
                    let full = dir.join(rel);
                    if !full.is_dir() {
                        return Err(RuntimeError::Unsupported {
                            setting: format!("--cgroup {sub}"),
                            msg: format!("sub-cgroup {} does not exist", full.display()),
                        });
                    }
                    full
                }
                None => dir,
            };
            dirs.insert(controller, dir);
        }
        Self::from_dirs(dirs)
    }

    fn from_dirs(dirs: BTreeMap<String, PathBuf>) -> Result<Self> {
        let mut plan = JoinPlan::default();
        for (controller, dir) in dirs {
            if controller.is_empty() {
                let f = std::fs::File::options()
                    .read(true)
                    .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
                    .open(&dir)
                    .map_err(|e| RuntimeError::io(format!("cgroup: open {}", dir.display()), e))?;
                plan.v2_fd = Some(OwnedFd::from(f));
            } else {
                let tasks = dir.join("tasks");
                if !plan.v1_tasks.contains(&tasks) {
                    plan.v1_tasks.push(tasks);
                }
            }
        }
        if plan.v1_tasks.is_empty() && plan.v2_fd.is_none() {
            return Err(RuntimeError::Unsupported {
                setting: "cgroup".into(),
                msg: "no cgroup directory to join".into(),
            });
        }
        Ok(plan)
    }

    /// In the child: moves the calling (only) thread into every v1 hierarchy.
    pub fn join_v1_self(&self) -> Result<()> {
        for t in &self.v1_tasks {
            let mut f = OpenOptions::new()
                .write(true)
                .open(t)
                .map_err(|e| RuntimeError::io(format!("cgroup: open {}", t.display()), e))?;
            f.write_all(b"0")
                .map_err(|e| RuntimeError::io(format!("cgroup: write 0 to {}", t.display()), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_writes_zero_to_every_tasks_file_and_names_failures() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = dir.path().join("a-tasks");
        let b = dir.path().join("b-tasks");
        std::fs::write(&a, "").expect("a");
        std::fs::write(&b, "").expect("b");
        let plan = JoinPlan {
            v1_tasks: vec![a.clone(), b.clone()],
            v2_fd: None,
        };
        plan.join_v1_self().expect("join");
        assert_eq!(std::fs::read_to_string(&a).expect("a"), "0");
        assert_eq!(std::fs::read_to_string(&b).expect("b"), "0");
        let missing = dir.path().join("nope/tasks");
        let plan = JoinPlan {
            v1_tasks: vec![missing.clone()],
            v2_fd: None,
        };
        let err = plan.join_v1_self().expect_err("missing");
        assert!(
            err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
    }
}
