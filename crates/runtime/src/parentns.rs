//! Namespaces the parent enters just around the clone, so that the init is born in them
//! without a second fork: joins of pid and time (which only affect children), net, ipc, uts
//! and cgroup, and a new time namespace (unshared here, offsets written before any process
//! is in it). [`ParentNs::restore`] returns the parent to its own namespaces right after.

use std::fs::File;
use std::os::fd::AsFd;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Result, RuntimeError};
use crate::namespaces::{clone_flag, proc_name, NamespacePlan};

/// The parent's original namespaces, to return to.
#[derive(Debug, Default)]
pub struct ParentNs {
    saved: Vec<(LinuxNamespaceType, File)>,
}

fn open_own(t: LinuxNamespaceType) -> Result<File> {
    let path = format!("/proc/self/ns/{}", proc_name(t));
    File::open(&path).map_err(|e| RuntimeError::io(format!("open {path}"), e))
}

/// Formats `linux.timeOffsets` for `/proc/self/timens_offsets`.
pub fn time_offsets(spec: &Spec) -> Result<String> {
    let mut out = String::new();
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().clone())
        .unwrap_or_default();
    let mut keys: Vec<_> = offsets.keys().cloned().collect();
    keys.sort();
    for k in keys {
        let clock = match k.as_str() {
            "monotonic" | "boottime" => k.as_str(),
            other => {
                return Err(RuntimeError::Unsupported {
                    setting: format!("linux.timeOffsets.{other}"),
                    msg: "only monotonic and boottime clocks can be offset".into(),
                })
            }
        };
        let o = &offsets[&k];
        out.push_str(&format!(
            "{clock} {} {}\n",
            o.secs().unwrap_or(0),
            o.nanosecs().unwrap_or(0)
        ));
    }
    Ok(out)
}

impl ParentNs {
    /// Enters the parent-side namespaces of `plan` (and unshares a new time namespace with
    /// `offsets`), remembering the originals.
    pub fn enter(plan: &NamespacePlan, offsets: &str) -> Result<Self> {
        let mut me = ParentNs::default();
        for (t, path) in plan.parent_joins() {
            let orig = open_own(*t)?;
            let target = File::open(path).map_err(|e| {
                RuntimeError::io(format!("linux.namespaces: open {}", path.display()), e)
            })?;
            nix::sched::setns(target.as_fd(), clone_flag(*t)).map_err(|e| {
                RuntimeError::sys(format!("linux.namespaces: setns {}", path.display()), e)
            })?;
            me.saved.push((*t, orig));
        }
        if plan.is_new(LinuxNamespaceType::Time) {
            let orig = open_own(LinuxNamespaceType::Time)?;
            nix::sched::unshare(CloneFlags::from_bits_retain(0x80))
                .map_err(|e| RuntimeError::sys("linux.namespaces: unshare(CLONE_NEWTIME)", e))?;
            me.saved.push((LinuxNamespaceType::Time, orig));
            if !offsets.is_empty() {
                std::fs::write("/proc/self/timens_offsets", offsets).map_err(|e| {
                    RuntimeError::io("linux.timeOffsets: write /proc/self/timens_offsets", e)
                })?;
            }
        }
        Ok(me)
    }

    /// Returns to the original namespaces (in reverse order).
    pub fn restore(mut self) -> Result<()> {
        while let Some((t, f)) = self.saved.pop() {
            nix::sched::setns(f.as_fd(), clone_flag(t)).map_err(|e| {
                RuntimeError::sys(format!("return to own {} namespace", proc_name(t)), e)
            })?;
        }
        Ok(())
    }
}
