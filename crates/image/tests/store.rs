//! The content store: import/export round trips, verified ingest (corrupt, truncated,
//! oversize and wrong-digest blobs rejected), names under concurrency, gc and verify.

mod common;

use std::fs;
use std::process::Command;
use std::sync::Arc;

use common::*;
use hezi_image::archive::{export, import, Format};
use hezi_image::gc::{gc, verify, Problem};
use hezi_image::unpack::UnpackOptions;
use hezi_image::{ImageError, Store};
use serde_json::json;

fn busybox_like() -> Vec<Layer> {
    vec![
        gz_layer(&[
            E::Dir("bin/", 0o755),
            E::File("bin/sh", b"#!shell", 0o755),
            E::Dir("etc/", 0o755),
            E::File("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644),
        ]),
        gz_layer(&[
            E::File("etc/motd", b"hi", 0o644),
            E::File("bin/.wh.sh", b"", 0o644),
        ]),
    ]
}

#[test]
fn import_export_round_trips() {
    let t = Tmp::new("store-roundtrip");
    let md = layout(&t.join("src"), "app:1", &busybox_like(), json!({}));
    let store = Store::open(t.join("store")).unwrap();
    let got = import(&store, &t.join("src"), None, None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name.as_deref(), Some("app:1"));
    assert_eq!(got[0].descriptor.digest, md);
    assert_eq!(store.resolve("app:1").unwrap().digest, md);
    assert!(verify(&store).unwrap().problems.is_empty());

    for (fmt, file) in [
        (Format::OciArchive, "o.tar"),
        (Format::DockerArchive, "d.tar"),
        (Format::OciDir, "odir"),
    ] {
        let dest = t.join(file);
        export(&store, "app:1", &dest, fmt).unwrap();
        if fmt == Format::DockerArchive && Command::new("skopeo").arg("--version").output().is_ok()
        {
            // skopeo finds the image by the tag we wrote into manifest.json.
            let o = Command::new("skopeo")
                .arg("inspect")
                .arg(format!("docker-archive:{}:app:1", dest.display()))
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "skopeo reads our docker-archive: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(v["Layers"].as_array().map(Vec::len), Some(2), "{v}");
        }
        let s2 = Store::open(t.join(&format!("store-{file}"))).unwrap();
        let got = import(&s2, &dest, None, Some("again:2")).unwrap();
        assert_eq!(got[0].name.as_deref(), Some("again:2"));
        let a = store.image("app:1", None).unwrap();
        let b = s2.image("again:2", None).unwrap();
        assert_eq!(a.config.rootfs.diff_ids, b.config.rootfs.diff_ids, "{file}");
        if fmt != Format::DockerArchive {
            assert_eq!(
                a.manifest_descriptor.digest, b.manifest_descriptor.digest,
                "{file}"
            );
        }
        let root = t.join(&format!("rootfs-{file}"));
        s2.unpack(&b, &root, UnpackOptions::default()).unwrap();
        assert_eq!(fs::read(root.join("etc/motd")).unwrap(), b"hi");
        assert!(!root.join("bin/sh").exists());
        assert!(verify(&s2).unwrap().problems.is_empty());
    }
}

fn layer_blob_path(src: &std::path::Path, l: &Layer) -> std::path::PathBuf {
    src.join("blobs/sha256").join(sha(&l.blob).encoded())
}

#[test]
fn damaged_blobs_abort_import_and_leave_the_store_clean() {
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, Damage); 3] = [
        ("corrupt", |b| {
            let n = b.len() / 2;
            b[n] ^= 0x55;
        }),
        ("truncated", |b| b.truncate(b.len() / 2)),
        ("oversize", |b| b.extend_from_slice(b"trailing garbage")),
    ];
    for (what, damage) in cases {
        let t = Tmp::new("store-damage");
        let layers = busybox_like();
        layout(&t.join("src"), "app:1", &layers, json!({}));
        let p = layer_blob_path(&t.join("src"), &layers[1]);
        let mut bytes = fs::read(&p).unwrap();
        damage(&mut bytes);
        fs::write(&p, &bytes).unwrap();
        let store = Store::open(t.join("store")).unwrap();
        let err = import(&store, &t.join("src"), None, None).expect_err(what);
        let bad = sha(&layers[1].blob).to_string();
        assert!(
            err.to_string().contains(&bad),
            "{what}: error should name {bad}: {err}"
        );
        assert!(!store.contains(&sha(&layers[1].blob)), "{what}");
        assert!(
            store
                .walk()
                .unwrap()
                .iter()
                .all(|b| b.digest != sha(&bytes)),
            "{what}: damaged content visible"
        );
        assert!(
            store.names().unwrap().is_empty(),
            "{what}: no name for a failed import"
        );
        assert!(verify(&store).unwrap().problems.is_empty(), "{what}");
        assert_eq!(
            fs::read_dir(t.join("store/ingest")).unwrap().count(),
            0,
            "{what}: temp files cleaned"
        );
    }
}

#[test]
fn wrong_digest_in_oci_archive_is_rejected() {
    let t = Tmp::new("store-archive-damage");
    let layers = busybox_like();
    layout(&t.join("src"), "app:1", &layers, json!({}));
    let p = layer_blob_path(&t.join("src"), &layers[0]);
    fs::write(&p, b"not the layer").unwrap();
    let status = Command::new("tar")
        .arg("-C")
        .arg(t.join("src"))
        .arg("-cf")
        .arg(t.join("a.tar"))
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let store = Store::open(t.join("store")).unwrap();
    let err = import(&store, &t.join("a.tar"), Some(Format::OciArchive), None).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&sha(&layers[0].blob).to_string()));
    assert!(store.names().unwrap().is_empty());
    assert!(verify(&store).unwrap().problems.is_empty());
}

#[test]
fn gc_and_verify_find_and_remove_the_right_blobs() {
    let t = Tmp::new("store-gc");
    let layers = busybox_like();
    layout(&t.join("src"), "app:1", &layers, json!({}));
    let store = Store::open(t.join("store")).unwrap();
    import(&store, &t.join("src"), None, None).unwrap();
    store.put_bytes(b"orphan").unwrap();
    let r = gc(&store).unwrap();
    assert_eq!(r.removed.len(), 1);
    assert_eq!(r.removed[0].digest, sha(b"orphan"));
    assert_eq!(store.walk().unwrap().len(), 4);

    // Corrupt one blob in the store: verify names it.
    let lp = store.blob_path(&sha(&layers[0].blob));
    fs::write(&lp, b"rot").unwrap();
    let v = verify(&store).unwrap();
    assert!(v.problems.iter().any(|p| matches!(p, Problem::Corrupt { digest, .. } if *digest == sha(&layers[0].blob).to_string())), "{:?}", v.problems);
    // Delete it: verify reports it missing.
    fs::remove_file(&lp).unwrap();
    let v = verify(&store).unwrap();
    assert!(
        v.problems
            .iter()
            .any(|p| matches!(p, Problem::Missing { .. })),
        "{:?}",
        v.problems
    );

    store.remove_name("app:1").unwrap();
    let r = gc(&store).unwrap();
    assert_eq!(r.removed.len(), 3);
    assert!(store.walk().unwrap().is_empty());
}

#[test]
fn concurrent_names_and_writers_lose_nothing() {
    let t = Tmp::new("store-concurrent");
    let store = Arc::new(Store::open(t.join("store")).unwrap());
    let desc = {
        let info = store
            .put_bytes(br#"{"schemaVersion":2,"manifests":[]}"#)
            .unwrap();
        hezi_image::Descriptor::new(hezi_image::media::OCI_INDEX, info.digest, info.size)
    };
    let data: Arc<Vec<u8>> = Arc::new((0..200_000u32).flat_map(|i| i.to_le_bytes()).collect());
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            let desc = desc.clone();
            let data = Arc::clone(&data);
            std::thread::spawn(move || {
                for j in 0..5 {
                    store.set_name(&format!("img{i}:{j}"), &desc).unwrap();
                }
                let d = sha(&data);
                store
                    .ingest(data.as_slice(), &d, Some(data.len() as u64))
                    .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(store.names().unwrap().len(), 40);
    assert_eq!(fs::read(store.blob_path(&sha(&data))).unwrap(), *data);
    assert!(verify(&store).unwrap().problems.is_empty());
}

#[test]
fn skopeo_and_umoci_images_import_and_unpack() {
    let have = |cmd: &str| {
        Command::new(cmd)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if !have("skopeo") || !have("umoci") {
        eprintln!("skipped: skopeo or umoci not installed");
        return;
    }
    let t = Tmp::new("store-skopeo");
    layout(&t.join("src"), "app", &busybox_like(), json!({}));
    let src = format!("oci:{}:app", t.join("src").display());
    let cases = [
        (
            "docker-archive",
            format!("docker-archive:{}:app:v1", t.join("d.tar").display()),
            t.join("d.tar"),
        ),
        (
            "oci-archive",
            format!("oci-archive:{}:app", t.join("o.tar").display()),
            t.join("o.tar"),
        ),
        (
            "oci",
            format!("oci:{}:app", t.join("sk").display()),
            t.join("sk"),
        ),
    ];
    for (what, dest, path) in cases {
        let out = Command::new("skopeo")
            .args(["copy", "--insecure-policy", &src, &dest])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo {what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let store = Store::open(t.join(&format!("store-{what}"))).unwrap();
        let got = import(&store, &path, None, Some("x:1")).unwrap();
        assert_eq!(got.len(), 1, "{what}");
        let img = store.image("x:1", None).unwrap();
        let root = t.join(&format!("root-{what}"));
        store.unpack(&img, &root, UnpackOptions::default()).unwrap();
        assert_eq!(fs::read(root.join("etc/motd")).unwrap(), b"hi", "{what}");
    }
    // umoci: a fresh image with one layer added by repack.
    let u = t.join("umoci");
    let ok = |c: &mut Command| {
        let o = c.output().unwrap();
        assert!(
            o.status.success(),
            "{:?}: {}",
            c,
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ok(Command::new("umoci").args(["init", "--layout"]).arg(&u));
    ok(Command::new("umoci")
        .args(["new", "--image"])
        .arg(format!("{}:base", u.display())));
    if is_root() {
        let b = t.join("ubundle");
        ok(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:base", u.display()))
            .arg(&b));
        fs::write(b.join("rootfs/hello"), b"from umoci").unwrap();
        ok(Command::new("umoci")
            .args(["repack", "--image"])
            .arg(format!("{}:base", u.display()))
            .arg(&b));
    }
    let store = Store::open(t.join("store-umoci")).unwrap();
    import(&store, &u, None, None).unwrap();
    let img = store.image("base", None).unwrap();
    let root = t.join("root-umoci");
    store.unpack(&img, &root, UnpackOptions::default()).unwrap();
    if is_root() {
        assert_eq!(fs::read(root.join("hello")).unwrap(), b"from umoci");
    }
}

#[test]
fn index_picks_the_platform_and_tolerates_absent_platforms() {
    let t = Tmp::new("store-index");
    let src = t.join("src");
    let md = layout(&src, "tmp", &busybox_like(), json!({}));
    let mbytes = fs::read(src.join("blobs/sha256").join(md.encoded())).unwrap();
    let absent = sha(b"an arm64 manifest that was not copied");
    let index = json!({"schemaVersion": 2, "mediaType": hezi_image::media::OCI_INDEX, "manifests": [
        {"mediaType": hezi_image::media::OCI_MANIFEST, "digest": absent.to_string(), "size": 10,
         "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": hezi_image::media::OCI_MANIFEST, "digest": md.to_string(), "size": mbytes.len(),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": "application/vnd.example.unknown+json", "digest": sha(b"?").to_string(), "size": 1,
         "platform": {"os": "plan9", "architecture": "amd64"}}
    ]});
    let ib = serde_json::to_vec(&index).unwrap();
    let id = sha(&ib);
    fs::write(src.join("blobs/sha256").join(id.encoded()), &ib).unwrap();
    fs::write(src.join("blobs/sha256").join(sha(b"?").encoded()), b"?").unwrap();
    fs::write(src.join("extra-file.txt"), b"extra files are fine").unwrap();
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": hezi_image::media::OCI_INDEX,
        "digest": id.to_string(), "size": ib.len(), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]});
    fs::write(src.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();

    let store = Store::open(t.join("store")).unwrap();
    import(&store, &src, None, None).unwrap();
    let img = store.image("multi", None).unwrap();
    assert_eq!(img.manifest_descriptor.digest, md);
    let arm = hezi_image::Platform::parse("linux/arm64").unwrap();
    let err = store.image("multi", Some(&arm)).unwrap_err();
    assert!(err.to_string().contains(&absent.to_string()), "{err}");
    let s390 = hezi_image::Platform::parse("linux/s390x").unwrap();
    assert!(matches!(
        store.image("multi", Some(&s390)),
        Err(ImageError::NoPlatform { .. })
    ));
    assert!(verify(&store).unwrap().problems.is_empty());
}

/// Flips one byte of a stored blob in place (same size).
fn flip_byte(p: &std::path::Path) {
    let mut data = fs::read(p).unwrap();
    let i = data.len() / 2;
    data[i] ^= 0x5a;
    fs::write(p, data).unwrap();
}

#[test]
fn reimport_repairs_blobs_corrupted_in_place() {
    let t = Tmp::new("store-repair");
    let layers = busybox_like();
    let md = layout(&t.join("src"), "app:1", &layers, json!({}));
    let store = Store::open(t.join("store")).unwrap();
    import(&store, &t.join("src"), None, None).unwrap();
    export(&store, "app:1", &t.join("o.tar"), Format::OciArchive).unwrap();
    export(&store, "app:1", &t.join("d.tar"), Format::DockerArchive).unwrap();
    let layer = sha(&layers[0].blob);
    let corrupt = |v: &hezi_image::gc::VerifyReport, d: &hezi_digest::Digest| {
        v.problems
            .iter()
            .any(|p| matches!(p, Problem::Corrupt { digest, .. } if *digest == d.to_string()))
    };
    // Every import form repairs the biggest blob (a layer) and the manifest whose bytes
    // rotted in place.
    for (source, fmt) in [
        (t.join("src"), Format::OciDir),
        (t.join("o.tar"), Format::OciArchive),
        (t.join("d.tar"), Format::DockerArchive),
    ] {
        let s2 = Store::open(t.join(&format!("store-{fmt:?}"))).unwrap();
        import(&s2, &source, Some(fmt), Some("app:1")).unwrap();
        let manifest = s2.resolve("app:1").unwrap().digest;
        let biggest = s2
            .walk()
            .unwrap()
            .into_iter()
            .filter(|b| b.digest != manifest)
            .max_by_key(|b| b.size)
            .unwrap()
            .digest;
        for d in [&biggest, &manifest] {
            flip_byte(&s2.blob_path(d));
            assert!(!s2.blob_is_intact(d).unwrap());
        }
        let v = verify(&s2).unwrap();
        for d in [&biggest, &manifest] {
            assert!(corrupt(&v, d), "{fmt:?}: corruption of {d} not found");
        }
        import(&s2, &source, Some(fmt), Some("app:1"))
            .unwrap_or_else(|e| panic!("{fmt:?}: re-import: {e}"));
        let v = verify(&s2).unwrap();
        assert!(v.problems.is_empty(), "{fmt:?}: {:?}", v.problems);
    }
    assert_eq!(store.resolve("app:1").unwrap().digest, md);
    // An intact blob is left alone (same inode: nothing rewritten).
    use std::os::unix::fs::MetadataExt;
    let before = fs::metadata(store.blob_path(&layer)).unwrap().ino();
    import(&store, &t.join("src"), None, None).unwrap();
    assert_eq!(fs::metadata(store.blob_path(&layer)).unwrap().ino(), before);
    // A writer committing a blob over a corrupt one replaces it.
    flip_byte(&store.blob_path(&layer));
    let mut w = store.writer().unwrap();
    std::io::Write::write_all(&mut w, &layers[0].blob).unwrap();
    w.commit(Some(layers[0].blob.len() as u64), Some(&layer))
        .unwrap();
    assert!(store.blob_is_intact(&layer).unwrap());
}

#[test]
fn repair_restores_from_a_layout_and_keeps_names() {
    let t = Tmp::new("store-repair-cmd");
    let layers = busybox_like();
    let md = layout(&t.join("src"), "app:1", &layers, json!({}));
    let store = Store::open(t.join("store")).unwrap();
    import(&store, &t.join("src"), None, None).unwrap();
    store
        .set_name("other", &store.resolve("app:1").unwrap())
        .unwrap();
    let l0 = sha(&layers[0].blob);
    let l1 = sha(&layers[1].blob);
    flip_byte(&store.blob_path(&l0));
    fs::remove_file(store.blob_path(&l1)).unwrap();
    let r = hezi_image::gc::repair(&store, Some(&t.join("src"))).unwrap();
    let mut restored = r.restored.clone();
    restored.sort_by_key(|d| d.to_string());
    let mut want = vec![l0.clone(), l1.clone()];
    want.sort_by_key(|d| d.to_string());
    assert_eq!(restored, want);
    assert!(r.removed.is_empty() && r.after.problems.is_empty(), "{r:?}");
    assert_eq!(store.resolve("other").unwrap().digest, md);
    // No source: the corrupt blob is removed and shows as missing.
    flip_byte(&store.blob_path(&l0));
    let r = hezi_image::gc::repair(&store, None).unwrap();
    assert_eq!(r.removed, vec![l0.clone()]);
    assert!(!store.contains(&l0));
    assert!(r
        .after
        .problems
        .iter()
        .any(|p| matches!(p, Problem::Missing { digest, .. } if *digest == l0.to_string())));
}

#[test]
fn document_caps_are_the_same_for_import_and_use() {
    let cap = hezi_image::store::MAX_DOCUMENT;
    let t = Tmp::new("store-caps");
    // index.json just over the cap: refused by name, not truncated into a parse error.
    let src = t.join("src");
    layout(&src, "app:1", &busybox_like(), json!({}));
    let mut big = fs::read(src.join("index.json")).unwrap();
    big.truncate(big.len() - 1);
    big.extend(std::iter::repeat_n(b' ', cap as usize));
    big.push(b'}');
    fs::write(src.join("index.json"), &big).unwrap();
    let store = Store::open(t.join("store")).unwrap();
    let err = import(&store, &src, None, None).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    // A config over the cap is refused at import (unpack could not read it).
    let src2 = t.join("src2");
    let pad = " ".repeat(cap as usize);
    layout(&src2, "app:1", &busybox_like(), json!({"Pad": pad}));
    let err = import(&store, &src2, None, None).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
    assert!(store.names().map(|n| n.is_empty()).unwrap_or(true));
}

/// gc removes an ingest file nobody holds (an import or pull killed a moment ago) at once,
/// whatever its age, and leaves the file of a writer still open; that writer then commits.
#[test]
fn gc_removes_ingest_leftovers_by_lock_not_by_age() {
    use std::io::Write;
    let t = Tmp::new("store-ingest-gc");
    let store = Store::open(t.join("store")).unwrap();
    let mut live = store.writer().unwrap();
    live.write_all(b"in progress").unwrap();
    let stale = store.path().join("ingest").join("blob-killed");
    fs::write(&stale, b"half").unwrap();
    let r = gc(&store).unwrap();
    assert_eq!(r.ingest_files, 1, "{r:?}");
    assert!(!stale.exists(), "a fresh leftover survived gc");
    let info = live.commit(None, Some(&sha(b"in progress"))).unwrap();
    assert_eq!(info.digest, sha(b"in progress"));
    assert_eq!(
        fs::read_dir(store.path().join("ingest")).unwrap().count(),
        0
    );
}
