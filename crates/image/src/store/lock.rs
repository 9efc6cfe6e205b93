//! Advisory locks (flock) on files in the store.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::ImageError;

/// A held flock; released on drop (when the file closes).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes a lock on `path` (created if missing): exclusive or shared; blocks until held.
    pub fn acquire(path: &Path, exclusive: bool) -> Result<StoreLock, ImageError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(ImageError::io_with("open lock file", path))?;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        loop {
            // SAFETY: flock on an fd we own; no memory is involved.
            let r = unsafe { libc::flock(file.as_raw_fd(), op) };
            if r == 0 {
                return Ok(StoreLock { _file: file });
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(ImageError::io("lock", path, e));
            }
        }
    }
}

/// Tries to take an exclusive flock on an open file without waiting: `Ok(true)` when taken
/// (held until the file and every duplicate of it close), `Ok(false)` when another open
/// file holds a lock on it. Ingest files carry such a lock while a writer has them open, so
/// the collector can tell a live ingest from a leftover of a killed one.
pub(crate) fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    loop {
        // SAFETY: flock on an fd we borrow for the call; no memory is involved.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(e),
        }
    }
}
