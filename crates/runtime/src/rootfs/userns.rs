//! A throw-away user namespace with given id maps, for id-mapped mounts: a helper process
//! unshares a user namespace and waits; we write its maps, keep an fd of its namespace and let
//! it exit. The helper only makes async-signal-safe calls, so this is safe even from a
//! multi-threaded process.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 just returned these two fds to us.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Creates a user namespace whose `uid_map` and `gid_map` hold the given texts and returns an
/// fd of it (`/proc/<helper>/ns/user`).
pub fn userns_with_maps(uid_map: &str, gid_map: &str) -> io::Result<OwnedFd> {
    let (ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    // SAFETY: the child below only calls async-signal-safe functions (unshare, write, read,
    // _exit) on fds it already holds, so forking is safe even with other threads running.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: async-signal-safe calls only; the child never returns from this block.
        unsafe {
            // Drop our copies of the parent's ends, or the read below never sees EOF.
            libc::close(ready_r.as_raw_fd());
            libc::close(done_w.as_raw_fd());
            let ok: u8 = if libc::unshare(libc::CLONE_NEWUSER) == 0 {
                1
            } else {
                0
            };
            libc::write(ready_w.as_raw_fd(), (&ok as *const u8).cast(), 1);
            let mut b = 0u8;
            // Blocks until the parent closes its end of `done`.
            libc::read(done_r.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(ready_w);
    drop(done_r);
    let result = (|| {
        let mut ok = [0u8; 1];
        let n = io::Read::read(&mut File::from(ready_r), &mut ok)?;
        if n != 1 || ok[0] != 1 {
            return Err(io::Error::other(
                "helper could not unshare a user namespace",
            ));
        }
        File::options()
            .write(true)
            .open(format!("/proc/{pid}/uid_map"))?
            .write_all(uid_map.as_bytes())?;
        File::options()
            .write(true)
            .open(format!("/proc/{pid}/gid_map"))?
            .write_all(gid_map.as_bytes())?;
        Ok(OwnedFd::from(File::open(format!("/proc/{pid}/ns/user"))?))
    })();
    drop(done_w);
    // The namespace lives on through our fd; end the helper even if it were still blocked.
    // SAFETY: signalling the child we forked and have not reaped yet.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let mut status = 0;
    // SAFETY: waiting for the child we forked; `status` is a valid out pointer.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_written() {
        if !nix::unistd::geteuid().is_root() {
            println!("skipped: needs root");
            return;
        }
        let fd = userns_with_maps("0 1000 1\n", "0 2000 5\n").unwrap();
        // The fd names a user namespace (nsfs shows `user:[inode]`).
        let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        assert!(
            link.to_string_lossy().starts_with("user:["),
            "{}",
            link.display()
        );
    }
}
