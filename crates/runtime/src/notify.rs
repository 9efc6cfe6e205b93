//! Seccomp user notification (`SCMP_ACT_NOTIFY`): the listener fd that `seccomp(2)` returns in
//! the container process is sent to the agent at `linux.seccomp.listenerPath` with the
//! runtime-spec "container process state" JSON, over a unix socket the parent connected
//! before the clone (the path is on the host and unreachable after pivot_root).

use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::Spec;

use crate::error::{Result, RuntimeError};
use crate::state::RuncState;

/// The agent connection and the metadata to send with the fd.
#[derive(Debug)]
pub struct NotifyTarget {
    /// Connected to `listenerPath`.
    pub sock: UnixStream,
    /// `listenerMetadata`.
    pub metadata: Option<String>,
}

/// Connects to `linux.seccomp.listenerPath` (required when the profile has NOTIFY rules).
pub fn connect(spec: &Spec) -> Result<NotifyTarget> {
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().clone())
        .unwrap_or_default();
    let path = seccomp
        .listener_path()
        .clone()
        .ok_or_else(|| RuntimeError::Unsupported {
            setting: "linux.seccomp.listenerPath".into(),
            msg: "SCMP_ACT_NOTIFY rules need a listenerPath".into(),
        })?;
    let sock = UnixStream::connect(&path).map_err(|e| {
        RuntimeError::io(
            format!("linux.seccomp.listenerPath: connect {}", path.display()),
            e,
        )
    })?;
    Ok(NotifyTarget {
        sock,
        metadata: seccomp.listener_metadata().clone(),
    })
}

/// Sends `listener` with the process state JSON (`pid` is the host pid of the process).
pub fn send(
    sock: BorrowedFd<'_>,
    listener: BorrowedFd<'_>,
    state: &RuncState,
    pid: i32,
    metadata: Option<&str>,
) -> Result<()> {
    let value =
        serde_json::to_value(state).map_err(|e| RuntimeError::Seccomp(format!("state: {e}")))?;
    let st: oci_spec::runtime::State =
        serde_json::from_value(value).map_err(|e| RuntimeError::Seccomp(format!("state: {e}")))?;
    let json = hezi_seccomp::notify::process_state_json(&st, pid, metadata)
        .map_err(|e| RuntimeError::Seccomp(e.to_string()))?;
    let fds = [listener.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [std::io::IoSlice::new(&json)];
    let sent = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(|e| RuntimeError::sys("linux.seccomp.listenerPath: send the listener fd", e))?;
    if sent < json.len() {
        nix::unistd::write(sock, &json[sent..])
            .map_err(|e| RuntimeError::sys("linux.seccomp.listenerPath: send the state", e))?;
    }
    Ok(())
}
