//! Per-container locking: an exclusive `flock(2)` on the container's state directory.
//!
//! `create` holds it from the moment the directory exists until the container is recorded
//! complete; `start`, `delete`, `pause`, `resume` and `update` take it for their duration, so
//! two of them never interleave on one container and a plain `delete` cannot remove a
//! container that another `hezi` is still creating. `state` and `list` take no lock (they only
//! read the atomically replaced `state.json`). The kernel drops the lock when its holder dies,
//! however it dies, so a killed `create` never leaves a container locked.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Result, RuntimeError};

/// A held lock; released on drop.
#[derive(Debug)]
pub struct DirLock {
    file: File,
}

fn open(dir: &Path) -> Result<File> {
    File::open(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            RuntimeError::NotExist(
                dir.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        } else {
            RuntimeError::io(format!("open {} for locking", dir.display()), e)
        }
    })
}

fn flock(f: &File, op: libc::c_int) -> std::io::Result<()> {
    loop {
        // SAFETY: flock(2) on an fd we own.
        if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl DirLock {
    /// Waits for and takes the lock of the container directory `dir`.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let f = open(dir)?;
        flock(&f, libc::LOCK_EX)
            .map_err(|e| RuntimeError::io(format!("lock {}", dir.display()), e))?;
        Ok(DirLock { file: f })
    }

    /// Takes the lock if nobody holds it; `Ok(None)` when another process does.
    pub fn try_acquire(dir: &Path) -> Result<Option<DirLock>> {
        let f = open(dir)?;
        match flock(&f, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => Ok(Some(DirLock { file: f })),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(e) => Err(RuntimeError::io(format!("lock {}", dir.display()), e)),
        }
    }

    /// The fd holding the lock (for a forked child to close its inherited copy).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        self.file.as_raw_fd()
    }

    /// Whether some process holds the lock of `dir` now (without taking it).
    pub fn is_held(dir: &Path) -> bool {
        match Self::try_acquire(dir) {
            Ok(Some(_released_on_drop)) => false,
            Ok(None) => true,
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_and_a_dead_one_releases() {
        let dir = tempfile::tempdir().expect("tmp");
        let held = DirLock::acquire(dir.path()).expect("lock");
        // flock locks belong to the open file description: a second open conflicts.
        assert!(DirLock::try_acquire(dir.path()).expect("try").is_none());
        assert!(DirLock::is_held(dir.path()));
        drop(held);
        assert!(!DirLock::is_held(dir.path()));
        assert!(DirLock::try_acquire(dir.path()).expect("try").is_some());
    }
}
