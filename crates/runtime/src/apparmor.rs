//! AppArmor: `process.apparmorProfile` (and `exec --apparmor`) as a profile the process
//! changes to at its `execve`, written to `/proc/self/attr/apparmor/exec` (the per-LSM file
//! of kernels since 5.8, falling back to the older shared `attr/exec`) through the verified
//! procfs handle, before the identity change, as runc does.

use std::path::Path;

use crate::error::{Result, RuntimeError};
use crate::rootfs::procfs::ProcfsHandle;

/// Where the kernel says whether AppArmor is on.
const ENABLED: &str = "/sys/module/apparmor/parameters/enabled";

/// True when the AppArmor LSM is enabled on this host.
pub fn enabled() -> bool {
    std::fs::read_to_string(ENABLED).is_ok_and(|s| s.trim_start().starts_with('Y'))
}

/// Checks up front that `profile` can be applied here: AppArmor must be on (runc fails
/// later, at the init's write, with a bare `invalid argument`).
pub fn check(profile: &str, setting: &str) -> Result<()> {
    if enabled() {
        return Ok(());
    }
    Err(RuntimeError::Unsupported {
        setting: setting.into(),
        msg: format!(
            "AppArmor profile {profile:?} requested, but AppArmor is not enabled on this host ({ENABLED})"
        ),
    })
}

/// Makes this process change to `profile` at its next `execve`.
pub fn change_on_exec(proc: &ProcfsHandle, profile: &str) -> Result<()> {
    let data = format!("exec {profile}");
    let first = proc.write_self(Path::new("attr/apparmor/exec"), data.as_bytes());
    let result = match first {
        Ok(()) => Ok(()),
        Err(_) => proc.write_self(Path::new("attr/exec"), data.as_bytes()),
    };
    result.map_err(|e| RuntimeError::Unsupported {
        setting: "process.apparmorProfile".into(),
        msg: format!(
            "cannot change to AppArmor profile {profile:?} at exec (is it loaded? `apparmor_parser -r FILE` loads it; `aa-status` lists them): {e}"
        ),
    })
}
