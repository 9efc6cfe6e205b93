//! The parent ⇄ init channel: a `SOCK_SEQPACKET` socketpair carrying one JSON message per
//! packet, so the parent can write id maps and place the cgroup before the init goes on, run
//! hooks when the init asks, and receive the init's setup error with its context.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::error::{Result, RuntimeError};

/// One message between parent and init.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncMsg {
    /// Parent → init: maps written, cgroup joined; the init's host pid.
    Go {
        /// The init's pid in the runtime's pid namespace.
        host_pid: i32,
    },
    /// Init → parent: namespaces exist; run prestart and createRuntime hooks.
    RunHooks,
    /// Parent → init: hooks done.
    HooksDone,
    /// Init → parent: setup finished, waiting on the exec fifo.
    Ready,
    /// Parent → init: the container is recorded complete; the init no longer dies with the
    /// parent.
    Committed,
    /// Init → parent: setup failed.
    Error(String),
}

/// One end of the channel.
#[derive(Debug)]
pub struct SyncSocket {
    fd: OwnedFd,
}

/// Creates a connected pair (both ends close-on-exec).
pub fn pair() -> Result<(SyncSocket, SyncSocket)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| RuntimeError::sys("socketpair for the init sync channel", e))?;
    Ok((SyncSocket { fd: a }, SyncSocket { fd: b }))
}

impl SyncSocket {
    /// Sends one message.
    pub fn send(&self, msg: &SyncMsg) -> Result<()> {
        let data = serde_json::to_vec(msg)
            .map_err(|e| RuntimeError::Child(format!("encode sync message: {e}")))?;
        nix::unistd::write(self.fd.as_fd(), &data)
            .map_err(|e| RuntimeError::sys("send on the init sync channel", e))?;
        Ok(())
    }

    /// Receives one message; `None` when the other end closed.
    pub fn recv(&self) -> Result<Option<SyncMsg>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match nix::unistd::read(self.fd.as_fd(), &mut buf) {
                Ok(n) => break n,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(RuntimeError::sys("receive on the init sync channel", e)),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        let msg = serde_json::from_slice(&buf[..n])
            .map_err(|e| RuntimeError::Child(format!("bad sync message: {e}")))?;
        Ok(Some(msg))
    }

    /// The raw fd (for closing in the other process).
    pub fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_eof() {
        let (a, b) = pair().expect("pair");
        a.send(&SyncMsg::Go { host_pid: 12 }).expect("send");
        a.send(&SyncMsg::Error("mounts[3] /proc: boom".into()))
            .expect("send");
        assert_eq!(b.recv().expect("recv"), Some(SyncMsg::Go { host_pid: 12 }));
        assert_eq!(
            b.recv().expect("recv"),
            Some(SyncMsg::Error("mounts[3] /proc: boom".into()))
        );
        drop(a);
        assert_eq!(b.recv().expect("recv"), None);
    }
}
