//! Small helpers for cgroupfs files: every error names the path (and the value written).

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::CgroupError;

/// Writes `value` to `dir/file` in one write(2), never creating it (a missing file means the
/// kernel lacks the feature, and the error names it).
pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    tracing::debug!(path = %path.display(), value, "cgroup write");
    let res = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        path,
        value: value.to_string(),
        source,
    })
}

/// Reads `dir/file` as a string.
pub fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|source| CgroupError::Io {
        op: "read",
        path,
        source,
    })
}

/// Reads `dir/file` and parses its trimmed contents as u64 (`max` is [`u64::MAX`]).
pub fn read_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    let text = read(dir, file)?;
    parse_u64(text.trim()).ok_or_else(|| CgroupError::Parse {
        path: dir.join(file),
        reason: format!("expected a number, found {:?}", text.trim()),
    })
}

/// Reads `dir/file` when it exists. `None` only when the file is absent (ENOENT): an
/// interface file this kernel or this cgroup does not have (a controller not enabled, no
/// swap accounting, an older kernel without the counter), which runc reports as 0 too. Any
/// other failure (permission, I/O) is an error naming the path.
pub fn read_optional(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match read(dir, file) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`read_u64`] of an optional file: `None` only when it is absent (see
/// [`read_optional`]); a file that exists but does not hold a number is an error.
pub fn read_optional_u64(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    read_optional(dir, file)?
        .map(|text| {
            parse_u64(text.trim()).ok_or_else(|| CgroupError::Parse {
                path: dir.join(file),
                reason: format!("expected a number, found {:?}", text.trim()),
            })
        })
        .transpose()
}

/// [`parse_flat_keyed`] of an optional file: empty only when it is absent (see
/// [`read_optional`]).
pub fn read_optional_keyed(
    dir: &Path,
    file: &str,
) -> Result<std::collections::BTreeMap<String, u64>, CgroupError> {
    Ok(read_optional(dir, file)?
        .map(|t| parse_flat_keyed(&t))
        .unwrap_or_default())
}

/// Parses a cgroup number; `max` means unlimited ([`u64::MAX`]).
pub fn parse_u64(s: &str) -> Option<u64> {
    if s == "max" {
        Some(u64::MAX)
    } else {
        s.parse().ok()
    }
}

/// Parses `key value` lines (memory.stat, cpu.stat, memory.events, ...) into a map.
/// Lines that do not have that shape are skipped.
pub fn parse_flat_keyed(text: &str) -> std::collections::BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = parse_u64(it.next()?)?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// Reads a pid list file (`cgroup.procs`, `tasks`).
pub fn read_pids(dir: &Path, file: &str) -> Result<Vec<i32>, CgroupError> {
    let text = read(dir, file)?;
    let mut out = Vec::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let pid = l.parse().map_err(|_| CgroupError::Parse {
            path: dir.join(file),
            reason: format!("bad pid {l:?}"),
        })?;
        out.push(pid);
    }
    Ok(out)
}

/// `dir` and every cgroup directory below it, parents before children. A directory that
/// vanishes while walking is skipped (its processes exited and someone removed it).
pub fn subtree(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = fs::read_dir(&out[i]) {
            let mut children: Vec<_> = entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}

/// The pids of `dir` and of every cgroup below it (what runc's `GetAllPids` returns: a
/// container may have made sub-cgroups and moved processes there).
pub fn read_pids_tree(dir: &Path, file: &str) -> Result<Vec<i32>, CgroupError> {
    let mut out = read_pids(dir, file)?;
    for d in subtree(dir).iter().skip(1) {
        match read_pids(d, file) {
            Ok(p) => out.extend(p),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Removes `dir` and every cgroup below it, children first, each with [`rmdir_retry`].
pub fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    for d in subtree(dir).iter().rev() {
        rmdir_retry(d)?;
    }
    Ok(())
}

/// Creates `dir` and its missing parents; returns the directories that were created,
/// outermost first.
pub fn mkdir_all(dir: &Path) -> Result<Vec<std::path::PathBuf>, CgroupError> {
    // A concurrent `destroy` may remove an empty shared parent (`/hezi`) between our mkdir
    // of it and of the leaf; then the leaf's mkdir fails with ENOENT and we start over.
    let mut attempt = 0;
    loop {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        missing.reverse();
        let mut raced = false;
        for d in &missing {
            match fs::create_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 8 => {
                    raced = true;
                    break;
                }
                Err(source) => {
                    return Err(CgroupError::Io {
                        op: "mkdir",
                        path: d.clone(),
                        source,
                    })
                }
            }
        }
        if !raced {
            return Ok(missing);
        }
        attempt += 1;
    }
}

/// Removes the shared parent `<mount>/hezi` of a container cgroup `leaf` when it is empty,
/// so that deleting the last container leaves no hezi cgroup behind. Only called for
/// hezi's default paths (`/hezi/<id>`), whose parent hezi owns; a parent still holding
/// other containers (ENOTEMPTY/EBUSY) stays.
pub fn remove_empty_hezi_parent(leaf: &Path) {
    if let Some(parent) = leaf.parent() {
        if parent
            .file_name()
            .is_some_and(|n| n == crate::path::HEZI_PARENT)
        {
            if let Err(e) = fs::remove_dir(parent) {
                tracing::trace!(dir = %parent.display(), error = %e, "shared parent cgroup stays");
            }
        }
    }
}

/// Removes a cgroup directory, retrying while the kernel says it is busy (tasks still
/// exiting). A missing directory is success.
pub fn rmdir_retry(dir: &Path) -> Result<(), CgroupError> {
    let mut delay = std::time::Duration::from_millis(1);
    let mut waited = std::time::Duration::ZERO;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && waited.as_millis() < 2000 => {
                std::thread::sleep(delay);
                waited += delay;
                delay = (delay * 2).min(std::time::Duration::from_millis(100));
            }
            Err(source) => {
                return Err(CgroupError::Io {
                    op: "rmdir",
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Sends `signal` to every pid in `pids`; a pid that is already gone is fine.
pub fn signal_pids(pids: &[i32], signal: i32) -> Result<(), CgroupError> {
    for &pid in pids {
        let sig = nix::sys::signal::Signal::try_from(signal).map_err(|_| CgroupError::Invalid {
            setting: "signal".into(),
            value: signal.to_string(),
            reason: "not a signal number".into(),
        })?;
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => {
                return Err(CgroupError::Io {
                    op: "kill",
                    path: std::path::PathBuf::from(format!("/proc/{pid}")),
                    source: std::io::Error::from(e),
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_reads_default_only_for_a_missing_file() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        assert_eq!(read_optional_u64(d, "absent").unwrap(), None);
        assert!(read_optional_keyed(d, "absent").unwrap().is_empty());
        fs::write(d.join("n"), "42\n").unwrap();
        assert_eq!(read_optional_u64(d, "n").unwrap(), Some(42));
        fs::write(d.join("n"), "garbage\n").unwrap();
        let e = read_optional_u64(d, "n").unwrap_err().to_string();
        assert!(e.contains("garbage") && e.contains("/n"), "{e}");
        // A directory where a file should be: EISDIR is reported, not read as absent.
        fs::create_dir(d.join("dir")).unwrap();
        assert!(read_optional(d, "dir").is_err());
        assert!(read_optional_u64(d, "dir").is_err());
    }

    #[test]
    fn empty_hezi_parent_is_removed_and_a_busy_one_stays() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("hezi/a");
        let b = t.path().join("hezi/b");
        assert_eq!(mkdir_all(&a).unwrap().len(), 2);
        mkdir_all(&b).unwrap();
        fs::remove_dir(&a).unwrap();
        remove_empty_hezi_parent(&a);
        assert!(
            t.path().join("hezi").is_dir(),
            "parent with b inside must stay"
        );
        fs::remove_dir(&b).unwrap();
        remove_empty_hezi_parent(&b);
        assert!(!t.path().join("hezi").exists());
        // Not a hezi parent: never removed.
        let other = t.path().join("kubepods/x");
        mkdir_all(&other).unwrap();
        fs::remove_dir(&other).unwrap();
        remove_empty_hezi_parent(&other);
        assert!(t.path().join("kubepods").is_dir());
    }

    #[test]
    fn subtree_lists_parents_first_and_pids_of_every_level() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("c");
        for d in ["c/a/x", "c/b"] {
            fs::create_dir_all(t.path().join(d)).unwrap();
        }
        fs::write(top.join("cgroup.procs"), "1\n").unwrap();
        fs::write(top.join("a/cgroup.procs"), "2\n3\n").unwrap();
        fs::write(top.join("a/x/cgroup.procs"), "4\n").unwrap();
        fs::write(top.join("b/cgroup.procs"), "").unwrap();
        let tree = subtree(&top);
        let rel: Vec<_> = tree
            .iter()
            .map(|p| p.strip_prefix(&top).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(rel, ["", "a", "b", "a/x"]);
        let mut pids = read_pids_tree(&top, "cgroup.procs").unwrap();
        pids.sort();
        assert_eq!(pids, [1, 2, 3, 4]);
        fs::write(top.join("b/cgroup.procs"), "x\n").unwrap();
        assert!(read_pids_tree(&top, "cgroup.procs").is_err());
    }
}
