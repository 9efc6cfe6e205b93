//! A recording [`Mounter`] for unit tests: every call becomes a line of text; handles are
//! numbers; `ENOENT`s and stat results are scripted.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::path::Path;

use super::mounter::{FileKind, Mounter, NodeKind, NodeSpec, Resolve, Stat};
use super::options::{AttrChange, FsParam, PropagationChange};

/// A handle: its number and what it refers to.
#[derive(Debug, Clone)]
pub struct H(pub String);

#[derive(Debug, Default)]
pub struct Recorder {
    pub log: Vec<String>,
    /// Paths (as labels, e.g. `#1/proc`) that `open_in_root` reports missing.
    pub missing: HashSet<String>,
    /// Labels that `open_in_root` reports as symlinks (ELOOP with `no_symlinks`).
    pub symlinks: HashSet<String>,
    /// Stat results by label; default: a directory.
    pub stats: HashMap<String, Stat>,
    pub cgroup_text: String,
    /// Labels of handles whose mount is in another namespace (`clone_fd` gives EINVAL).
    pub foreign: HashSet<String>,
    /// Mounts "made by the parent", by `mounts` index (`take_premade` hands them out once).
    pub premade: HashMap<usize, String>,
}

impl Recorder {
    fn h(&mut self, what: String) -> H {
        H(what)
    }
    fn rec(&mut self, s: String) {
        self.log.push(s);
    }
    /// The log lines that start with `prefix`.
    pub fn ops(&self, prefix: &str) -> Vec<&str> {
        self.log
            .iter()
            .filter(|l| l.starts_with(prefix))
            .map(String::as_str)
            .collect()
    }
}

fn join(root: &H, rel: &Path) -> String {
    if rel.as_os_str().is_empty() {
        root.0.clone()
    } else {
        format!("{}/{}", root.0.trim_end_matches('/'), rel.display())
    }
}

impl Mounter for Recorder {
    type Fd = H;

    fn open_host_dir(&mut self, path: &Path) -> io::Result<H> {
        self.rec(format!("open_host {}", path.display()));
        Ok(self.h(path.display().to_string()))
    }
    fn open_in_root(&mut self, root: &H, rel: &Path, how: Resolve) -> io::Result<H> {
        let p = join(root, rel);
        if how.no_symlinks && self.symlinks.contains(&p) {
            return Err(io::Error::from_raw_os_error(libc::ELOOP));
        }
        if self.missing.contains(&p) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        Ok(self.h(p))
    }
    fn create_in_root(
        &mut self,
        root: &H,
        rel: &Path,
        kind: NodeKind,
        _how: Resolve,
    ) -> io::Result<H> {
        let p = join(root, rel);
        self.rec(format!("create {kind:?} {p}"));
        self.missing.remove(&p);
        Ok(self.h(p))
    }
    fn stat(&mut self, fd: &H) -> io::Result<Stat> {
        Ok(self.stats.get(&fd.0).copied().unwrap_or(Stat {
            kind: FileKind::Dir,
            major: 0,
            minor: 0,
        }))
    }
    fn clone_host(&mut self, path: &Path, recursive: bool) -> io::Result<H> {
        self.rec(format!("clone_host {} rec={recursive}", path.display()));
        Ok(self.h(format!("tree:{}", path.display())))
    }
    fn fd_path(&mut self, fd: &H) -> io::Result<std::path::PathBuf> {
        Ok(std::path::PathBuf::from(&fd.0))
    }
    fn clone_fd(&mut self, fd: &H, recursive: bool) -> io::Result<H> {
        if self.foreign.contains(&fd.0) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        self.rec(format!("clone_fd {} rec={recursive}", fd.0));
        Ok(self.h(format!("tree:{}", fd.0)))
    }
    fn new_fs(
        &mut self,
        fstype: &str,
        source: Option<&str>,
        params: &[FsParam],
        attrs: u64,
    ) -> io::Result<H> {
        let ps: Vec<String> = params
            .iter()
            .map(|p| match p {
                FsParam::Flag(k) => k.clone(),
                FsParam::Value(k, v) => format!("{k}={v}"),
            })
            .collect();
        self.rec(format!(
            "new_fs {fstype} src={} [{}] attrs={attrs:#x}",
            source.unwrap_or("-"),
            ps.join(",")
        ));
        Ok(self.h(format!("fs:{fstype}")))
    }
    fn set_attr(
        &mut self,
        mnt: &H,
        attrs: AttrChange,
        propagation: Option<PropagationChange>,
        recursive: bool,
    ) -> io::Result<()> {
        self.rec(format!(
            "set_attr {} set={:#x} clr={:#x} prop={:?} rec={recursive}",
            mnt.0,
            attrs.set,
            attrs.clr,
            propagation.map(|p| p.kind)
        ));
        Ok(())
    }
    fn new_userns(&mut self, uid_map: &str, gid_map: &str) -> io::Result<H> {
        self.rec(format!(
            "new_userns uid[{}] gid[{}]",
            uid_map.trim(),
            gid_map.trim()
        ));
        Ok(self.h("userns".into()))
    }
    fn take_premade(&mut self, index: usize) -> io::Result<Option<H>> {
        Ok(self.premade.remove(&index).map(|label| {
            self.rec(format!("take_premade {index}"));
            H(label)
        }))
    }
    fn set_idmap(&mut self, mnt: &H, userns: &H, recursive: bool) -> io::Result<()> {
        self.rec(format!("set_idmap {} {} rec={recursive}", mnt.0, userns.0));
        Ok(())
    }
    fn attach(&mut self, mnt: &H, target: &H) -> io::Result<()> {
        self.rec(format!("attach {} -> {}", mnt.0, target.0));
        Ok(())
    }
    fn copy_tree(&mut self, from: &H, to: &H) -> io::Result<()> {
        self.rec(format!("copy_tree {} -> {}", from.0, to.0));
        Ok(())
    }
    fn mknod(&mut self, dir: &H, name: &OsStr, node: NodeSpec) -> io::Result<()> {
        self.rec(format!(
            "mknod {}/{} {:o} {}:{}",
            dir.0,
            name.to_string_lossy(),
            node.mode,
            node.major,
            node.minor
        ));
        Ok(())
    }
    fn chown(&mut self, dir: &H, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
        self.rec(format!(
            "chown {}/{} {uid}:{gid}",
            dir.0,
            name.to_string_lossy()
        ));
        Ok(())
    }
    fn symlink(&mut self, dir: &H, name: &OsStr, target: &Path, replace: bool) -> io::Result<()> {
        self.rec(format!(
            "symlink {}/{} -> {} replace={replace}",
            dir.0,
            name.to_string_lossy(),
            target.display()
        ));
        Ok(())
    }
    fn set_root_propagation(&mut self, p: PropagationChange) -> io::Result<()> {
        self.rec(format!("root_propagation {:?} rec={}", p.kind, p.recursive));
        Ok(())
    }
    fn make_containing_mount_private(&mut self, path: &Path) -> io::Result<()> {
        self.rec(format!("private_parent {}", path.display()));
        Ok(())
    }
    fn umask(&mut self, mask: u32) -> u32 {
        self.rec(format!("umask {mask:o}"));
        0o22
    }
    fn pivot_root(&mut self, new_root: &H) -> io::Result<()> {
        self.rec(format!("pivot_root {}", new_root.0));
        Ok(())
    }
    fn move_root(&mut self, new_root: &H) -> io::Result<()> {
        self.rec(format!("move_root {}", new_root.0));
        Ok(())
    }
    fn chroot_into(&mut self, new_root: &H) -> io::Result<()> {
        self.rec(format!("chroot {}", new_root.0));
        Ok(())
    }
    fn read_self_cgroup(&mut self) -> io::Result<String> {
        Ok(self.cgroup_text.clone())
    }
}
