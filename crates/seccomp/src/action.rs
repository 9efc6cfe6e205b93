//! Runtime-spec actions and their `SECCOMP_RET_*` values.

use oci_spec::runtime::LinuxSeccompAction as Act;

/// `SECCOMP_RET_KILL_PROCESS`.
pub const KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_KILL_THREAD` (also `SCMP_ACT_KILL`).
pub const KILL_THREAD: u32 = 0;
/// `SECCOMP_RET_TRAP`.
pub const TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO` (low 16 bits carry the errno).
pub const ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_USER_NOTIF`.
pub const USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_TRACE` (low 16 bits carry the tracer's data).
pub const TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`.
pub const LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ALLOW`.
pub const ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ERRNO | ENOSYS`.
pub const ENOSYS: u32 = ERRNO | libc::ENOSYS as u32;
/// Action for syscalls of an architecture the filter was not built for.
/// libseccomp's default (`SCMP_ACT_KILL`), which runc keeps.
pub const BAD_ARCH: u32 = KILL_THREAD;

/// The `SECCOMP_RET_*` value of an action; ERRNO and TRACE default to EPERM
/// when `errno_ret` is absent, as runc does.
pub fn value(act: Act, errno_ret: Option<u32>) -> u32 {
    let data = errno_ret.unwrap_or(libc::EPERM as u32) & 0xffff;
    match act {
        Act::ScmpActKill | Act::ScmpActKillThread => KILL_THREAD,
        Act::ScmpActKillProcess => KILL_PROCESS,
        Act::ScmpActTrap => TRAP,
        Act::ScmpActErrno => ERRNO | data,
        Act::ScmpActNotify => USER_NOTIF,
        Act::ScmpActTrace => TRACE | data,
        Act::ScmpActLog => LOG,
        Act::ScmpActAllow => ALLOW,
    }
}
