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

/// One notification CRIU sent during a request.
#[derive(Debug)]
pub struct Notification {
    /// Its name: `setup-namespaces`, `post-restore`, `orphan-pts-master`, `post-dump`, ...
    pub script: String,
    /// The restored tree's root pid, where CRIU gives one.
    pub pid: Option<i32>,
    /// The fd CRIU passed with it (the terminal master for `orphan-pts-master`).
    pub fd: Option<OwnedFd>,
}

/// Receives one message and the fd passed with it, if any; `None` when criu closed its end.
fn recv_with_fd(sock: &UnixDatagram) -> Result<Option<(CriuResp, Option<OwnedFd>)>, CriuError> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut buf = vec![0u8; 1 << 16];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let (n, fd) = {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| CriuError::Io(e.into()))?;
        let mut fd = None;
        for c in msg.cmsgs().map_err(|e| CriuError::Io(e.into()))? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: the kernel just installed `raw` in our table for this message;
                    // nothing else owns it.
                    let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                    fd.get_or_insert(owned);
                }
            }
        }
        (msg.bytes, fd)
    };
    if n == 0 {
        return Ok(None);
    }
    Ok(Some((CriuResp::decode(&buf[..n])?, fd)))
}

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
        Self::spawn(criu, inherit, false)
    }

    /// [`Self::start_with`], criu getting this process's stdin, stdout and stderr (a restore
    /// hands them to the tree through `inherit_fd`; its messages then go to its log only).
    pub fn start_inheriting_stdio(criu: &Path, inherit: &[&dyn AsFd]) -> Result<Self, CriuError> {
        Self::spawn(criu, inherit, true)
    }

    fn spawn(criu: &Path, inherit: &[&dyn AsFd], stdio: bool) -> Result<Self, CriuError> {
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
            .stdin(if stdio {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stdout(if stdio {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if stdio {
                Stdio::inherit()
            } else {
                Stdio::piped()
            })
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
    pub fn request(self, req: &CriuReq, log: Option<&Path>) -> Result<CriuResp, CriuError> {
        self.converse(req, log, |_| Ok(()))
    }

    /// The host pid of the `criu swrk` process (restore moves it into the container's
    /// cgroup before sending the request, so that the restored tree lands there).
    pub fn pid(&self) -> i32 {
        // A child's pid always fits; std keeps it as u32.
        i32::try_from(self.child.id()).unwrap_or(-1)
    }

    /// [`Self::request`] with notifications (`notify_scripts`): each NOTIFY message CRIU sends
    /// is handed to `on_notify` (with the fd CRIU passed along, for `orphan-pts-master`) and
    /// answered with its success; a handler's error is returned once CRIU has given up.
    pub fn converse(
        mut self,
        req: &CriuReq,
        log: Option<&Path>,
        mut on_notify: impl FnMut(Notification) -> Result<(), String>,
    ) -> Result<CriuResp, CriuError> {
        let sock = UnixDatagram::from(self.sock.try_clone()?);
        // A criu that died before reading gives EPIPE here; the answer read below reports why.
        if sock.send(&req.encode_to_vec()).is_err() {
            return Err(self.no_answer());
        }
        let mut notify_error: Option<CriuError> = None;
        let resp = loop {
            let Some((resp, fd)) = recv_with_fd(&sock)? else {
                return Err(self.no_answer());
            };
            if resp.r#type != ReqType::Notify as i32 {
                break resp;
            }
            let note = resp.notify.unwrap_or_default();
            let script = note.script.unwrap_or_default();
            tracing::debug!(%script, pid = ?note.pid, "criu notification");
            let result = on_notify(Notification {
                script: script.clone(),
                pid: note.pid,
                fd,
            });
            let ok = result.is_ok();
            if let Err(msg) = result {
                notify_error.get_or_insert(CriuError::Notify { script, msg });
            }
            let ack = CriuReq {
                r#type: ReqType::Notify as i32,
                notify_success: Some(ok),
                ..Default::default()
            };
            sock.send(&ack.encode_to_vec())?;
        };
        drop(sock);
        drop(self.sock);
        let stderr = stderr_tail(&mut self.child);
        // The answer is in; how criu exits after it adds nothing.
        let _ = self.child.wait();
        if let Some(e) = notify_error {
            return Err(e);
        }
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
