//! Applies a [`ProcessPlan`] through a [`ProcessSys`], in the order runc uses:
//! [`apply_uts`] before the rootfs, [`apply_sysctl`] after pivot_root, [`apply_limits`] while
//! still root, then [`apply_identity`] (bounding set → keep caps → groups/gid/uid → caps →
//! ambient → umask → no_new_privs), then [`enter_cwd`].

use std::path::Path;

use super::caps::CapSets;
use super::plan::ProcessPlan;
use super::sys::ProcessSys;
use crate::error::{Result, RuntimeError};

fn fail(what: String) -> impl FnOnce(std::io::Error) -> RuntimeError {
    move |e| RuntimeError::io(what, e)
}

/// Hostname and domain name (needs the container's new uts namespace).
pub fn apply_uts(plan: &ProcessPlan, sys: &mut dyn ProcessSys) -> Result<()> {
    if let Some(h) = &plan.hostname {
        sys.set_hostname(h)
            .map_err(fail(format!("hostname: sethostname {h:?}")))?;
    }
    if let Some(d) = &plan.domainname {
        sys.set_domainname(d)
            .map_err(fail(format!("domainname: setdomainname {d:?}")))?;
    }
    Ok(())
}

/// sysctls, through a [`crate::rootfs::ProcfsHandle`] in the container's namespaces (after
/// pivot_root, before read-only paths).
pub fn apply_sysctl(plan: &ProcessPlan, sys: &mut dyn ProcessSys) -> Result<()> {
    for (k, v) in &plan.sysctl {
        sys.write_sysctl(k, v)
            .map_err(fail(format!("linux.sysctl[{k}]: write {v:?}")))?;
    }
    Ok(())
}

/// Resource limits, personality, io priority, scheduler and the initial cpu affinity (all need
/// root's privileges, so they come before the identity switch).
pub fn apply_limits(plan: &ProcessPlan, sys: &mut dyn ProcessSys) -> Result<()> {
    for (i, r) in plan.rlimits.iter().enumerate() {
        sys.set_rlimit(r.resource, r.soft, r.hard)
            .map_err(fail(format!(
                "process.rlimits[{i}]: setrlimit({}, {}, {})",
                r.resource, r.soft, r.hard
            )))?;
    }
    if let Some(p) = plan.personality {
        sys.set_personality(p)
            .map_err(fail(format!("linux.personality: personality({p:#x})")))?;
    }
    if let Some(mp) = &plan.mem_policy {
        sys.set_mempolicy(mp.mode, &mp.nodes).map_err(fail(format!(
            "linux.memoryPolicy: set_mempolicy(mode {:#x}, nodes {:x?})",
            mp.mode, mp.nodes
        )))?;
    }
    if let Some(v) = plan.io_priority {
        sys.set_io_priority(v)
            .map_err(fail("process.ioPriority: ioprio_set".into()))?;
    }
    if let Some(s) = &plan.scheduler {
        sys.set_scheduler(s)
            .map_err(fail("process.scheduler: sched_setattr".into()))?;
    }
    if let Some(cpus) = &plan.cpu_affinity_initial {
        sys.set_cpu_affinity(cpus).map_err(fail(
            "process.execCPUAffinity.initial: sched_setaffinity".into(),
        ))?;
    }
    Ok(())
}

/// Switches to the configured user and capabilities. The bounding set is dropped while still
/// root; PR_SET_KEEPCAPS keeps the permitted set across setuid; then the effective, permitted
/// and inheritable sets are set in one capset and the ambient set is raised.
// The start path calls the variant that retains capabilities; the unit tests call this one.
#[cfg(test)]
pub fn apply_identity(plan: &ProcessPlan, sys: &mut dyn ProcessSys) -> Result<()> {
    apply_identity_retaining(plan, sys, 0).map(|_| ())
}

/// The capability the kernel wants for installing a seccomp filter without no_new_privs.
pub const CAP_SYS_ADMIN: u8 = 21;

/// What [`apply_identity_retaining`] must keep so that a seccomp filter can still be installed
/// after the identity switch: `CAP_SYS_ADMIN` when there is a filter, no `no_new_privs` and the
/// process's own effective set lacks it; else nothing.
pub fn caps_for_late_seccomp(plan: &ProcessPlan, has_filter: bool) -> u64 {
    let bit = 1u64 << CAP_SYS_ADMIN;
    match plan.caps {
        Some(c) if has_filter && !plan.no_new_privs && c.effective & bit == 0 => bit,
        _ => 0,
    }
}

/// [`apply_identity`], but the capabilities in `retain` stay in the effective and permitted
/// sets (never in the bounding, inheritable or ambient sets). This lets the init install the
/// seccomp filter as the very last step before `execve`, after every other syscall of its
/// own. It changes nothing the program sees: `execve` computes the new permitted and effective
/// sets from the bounding, inheritable and ambient sets and the file's capabilities only, never
/// from the old permitted set. [`drop_retained`] tidies the sets before the exec anyway.
/// Returns the configured sets clamped to the kernel's capabilities, for [`drop_retained`].
pub fn apply_identity_retaining(
    plan: &ProcessPlan,
    sys: &mut dyn ProcessSys,
    retain: u64,
) -> Result<Option<CapSets>> {
    // One probe of the kernel's last capability serves the clamp and the bounding drop.
    let caps = plan.caps.map(|c| {
        let last = sys.last_cap();
        (c.clamp(last), last)
    });
    if let Some((c, last)) = caps {
        for cap in 0..=last {
            if c.bounding & (1u64 << cap) == 0 {
                sys.drop_bounding(cap).map_err(fail(format!(
                    "process.capabilities.bounding: drop capability {cap}"
                )))?;
            }
        }
        sys.set_keep_caps(true)
            .map_err(fail("prctl(PR_SET_KEEPCAPS)".into()))?;
    }
    match sys.set_groups(&plan.additional_gids) {
        // In a user namespace whose gid map was written by an unprivileged user,
        // setgroups(2) is denied for good; with no additional groups asked for there is
        // nothing to set (runc skips the call there too).
        Err(e) if e.raw_os_error() == Some(libc::EPERM) && plan.additional_gids.is_empty() => {}
        r => r.map_err(fail(format!(
            "process.user.additionalGids: setgroups {:?}",
            plan.additional_gids
        )))?,
    }
    sys.set_gid(plan.gid)
        .map_err(fail(format!("process.user.gid: setresgid {}", plan.gid)))?;
    sys.set_uid(plan.uid)
        .map_err(fail(format!("process.user.uid: setresuid {}", plan.uid)))?;
    if let Some((c, _)) = caps {
        sys.set_keep_caps(false)
            .map_err(fail("prctl(PR_SET_KEEPCAPS, 0)".into()))?;
        sys.set_caps(c.effective | retain, c.permitted | retain, c.inheritable)
            .map_err(fail("process.capabilities: capset".into()))?;
        sys.clear_ambient()
            .map_err(fail("process.capabilities.ambient: clear".into()))?;
        for cap in 0..64u8 {
            let bit = 1u64 << cap;
            if c.ambient & bit != 0 && (c.inheritable & c.permitted & bit) == 0 {
                // The kernel only allows ambient caps that are permitted and inheritable;
                // runc warns and goes on (runc spec lists ambient without inheritable).
                tracing::debug!("process.capabilities.ambient: capability {cap} is not in the inheritable and permitted sets; not raised");
                continue;
            }
            if c.ambient & bit != 0 {
                sys.raise_ambient(cap).map_err(fail(format!(
                    "process.capabilities.ambient: raise capability {cap}"
                )))?;
            }
        }
    }
    if let Some(m) = plan.umask {
        sys.set_umask(m);
    }
    if plan.no_new_privs {
        sys.set_no_new_privs()
            .map_err(fail("process.noNewPrivileges: prctl".into()))?;
    }
    Ok(caps.map(|(c, _)| c))
}

/// Drops what [`apply_identity_retaining`] kept, once the seccomp filter is in place: one
/// `capset` to the configured sets. Its failure is not an error: the filter may deny
/// `capset`, and `execve` recomputes the permitted and effective sets without looking at the
/// ones this would have set (see [`apply_identity_retaining`]).
pub fn drop_retained(sys: &mut dyn ProcessSys, clamped: Option<CapSets>, retain: u64) {
    if retain == 0 {
        return;
    }
    if let Some(c) = clamped {
        // Ignored on purpose (see above); no logging either: under the filter, only the
        // syscalls the exec needs should follow.
        let _ = sys.set_caps(c.effective, c.permitted, c.inheritable);
    }
}

/// Changes into the working directory and checks that it is inside the container: a leaked
/// host directory fd as cwd makes getcwd report `(unreachable)` (CVE-2024-21626).
pub fn enter_cwd(cwd: &Path, sys: &mut dyn ProcessSys) -> Result<()> {
    sys.chdir(cwd)
        .map_err(fail(format!("process.cwd: chdir {}", cwd.display())))?;
    let now = sys.getcwd().map_err(fail(format!(
        "process.cwd: getcwd after chdir {}",
        cwd.display()
    )))?;
    if !now.is_absolute() || now.to_string_lossy().starts_with("(unreachable)") {
        return Err(RuntimeError::Unsupported {
            setting: "process.cwd".into(),
            msg: format!(
                "{} resolves outside the container ({})",
                cwd.display(),
                now.display()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::caps::CapSets;
    use crate::process::plan::{Rlimit, SchedAttr};
    use std::io;
    use std::path::PathBuf;

    /// Records every call as a string.
    #[derive(Default)]
    struct Recorder {
        calls: Vec<String>,
        cwd: PathBuf,
        fail_on: Option<&'static str>,
        last_cap_reads: usize,
    }

    impl Recorder {
        fn rec(&mut self, s: String) -> io::Result<()> {
            let fail = self.fail_on.is_some_and(|f| s.starts_with(f));
            self.calls.push(s);
            if fail {
                Err(io::Error::from_raw_os_error(libc::EPERM))
            } else {
                Ok(())
            }
        }
    }

    impl ProcessSys for Recorder {
        fn set_hostname(&mut self, n: &str) -> io::Result<()> {
            self.rec(format!("hostname {n}"))
        }
        fn set_domainname(&mut self, n: &str) -> io::Result<()> {
            self.rec(format!("domainname {n}"))
        }
        fn write_sysctl(&mut self, k: &str, v: &str) -> io::Result<()> {
            self.rec(format!("sysctl {k}={v}"))
        }
        fn set_rlimit(&mut self, r: u32, s: u64, h: u64) -> io::Result<()> {
            self.rec(format!("rlimit {r} {s} {h}"))
        }
        fn set_personality(&mut self, p: u64) -> io::Result<()> {
            self.rec(format!("personality {p}"))
        }
        fn set_mempolicy(&mut self, mode: i32, nodes: &[u64]) -> io::Result<()> {
            self.rec(format!("mempolicy {mode} {nodes:?}"))
        }
        fn set_io_priority(&mut self, v: i32) -> io::Result<()> {
            self.rec(format!("ioprio {v}"))
        }
        fn set_scheduler(&mut self, a: &SchedAttr) -> io::Result<()> {
            self.rec(format!("sched {}", a.policy))
        }
        fn set_cpu_affinity(&mut self, c: &[usize]) -> io::Result<()> {
            self.rec(format!("affinity {c:?}"))
        }
        fn last_cap(&mut self) -> u8 {
            self.last_cap_reads += 1;
            3
        }
        fn drop_bounding(&mut self, c: u8) -> io::Result<()> {
            self.rec(format!("bdrop {c}"))
        }
        fn set_keep_caps(&mut self, k: bool) -> io::Result<()> {
            self.rec(format!("keepcaps {k}"))
        }
        fn set_groups(&mut self, g: &[u32]) -> io::Result<()> {
            self.rec(format!("groups {g:?}"))
        }
        fn set_gid(&mut self, g: u32) -> io::Result<()> {
            self.rec(format!("gid {g}"))
        }
        fn set_uid(&mut self, u: u32) -> io::Result<()> {
            self.rec(format!("uid {u}"))
        }
        fn set_caps(&mut self, e: u64, p: u64, i: u64) -> io::Result<()> {
            self.rec(format!("capset {e:x} {p:x} {i:x}"))
        }
        fn clear_ambient(&mut self) -> io::Result<()> {
            self.rec("ambient clear".into())
        }
        fn raise_ambient(&mut self, c: u8) -> io::Result<()> {
            self.rec(format!("ambient {c}"))
        }
        fn set_umask(&mut self, m: u32) {
            let _ = self.rec(format!("umask {m:o}"));
        }
        fn set_no_new_privs(&mut self) -> io::Result<()> {
            self.rec("nnp".into())
        }
        fn chdir(&mut self, p: &Path) -> io::Result<()> {
            self.cwd = p.to_path_buf();
            self.rec(format!("chdir {}", p.display()))
        }
        fn getcwd(&mut self) -> io::Result<PathBuf> {
            Ok(self.cwd.clone())
        }
    }

    fn plan() -> ProcessPlan {
        ProcessPlan {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10, 29],
            umask: Some(0o022),
            caps: Some(CapSets {
                bounding: 0b0101,
                effective: 0b0001,
                permitted: 0b0101,
                inheritable: 0b0001,
                ambient: 0b0101,
            }),
            no_new_privs: true,
            rlimits: vec![Rlimit {
                resource: 7,
                soft: 10,
                hard: 20,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn identity_order_matches_runc() {
        let mut r = Recorder::default();
        apply_identity(&plan(), &mut r).expect("apply");
        assert_eq!(
            r.calls,
            vec![
                "bdrop 1",
                "bdrop 3",
                "keepcaps true",
                "groups [10, 29]",
                "gid 1000",
                "uid 1000",
                "keepcaps false",
                "capset 1 5 1",
                "ambient clear",
                "ambient 0",
                "umask 22",
                "nnp",
            ]
        );
        assert_eq!(r.last_cap_reads, 1, "cap_last_cap is read once");
    }

    #[test]
    fn no_caps_section_keeps_caps_untouched() {
        let mut r = Recorder::default();
        let p = ProcessPlan {
            caps: None,
            ..plan()
        };
        apply_identity(&p, &mut r).expect("apply");
        assert_eq!(r.last_cap_reads, 0);
        assert!(!r
            .calls
            .iter()
            .any(|c| c.starts_with("capset") || c.starts_with("bdrop")));
    }

    #[test]
    fn failures_name_the_setting() {
        let mut r = Recorder {
            fail_on: Some("uid"),
            ..Default::default()
        };
        let err = apply_identity(&plan(), &mut r).expect_err("fails");
        assert!(
            err.to_string().contains("process.user.uid: setresuid 1000"),
            "{err}"
        );
        let mut r = Recorder {
            fail_on: Some("rlimit"),
            ..Default::default()
        };
        let err = apply_limits(&plan(), &mut r).expect_err("fails");
        assert!(err.to_string().contains("process.rlimits[0]"), "{err}");
    }

    #[test]
    fn unreachable_cwd_is_refused() {
        struct Leaky(Recorder);
        impl ProcessSys for Leaky {
            fn set_hostname(&mut self, n: &str) -> io::Result<()> {
                self.0.set_hostname(n)
            }
            fn set_domainname(&mut self, n: &str) -> io::Result<()> {
                self.0.set_domainname(n)
            }
            fn write_sysctl(&mut self, k: &str, v: &str) -> io::Result<()> {
                self.0.write_sysctl(k, v)
            }
            fn set_rlimit(&mut self, r: u32, s: u64, h: u64) -> io::Result<()> {
                self.0.set_rlimit(r, s, h)
            }
            fn set_personality(&mut self, p: u64) -> io::Result<()> {
                self.0.set_personality(p)
            }
            fn set_mempolicy(&mut self, m: i32, n: &[u64]) -> io::Result<()> {
                self.0.set_mempolicy(m, n)
            }
            fn set_io_priority(&mut self, v: i32) -> io::Result<()> {
                self.0.set_io_priority(v)
            }
            fn set_scheduler(&mut self, a: &SchedAttr) -> io::Result<()> {
                self.0.set_scheduler(a)
            }
            fn set_cpu_affinity(&mut self, c: &[usize]) -> io::Result<()> {
                self.0.set_cpu_affinity(c)
            }
            fn last_cap(&mut self) -> u8 {
                3
            }
            fn drop_bounding(&mut self, c: u8) -> io::Result<()> {
                self.0.drop_bounding(c)
            }
            fn set_keep_caps(&mut self, k: bool) -> io::Result<()> {
                self.0.set_keep_caps(k)
            }
            fn set_groups(&mut self, g: &[u32]) -> io::Result<()> {
                self.0.set_groups(g)
            }
            fn set_gid(&mut self, g: u32) -> io::Result<()> {
                self.0.set_gid(g)
            }
            fn set_uid(&mut self, u: u32) -> io::Result<()> {
                self.0.set_uid(u)
            }
            fn set_caps(&mut self, e: u64, p: u64, i: u64) -> io::Result<()> {
                self.0.set_caps(e, p, i)
            }
            fn clear_ambient(&mut self) -> io::Result<()> {
                self.0.clear_ambient()
            }
            fn raise_ambient(&mut self, c: u8) -> io::Result<()> {
                self.0.raise_ambient(c)
            }
            fn set_umask(&mut self, m: u32) {
                self.0.set_umask(m)
            }
            fn set_no_new_privs(&mut self) -> io::Result<()> {
                self.0.set_no_new_privs()
            }
            fn chdir(&mut self, p: &Path) -> io::Result<()> {
                self.0.chdir(p)
            }
            fn getcwd(&mut self) -> io::Result<PathBuf> {
                Ok(PathBuf::from("(unreachable)/host"))
            }
        }
        let mut l = Leaky(Recorder::default());
        let err = enter_cwd(Path::new("/work"), &mut l).expect_err("leak");
        assert!(err.to_string().contains("outside the container"), "{err}");
        let mut r = Recorder::default();
        enter_cwd(Path::new("/work"), &mut r).expect("ok");
    }

    #[test]
    fn container_settings_in_order() {
        let mut r = Recorder::default();
        let p = ProcessPlan {
            hostname: Some("box".into()),
            domainname: Some("dom".into()),
            sysctl: vec![("net.ipv4.ip_forward".into(), "1".into())],
            ..Default::default()
        };
        apply_uts(&p, &mut r).expect("apply");
        apply_sysctl(&p, &mut r).expect("apply");
        assert_eq!(
            r.calls,
            vec![
                "hostname box",
                "domainname dom",
                "sysctl net.ipv4.ip_forward=1"
            ]
        );
    }
}
