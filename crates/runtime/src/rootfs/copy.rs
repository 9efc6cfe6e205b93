//! A recursive copy between two directory fds, for `tmpcopyup`: everything is opened relative
//! to the fds with `O_NOFOLLOW`, so a symlink in the source is copied as a symlink and never
//! followed.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{fchmodat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};

/// Directory depth at which the copy gives up (ELOOP).
const MAX_DEPTH: u32 = 128;

fn errno(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Copies the contents of directory `from` into directory `to`.
pub fn copy_tree(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    copy_dir(from, to, 0)
}

fn copy_dir(from: BorrowedFd<'_>, to: BorrowedFd<'_>, depth: u32) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::from_raw_os_error(libc::ELOOP));
    }
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut dir = nix::dir::Dir::openat(from, c".", flags, Mode::empty()).map_err(errno)?;
    let mut names: Vec<CString> = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(errno)?;
        let name = entry.file_name();
        if name != c"." && name != c".." {
            names.push(name.to_owned());
        }
    }
    drop(dir);
    for name in names {
        copy_entry(from, to, &name, depth)?;
    }
    Ok(())
}

fn copy_entry(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    name: &CString,
    depth: u32,
) -> io::Result<()> {
    let name = name.as_c_str();
    let st = fstatat(from, name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(errno)?;
    let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
    let fmt = st.st_mode & libc::S_IFMT;
    let nofollow_path = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    match fmt {
        libc::S_IFDIR => {
            mkdirat(to, name, perm).map_err(errno)?;
            let sub_from = openat(
                from,
                name,
                nofollow_path | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
            .map_err(errno)?;
            let sub_to = openat(to, name, nofollow_path | OFlag::O_DIRECTORY, Mode::empty())
                .map_err(errno)?;
            copy_dir(sub_from.as_fd(), sub_to.as_fd(), depth + 1)?;
        }
        libc::S_IFREG => {
            let src = openat(
                from,
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno)?;
            let create = OFlag::O_WRONLY
                | OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            let dst = openat(to, name, create, perm).map_err(errno)?;
            io::copy(&mut File::from(src), &mut File::from(dst))?;
        }
        libc::S_IFLNK => {
            let target = readlinkat(from, name).map_err(errno)?;
            symlinkat(target.as_os_str(), to, name).map_err(errno)?;
        }
        _ => {
            let kind = SFlag::from_bits_truncate(fmt);
            mknodat(to, name, kind, perm, st.st_rdev).map_err(errno)?;
        }
    }
    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
    fchownat(to, name, Some(uid), Some(gid), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(errno)?;
    if fmt != libc::S_IFLNK {
        // chown clears set-id bits: put the mode back. The entry is ours and fresh.
        fchmodat(to, name, perm, FchmodatFlags::FollowSymlink).map_err(errno)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_files_dirs_and_symlinks_without_following() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (t.path().join("src"), t.path().join("dst"));
        std::fs::create_dir_all(src.join("d/e")).unwrap();
        std::fs::create_dir(&dst).unwrap();
        std::fs::write(src.join("d/e/f"), "hello").unwrap();
        std::fs::set_permissions(src.join("d/e/f"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let open = |p: &std::path::Path| File::open(p).unwrap();
        let (s, d) = (open(&src), open(&dst));
        copy_tree(s.as_fd(), d.as_fd()).unwrap();
        assert_eq!(std::fs::read_to_string(dst.join("d/e/f")).unwrap(), "hello");
        let mode = std::fs::metadata(dst.join("d/e/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640);
        assert_eq!(
            std::fs::read_link(dst.join("link")).unwrap(),
            std::path::Path::new("/etc/passwd")
        );
        // Copying again fails (EEXIST) rather than writing through existing entries.
        assert!(copy_tree(s.as_fd(), d.as_fd()).is_err());
    }
}
