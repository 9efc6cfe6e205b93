//! Differential test against Debian's umoci: the same image unpacked by `umoci unpack` and
//! by hezi gives the same tree (paths, types, modes, owners, link targets, file hashes,
//! device numbers), for hand-built layers, for layers umoci itself wrote (`umoci repack`) and
//! for a hezi export round-tripped through skopeo. Needs root (umoci unpack as root keeps
//! owners and makes devices); skipped with a message without root, umoci or skopeo.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
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

/// Like [`walk`], with the mtime of every non-directory (umoci and hezi both set them from
/// the tar; directory times are compared by the unit tests).
fn walk_with_times(root: &Path) -> BTreeMap<String, String> {
    let mut out = walk(root);
    for (rel, what) in out.iter_mut() {
        let m = fs::symlink_metadata(root.join(rel)).unwrap();
        if !m.is_dir() {
            what.push_str(&format!(" size={} mtime={}", m.len(), m.mtime()));
        }
    }
    out
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Unpacks `reference` of the OCI layout `layout` with umoci and with hezi (after importing
/// the layout) and asserts the trees are the same.
fn assert_same_unpack(t: &Tmp, tag: &str, layout: &Path, reference: &str) {
    let bundle = t.join(&format!("{tag}-umoci"));
    let image = format!("{}:{reference}", layout.display());
    run(
        "umoci",
        &["unpack", "--image", &image, &bundle.display().to_string()],
    );
    let store = Store::open(t.join(&format!("{tag}-store"))).unwrap();
    hezi_image::archive::import(&store, layout, None, None)
        .unwrap_or_else(|e| panic!("{tag}: import: {e}"));
    let img = store.image(reference, None).unwrap();
    let ours = t.join(&format!("{tag}-hezi"));
    store
        .unpack(&img, &ours, UnpackOptions::default())
        .unwrap_or_else(|e| panic!("{tag}: hezi unpack: {e}"));
    let a = walk_with_times(&bundle.join("rootfs"));
    let b = walk_with_times(&ours);
    let d = differences(&a, &b);
    assert!(d.is_empty(), "{tag}: trees differ:\n{}", d.join("\n"));
}

/// Layers made by umoci itself (`umoci repack` writes a `/` entry first, whiteouts for
/// deletions, and a directory replaced by a file): hezi and `umoci unpack` agree.
#[test]
fn umoci_built_image_matches_umoci() {
    if !can_compare() {
        return;
    }
    let t = Tmp::new("umoci-built");
    let layout = t.join("layout");
    let l = layout.display().to_string();
    run("umoci", &["init", "--layout", &l]);
    run("umoci", &["new", "--image", &format!("{l}:base")]);
    let work = t.join("work");
    let w = work.display().to_string();
    run("umoci", &["unpack", "--image", &format!("{l}:base"), &w]);
    let r = work.join("rootfs");
    fs::create_dir_all(r.join("etc/conf.d")).unwrap();
    fs::write(r.join("etc/conf.d/a.conf"), b"a=1\n").unwrap();
    fs::write(r.join("etc/gone"), b"deleted in v2").unwrap();
    fs::create_dir_all(r.join("victim/sub")).unwrap();
    fs::write(r.join("victim/child"), b"c").unwrap();
    fs::write(r.join("victim/sub/deep"), b"d").unwrap();
    fs::write(r.join("secret"), b"s").unwrap();
    fs::set_permissions(r.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(r.join("secret"), Some(1000), Some(1000)).unwrap();
    std::os::unix::fs::symlink("/etc/conf.d/a.conf", r.join("link")).unwrap();
    fs::hard_link(r.join("etc/conf.d/a.conf"), r.join("hard")).unwrap();
    run("umoci", &["repack", "--image", &format!("{l}:v1"), &w]);
    // v2: a deletion (whiteout), a directory replaced by a file, a change, an addition.
    fs::remove_file(r.join("etc/gone")).unwrap();
    fs::remove_dir_all(r.join("victim")).unwrap();
    fs::write(r.join("victim"), b"now a file").unwrap();
    fs::write(r.join("etc/conf.d/a.conf"), b"a=2\n").unwrap();
    fs::write(r.join("etc/new"), b"new").unwrap();
    run("umoci", &["repack", "--image", &format!("{l}:v2"), &w]);
    for reference in ["v1", "v2"] {
        assert_same_unpack(&t, reference, &layout, reference);
    }
    let v2 = t.join("v2-hezi");
    assert!(!v2.join("etc/gone").exists());
    assert_eq!(fs::read(v2.join("victim")).unwrap(), b"now a file");
}

/// An OCI layout exported by hezi, copied by skopeo to a docker-archive and back to an OCI
/// layout, unpacks the same with hezi and with umoci.
#[test]
fn skopeo_round_trip_matches_umoci() {
    if !can_compare() {
        return;
    }
    if !Command::new("skopeo")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        eprintln!("skipped: skopeo not installed");
        return;
    }
    let t = Tmp::new("umoci-skopeo");
    let layers = vec![
        gz_layer(&[
            E::DirFull("./", 0o755, 0, 0, 1_500_000_000, None),
            E::Dir("etc/", 0o755),
            E::File("etc/a", b"a", 0o644),
            E::File("etc/gone", b"g", 0o644),
            E::Owned("home/u/f", b"u", 0o640, 1000, 1000),
            E::Symlink("l", "etc/a"),
        ]),
        gz_layer(&[
            E::File("etc/.wh.gone", b"", 0o644),
            E::File("/etc/abs", b"absolute name", 0o644),
            E::Hardlink("h", "etc/a"),
        ]),
    ];
    layout(&t.join("src"), "img", &layers, json!({}));
    let store = Store::open(t.join("store")).unwrap();
    hezi_image::archive::import(&store, &t.join("src"), None, None).unwrap();
    let exported = t.join("exported");
    hezi_image::archive::export(
        &store,
        "img",
        &exported,
        hezi_image::archive::Format::OciDir,
    )
    .unwrap();
    let docker = t.join("img.tar");
    let back = t.join("back");
    run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            &format!("oci:{}:img", exported.display()),
            &format!("docker-archive:{}:img:latest", docker.display()),
        ],
    );
    run(
        "skopeo",
        &[
            "copy",
            "--quiet",
            &format!("docker-archive:{}", docker.display()),
            &format!("oci:{}:img", back.display()),
        ],
    );
    assert_same_unpack(&t, "back", &back, "img");
    // hezi reads the docker-archive skopeo wrote, with the same result.
    let store2 = Store::open(t.join("store2")).unwrap();
    hezi_image::archive::import(&store2, &docker, None, Some("img")).unwrap();
    let img = store2.image("img", None).unwrap();
    let ours = t.join("docker-hezi");
    store2
        .unpack(&img, &ours, UnpackOptions::default())
        .unwrap();
    let d = differences(
        &walk_with_times(&t.join("back-hezi")),
        &walk_with_times(&ours),
    );
    assert!(
        d.is_empty(),
        "docker-archive: trees differ:\n{}",
        d.join("\n")
    );
    assert!(!ours.join("etc/gone").exists());
    assert_eq!(fs::read(ours.join("etc/abs")).unwrap(), b"absolute name");
}
