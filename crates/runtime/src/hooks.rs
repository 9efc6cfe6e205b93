//! Runtime-spec hooks: run each program with the state JSON on stdin, its own argv and env,
//! and kill it when its `timeout` (seconds) passes.

use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::{Hook, Hooks};

use crate::error::{Result, RuntimeError};

/// The hook points of the runtime-spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// Deprecated; runs with createRuntime.
    Prestart,
    /// In the runtime namespace after the namespaces exist, before pivot_root.
    CreateRuntime,
    /// In the container namespace before pivot_root.
    CreateContainer,
    /// In the container namespace after `start`, before the user process.
    StartContainer,
    /// In the runtime namespace after the user process started.
    Poststart,
    /// In the runtime namespace after the container is deleted.
    Poststop,
}

impl HookKind {
    /// The JSON name (`hooks.<name>` in config.json).
    pub fn name(self) -> &'static str {
        match self {
            HookKind::Prestart => "prestart",
            HookKind::CreateRuntime => "createRuntime",
            HookKind::CreateContainer => "createContainer",
            HookKind::StartContainer => "startContainer",
            HookKind::Poststart => "poststart",
            HookKind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind in `hooks`.
    pub fn select(self, hooks: &Hooks) -> Vec<Hook> {
        let list = match self {
            HookKind::Prestart => hooks.prestart(),
            HookKind::CreateRuntime => hooks.create_runtime(),
            HookKind::CreateContainer => hooks.create_container(),
            HookKind::StartContainer => hooks.start_container(),
            HookKind::Poststart => hooks.poststart(),
            HookKind::Poststop => hooks.poststop(),
        };
        list.clone().unwrap_or_default()
    }

    /// Whether a failing hook of this kind fails the operation (otherwise: warn and go on).
    pub fn is_fatal(self) -> bool {
        !matches!(self, HookKind::Poststart | HookKind::Poststop)
    }
}

/// Runs every hook of `kind` in order with `state_json` on stdin. Fatal kinds stop at the
/// first failure and return it; the others log a warning and continue.
pub fn run_hooks(hooks: Option<&Hooks>, kind: HookKind, state_json: &[u8]) -> Result<()> {
    let Some(hooks) = hooks else { return Ok(()) };
    for (i, hook) in kind.select(hooks).iter().enumerate() {
        if let Err(e) = run_hook(hook, state_json) {
            let msg = format!("hooks.{}[{i}] {}: {e}", kind.name(), hook.path().display());
            if kind.is_fatal() {
                return Err(RuntimeError::Hook(msg));
            }
            tracing::warn!("{msg}");
        }
    }
    Ok(())
}

/// Runs one hook and waits for it (with its timeout). Error text says how it failed.
pub fn run_hook(hook: &Hook, state_json: &[u8]) -> std::result::Result<(), String> {
    let mut cmd = Command::new(hook.path());
    let args = hook.args().clone().unwrap_or_default();
    if let Some((argv0, rest)) = args.split_first() {
        cmd.arg0(argv0).args(rest);
    }
    // No `env` at all: the hook inherits the runtime's environment (runc and youki run hooks
    // through Go's exec.Cmd / Command with a nil env). An `env` given, even empty, is the
    // hook's whole environment.
    if let Some(env) = hook.env() {
        cmd.env_clear();
        for kv in env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    cmd.stdin(Stdio::piped());
    // Its own process group, so a timeout kills the hook's children too (a `sh -c` hook
    // forks its command; killing only the shell would leave that running).
    cmd.process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("start: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine.
        let _ = stdin.write_all(state_json);
    }
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    if let Some(limit) = timeout {
        if !wait_with_timeout(child.id() as i32, limit) {
            // SAFETY: kill(2) of the hook's own process group (its pgid is its pid); no
            // memory is involved.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {}s", limit.as_secs()));
        }
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if status.success() {
        Ok(())
    } else if let Some(sig) = status.signal() {
        Err(format!("killed by signal {sig}"))
    } else {
        Err(format!("exit status {}", status.code().unwrap_or(-1)))
    }
}

/// Waits until `pid` exits or `limit` passes (true when it exited), through a pidfd.
fn wait_with_timeout(pid: i32, limit: Duration) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw < 0 {
        // No pidfd support: wait without a timeout rather than fail the hook.
        return true;
    }
    // SAFETY: raw is a fresh fd owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => continue,
            Ok(_) => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{HookBuilder, HooksBuilder};

    fn sh(script: &str, timeout: Option<i64>) -> Hook {
        let b = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.to_string()])
            .env(vec!["HOOKVAR=hello".to_string()]);
        match timeout {
            Some(t) => b.timeout(t).build().expect("hook"),
            None => b.build().expect("hook"),
        }
    }

    #[test]
    fn hook_gets_state_and_env_in_order() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("out");
        let o = out.display();
        let hooks = HooksBuilder::default()
            .create_runtime(vec![
                sh(&format!("cat >> {o}; echo \" $HOOKVAR 1\" >> {o}"), None),
                sh(&format!("echo 2 >> {o}"), None),
            ])
            .build()
            .expect("hooks");
        run_hooks(Some(&hooks), HookKind::CreateRuntime, b"{\"id\":\"x\"}").expect("run");
        let text = std::fs::read_to_string(&out).expect("read");
        assert_eq!(text, "{\"id\":\"x\"} hello 1\n2\n");
    }

    #[test]
    fn hook_without_env_inherits_the_runtimes() {
        let dir = tempfile::tempdir().expect("tmp");
        let out = dir.path().join("out");
        // cargo and nextest set CARGO_MANIFEST_DIR for test processes; HOOKVAR is not set.
        let script = format!(
            "echo \"dir=${{CARGO_MANIFEST_DIR:+set}} var=${{HOOKVAR:-unset}}\" > {}",
            out.display()
        );
        let inherit = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script.clone()])
            .build()
            .expect("hook");
        run_hook(&inherit, b"{}").expect("run");
        assert_eq!(
            std::fs::read_to_string(&out).expect("read"),
            "dir=set var=unset\n"
        );
        let given = HookBuilder::default()
            .path("/bin/sh")
            .args(vec!["sh".to_string(), "-c".to_string(), script])
            .env(vec!["HOOKVAR=x".to_string()])
            .build()
            .expect("hook");
        run_hook(&given, b"{}").expect("run");
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "dir= var=x\n");
    }

    #[test]
    fn fatal_hook_failure_names_the_hook() {
        let hooks = HooksBuilder::default()
            .create_runtime(vec![sh("exit 3", None)])
            .build()
            .expect("hooks");
        let err = run_hooks(Some(&hooks), HookKind::CreateRuntime, b"{}").expect_err("fails");
        let msg = err.to_string();
        assert!(
            msg.contains("hooks.createRuntime[0]") && msg.contains("exit status 3"),
            "{msg}"
        );
    }

    #[test]
    fn poststop_failure_is_only_a_warning() {
        let hooks = HooksBuilder::default()
            .poststop(vec![sh("exit 1", None)])
            .build()
            .expect("hooks");
        assert!(run_hooks(Some(&hooks), HookKind::Poststop, b"{}").is_ok());
    }

    #[test]
    fn timeout_kills_the_hook() {
        // The shell forks `sleep` (it is not the last command): both must die.
        let marker = format!("3{}", std::process::id());
        let hook = sh(&format!("sleep {marker}; true"), Some(1));
        let err = run_hook(&hook, b"{}").expect_err("timeout");
        assert!(err.contains("timed out"), "{err}");
        std::thread::sleep(Duration::from_millis(100));
        let survivors = std::fs::read_dir("/proc")
            .expect("/proc")
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .filter(|c| String::from_utf8_lossy(c).contains(&format!("sleep\0{marker}")))
            .count();
        assert_eq!(survivors, 0, "a process of the timed-out hook survived");
    }
}
