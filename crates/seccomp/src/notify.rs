//! Seccomp user notification: the agent side (receive a request, answer it)
//! and the runtime side (hand the listener fd to the agent at `listenerPath`).

use crate::bpf::SeccompData;
use crate::SeccompError;
use oci_spec::runtime::{ContainerProcessState, State, SECCOMP_FD_NAME};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// One intercepted syscall (`struct seccomp_notif`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Cookie to pass back in the [`Response`].
    pub id: u64,
    /// The calling thread (in the listener's pid namespace).
    pub pid: u32,
    /// The syscall and its arguments.
    pub data: SeccompData,
}

/// The answer to a [`Request`] (`struct seccomp_notif_resp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Make the syscall return `val` (success).
    Return {
        /// Request id.
        id: u64,
        /// Return value.
        val: i64,
    },
    /// Make the syscall fail with `errno` (positive, e.g. `libc::EPERM`).
    Error {
        /// Request id.
        id: u64,
        /// The errno.
        errno: i32,
    },
    /// Let the kernel run the syscall (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`).
    Continue {
        /// Request id.
        id: u64,
    },
}

/// Wait for the next notification on a listener fd.
pub fn recv(listener: BorrowedFd<'_>) -> Result<Request, SeccompError> {
    // SAFETY: seccomp_notif is plain old data; all-zero is valid and required
    // by the kernel.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: the ioctl writes one seccomp_notif into `n`.
        let rc =
            unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
        if rc == 0 {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(SeccompError::Sys {
                op: "ioctl(SECCOMP_IOCTL_NOTIF_RECV)",
                source: e,
            });
        }
    }
    Ok(Request {
        id: n.id,
        pid: n.pid,
        data: SeccompData {
            nr: n.data.nr as u32,
            arch: n.data.arch,
            instruction_pointer: n.data.instruction_pointer,
            args: n.data.args,
        },
    })
}

/// Answer a notification.
pub fn respond(listener: BorrowedFd<'_>, resp: &Response) -> Result<(), SeccompError> {
    let (id, val, error, flags) = match *resp {
        Response::Return { id, val } => (id, val, 0, 0),
        Response::Error { id, errno } => (id, 0, -errno.abs(), 0),
        Response::Continue { id } => (id, 0, 0, libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32),
    };
    let mut r = libc::seccomp_notif_resp {
        id,
        val,
        error,
        flags,
    };
    // SAFETY: the ioctl reads one seccomp_notif_resp from `r`.
    let rc = unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut r) };
    if rc != 0 {
        return Err(SeccompError::last_os("ioctl(SECCOMP_IOCTL_NOTIF_SEND)"));
    }
    Ok(())
}

/// True while the request `id` is still pending (the target has not died or
/// been interrupted): check this after reading the target's memory.
pub fn id_valid(listener: BorrowedFd<'_>, id: u64) -> bool {
    let mut id = id;
    // SAFETY: the ioctl reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id,
        ) == 0
    }
}

/// The runtime-spec "container process state" JSON sent with the listener fd:
/// `{"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}`.
pub fn process_state_json(
    state: &State,
    pid: i32,
    metadata: Option<&str>,
) -> Result<Vec<u8>, SeccompError> {
    let mut cps = ContainerProcessState::default();
    cps.set_version(state.version().clone());
    cps.set_fds(vec![SECCOMP_FD_NAME.to_string()]);
    cps.set_pid(pid);
    cps.set_metadata(metadata.map(str::to_string));
    cps.set_state(state.clone());
    Ok(serde_json::to_vec(&cps)?)
}

/// Connect to the agent's unix socket at `listener_path` and send the
/// listener `fd` (SCM_RIGHTS) with `state_json` (see [`process_state_json`])
/// as the message body, as runtime-spec's `listenerPath` describes.
pub fn send_listener(
    listener_path: &Path,
    fd: BorrowedFd<'_>,
    state_json: &[u8],
) -> Result<(), SeccompError> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let err = |op, source| SeccompError::Listener {
        path: listener_path.to_path_buf(),
        op,
        source,
    };
    let sock = UnixStream::connect(listener_path).map_err(|e| err("connect", e))?;
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(state_json)];
    let sent = sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(|e| err("sendmsg", std::io::Error::from(e)))?;
    if sent != state_json.len() {
        // The fd went with the first byte; send the rest of the state plainly.
        use std::io::Write;
        (&sock)
            .write_all(&state_json[sent..])
            .map_err(|e| err("write", e))?;
    }
    Ok(())
}
