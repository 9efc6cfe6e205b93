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

/// mountinfo lines of overlay mounts below `dir`.
fn overlay_mounts_below(dir: &std::path::Path) -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let d = dir.display().to_string();
    mi.lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&d)))
        .filter(|l| l.contains(" - overlay "))
        .map(str::to_string)
        .collect()
}

#[test]
fn containers_share_the_cached_layers_through_overlay() {
    require_root!();
    let (w, store) = world_with_image();
    let s = store.display().to_string();
    let ids = [w.id("ovl"), w.id("ovl")];
    for id in &ids {
        let (ok, err) = w.detached(&[
            "--store",
            &s,
            "run",
            "-d",
            "--image",
            "busybox:latest",
            id,
            "--",
            "sleep",
            "60",
        ]);
        assert!(ok, "{err}");
    }
    let mounts = overlay_mounts_below(&store);
    assert_eq!(
        mounts.len(),
        2,
        "one overlay rootfs per container: {mounts:?}"
    );
    for (id, m) in ids.iter().zip(&mounts) {
        assert!(m.contains(&format!("bundles/{id}/rootfs")), "{m}");
    }
    // The layer was unpacked once, into the cache both containers read.
    let layers: Vec<_> = std::fs::read_dir(store.join("layers"))
        .expect("layer cache")
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(layers.len(), 1, "one cached layer");
    // Writes stay in the writer's upper dir.
    let o = w.out(&["exec", &ids[0], "sh", "-c", "echo mine > /etc/only-here"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = w.out(&[
        "exec",
        &ids[1],
        "sh",
        "-c",
        "test -e /etc/only-here && echo seen",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "");
    assert!(store
        .join("bundles")
        .join(&ids[0])
        .join("upper/etc/only-here")
        .is_file());
    assert!(!layers[0].path().join("etc/only-here").exists());
    for id in &ids {
        let o = w.out(&["delete", "--force", id]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(overlay_mounts_below(&store), Vec::<String>::new());
    assert!(bundles(&store).is_empty());
}

#[test]
fn copy_mode_unpacks_a_plain_rootfs() {
    require_root!();
    let (w, store) = world_with_image();
    let s = store.display().to_string();
    let id = w.id("copy");
    let (ok, err) = w.detached(&[
        "--store",
        &s,
        "run",
        "-d",
        "--copy",
        "--image",
        "busybox:latest",
        &id,
        "--",
        "sleep",
        "60",
    ]);
    assert!(ok, "{err}");
    assert_eq!(overlay_mounts_below(&store), Vec::<String>::new());
    assert!(store.join("bundles").join(&id).join("rootfs/bin").exists());
    let o = w.out(&["delete", "--force", &id]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(bundles(&store).is_empty());
}

/// Rewrites the config of the single image in the OCI layout `layout` with `edit`, updating
/// the manifest and index.json to the new digests.
fn edit_layout_config(layout: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    use hezi_testsupport::write_blob;
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("index")).expect("index json");
    let mdesc = index["manifests"][0].clone();
    let mut manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(mdesc["digest"].as_str().expect("digest"))).expect("manifest"),
    )
    .expect("manifest json");
    let mut config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(
            manifest["config"]["digest"].as_str().expect("cfg digest"),
        ))
        .expect("config"),
    )
    .expect("config json");
    edit(&mut config);
    manifest["config"] = write_blob(
        layout,
        "application/vnd.oci.image.config.v1+json",
        &serde_json::to_vec(&config).expect("ser"),
    )
    .expect("config blob");
    let new = write_blob(
        layout,
        "application/vnd.oci.image.manifest.v1+json",
        &serde_json::to_vec(&manifest).expect("ser"),
    )
    .expect("manifest blob");
    index["manifests"][0]["digest"] = new["digest"].clone();
    index["manifests"][0]["size"] = new["size"].clone();
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("ser")).expect("write index");
}

#[test]
fn volumes_home_and_a_missing_command_follow_the_conversion_rules() {
    require_root!();
    let w = World::new("hezi-run-image-vol");
    let layout = w.tmp.path().join("layout");
    busybox_oci_layout(&layout, "vol:1").expect("layout");
    edit_layout_config(&layout, |c| {
        c["config"]["Volumes"] = serde_json::json!({"/data": {}, "/var/cache/app": {}});
        c["config"].as_object_mut().expect("config").remove("Cmd");
    });
    let store = w.tmp.path().join("store");
    let s = store.display().to_string();
    let o = w.out(&[
        "--store",
        &s,
        "image",
        "import",
        &layout.display().to_string(),
    ]);
    assert!(
        o.status.success(),
        "import: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // No Entrypoint or Cmd and no command: a clear error, nothing left.
    let id = w.id("nocmd");
    let o = w.out(&["--store", &s, "run", "--image", "vol:1", &id]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.contains("no Entrypoint or Cmd"), "{err}");
    assert!(
        bundles(&store).is_empty(),
        "bundle left: {:?}",
        bundles(&store)
    );
    let script = "echo HOME=$HOME; touch /data/x && ls /data; grep -E ' /(data|var/cache/app) ' /proc/mounts | cut -d' ' -f2,3";
    // `run --image vol:1 [--volumes MODE] ID -- sh -c SCRIPT`: its stdout, after checking
    // that it succeeded.
    let run_with = |mode: Option<&str>| {
        let id = w.id("vol");
        let mut args = vec!["--store", &s, "run", "--image", "vol:1"];
        if let Some(m) = mode {
            args.extend(["--volumes", m]);
        }
        args.extend([id.as_str(), "--", "sh", "-c", script]);
        let o = w.out(&args);
        assert!(
            o.status.success(),
            "run {mode:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    // Default: each volume a bind of a directory of the bundle.
    let out = run_with(None);
    assert!(out.contains("HOME=/root"), "{out}");
    assert!(out.lines().any(|l| l == "x"), "{out}");
    assert!(
        out.contains("/data ") && out.contains("/var/cache/app "),
        "{out}"
    );
    assert!(!out.contains("tmpfs"), "{out}");
    // --volumes tmpfs.
    let out = run_with(Some("tmpfs"));
    assert!(out.contains("/data tmpfs"), "{out}");
    // --volumes none: no mount at all.
    let out = run_with(Some("none"));
    assert!(!out.contains("/data "), "{out}");
    assert!(
        bundles(&store).is_empty(),
        "bundles left: {:?}",
        bundles(&store)
    );
}

/// Entries of the store's layer cache (unpacked layers and temp dirs).
fn cached_layers(store: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(store.join("layers"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn max_layer_size_refuses_a_big_layer_and_leaves_nothing() {
    require_root!();
    let (w, store) = world_with_image();
    let s = store.display().to_string();
    for mode in [&[][..], &["--copy"][..]] {
        let id = w.id("imgbig");
        let mut args = vec!["--store", &s, "run", "--image", "busybox:latest"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["--max-layer-size", "64K", &id, "--", "true"]);
        let o = w.out(&args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{mode:?}: {stderr}");
        assert!(
            stderr.contains("65536") && stderr.contains("--max-layer-size"),
            "{mode:?}: the error names the limit: {stderr}"
        );
        assert!(bundles(&store).is_empty(), "{mode:?}: bundle left");
        assert!(!w.root().join(&id).exists(), "{mode:?}: state left");
        assert!(
            cached_layers(&store).is_empty(),
            "{mode:?}: layer cache holds {:?}",
            cached_layers(&store)
        );
    }
    // Within the limit (and without one) the same image runs.
    let id = w.id("imgok");
    let o = w.out(&[
        "--store",
        &s,
        "run",
        "--image",
        "busybox:latest",
        "--max-layer-size",
        "1G",
        &id,
        "--",
        "true",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!cached_layers(&store).is_empty(), "the layer is cached now");
}

#[test]
fn max_layer_size_needs_an_image() {
    let w = World::new("hezi-run-image-flag");
    let o = w.out(&["run", "--max-layer-size", "1M", "x"]);
    assert_eq!(o.status.code(), Some(2), "a usage error, as clap's");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--image"));
}
