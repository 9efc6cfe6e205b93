//! Resolving an image config's `User` through the rootfs's /etc/passwd and /etc/group,
//! read beneath the rootfs (symlinks resolved inside it, never outside).

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use nix::fcntl::{openat, openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use crate::error::ImageError;

/// The ids a process runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (from /etc/group membership), sorted, without `gid`.
    pub additional_gids: Vec<u32>,
    /// The user name, when known.
    pub name: Option<String>,
    /// The home directory from /etc/passwd, when the user has an entry with one.
    pub home: Option<String>,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Opens `rel` in `rootfs` with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS |
/// RESOLVE_NO_XDEV) and `flags`; `None` when it does not exist. Returns the fd and the
/// host path (for messages).
fn open_in_root(
    rootfs: &Path,
    rel: &str,
    flags: OFlag,
) -> Result<Option<(std::os::fd::OwnedFd, std::path::PathBuf)>, ImageError> {
    let root = openat(
        nix::fcntl::AT_FDCWD,
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| ImageError::io("open rootfs", rootfs, e.into()))?;
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC).resolve(
        ResolveFlag::RESOLVE_IN_ROOT
            | ResolveFlag::RESOLVE_NO_MAGICLINKS
            | ResolveFlag::RESOLVE_NO_XDEV,
    );
    let rel = rel.trim_start_matches('/');
    let host = rootfs.join(rel);
    let rel = if rel.is_empty() { "." } else { rel };
    match openat2(&root, OsStr::new(rel), how) {
        Ok(fd) => Ok(Some((fd, host))),
        Err(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(ImageError::io("open", host, e.into())),
    }
}

/// Reads a file of the rootfs (see [`open_in_root`]); `None` if it does not exist.
pub(crate) fn read_in_root(rootfs: &Path, rel: &str) -> Result<Option<String>, ImageError> {
    let Some((fd, host)) = open_in_root(rootfs, rel, OFlag::O_RDONLY | OFlag::O_NOCTTY)? else {
        return Ok(None);
    };
    let mut f = std::fs::File::from(fd);
    let md = f.metadata().map_err(ImageError::io_with("stat", &host))?;
    if !md.is_file() {
        return Err(ImageError::InvalidArgument(format!(
            "{} is not a regular file",
            host.display()
        )));
    }
    let mut s = String::new();
    f.by_ref()
        .take(16 << 20)
        .read_to_string(&mut s)
        .map_err(ImageError::io_with("read", &host))?;
    Ok(Some(s))
}

/// `stat` of a path of the rootfs, resolved inside it (see [`open_in_root`]); `None` when it
/// does not exist.
pub(crate) fn stat_in_root(
    rootfs: &Path,
    rel: &str,
) -> Result<Option<std::fs::Metadata>, ImageError> {
    let Some((fd, host)) = open_in_root(rootfs, rel, OFlag::O_PATH)? else {
        return Ok(None);
    };
    std::fs::File::from(fd)
        .metadata()
        .map(Some)
        .map_err(ImageError::io_with("stat", &host))
}

/// The entries of an /etc/passwd; a malformed line is skipped, as libc's getpwnam does (a
/// name on it is then "not found").
fn parse_passwd(s: &str) -> Vec<PasswdEntry> {
    s.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map(|h| h.to_string()).unwrap_or_default(),
            })
        })
        .collect()
}

/// The entries of an /etc/group; a malformed line is skipped, as libc's getgrnam does.
fn parse_group(s: &str) -> Vec<GroupEntry> {
    s.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|x| !x.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolves `spec` (`user`, `uid`, `user:group`, `uid:gid`, empty for root) in `rootfs`.
/// Numeric ids need no entries; a name missing from /etc/passwd (or /etc/group) is an error.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser, ImageError> {
    let passwd = parse_passwd(&read_in_root(rootfs, "etc/passwd")?.unwrap_or_default());
    let groups = parse_group(&read_in_root(rootfs, "etc/group")?.unwrap_or_default());
    resolve_with(&passwd, &groups, spec)
}

fn resolve_with(
    passwd: &[PasswdEntry],
    groups: &[GroupEntry],
    spec: &str,
) -> Result<ResolvedUser, ImageError> {
    let err = |reason: String| ImageError::User {
        user: spec.to_string(),
        reason,
    };
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user = if user.is_empty() { "0" } else { user };
    let entry = if let Ok(uid) = user.parse::<u32>() {
        passwd.iter().find(|p| p.uid == uid)
    } else {
        Some(
            passwd
                .iter()
                .find(|p| p.name == user)
                .ok_or_else(|| err(format!("no user {user:?} in the image's /etc/passwd")))?,
        )
    };
    let (uid, mut gid, name) = match (entry, user.parse::<u32>()) {
        (Some(p), _) => (p.uid, p.gid, Some(p.name.clone())),
        (None, Ok(uid)) => (uid, 0, None),
        (None, Err(_)) => return Err(err(format!("no user {user:?} in the image's /etc/passwd"))),
    };
    let home = entry.map(|p| p.home.clone()).filter(|h| !h.is_empty());
    if let Some(g) = group {
        gid = if let Ok(n) = g.parse::<u32>() {
            n
        } else {
            groups
                .iter()
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| err(format!("no group {g:?} in the image's /etc/group")))?
        };
    }
    let mut additional_gids: Vec<u32> = match (&name, group) {
        // An explicit group replaces the supplementary groups (as docker does).
        (Some(n), None) => groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == n))
            .map(|g| g.gid)
            .collect(),
        _ => Vec::new(),
    };
    additional_gids.retain(|g| *g != gid);
    additional_gids.sort_unstable();
    additional_gids.dedup();
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
        name,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (Vec<PasswdEntry>, Vec<GroupEntry>) {
        (
            parse_passwd("root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n"),
            parse_group("root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n"),
        )
    }

    #[test]
    fn names_and_numbers() {
        let (p, g) = db();
        let a = resolve_with(&p, &g, "alice").unwrap();
        assert_eq!(
            (a.uid, a.gid, a.additional_gids.clone()),
            (1000, 1000, vec![10, 29])
        );
        let b = resolve_with(&p, &g, "alice:wheel").unwrap();
        assert_eq!((b.uid, b.gid, b.additional_gids.len()), (1000, 10, 0));
        let c = resolve_with(&p, &g, "4242:4343").unwrap();
        assert_eq!((c.uid, c.gid), (4242, 4343));
        let d = resolve_with(&p, &g, "").unwrap();
        assert_eq!((d.uid, d.gid), (0, 0));
        let e = resolve_with(&p, &g, "1000").unwrap();
        assert_eq!((e.uid, e.gid), (1000, 1000));
    }

    #[test]
    fn missing_names_are_errors() {
        let (p, g) = db();
        assert!(matches!(
            resolve_with(&p, &g, "mallory"),
            Err(ImageError::User { .. })
        ));
        assert!(matches!(
            resolve_with(&p, &g, "alice:nogroup"),
            Err(ImageError::User { .. })
        ));
    }
}
