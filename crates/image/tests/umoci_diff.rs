//! Differential test against Debian's umoci: the same image unpacked by `umoci unpack` and
//! by hezi gives the same tree (paths, types, modes, owners, link targets, file hashes,
//! device numbers). Needs root (umoci unpack as root keeps owners and makes devices).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use common::*;
use hezi_image::unpack::UnpackOptions;
use hezi_image::Store;
use serde_json::json;

/// path → description of everything compared.
fn walk(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if ft.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if ft.is_symlink() {
                format!("symlink->{}", fs::read_link(&p).unwrap().display())
            } else if ft.is_file() {
                format!("file:{}:nlink{}", sha(&fs::read(&p).unwrap()), m.nlink())
            } else if ft.is_char_device() || ft.is_block_device() {
                format!("dev:{}", m.rdev())
            } else if ft.is_fifo() {
                "fifo".to_string()
            } else {
                "other".to_string()
            };
            let mode = if ft.is_symlink() {
                0
            } else {
                m.mode() & 0o7777
            };
            out.insert(
                rel,
                format!("{what} mode={mode:o} uid={} gid={}", m.uid(), m.gid()),
            );
        }
    }
    out
}

/// True when the differential tests can run (root and umoci present); says why not.
fn can_compare() -> bool {
    if !is_root() {
        eprintln!("skipped: needs root");
        return false;
    }
    if !Command::new("umoci")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        eprintln!("skipped: umoci not installed");
        return false;
    }
    true
}

/// Unpacks `layers` with umoci and with hezi and returns both trees.
fn both(
    t: &Tmp,
    tag: &str,
    layers: &[Layer],
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let dir = t.join(tag);
    layout(&dir.join("layout"), "img", layers, json!({}));
    let bundle = dir.join("umoci-bundle");
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:img", dir.join("layout").display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tag}: umoci unpack: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(dir.join("store")).unwrap();
    hezi_image::archive::import(&store, &dir.join("layout"), None, None).unwrap();
    let img = store.image("img", None).unwrap();
    let ours = dir.join("hezi-rootfs");
    store
        .unpack(&img, &ours, UnpackOptions::default())
        .unwrap_or_else(|e| panic!("{tag}: hezi unpack: {e}"));
    (walk(&bundle.join("rootfs")), walk(&ours))
}

fn differences(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut diffs = Vec::new();
    for k in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if a.get(k) != b.get(k) {
            diffs.push(format!("{k}: umoci={:?} hezi={:?}", a.get(k), b.get(k)));
        }
    }
    diffs
}

#[test]
fn writes_through_in_root_links_match_umoci() {
    if !can_compare() {
        return;
    }
    let t = Tmp::new("umoci-links");
    let cases: Vec<(&str, Vec<Layer>, &[&str])> = vec![
        (
            "merged-usr",
            vec![
                gz_layer(&[
                    E::Dir("usr/", 0o755),
                    E::Dir("usr/lib/", 0o755),
                    E::Symlink("lib", "usr/lib"),
                ]),
                gz_layer(&[E::File("lib/a", b"a", 0o644)]),
            ],
            &["usr/lib/a"],
        ),
        (
            "absolute-var-run",
            vec![
                gz_layer(&[
                    E::Dir("run/", 0o755),
                    E::Dir("var/", 0o755),
                    E::Symlink("var/run", "/run"),
                ]),
                gz_layer(&[E::File("var/run/x", b"x", 0o644)]),
            ],
            &["run/x"],
        ),
        (
            "link-to-slash",
            vec![
                gz_layer(&[E::Symlink("up", "/")]),
                gz_layer(&[E::File("up/through-root", b"r", 0o644)]),
            ],
            &["through-root"],
        ),
        (
            "climbing-link",
            vec![
                gz_layer(&[E::Dir("d/", 0o755), E::Symlink("d/esc", "../../../../d")]),
                gz_layer(&[E::File("d/esc/x", b"x", 0o644)]),
            ],
            &["d/x"],
        ),
        (
            "whiteout-through-link",
            vec![
                gz_layer(&[
                    E::Dir("usr/", 0o755),
                    E::Dir("usr/lib/", 0o755),
                    E::File("usr/lib/gone", b"g", 0o644),
                    E::File("usr/lib/kept", b"k", 0o644),
                    E::Symlink("lib", "usr/lib"),
                ]),
                gz_layer(&[E::File("lib/.wh.gone", b"", 0o644)]),
            ],
            &["usr/lib/kept"],
        ),
        (
            "opaque-through-link",
            vec![
                gz_layer(&[
                    E::Dir("usr/", 0o755),
                    E::Dir("usr/lib/", 0o755),
                    E::File("usr/lib/lower", b"l", 0o644),
                    E::Symlink("lib", "usr/lib"),
                ]),
                gz_layer(&[
                    E::File("lib/.wh..wh..opq", b"", 0o644),
                    E::File("lib/upper", b"u", 0o644),
                ]),
            ],
            &["usr/lib/upper"],
        ),
        (
            // A directory entry where a lower layer had a symlink to a directory: the link
            // is replaced (umoci keeps it only with --keep-dirlinks).
            "dir-over-dirlink",
            vec![
                gz_layer(&[
                    E::Dir("d/", 0o755),
                    E::File("d/lower", b"l", 0o644),
                    E::Symlink("g", "d"),
                ]),
                gz_layer(&[E::Dir("g/", 0o700), E::File("g/x", b"x", 0o644)]),
            ],
            &["g/x", "d/lower"],
        ),
        (
            "hardlink-through-link",
            vec![
                gz_layer(&[
                    E::Dir("usr/", 0o755),
                    E::Dir("usr/bin/", 0o755),
                    E::File("usr/bin/tool", b"tool", 0o755),
                    E::Symlink("bin", "/usr/bin"),
                ]),
                gz_layer(&[E::Hardlink("alias", "bin/tool")]),
            ],
            &["alias"],
        ),
    ];
    let mut failures = Vec::new();
    for (tag, layers, expect) in &cases {
        let (a, b) = both(&t, tag, layers);
        for p in *expect {
            assert!(a.contains_key(*p), "{tag}: umoci did not write {p}: {a:?}");
        }
        let d = differences(&a, &b);
        if !d.is_empty() {
            failures.push(format!("{tag}:\n  {}", d.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "trees differ:\n{}",
        failures.join("\n")
    );
    // The link-to-/ case must not have touched the host.
    assert!(!Path::new("/through-root").exists());
}

#[test]
fn hezi_matches_umoci() {
    if !can_compare() {
        return;
    }
    let t = Tmp::new("umoci-diff");
    let bb = t.join("bb");
    hezi_testsupport::busybox_rootfs(&bb).unwrap();
    let bb_tar = hezi_testsupport::busybox_layer_tar(&bb).unwrap();
    let base = Layer {
        diff_id: sha(&bb_tar),
        blob: gzip(&bb_tar),
        media_type: hezi_image::media::OCI_LAYER_GZIP,
    };
    let l2 = gz_layer(&[
        E::Dir("data/", 0o750),
        E::Owned("data/owned", b"alice's", 0o640, 1000, 1000),
        E::File("data/setuid", b"suid", 0o4755),
        E::File("data/keep", b"keep", 0o644),
        E::File("data/gone", b"gone", 0o644),
        E::Dir("opq/", 0o755),
        E::File("opq/lower", b"lower", 0o644),
        E::Hardlink("data/hard", "data/keep"),
        E::Symlink("data/abs", "/etc/passwd"),
        E::Symlink("data/dangling", "../nowhere"),
        E::Fifo("data/fifo"),
        E::Char("data/null", 1, 3),
        E::Dir("sticky/", 0o1777),
    ]);
    let l3 = gz_layer(&[
        E::File("data/.wh.gone", b"", 0o644),
        E::File("opq/.wh..wh..opq", b"", 0o644),
        E::File("opq/upper", b"upper", 0o600),
        E::File("data/keep", b"replaced", 0o600),
        E::File("bin/.wh.vi", b"", 0o644),
        E::Symlink("data/hard", "keep"),
    ]);
    let z = {
        // Debian's umoci cannot read zstd layers; an uncompressed one instead.
        let t3 = tar(&[E::File("plain-file", b"plain layer", 0o644)]);
        Layer {
            diff_id: sha(&t3),
            blob: t3.clone(),
            media_type: hezi_image::media::OCI_LAYER,
        }
    };
    let layers = vec![base, l2, l3, z];
    layout(&t.join("layout"), "img", &layers, json!({}));

    let bundle = t.join("umoci-bundle");
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:img", t.join("layout").display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let store = Store::open(t.join("store")).unwrap();
    hezi_image::archive::import(&store, &t.join("layout"), None, None).unwrap();
    let img = store.image("img", None).unwrap();
    let ours = t.join("hezi-rootfs");
    store.unpack(&img, &ours, UnpackOptions::default()).unwrap();

    let a = walk(&bundle.join("rootfs"));
    let b = walk(&ours);
    assert!(a.len() > 100, "busybox applets expected, got {}", a.len());
    let mut diffs = Vec::new();
    for k in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        if a.get(k) != b.get(k) {
            diffs.push(format!("{k}: umoci={:?} hezi={:?}", a.get(k), b.get(k)));
        }
    }
    assert!(diffs.is_empty(), "trees differ:\n{}", diffs.join("\n"));
    assert!(!ours.join("data/gone").exists());
    assert!(!ours.join("opq/lower").exists());
}

/// Runs a command, panicking with its stderr when it fails.
fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// [`walk`] plus the mtime of everything but symlinks (umoci restores them).
fn walk_with_times(root: &Path) -> BTreeMap<String, String> {
    let mut out = walk(root);
    for (rel, desc) in out.iter_mut() {
        let m = fs::symlink_metadata(root.join(rel)).unwrap();
        if !m.file_type().is_symlink() {
            desc.push_str(&format!(" mtime={}", m.mtime()));
        }
    }
    out
}

/// An image made by umoci itself (every layer starts with a `/` entry; a deletion is a
/// whiteout; a directory replaced by a file), then copied by skopeo to a docker-archive:
/// hezi unpacks both to what `umoci unpack` makes, times included.
#[test]
fn umoci_and_skopeo_made_images_match_umoci() {
    if !can_compare() {
        return;
    }
    let t = Tmp::new("umoci-made");
    let lay = t.join("layout");
    let img = format!("{}:v1", lay.display());
    run(
        Command::new("umoci").args(["init", "--layout"]).arg(&lay),
        "umoci init",
    );
    run(
        Command::new("umoci").args(["new", "--image", &img]),
        "umoci new",
    );
    let b = t.join("work");
    run(
        Command::new("umoci")
            .args(["unpack", "--image", &img])
            .arg(&b),
        "umoci unpack",
    );
    let r = b.join("rootfs");
    fs::create_dir_all(r.join("etc/app")).unwrap();
    fs::write(r.join("etc/app/conf"), "a=1\n").unwrap();
    fs::write(r.join("etc/hostname"), "umoci\n").unwrap();
    fs::create_dir_all(r.join("data/dir-becomes-file/sub")).unwrap();
    fs::write(r.join("data/dir-becomes-file/sub/x"), "x").unwrap();
    fs::write(r.join("data/gone"), "bye").unwrap();
    run(
        Command::new("umoci")
            .args(["repack", "--image", &img])
            .arg(&b),
        "umoci repack 1",
    );
    // Second layer: a deletion, a directory turned into a file, a file added to an old dir.
    fs::remove_file(r.join("data/gone")).unwrap();
    fs::remove_dir_all(r.join("data/dir-becomes-file")).unwrap();
    fs::write(r.join("data/dir-becomes-file"), "now a file").unwrap();
    fs::write(r.join("etc/app/more"), "b=2\n").unwrap();
    run(
        Command::new("umoci")
            .args(["repack", "--image", &img])
            .arg(&b),
        "umoci repack 2",
    );

    let reference = t.join("umoci-ref");
    run(
        Command::new("umoci")
            .args(["unpack", "--image", &img])
            .arg(&reference),
        "umoci unpack ref",
    );
    let want = walk_with_times(&reference.join("rootfs"));
    assert!(want.contains_key("data/dir-becomes-file") && !want.contains_key("data/gone"));

    let store = Store::open(t.join("store")).unwrap();
    hezi_image::archive::import(&store, &lay, None, None).unwrap();
    let image = store.image("v1", None).unwrap();
    let ours = t.join("hezi-rootfs");
    store
        .unpack(&image, &ours, UnpackOptions::default())
        .unwrap_or_else(|e| panic!("hezi unpack of a umoci image: {e}"));
    let got = walk_with_times(&ours);
    let diffs = differences(&want, &got);
    assert!(
        diffs.is_empty(),
        "umoci-made image differs:\n{}",
        diffs.join("\n")
    );
    let root_mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
    assert_eq!(
        root_mode(&ours),
        root_mode(&reference.join("rootfs")),
        "the `/` entry's mode"
    );

    // The same image through skopeo (docker-archive: re-compressed, Docker manifest).
    if Command::new("skopeo").arg("--version").output().is_ok() {
        let archive = t.join("img.tar");
        run(
            Command::new("skopeo")
                .args(["copy", "--insecure-policy"])
                .arg(format!("oci:{img}"))
                .arg(format!(
                    "docker-archive:{}:skopeo/made:v1",
                    archive.display()
                )),
            "skopeo copy",
        );
        let store2 = Store::open(t.join("store2")).unwrap();
        let imported = hezi_image::archive::import(&store2, &archive, None, None).unwrap();
        let name = imported
            .first()
            .and_then(|i| i.name.clone())
            .expect("a named image from the docker-archive");
        let image = store2.image(&name, None).unwrap();
        let ours2 = t.join("hezi-rootfs-skopeo");
        store2
            .unpack(&image, &ours2, UnpackOptions::default())
            .unwrap_or_else(|e| panic!("hezi unpack of a skopeo docker-archive: {e}"));
        let diffs = differences(&want, &walk_with_times(&ours2));
        assert!(
            diffs.is_empty(),
            "skopeo-copied image differs:\n{}",
            diffs.join("\n")
        );
    } else {
        eprintln!("note: skopeo not installed, the docker-archive leg is skipped");
    }
}
