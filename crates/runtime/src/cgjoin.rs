//! Fast cgroup placement of a freshly cloned, single-threaded process.
//!
//! Moving a whole thread group (`cgroup.procs`) takes the kernel's global
//! `cgroup_threadgroup_rwsem` for writing, which waits for an RCU grace period: 10-20 ms on
//! this class of machine, the largest single cost of `create`. Moving only the *calling*
//! thread through a v1 hierarchy's `tasks` file (writing `0`) skips that lock, and a
//! single-threaded process is fully moved that way; the v2 hierarchy is joined atomically at
//! clone time with `CLONE_INTO_CGROUP`. [`JoinPlan`] says which is possible; the parent falls
//! back to `CgroupManager::add_task` otherwise.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
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
    /// Plans the fast join for `cg`; `None` when it cannot be used (the manager offers no paths,
    /// or a v2 directory cannot be opened).
    pub fn new(cg: &dyn CgroupManager) -> Option<Self> {
        let mut plan = JoinPlan::default();
        for (controller, dir) in cg.paths() {
            if controller.is_empty() {
                let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
                // SAFETY: open of a NUL-terminated path; the fd is owned below.
                let fd = unsafe {
                    libc::open(
                        c.as_ptr(),
                        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                    )
                };
                if fd < 0 {
                    return None;
                }
                // SAFETY: fresh fd.
                plan.v2_fd = Some(unsafe { OwnedFd::from_raw_fd(fd) });
            } else {
                let tasks = dir.join("tasks");
                if !plan.v1_tasks.contains(&tasks) {
                    plan.v1_tasks.push(tasks);
                }
            }
        }
        if plan.v1_tasks.is_empty() && plan.v2_fd.is_none() {
            return None;
        }
        Some(plan)
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
