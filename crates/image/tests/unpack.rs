//! Unpacking: file types, whiteouts, opaque dirs, inode replacement, every escape attempt,
//! and blob checks (digest, size, diffID) with the rootfs removed on failure.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use common::*;
use hezi_image::unpack::{unpack_layers, Expect, UnpackOptions, WhiteoutMode};
use hezi_image::ImageError;

fn expect_of(l: &Layer) -> Expect {
    Expect {
        digest: Some(sha(&l.blob)),
        size: Some(l.blob.len() as u64),
        diff_id: Some(l.diff_id.clone()),
        media_type: l.media_type.to_string(),
    }
}

fn unpack(root: &Path, layers: &[Layer]) -> Result<(), ImageError> {
    unpack_with(root, layers, UnpackOptions::default())
}

fn unpack_with(root: &Path, layers: &[Layer], opts: UnpackOptions) -> Result<(), ImageError> {
    let it = layers.iter().map(|l| Ok((l.blob.as_slice(), expect_of(l))));
    unpack_layers(root, it, opts).map(drop)
}

#[test]
fn files_dirs_links_modes_and_times() {
    let t = Tmp::new("unpack-basic");
    let root = t.join("rootfs");
    let l = gz_layer(&[
        E::Dir("etc/", 0o755),
        E::File("etc/hostname", b"box\n", 0o644),
        E::File("bin/tool", b"#!/bin/sh\n", 0o4755),
        E::Symlink("etc/link", "/etc/hostname"),
        E::Hardlink("etc/hard", "etc/hostname"),
        E::Dir("ro/", 0o555),
        E::File("ro/inside", b"x", 0o600),
    ]);
    unpack(&root, &[l]).unwrap();
    assert_eq!(fs::read(root.join("etc/hostname")).unwrap(), b"box\n");
    assert_eq!(
        fs::read_link(root.join("etc/link")).unwrap(),
        Path::new("/etc/hostname")
    );
    let a = fs::metadata(root.join("etc/hostname")).unwrap();
    let b = fs::metadata(root.join("etc/hard")).unwrap();
    assert_eq!(a.ino(), b.ino(), "hardlink shares the inode");
    assert_eq!(a.mtime(), 1_600_000_000);
    let tool = fs::metadata(root.join("bin/tool")).unwrap();
    assert_eq!(tool.permissions().mode() & 0o7777, 0o4755);
    let ro = fs::metadata(root.join("ro")).unwrap();
    assert_eq!(ro.permissions().mode() & 0o7777, 0o555);
    assert_eq!(
        ro.mtime(),
        1_600_000_000,
        "directory times are set after their children"
    );
    let implicit = fs::metadata(root.join("bin")).unwrap();
    assert_eq!(implicit.permissions().mode() & 0o7777, 0o755);
}

#[test]
fn whiteouts_remove_lower_entries() {
    let t = Tmp::new("unpack-wh");
    let root = t.join("rootfs");
    let l1 = gz_layer(&[
        E::Dir("a/", 0o755),
        E::File("a/b", b"1", 0o644),
        E::File("a/c", b"2", 0o644),
        E::Dir("a/d/", 0o755),
        E::File("a/d/e", b"3", 0o644),
    ]);
    let l2 = gz_layer(&[
        E::File("a/.wh.b", b"", 0o644),
        E::File("a/.wh.d", b"", 0o644),
    ]);
    unpack(&root, &[l1, l2]).unwrap();
    assert!(!root.join("a/b").exists());
    assert!(!root.join("a/d").exists());
    assert!(
        !root.join("a/.wh.b").exists(),
        "whiteout files are not written"
    );
    assert_eq!(fs::read(root.join("a/c")).unwrap(), b"2");
}

#[test]
fn opaque_whiteout_hides_lower_children_only() {
    let t = Tmp::new("unpack-opq");
    let root = t.join("rootfs");
    let l1 = gz_layer(&[
        E::Dir("d/", 0o755),
        E::File("d/old", b"1", 0o644),
        E::Dir("d/sub/", 0o755),
        E::File("d/sub/deep", b"2", 0o644),
    ]);
    // The opaque marker comes AFTER a sibling written by the same layer.
    let l2 = gz_layer(&[
        E::Dir("d/", 0o755),
        E::File("d/new", b"3", 0o644),
        E::File("d/sub/fresh", b"4", 0o644),
        E::File("d/.wh..wh..opq", b"", 0o644),
    ]);
    unpack(&root, &[l1, l2]).unwrap();
    let mut names: Vec<_> = fs::read_dir(root.join("d"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["new", "sub"]);
    let mut sub: Vec<_> = fs::read_dir(root.join("d/sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    sub.sort();
    assert_eq!(
        sub,
        vec!["fresh"],
        "lower content under a dir this layer wrote is hidden too"
    );
}

#[test]
fn inodes_are_replaced_not_written_through() {
    let t = Tmp::new("unpack-replace");
    let root = t.join("rootfs");
    let outside = t.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("victim"), b"safe").unwrap();
    let target = outside.join("victim").display().to_string();
    let l1 = gz_layer(&[
        E::File("f", b"original", 0o644),
        E::Hardlink("g", "f"),
        E::Symlink("s", &target),
    ]);
    let l2 = gz_layer(&[
        E::File("g", b"changed", 0o644),
        E::File("s", b"pwned", 0o644),
    ]);
    unpack(&root, &[l1, l2]).unwrap();
    assert_eq!(fs::read(root.join("f")).unwrap(), b"original");
    assert_eq!(fs::read(root.join("g")).unwrap(), b"changed");
    assert_eq!(fs::read(outside.join("victim")).unwrap(), b"safe");
    assert!(fs::symlink_metadata(root.join("s")).unwrap().is_file());
}

fn assert_escape(layers: Vec<Layer>, what: &str) {
    let t = Tmp::new("unpack-escape");
    let root = t.join("rootfs");
    let outside = t.join("outside");
    fs::create_dir_all(&outside).unwrap();
    let err = unpack(&root, &layers).expect_err(what);
    assert!(
        matches!(
            err,
            ImageError::Escape { .. }
                | ImageError::BadEntry { .. }
                | ImageError::NotADirectory { .. }
        ),
        "{what}: unexpected error {err}"
    );
    eprintln!("{what}: {err}");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "{what}: something was written outside"
    );
    assert!(!root.exists(), "{what}: failed rootfs must be removed");
}

#[test]
fn escapes_are_errors_and_write_nothing_outside() {
    assert_escape(
        vec![gz_layer(&[E::File("/../outside/x", b"x", 0o644)])],
        "absolute path climbing out",
    );
    assert_escape(
        vec![gz_layer(&[E::File("../outside/x", b"x", 0o644)])],
        "dot-dot",
    );
    assert_escape(
        vec![gz_layer(&[E::File("a/../../outside/x", b"x", 0o644)])],
        "inner dot-dot",
    );
    assert_escape(
        vec![gz_layer(&[E::Hardlink("pw", "/etc/passwd")])],
        "hardlink to /etc/passwd",
    );
    assert_escape(
        vec![gz_layer(&[E::Hardlink("pw", "../../../../etc/passwd")])],
        "hardlink out by dot-dot",
    );
    assert_escape(
        vec![gz_layer(&[
            E::Symlink("esc", "../outside"),
            E::Hardlink("h", "esc/x"),
        ])],
        "hardlink through symlink (resolved in-root: <rootfs>/outside/x does not exist)",
    );
    assert_escape(
        vec![gz_layer(&[
            E::Symlink("e", "/etc"),
            E::Hardlink("pw", "e/passwd"),
        ])],
        "hardlink through a link to /etc (in-root: <rootfs>/etc/passwd does not exist)",
    );
    assert_escape(
        vec![gz_layer(&[E::Dir("d/", 0o755), E::Hardlink("h", "d")])],
        "hardlink to a directory",
    );
    assert_escape(
        vec![gz_layer(&[
            E::Symlink("loop", "loop"),
            E::File("loop/x", b"x", 0o644),
        ])],
        "symlink loop",
    );
    assert_escape(
        vec![gz_layer(&[
            E::File("f", b"", 0o644),
            E::File("f/x", b"x", 0o644),
        ])],
        "file used as a directory",
    );
    assert_escape(
        vec![gz_layer(&[E::File(".wh.", b"", 0o644)])],
        "bare whiteout",
    );
    assert_escape(
        vec![gz_layer(&[E::File(".wh.../..", b"", 0o644)])],
        "whiteout dot-dot path",
    );
    assert_escape(
        vec![gz_layer(&[E::File("d/.wh...", b"", 0o644)])],
        "whiteout of ..",
    );
}

/// Unpacks `layers` into `<tmp>/rootfs` next to a populated `<tmp>/outside` and checks that
/// `outside` is unchanged; returns the temp dir for further checks.
fn unpack_in_root(layers: Vec<Layer>, what: &str) -> Tmp {
    let t = Tmp::new("unpack-inroot");
    let root = t.join("rootfs");
    let outside = t.join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("victim"), b"safe").unwrap();
    unpack(&root, &layers).unwrap_or_else(|e| panic!("{what}: {e}"));
    let names: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec!["victim"],
        "{what}: something was written outside"
    );
    assert_eq!(fs::read(outside.join("victim")).unwrap(), b"safe", "{what}");
    t
}

#[test]
fn writes_through_symlinks_stay_inside_the_rootfs() {
    // A link to `/`: the write lands at <rootfs>/x, never at the host's /.
    let name = hezi_testsupport::unique_id("hezi-inroot");
    let file = format!("up/{name}");
    let t = unpack_in_root(
        vec![gz_layer(&[
            E::Symlink("up", "/"),
            E::File(&file, b"x", 0o644),
        ])],
        "link to /",
    );
    assert_eq!(fs::read(t.join("rootfs").join(&name)).unwrap(), b"x");
    assert!(!Path::new("/").join(&name).exists(), "host / was written");

    // Relative links that climb are clamped at the rootfs.
    let t = unpack_in_root(
        vec![gz_layer(&[
            E::Symlink("esc", "../outside"),
            E::File("esc/x", b"x", 0o644),
        ])],
        "relative link out",
    );
    assert_eq!(fs::read(t.join("rootfs/outside/x")).unwrap(), b"x");

    let t = unpack_in_root(
        vec![
            gz_layer(&[E::Symlink("esc", "../../../../../outside")]),
            gz_layer(&[E::File("esc/x", b"x", 0o644)]),
        ],
        "link from layer 1 used by layer 2",
    );
    assert_eq!(fs::read(t.join("rootfs/outside/x")).unwrap(), b"x");
    assert!(fs::symlink_metadata(t.join("rootfs/esc"))
        .unwrap()
        .file_type()
        .is_symlink());

    // Absolute link to the outside dir's host path: taken as a path inside the rootfs.
    let t0 = Tmp::new("unpack-inroot-abs");
    let host_outside = t0.join("outside");
    fs::create_dir_all(&host_outside).unwrap();
    let target = host_outside.display().to_string();
    let root = t0.join("rootfs");
    unpack(
        &root,
        &[gz_layer(&[
            E::Symlink("abs", &target),
            E::File("abs/x", b"x", 0o644),
            E::File("abs/.wh.y", b"", 0o644),
        ])],
    )
    .unwrap();
    assert_eq!(fs::read_dir(&host_outside).unwrap().count(), 0);
    let inside = root.join(target.trim_start_matches('/')).join("x");
    assert_eq!(fs::read(inside).unwrap(), b"x");

    // Whiteouts through a link to / remove inside the rootfs only.
    let t = unpack_in_root(
        vec![
            gz_layer(&[
                E::Dir("outside/", 0o755),
                E::File("outside/victim", b"in", 0o644),
            ]),
            gz_layer(&[
                E::Symlink("up", "/../.."),
                E::File("up/outside/.wh.victim", b"", 0o644),
            ]),
        ],
        "whiteout through link",
    );
    assert!(!t.join("rootfs/outside/victim").exists());

    // `..` inside a name that stays in the root is normalised.
    let t = unpack_in_root(
        vec![gz_layer(&[E::File("a/b/../c", b"c", 0o644)])],
        "inner dot-dot that stays inside",
    );
    assert_eq!(fs::read(t.join("rootfs/a/c")).unwrap(), b"c");
    assert!(
        !t.join("rootfs/a/b").exists(),
        "normalised lexically, as umoci does"
    );
}

#[test]
fn merged_usr_and_relative_links_across_layers() {
    let t = unpack_in_root(
        vec![
            gz_layer(&[
                E::Dir("usr/", 0o755),
                E::Dir("usr/lib/", 0o755),
                E::File("usr/lib/old", b"old", 0o644),
                E::Symlink("lib", "usr/lib"),
                E::Dir("var/", 0o755),
                E::Symlink("var/run", "/run"),
                E::Dir("etc/", 0o755),
                E::Dir("etc/alternatives/", 0o755),
                E::Symlink("etc/alternatives/editor", "/bin/busybox"),
            ]),
            gz_layer(&[
                E::File("lib/a", b"a", 0o644),
                E::File("lib/sub/deep", b"deep", 0o644),
                E::File("var/run/x", b"run", 0o644),
                E::File("lib/.wh.old", b"", 0o644),
                E::Hardlink("hard", "lib/a"),
            ]),
        ],
        "merged /usr",
    );
    let root = t.join("rootfs");
    assert_eq!(fs::read(root.join("usr/lib/a")).unwrap(), b"a");
    assert_eq!(fs::read(root.join("usr/lib/sub/deep")).unwrap(), b"deep");
    assert_eq!(fs::read(root.join("run/x")).unwrap(), b"run");
    assert!(!root.join("usr/lib/old").exists());
    assert!(fs::symlink_metadata(root.join("lib"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        fs::metadata(root.join("hard")).unwrap().ino(),
        fs::metadata(root.join("usr/lib/a")).unwrap().ino()
    );
    assert!(!Path::new("/run/x").exists() || fs::read("/run/x").unwrap() != b"run");
}

#[test]
fn final_component_is_replaced_not_followed() {
    // Layer 2 writes a file, a dir and a symlink where layer 1 had symlinks to dirs: the
    // links are replaced; their targets are untouched.
    let t = unpack_in_root(
        vec![
            gz_layer(&[
                E::Dir("d/", 0o755),
                E::File("d/keep", b"k", 0o644),
                E::Symlink("f", "d"),
                E::Symlink("g", "d"),
                E::Symlink("h", "d"),
            ]),
            gz_layer(&[
                E::File("f", b"file", 0o644),
                E::Dir("g/", 0o700),
                E::Symlink("h", "elsewhere"),
            ]),
        ],
        "replace links",
    );
    let root = t.join("rootfs");
    assert!(fs::symlink_metadata(root.join("f")).unwrap().is_file());
    assert!(fs::symlink_metadata(root.join("g")).unwrap().is_dir());
    assert_eq!(
        fs::read_link(root.join("h")).unwrap(),
        Path::new("elsewhere")
    );
    assert_eq!(fs::read(root.join("d/keep")).unwrap(), b"k");
}

#[test]
fn directory_replaced_by_symlink_within_a_layer() {
    // The parent cache must not keep the removed directory alive.
    let t = unpack_in_root(
        vec![gz_layer(&[
            E::Dir("a/", 0o755),
            E::File("a/one", b"1", 0o644),
            E::Dir("b/", 0o755),
            E::Symlink("a", "b"),
            E::File("a/two", b"2", 0o644),
        ])],
        "dir then link",
    );
    let root = t.join("rootfs");
    assert_eq!(fs::read(root.join("b/two")).unwrap(), b"2");
    assert!(!root.join("b/one").exists());
}

#[test]
fn opaque_whiteout_through_a_link_keeps_what_the_layer_wrote() {
    let t = unpack_in_root(
        vec![
            gz_layer(&[
                E::Dir("usr/", 0o755),
                E::Dir("usr/lib/", 0o755),
                E::File("usr/lib/lower", b"l", 0o644),
                E::Dir("usr/lib/dir/", 0o755),
                E::File("usr/lib/dir/lower", b"l", 0o644),
                E::Symlink("lib", "usr/lib"),
            ]),
            gz_layer(&[
                // Written through the link, then the dir made opaque by its real name.
                E::File("lib/new", b"n", 0o644),
                E::File("lib/dir/fresh", b"f", 0o644),
                E::File("usr/lib/.wh..wh..opq", b"", 0o644),
            ]),
        ],
        "opaque through link",
    );
    let root = t.join("rootfs");
    let mut names: Vec<_> = fs::read_dir(root.join("usr/lib"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["dir", "new"]);
    let sub: Vec<_> = fs::read_dir(root.join("usr/lib/dir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(sub, vec!["fresh"]);
}

#[test]
fn compressions_and_checks() {
    let t = Tmp::new("unpack-checks");
    let tar = tar(&[E::File("x", b"hello", 0o644)]);
    let plain = Layer {
        diff_id: sha(&tar),
        blob: tar.clone(),
        media_type: hezi_image::media::OCI_LAYER,
    };
    let z = Layer {
        diff_id: sha(&tar),
        blob: zstd(&tar),
        media_type: hezi_image::media::OCI_LAYER_ZSTD,
    };
    // Docker media type with gzip content.
    let d = Layer {
        diff_id: sha(&tar),
        blob: gzip(&tar),
        media_type: hezi_image::media::DOCKER_LAYER_GZIP,
    };
    for (i, l) in [plain, z, d].into_iter().enumerate() {
        let root = t.join(&format!("r{i}"));
        unpack(&root, &[l]).unwrap();
        assert_eq!(fs::read(root.join("x")).unwrap(), b"hello");
    }

    let good = gz_layer(&[E::File("x", b"hello", 0o644)]);
    // Wrong digest.
    let root = t.join("bad-digest");
    let mut e = expect_of(&good);
    e.digest = Some(sha(b"something else"));
    let err = unpack_layers(
        &root,
        [Ok((good.blob.as_slice(), e))],
        UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(!root.exists());
    // Wrong diffID.
    let root = t.join("bad-diffid");
    let mut e = expect_of(&good);
    e.diff_id = Some(sha(b"nope"));
    let err = unpack_layers(
        &root,
        [Ok((good.blob.as_slice(), e))],
        UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::DiffIdMismatch { .. }), "{err}");
    assert!(!root.exists());
    // Oversize: more bytes than the descriptor says.
    let root = t.join("oversize");
    let mut e = expect_of(&good);
    e.size = Some(good.blob.len() as u64 - 5);
    let err = unpack_layers(
        &root,
        [Ok((good.blob.as_slice(), e))],
        UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::SizeMismatch { .. }), "{err}");
    // Truncated.
    let root = t.join("truncated");
    let e = expect_of(&good);
    let cut = &good.blob[..good.blob.len() / 2];
    let err = unpack_layers(&root, [Ok((cut, e))], UnpackOptions::default()).unwrap_err();
    assert!(!root.exists(), "{err}");
    // Corrupt content.
    let root = t.join("corrupt");
    let mut bytes = good.blob.clone();
    let n = bytes.len();
    bytes[n - 12] ^= 0xff;
    let err = unpack_layers(
        &root,
        [Ok((bytes.as_slice(), expect_of(&good)))],
        UnpackOptions::default(),
    )
    .unwrap_err();
    assert!(!root.exists(), "{err}");
}

/// Device number fields: blank ones (left so by some writers for FIFOs) read as 0, as Go's
/// archive/tar reads them; one that is not an octal number is a corrupt header and fails
/// the unpack naming the entry, instead of making device 0.
#[test]
fn blank_device_fields_are_zero_and_garbage_is_an_error() {
    let t = Tmp::new("unpack-devfields");
    let fifo = |major: &[u8; 8]| {
        let mut h = tar::Header::new_ustar();
        h.set_path("run/fifo").unwrap();
        h.set_entry_type(tar::EntryType::Fifo);
        h.set_size(0);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_600_000_000);
        h.as_ustar_mut().unwrap().dev_major = *major;
        h.as_ustar_mut().unwrap().dev_minor = *b"       \0";
        h.set_cksum();
        let mut b = tar::Builder::new(Vec::new());
        b.append(&h, &[][..]).unwrap();
        let tar = b.into_inner().unwrap();
        Layer {
            diff_id: sha(&tar),
            blob: gzip(&tar),
            media_type: hezi_image::media::OCI_LAYER_GZIP,
        }
    };
    let root = t.join("blank");
    unpack(&root, &[fifo(&[0; 8])]).unwrap();
    assert!(fs::metadata(root.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let root = t.join("garbage");
    let err = unpack(&root, &[fifo(b"zz\0\0\0\0\0\0")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("run/fifo") && err.contains("device major"),
        "{err}"
    );
}

#[test]
fn fifo_xattr_owner_and_devices() {
    let t = Tmp::new("unpack-special");
    let root = t.join("rootfs");
    let mut entries = vec![
        E::Fifo("run/fifo"),
        E::Xattr("x", b"data", "user.hezi", b"v1"),
    ];
    if is_root() {
        entries.push(E::Char("dev/null", 1, 3));
        entries.push(E::Owned("home/alice/file", b"a", 0o640, 1000, 1001));
    }
    unpack(&root, &[gz_layer(&entries)]).unwrap();
    assert!(fs::metadata(root.join("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    // user.* xattrs need filesystem support; check when the fs has it.
    let mut buf = [0u8; 16];
    let p = std::ffi::CString::new(root.join("x").display().to_string()).unwrap();
    // SAFETY: valid C strings and buffer.
    let n = unsafe {
        libc::getxattr(
            p.as_ptr(),
            c"user.hezi".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n >= 0 {
        assert_eq!(&buf[..n as usize], b"v1");
    } else {
        eprintln!("user xattrs unsupported here; xattr value not checked");
    }
    if is_root() {
        let m = fs::metadata(root.join("dev/null")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), libc::makedev(1, 3));
        let o = fs::metadata(root.join("home/alice/file")).unwrap();
        assert_eq!((o.uid(), o.gid(), o.mode() & 0o7777), (1000, 1001, 0o640));
    } else {
        eprintln!("skipped device/owner part: needs root");
    }
}

#[test]
fn overlay_mode_writes_overlay_whiteouts() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let t = Tmp::new("unpack-overlay");
    let root = t.join("layer");
    let l = gz_layer(&[
        E::Dir("d/", 0o755),
        E::File("d/.wh..wh..opq", b"", 0o644),
        E::File(".wh.gone", b"", 0o644),
        E::File("d/keep", b"k", 0o644),
    ]);
    let opts = UnpackOptions {
        whiteouts: WhiteoutMode::Overlay,
        ..UnpackOptions::default()
    };
    unpack_with(&root, &[l], opts).unwrap();
    let m = fs::symlink_metadata(root.join("gone")).unwrap();
    assert!(m.file_type().is_char_device());
    assert_eq!(m.rdev(), 0);
    let p = std::ffi::CString::new(root.join("d").display().to_string()).unwrap();
    let mut buf = [0u8; 4];
    // SAFETY: valid C strings and buffer.
    let n = unsafe {
        libc::getxattr(
            p.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    assert_eq!(n, 1);
    assert_eq!(buf[0], b'y');
    assert_eq!(fs::read(root.join("d/keep")).unwrap(), b"k");
}

/// umoci writes `/` (or `./`) first in every layer: the root itself, its mode applied to the
/// rootfs; other absolute names are resolved inside the rootfs.
#[test]
fn root_entries_and_absolute_names_stay_inside() {
    for root_name in ["/", "./"] {
        let t = Tmp::new("unpack-rootent");
        let root = t.join("rootfs");
        let l = gz_layer(&[
            E::Dir(root_name, 0o750),
            E::Dir("/etc/", 0o755),
            E::File("/etc/hostname", b"umoci\n", 0o644),
        ]);
        unpack(&root, &[l]).unwrap_or_else(|e| panic!("{root_name:?}: {e}"));
        assert_eq!(fs::read(root.join("etc/hostname")).unwrap(), b"umoci\n");
        let m = fs::metadata(&root).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o750, "{root_name:?}");
        assert_eq!(m.mtime(), 1_600_000_000, "{root_name:?}: the root's time");
    }
    // `..` above the root stays an error.
    let t = Tmp::new("unpack-rootent-esc");
    let l = gz_layer(&[E::File("/../x", b"no", 0o644)]);
    assert!(unpack(&t.join("rootfs"), &[l]).is_err());
}

/// umoci 0.4.7 writes whiteouts under a path its own layer turned from a directory into a
/// file: there is nothing to remove.
#[test]
fn whiteouts_under_a_directory_the_layer_made_a_file_are_accepted() {
    let t = Tmp::new("unpack-nested-wh");
    let root = t.join("rootfs");
    let l1 = gz_layer(&[
        E::Dir("a/", 0o755),
        E::File("a/b", b"1", 0o644),
        E::Dir("a/c/", 0o755),
    ]);
    let l2 = gz_layer(&[
        E::File("a", b"now a file", 0o644),
        E::File("a/.wh.b", b"", 0o644),
        E::File("a/c/.wh.d", b"", 0o644),
    ]);
    unpack(&root, &[l1, l2]).unwrap();
    assert_eq!(fs::read(root.join("a")).unwrap(), b"now a file");
}

/// A directory a later layer writes into (without an entry of its own) keeps the time its
/// own layer gave it, as umoci restores it.
#[test]
fn a_directory_touched_by_a_later_layer_keeps_its_time() {
    let t = Tmp::new("unpack-dir-mtime");
    let root = t.join("rootfs");
    let l1 = gz_layer(&[E::Dir("etc/", 0o755), E::File("etc/a", b"1", 0o644)]);
    let l2 = gz_layer(&[
        E::File("etc/b", b"2", 0o644),
        E::File("etc/.wh.a", b"", 0o644),
    ]);
    unpack(&root, &[l1, l2]).unwrap();
    assert!(root.join("etc/b").exists() && !root.join("etc/a").exists());
    assert_eq!(
        fs::metadata(root.join("etc")).unwrap().mtime(),
        1_600_000_000
    );
}

fn xattr_of(p: &Path, key: &std::ffi::CStr) -> Option<Vec<u8>> {
    let mut buf = [0u8; 64];
    let c = std::ffi::CString::new(p.display().to_string()).unwrap();
    // SAFETY: valid C strings and buffer.
    let n =
        unsafe { libc::lgetxattr(c.as_ptr(), key.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}

#[test]
fn root_entry_and_absolute_names_apply_inside_the_rootfs() {
    for root_name in ["/", "./"] {
        let t = Tmp::new("unpack-rootentry");
        let root = t.join("rootfs");
        let l1 = gz_layer(&[
            E::DirFull(
                root_name,
                0o750,
                1000,
                1001,
                1_500_000_000,
                Some(("user.root", b"r")),
            ),
            E::Dir("/etc/", 0o755),
            E::File("/etc/abs", b"abs", 0o644),
            E::File("//usr/./bin/tool", b"t", 0o755),
            E::File("./rel", b"rel", 0o600),
        ]);
        unpack(&root, &[l1]).unwrap_or_else(|e| panic!("{root_name}: {e}"));
        assert_eq!(fs::read(root.join("etc/abs")).unwrap(), b"abs");
        assert_eq!(fs::read(root.join("usr/bin/tool")).unwrap(), b"t");
        assert_eq!(fs::read(root.join("rel")).unwrap(), b"rel");
        let m = fs::metadata(&root).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o750, "{root_name}: mode of the rootfs");
        assert_eq!(
            m.mtime(),
            1_500_000_000,
            "{root_name}: times after the children"
        );
        if is_root() {
            assert_eq!((m.uid(), m.gid()), (1000, 1001), "{root_name}: owner");
        }
        match xattr_of(&root, c"user.root") {
            Some(v) => assert_eq!(v, b"r"),
            None => eprintln!("user xattrs unsupported here; rootfs xattr not checked"),
        }
    }
    // A `/` entry that is not a directory is refused.
    let t = Tmp::new("unpack-rootfile");
    let err = unpack(&t.join("rootfs"), &[gz_layer(&[E::File("/", b"", 0o644)])]).unwrap_err();
    assert!(matches!(err, ImageError::BadEntry { .. }), "{err}");
}

#[test]
fn whiteouts_under_a_directory_turned_file_are_accepted() {
    for mode in [WhiteoutMode::Apply, WhiteoutMode::Overlay] {
        let t = Tmp::new("unpack-whfile");
        let root = t.join("rootfs");
        let l1 = gz_layer(&[
            E::Dir("d/", 0o755),
            E::File("d/x", b"x", 0o644),
            E::Dir("d/sub/", 0o755),
        ]);
        // umoci 0.4.7: `d` becomes a file and whiteouts for its old children follow.
        let l2 = gz_layer(&[
            E::File("d", b"now a file", 0o644),
            E::File("d/.wh.x", b"", 0o644),
            E::File("d/sub/.wh.y", b"", 0o644),
            E::File("d/.wh..wh..opq", b"", 0o644),
        ]);
        let opts = UnpackOptions {
            whiteouts: mode,
            ..Default::default()
        };
        unpack_with(&root, &[l1, l2], opts).unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(fs::read(root.join("d")).unwrap(), b"now a file", "{mode:?}");
    }
    // A file in the way of a real entry is still an error.
    let t = Tmp::new("unpack-whfile-bad");
    let err = unpack(
        &t.join("rootfs"),
        &[gz_layer(&[
            E::File("f", b"", 0o644),
            E::File("f/x", b"x", 0o644),
        ])],
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::NotADirectory { .. }), "{err}");
}

#[test]
fn directory_times_survive_later_writes() {
    let t = Tmp::new("unpack-dirtimes");
    let root = t.join("rootfs");
    let l1 = gz_layer(&[
        E::DirFull("./", 0o755, 0, 0, 1_400_000_000, None),
        E::DirFull("d/", 0o755, 0, 0, 1_500_000_000, None),
        E::File("d/old", b"o", 0o644),
        E::DirFull("d/e/", 0o755, 0, 0, 1_510_000_000, None),
        E::File("d/e/gone", b"g", 0o644),
        E::DirFull("opq/", 0o755, 0, 0, 1_520_000_000, None),
        E::File("opq/lower", b"l", 0o644),
    ]);
    // No entries for `./`, `d/`, `d/e/` or `opq/`: files added, whiteouts, an opaque dir.
    let l2 = gz_layer(&[
        E::File("top", b"t", 0o644),
        E::File("d/new", b"n", 0o644),
        E::File("d/.wh.old", b"", 0o644),
        E::File("d/e/.wh.gone", b"", 0o644),
        E::File("opq/.wh..wh..opq", b"", 0o644),
    ]);
    // Same layer: an entry for `late/` and later entries inside it.
    let l3 = gz_layer(&[
        E::DirFull("late/", 0o755, 0, 0, 1_530_000_000, None),
        E::File("late/a", b"a", 0o644),
        E::File("late/.wh.a", b"", 0o644),
        E::File("late/b", b"b", 0o644),
    ]);
    unpack(&root, &[l1, l2, l3]).unwrap();
    assert!(!root.join("d/old").exists() && root.join("d/new").exists());
    assert!(!root.join("opq/lower").exists());
    let mtime = |p: &str| fs::symlink_metadata(root.join(p)).unwrap().mtime();
    assert_eq!(mtime(""), 1_400_000_000, "rootfs");
    assert_eq!(mtime("d"), 1_500_000_000, "d");
    assert_eq!(mtime("d/e"), 1_510_000_000, "d/e");
    assert_eq!(mtime("opq"), 1_520_000_000, "opq");
    assert_eq!(mtime("late"), 1_530_000_000, "late");
}

/// A tar stream whose first header is a GNU long name of 1 GiB, followed by zeros without
/// end; counts what was read from it.
struct HugeLongName {
    header: Vec<u8>,
    pos: usize,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Read for HugeLongName {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = if self.pos < self.header.len() {
            let k = (self.header.len() - self.pos).min(buf.len());
            buf[..k].copy_from_slice(&self.header[self.pos..self.pos + k]);
            self.pos += k;
            k
        } else {
            buf.fill(b'a');
            buf.len()
        };
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

#[test]
fn huge_long_name_header_fails_fast() {
    let t = Tmp::new("unpack-hugename");
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(1 << 30);
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_cksum();
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let src = HugeLongName {
        header: h.as_bytes().to_vec(),
        pos: 0,
        read: read.clone(),
    };
    let layers = vec![Ok((src, Expect::default()))];
    let err = unpack_layers(&t.join("rootfs"), layers, UnpackOptions::default()).unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    let n = read.load(std::sync::atomic::Ordering::Relaxed);
    // Read-ahead of the decompression thread only (channel and buffers), not the name.
    assert!(n < 64 << 20, "read {n} bytes before failing");
}

/// `max_layer_size` stops a layer that expands beyond it, names the limit, and removes the
/// rootfs this unpack created; the same layer passes under a larger limit.
#[test]
fn max_layer_size_refuses_a_layer_that_expands_beyond_it() {
    let t = Tmp::new("unpack-max-size");
    // 2 MiB of zeros: a few KiB compressed.
    let big = vec![0u8; 2 << 20];
    let l = gz_layer(&[E::File("big", &big, 0o644)]);
    let root = t.join("small-limit");
    let opts = UnpackOptions {
        max_layer_size: Some(1 << 20),
        ..UnpackOptions::default()
    };
    let err = unpack_with(&root, std::slice::from_ref(&l), opts).unwrap_err();
    assert!(
        matches!(err, ImageError::LayerTooLarge { limit, .. } if limit == 1 << 20),
        "{err}"
    );
    assert!(err.to_string().contains("--max-layer-size"), "{err}");
    assert!(!root.exists(), "the failed rootfs was left behind");

    let root = t.join("large-limit");
    let opts = UnpackOptions {
        max_layer_size: Some(4 << 20),
        ..UnpackOptions::default()
    };
    unpack_with(&root, &[l], opts).unwrap();
    assert_eq!(fs::metadata(root.join("big")).unwrap().len(), 2 << 20);
}

/// A failed unpack into an existing empty directory (`image unpack --rootfs-only` into a
/// directory the user made) leaves it empty again; into a non-empty one it keeps what was
/// there before.
#[test]
fn failed_unpack_into_an_existing_dir_leaves_no_partial_layer() {
    let t = Tmp::new("unpack-existing");
    let good = gz_layer(&[
        E::Dir("etc/", 0o755),
        E::File("etc/a", b"a", 0o644),
        E::File("b", b"b", 0o644),
    ]);
    let hostile = gz_layer(&[E::File("c", b"c", 0o644), E::File("../evil", b"x", 0o644)]);
    let layers = [good, hostile];

    let empty = t.join("empty");
    fs::create_dir(&empty).unwrap();
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o750)).unwrap();
    assert!(unpack(&empty, &layers).is_err());
    assert!(empty.is_dir(), "the user's directory was removed");
    let left: Vec<_> = fs::read_dir(&empty)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "partial layers left: {left:?}");
    assert_eq!(fs::metadata(&empty).unwrap().mode() & 0o777, 0o750);

    let full = t.join("full");
    fs::create_dir(&full).unwrap();
    fs::write(full.join("mine"), b"m").unwrap();
    assert!(unpack(&full, &layers).is_err());
    assert_eq!(fs::read(full.join("mine")).unwrap(), b"m");
    assert!(!t.join("evil").exists());
}
