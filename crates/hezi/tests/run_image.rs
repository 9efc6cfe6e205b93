//! `hezi run --image`: a container straight from the image store, and its bundle's lifetime.

#[path = "runtime_helpers.rs"]
mod helpers;

use helpers::World;
use hezi_testsupport::{busybox_oci_layout, require_root};

/// A world with a store holding the busybox fixture image as `busybox:latest`.
fn world_with_image() -> (World, std::path::PathBuf) {
    let w = World::new("hezi-run-image");
    let layout = w.tmp.path().join("layout");
    busybox_oci_layout(&layout, "busybox:latest").expect("layout");
    let store = w.tmp.path().join("store");
    let o = w.out(&[
        "--store",
        &store.display().to_string(),
        "image",
        "import",
        &layout.display().to_string(),
    ]);
    assert!(
        o.status.success(),
        "import: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (w, store)
}

fn bundles(store: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(store.join("bundles"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn attached_run_uses_the_image_and_removes_its_bundle() {
    require_root!();
    let (w, store) = world_with_image();
    let id = w.id("img");
    let s = store.display().to_string();
    let o = w.out(&[
        "--store",
        &s,
        "run",
        "--image",
        "busybox:latest",
        &id,
        "--",
        "sh",
        "-c",
        "echo from-image; id -un; cat /etc/hostname",
    ]);
    assert!(
        o.status.success(),
        "run: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("from-image\nroot\nhezi"), "{out}");
    assert!(
        bundles(&store).is_empty(),
        "bundle left: {:?}",
        bundles(&store)
    );
    // Exit status passes through.
    let id2 = w.id("img");
    let o = w.out(&[
        "--store",
        &s,
        "run",
        "--image",
        "busybox:latest",
        &id2,
        "--",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7));
}

#[test]
fn detached_bundle_lives_until_delete() {
    require_root!();
    let (w, store) = world_with_image();
    let id = w.id("imgd");
    let s = store.display().to_string();
    let (ok, err) = w.detached(&[
        "--store",
        &s,
        "run",
        "-d",
        "--image",
        "busybox:latest",
        &id,
        "--",
        "sleep",
        "60",
    ]);
    assert!(ok, "{err}");
    assert_eq!(bundles(&store), vec![id.clone()]);
    assert_eq!(w.status(&id), "running");
    let o = w.out(&["--store", &s, "delete", "--force", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(bundles(&store).is_empty());
}

#[test]
fn unknown_image_fails_cleanly() {
    require_root!();
    let (w, store) = world_with_image();
    let id = w.id("imgx");
    let o = w.out(&[
        "--store",
        &store.display().to_string(),
        "run",
        "--image",
        "nope:1",
        &id,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope:1"));
    assert!(bundles(&store).is_empty());
    assert!(!w.root().join(&id).exists());
}
