//! One `criu swrk` child and the seqpacket socket hezi talks to it over.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use prost::Message;

use super::rpc::{CriuReq, CriuResp, ReqType};
use super::CriuError;

/// A running `criu swrk` and hezi's end of its socketpair.
#[derive(Debug)]
pub struct Swrk {
    child: Child,
    sock: OwnedFd,
}

fn keep_across_exec(fd: impl AsFd) -> Result<(), CriuError> {
    fcntl(fd.as_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
        .map(|_| ())
        .map_err(|e| CriuError::Io(e.into()))
}

/// The last three non-empty lines of `text` that `keep` accepts, joined with `; `.
pub(super) fn last_lines(text: &str, keep: impl Fn(&str) -> bool) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && keep(l))
        .collect();
    lines[lines.len().saturating_sub(3)..].join("; ")
}

/// The last lines criu wrote to stderr (read until criu closes it).
fn stderr_tail(child: &mut Child) -> String {
    let mut log = String::new();
    if let Some(mut err) = child.stderr.take() {
        // A stderr that cannot be read only loses the hint; the caller's error stands.
        let _ = err.read_to_string(&mut log);
    }
    last_lines(&log, |_| true)
}

/// The `Error` lines of CRIU's log file (none when it is missing: CRIU failed before
/// opening it, and its stderr is used instead).
fn log_errors(log: &Path) -> String {
    std::fs::read_to_string(log)
        .map(|text| last_lines(&text, |l| l.contains("Error")))
        .unwrap_or_default()
}

impl Swrk {
    /// Start `criu swrk`; `inherit` are fds criu must see under the same numbers (image dirs).
    pub fn start_with(criu: &Path, inherit: &[&dyn AsFd]) -> Result<Self, CriuError> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| CriuError::Io(e.into()))?;
        keep_across_exec(&theirs)?;
        for fd in inherit {
            keep_across_exec(fd)?;
        }
        let child = Command::new(criu)
            .arg("swrk")
            .arg(theirs.as_raw_fd().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| CriuError::Spawn {
                path: criu.to_path_buf(),
                source,
            })?;
        drop(theirs);
        Ok(Self { child, sock: ours })
    }

    /// Start `criu swrk` with no extra fds.
    pub fn start(criu: &Path) -> Result<Self, CriuError> {
        Self::start_with(criu, &[])
    }

    /// Send one request and read CRIU's answer; a failed answer becomes [`CriuError::Failed`]
    /// carrying CRIU's message, else the `Error` lines of `log` (the request's log file, if
    /// it names one), else criu's stderr.
    pub fn request(mut self, req: &CriuReq, log: Option<&Path>) -> Result<CriuResp, CriuError> {
        let sock = UnixDatagram::from(self.sock.try_clone()?);
        // A criu that died before reading gives EPIPE here; the answer read below reports why.
        let sent = sock.send(&req.encode_to_vec());
        let mut buf = vec![0u8; 1 << 16];
        let n = match sent {
            Ok(_) => sock.recv(&mut buf)?,
            Err(_) => 0,
        };
        if n == 0 {
            return Err(self.no_answer());
        }
        let resp = CriuResp::decode(&buf[..n])?;
        drop(sock);
        drop(self.sock);
        let stderr = stderr_tail(&mut self.child);
        // The answer is in; how criu exits after it adds nothing.
        let _ = self.child.wait();
        if resp.success {
            return Ok(resp);
        }
        let request = ReqType::try_from(req.r#type).map_or_else(
            |_| req.r#type.to_string(),
            |t| format!("{t:?}").to_uppercase(),
        );
        Err(CriuError::Failed {
            request,
            errno: resp.cr_errno.unwrap_or(0),
            msg: resp
                .cr_errmsg
                .or_else(|| Some(log_errors(log?)).filter(|m| !m.is_empty()))
                .or_else(|| (!stderr.is_empty()).then_some(stderr))
                .unwrap_or_else(|| "see the criu log in the work directory".into()),
        })
    }

    fn no_answer(&mut self) -> CriuError {
        let log = stderr_tail(&mut self.child);
        let status = self
            .child
            .wait()
            .map_or_else(|e| e.to_string(), |s| s.to_string());
        CriuError::NoAnswer { status, log }
    }
}
