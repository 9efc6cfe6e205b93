//! The container's terminal: a pty from the container's own devpts, whose master is sent to
//! `--console-socket` as runc does (one message, payload `/dev/ptmx`, the fd as SCM_RIGHTS),
//! and whose slave becomes `/dev/console`, the controlling terminal and stdio.

use std::ffi::CString;
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use crate::error::{Result, RuntimeError};

const DEVPTS_SUPER_MAGIC: i64 = 0x1cd1;

/// A pty pair opened in the container's devpts.
#[derive(Debug)]
pub struct Pty {
    /// The master side (sent to the console socket, then closed here).
    pub master: OwnedFd,
    /// The slave side (the container's terminal).
    pub slave: OwnedFd,
}

fn errno(what: &str) -> RuntimeError {
    RuntimeError::io(what.to_string(), std::io::Error::last_os_error())
}

/// Opens `/dev/pts/ptmx` inside `rootfs` (resolved with RESOLVE_IN_ROOT so a symlink cannot
/// point it at the host's devpts), checks that it is devpts, unlocks it and opens the peer
/// with TIOCGPTPEER. `size` is `(height, width)` from `process.consoleSize`.
pub fn open_pty(rootfs: &Path, size: Option<(u16, u16)>) -> Result<Pty> {
    let root = CString::new(rootfs.as_os_str().as_encoded_bytes())
        .map_err(|_| RuntimeError::Rootfs(format!("{}: NUL in path", rootfs.display())))?;
    // SAFETY: open of a NUL-terminated path; the fd is owned below.
    let rfd = unsafe {
        libc::open(
            root.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if rfd < 0 {
        return Err(errno(&format!("open rootfs {}", rootfs.display())));
    }
    // SAFETY: fresh fd.
    let rfd = unsafe { OwnedFd::from_raw_fd(rfd) };
    let master = crate::rootfs::sys::openat2(
        Some(rfd.as_fd()),
        c"/dev/pts/ptmx",
        libc::O_RDWR | libc::O_NOCTTY,
        0,
        libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    )
    .map_err(|e| RuntimeError::io("console: open /dev/pts/ptmx in the container", e))?;
    // SAFETY: statfs is plain data filled by fstatfs.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd and statfs pointer.
    if unsafe { libc::fstatfs(master.as_raw_fd(), &mut st) } < 0
        || st.f_type as i64 != DEVPTS_SUPER_MAGIC
    {
        return Err(RuntimeError::Rootfs(
            "console: /dev/pts/ptmx is not on devpts".into(),
        ));
    }
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(errno("console: unlock pty"));
    }
    if let Some((h, w)) = size {
        let ws = libc::winsize {
            ws_row: h,
            ws_col: w,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ takes a pointer to a winsize.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
            return Err(errno("process.consoleSize: TIOCSWINSZ"));
        }
    }
    // SAFETY: TIOCGPTPEER returns a new fd of the slave.
    let s = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if s < 0 {
        return Err(errno("console: open pty peer (TIOCGPTPEER)"));
    }
    // SAFETY: fresh fd from the ioctl.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    Ok(Pty { master, slave })
}

/// Sends `fd` over the connected unix socket `sock` with the payload `name` (runc's SendFd).
pub fn send_fd(sock: BorrowedFd<'_>, name: &str, fd: BorrowedFd<'_>) -> Result<()> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| RuntimeError::sys("--console-socket: send the pty master", e))?;
    Ok(())
}

/// Makes `slave` the controlling terminal of the caller's session and its stdin, stdout
/// and stderr.
pub fn make_controlling(slave: BorrowedFd<'_>) -> Result<()> {
    // The caller is a session leader already (crate::init::new_session, done for every
    // process, tty or not).
    // SAFETY: TIOCSCTTY with argument 0 on a terminal fd.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(errno("console: TIOCSCTTY"));
    }
    for target in 0..=2 {
        // SAFETY: dup2 of a valid fd onto 0..2.
        if unsafe { libc::dup2(slave.as_fd().as_raw_fd(), target) } < 0 {
            return Err(errno("console: dup2 onto stdio"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn send_fd_passes_a_working_fd() {
        let (a, b) = UnixStream::pair().expect("pair");
        let file = tempfile::tempfile().expect("tmp");
        send_fd(a.as_fd(), "/dev/ptmx", file.as_fd()).expect("send");
        let mut buf = [0u8; 64];
        let mut cbuf = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = nix::sys::socket::recvmsg::<()>(
            b.as_raw_fd(),
            &mut iov,
            Some(&mut cbuf),
            MsgFlags::empty(),
        )
        .expect("recv");
        let got = msg.cmsgs().expect("cmsgs").any(
            |c| matches!(c, nix::sys::socket::ControlMessageOwned::ScmRights(f) if f.len() == 1),
        );
        let n = msg.bytes;
        assert!(got);
        assert_eq!(&buf[..n], b"/dev/ptmx");
    }
}
