//! The kernel seam of process setup: [`ProcessSys`] is what [`super::apply`] calls; production
//! uses [`LinuxSys`] (nix/libc), unit tests pass a recorder.

use std::io;
use std::path::{Path, PathBuf};

use super::plan::SchedAttr;
use crate::rootfs::{ProcfsHandle, RootfsError};

/// The system calls process setup makes, one method each.
pub trait ProcessSys {
    /// sethostname(2).
    fn set_hostname(&mut self, name: &str) -> io::Result<()>;
    /// setdomainname(2).
    fn set_domainname(&mut self, name: &str) -> io::Result<()>;
    /// Writes a sysctl (`net.ipv4.ip_forward`) through a [`ProcfsHandle`] (CVE-2025-52881).
    fn write_sysctl(&mut self, key: &str, value: &str) -> io::Result<()>;
    /// setrlimit(2).
    fn set_rlimit(&mut self, resource: u32, soft: u64, hard: u64) -> io::Result<()>;
    /// personality(2).
    fn set_personality(&mut self, persona: u64) -> io::Result<()>;
    /// set_mempolicy(2) with `mode` (flags ored in) and a node mask of 64 nodes per word.
    fn set_mempolicy(&mut self, mode: i32, nodes: &[u64]) -> io::Result<()>;
    /// ioprio_set(2) for the calling process.
    fn set_io_priority(&mut self, value: i32) -> io::Result<()>;
    /// sched_setattr(2) for the calling process.
    fn set_scheduler(&mut self, attr: &SchedAttr) -> io::Result<()>;
    /// sched_setaffinity(2) for the calling process.
    fn set_cpu_affinity(&mut self, cpus: &[usize]) -> io::Result<()>;
    /// The highest capability number the kernel knows (what `/proc/sys/kernel/cap_last_cap`
    /// says, found without /proc so that no mount can fake it).
    fn last_cap(&mut self) -> u8;
    /// prctl(PR_CAPBSET_DROP).
    fn drop_bounding(&mut self, cap: u8) -> io::Result<()>;
    /// prctl(PR_SET_KEEPCAPS).
    fn set_keep_caps(&mut self, keep: bool) -> io::Result<()>;
    /// setgroups(2).
    fn set_groups(&mut self, gids: &[u32]) -> io::Result<()>;
    /// setresgid(2) with all three ids.
    fn set_gid(&mut self, gid: u32) -> io::Result<()>;
    /// setresuid(2) with all three ids.
    fn set_uid(&mut self, uid: u32) -> io::Result<()>;
    /// capset(2) of the effective, permitted and inheritable sets at once.
    fn set_caps(&mut self, effective: u64, permitted: u64, inheritable: u64) -> io::Result<()>;
    /// prctl(PR_CAP_AMBIENT_CLEAR_ALL).
    fn clear_ambient(&mut self) -> io::Result<()>;
    /// prctl(PR_CAP_AMBIENT_RAISE).
    fn raise_ambient(&mut self, cap: u8) -> io::Result<()>;
    /// umask(2).
    fn set_umask(&mut self, mask: u32);
    /// prctl(PR_SET_NO_NEW_PRIVS).
    fn set_no_new_privs(&mut self) -> io::Result<()>;
    /// chdir(2).
    fn chdir(&mut self, path: &Path) -> io::Result<()>;
    /// getcwd(3) as the kernel reports it (may start with `(unreachable)`).
    fn getcwd(&mut self) -> io::Result<PathBuf>;
}

/// The production implementation.
#[derive(Debug, Default)]
pub struct LinuxSys;

fn check(rc: libc::c_long) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Carries a procfs error through the `io::Result` of the seam, keeping it as the source.
fn procfs_err(e: RootfsError) -> io::Error {
    io::Error::other(e)
}

impl ProcessSys for LinuxSys {
    fn set_hostname(&mut self, name: &str) -> io::Result<()> {
        nix::unistd::sethostname(name).map_err(io::Error::from)
    }

    fn set_domainname(&mut self, name: &str) -> io::Result<()> {
        // SAFETY: pointer and length of a live byte slice.
        check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } as libc::c_long)
    }

    fn write_sysctl(&mut self, key: &str, value: &str) -> io::Result<()> {
        ProcfsHandle::with(|proc| proc.write_sysctl(key, value)).map_err(procfs_err)
    }

    fn set_rlimit(&mut self, resource: u32, soft: u64, hard: u64) -> io::Result<()> {
        let lim = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: prlimit on ourselves (pid 0) with a valid new-limit pointer.
        check(
            unsafe { libc::prlimit(0, resource as _, &lim, std::ptr::null_mut()) } as libc::c_long,
        )
    }

    fn set_mempolicy(&mut self, mode: i32, nodes: &[u64]) -> io::Result<()> {
        let (ptr, maxnode) = if nodes.is_empty() {
            (std::ptr::null(), 0usize)
        } else {
            // The kernel reads maxnode - 1 bits (libnuma passes the bit count plus one).
            (nodes.as_ptr(), nodes.len() * 64 + 1)
        };
        // SAFETY: set_mempolicy reads at most maxnode - 1 bits from `nodes`, which holds
        // nodes.len() * 64 bits and outlives the call.
        check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) })
    }

    fn set_personality(&mut self, persona: u64) -> io::Result<()> {
        // SAFETY: personality takes a plain value.
        check(unsafe { libc::personality(persona as libc::c_ulong) } as libc::c_long)
    }

    fn set_io_priority(&mut self, value: i32) -> io::Result<()> {
        // SAFETY: ioprio_set(IOPRIO_WHO_PROCESS, 0 = self, value).
        check(unsafe { libc::syscall(libc::SYS_ioprio_set, 1, 0, value) })
    }

    fn set_scheduler(&mut self, a: &SchedAttr) -> io::Result<()> {
        #[repr(C)]
        struct Attr {
            size: u32,
            policy: u32,
            flags: u64,
            nice: i32,
            priority: u32,
            runtime: u64,
            deadline: u64,
            period: u64,
        }
        let attr = Attr {
            size: std::mem::size_of::<Attr>() as u32,
            policy: a.policy,
            flags: a.flags,
            nice: a.nice,
            priority: a.priority,
            runtime: a.runtime,
            deadline: a.deadline,
            period: a.period,
        };
        // SAFETY: sched_setattr(0 = self, attr, flags 0) with a correctly sized struct.
        check(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const Attr, 0) })
    }

    fn set_cpu_affinity(&mut self, cpus: &[usize]) -> io::Result<()> {
        let mut set = nix::sched::CpuSet::new();
        for c in cpus {
            set.set(*c).map_err(io::Error::from)?;
        }
        nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).map_err(io::Error::from)
    }

    fn last_cap(&mut self) -> u8 {
        // prctl(PR_CAPBSET_READ, n) fails (EINVAL) exactly when n is above the kernel's last
        // capability. Probing needs no /proc, so no mount in the container can fake the value
        // (and shrink the bounding-set drop). Binary search; capability 0 always exists.
        let known = |n: u8| {
            // SAFETY: prctl with integer arguments; it only reads our bounding set.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(n), 0, 0, 0) };
            rc >= 0
        };
        let (mut lo, mut hi) = (0u8, 63u8);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if known(mid) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }

    // The capability calls stay raw syscalls rather than the `caps` crate's: they work on
    // capability numbers up to the probed last cap (a kernel newer than the crate's enum has
    // caps it cannot name), and capset sets effective, permitted and inheritable in one call
    // (the crate sets one set per read-modify-write call). `caps` names them (process::caps).
    fn drop_bounding(&mut self, cap: u8) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        check(
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) }
                as libc::c_long,
        )
    }

    fn set_keep_caps(&mut self, keep: bool) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        check(
            unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, keep as libc::c_ulong, 0, 0, 0) }
                as libc::c_long,
        )
    }

    fn set_groups(&mut self, gids: &[u32]) -> io::Result<()> {
        // SAFETY: pointer and length of a live gid slice (gid_t is u32).
        check(unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } as libc::c_long)
    }

    fn set_gid(&mut self, gid: u32) -> io::Result<()> {
        // Raw syscall: glibc's setresgid would broadcast to threads via signals; we have one.
        // SAFETY: integer arguments.
        check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })
    }

    fn set_uid(&mut self, uid: u32) -> io::Result<()> {
        // SAFETY: integer arguments.
        check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })
    }

    fn set_caps(&mut self, effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        let hdr = Header {
            version: 0x2008_0522,
            pid: 0,
        };
        let data = [
            Data {
                effective: effective as u32,
                permitted: permitted as u32,
                inheritable: inheritable as u32,
            },
            Data {
                effective: (effective >> 32) as u32,
                permitted: (permitted >> 32) as u32,
                inheritable: (inheritable >> 32) as u32,
            },
        ];
        // SAFETY: capset with a v3 header and two data elements, as the ABI requires.
        check(unsafe { libc::syscall(libc::SYS_capset, &hdr as *const Header, data.as_ptr()) })
    }

    fn clear_ambient(&mut self) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        check(unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        } as libc::c_long)
    }

    fn raise_ambient(&mut self, cap: u8) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        check(unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
                0,
                0,
            )
        } as libc::c_long)
    }

    fn set_umask(&mut self, mask: u32) {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }

    fn set_no_new_privs(&mut self) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } as libc::c_long)
    }

    fn chdir(&mut self, path: &Path) -> io::Result<()> {
        nix::unistd::chdir(path).map_err(io::Error::from)
    }

    fn getcwd(&mut self) -> io::Result<PathBuf> {
        nix::unistd::getcwd().map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_errors_keep_the_procfs_error_as_source() {
        // A key with an empty component is refused by the procfs handle; the io::Error the
        // seam returns still carries the typed RootfsError.
        let err = LinuxSys.write_sysctl("net..x", "1").expect_err("bad key");
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<RootfsError>())
            .expect("RootfsError inside");
        assert!(
            matches!(inner, RootfsError::InvalidConfig { .. }),
            "{inner}"
        );
        assert!(err.to_string().contains("\"net..x\""), "{err}");
    }

    #[test]
    fn last_cap_reads_the_kernel_value() {
        let want: u8 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .expect("cap_last_cap")
            .trim()
            .parse()
            .expect("number");
        assert_eq!(LinuxSys.last_cap(), want);
    }
}
