//! Image to bundle (conversion.md) and the overlay layer cache.

mod common;

use std::fs;
use std::process::Command;

use common::*;
use hezi_image::archive::import;
use hezi_image::{create_bundle, overlay_lowerdir, BundleOptions, ImageError, Store};
use serde_json::json;

const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n";
const GROUP: &[u8] = b"root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n";

fn store_with(t: &Tmp, layers: Vec<Layer>, config: serde_json::Value) -> Store {
    layout(&t.join("src"), "img", &layers, config);
    let store = Store::open(t.join("store")).unwrap();
    import(&store, &t.join("src"), None, None).unwrap();
    store
}

fn etc_layer() -> Layer {
    gz_layer(&[
        E::Dir("etc/", 0o755),
        E::File("etc/passwd", PASSWD, 0o644),
        E::File("etc/group", GROUP, 0o644),
        E::File("bin/app", b"x", 0o755),
    ])
}

#[test]
fn config_follows_the_image() {
    let t = Tmp::new("bundle-config");
    let cfg = json!({
        "Entrypoint": ["/bin/app"], "Cmd": ["--serve"], "User": "alice", "WorkingDir": "/srv",
        "Env": ["PATH=/opt/bin", "MODE=prod"], "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
        "Volumes": {"/data": {}}, "Labels": {"com.example.team": "box"}, "StopSignal": "SIGTERM"
    });
    let store = store_with(&t, vec![etc_layer()], cfg);
    let dest = t.join("bundle");
    let spec = create_bundle(&store, "img", &dest, &BundleOptions::default()).unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(dest.join("config.json")).unwrap()).unwrap();
    assert_eq!(v, serde_json::to_value(&spec).unwrap());
    let p = &v["process"];
    assert_eq!(p["args"], json!(["/bin/app", "--serve"]));
    assert_eq!(p["cwd"], "/srv");
    assert_eq!(p["terminal"], false);
    assert_eq!(p["user"]["uid"], 1000);
    assert_eq!(p["user"]["gid"], 1000);
    assert_eq!(p["user"]["additionalGids"], json!([10]));
    let env: Vec<String> = serde_json::from_value(p["env"].clone()).unwrap();
    assert!(env.contains(&"PATH=/opt/bin".to_string()), "{env:?}");
    assert!(env.contains(&"MODE=prod".to_string()));
    assert_eq!(env.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
    let a = &v["annotations"];
    assert_eq!(a["org.opencontainers.image.exposedPorts"], "443/tcp,80/tcp");
    assert_eq!(a["org.opencontainers.image.stopSignal"], "SIGTERM");
    assert_eq!(a["org.opencontainers.image.architecture"], "amd64");
    assert_eq!(a["com.example.team"], "box");
    assert!(dest.join("rootfs/bin/app").is_file());

    // Command override replaces Cmd and keeps the Entrypoint.
    let opts = BundleOptions {
        command: Some(vec!["--check".into()]),
        user: Some("0:10".into()),
        ..Default::default()
    };
    let spec = create_bundle(&store, "img", &t.join("b2"), &opts).unwrap();
    let p = spec.process().clone().unwrap();
    assert_eq!(p.args().clone().unwrap(), vec!["/bin/app", "--check"]);
    assert_eq!((p.user().uid(), p.user().gid()), (0, 10));
}

#[test]
fn unknown_user_is_an_error_and_passwd_is_read_inside_the_rootfs() {
    let t = Tmp::new("bundle-user");
    let store = store_with(&t, vec![etc_layer()], json!({"User": "mallory"}));
    let err = create_bundle(&store, "img", &t.join("b"), &BundleOptions::default()).unwrap_err();
    assert!(matches!(err, ImageError::User { .. }), "{err}");
    assert!(
        !t.join("b/rootfs").exists(),
        "failed bundle rootfs is removed"
    );

    // /etc/passwd is a symlink to a file outside the rootfs that would define the user:
    // it is resolved inside the rootfs (where the target does not exist), so the outside
    // file is never read.
    let t2 = Tmp::new("bundle-user-link");
    let outside = t2.join("outside-passwd");
    fs::write(&outside, b"mallory:x:0:0::/:/bin/sh\n").unwrap();
    let target = format!("/../../../../..{}", outside.display());
    let l = gz_layer(&[
        E::Dir("etc/", 0o755),
        E::Symlink("etc/passwd", &target),
        E::File("bin/app", b"x", 0o755),
    ]);
    let store = store_with(&t2, vec![l], json!({"User": "mallory"}));
    let err = create_bundle(&store, "img", &t2.join("b"), &BundleOptions::default()).unwrap_err();
    assert!(matches!(err, ImageError::User { .. }), "{err}");
    // Numeric ids need no entries.
    let opts = BundleOptions {
        user: Some("4000:4000".into()),
        ..Default::default()
    };
    let spec = create_bundle(&store, "img", &t2.join("b3"), &opts).unwrap();
    assert_eq!(spec.process().clone().unwrap().user().uid(), 4000);
}

#[test]
fn overlay_layers_are_shared_and_mountable() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let t = Tmp::new("bundle-overlay");
    let l1 = gz_layer(&[
        E::Dir("d/", 0o755),
        E::File("d/old", b"1", 0o644),
        E::File("gone", b"g", 0o644),
        E::File("bin/sh", b"s", 0o755),
    ]);
    let l2 = gz_layer(&[
        E::Dir("d/", 0o755),
        E::File("d/.wh..wh..opq", b"", 0o644),
        E::File("d/new", b"2", 0o644),
        E::File(".wh.gone", b"", 0o644),
    ]);
    let store = store_with(&t, vec![l1, l2], json!({}));
    let img = store.image("img", None).unwrap();
    let dirs = store.overlay_layers(&img).unwrap();
    assert_eq!(dirs.len(), 2);
    assert_eq!(
        dirs[0].file_name().unwrap().to_str().unwrap(),
        img.config.rootfs.diff_ids[0].encoded()
    );
    let again = store.overlay_layers(&img).unwrap();
    assert_eq!(dirs, again);
    let lower = overlay_lowerdir(&dirs);
    assert!(
        lower.starts_with(dirs[1].to_str().unwrap()),
        "top layer first: {lower}"
    );
    for d in ["upper", "work", "merged"] {
        fs::create_dir_all(t.join(d)).unwrap();
    }
    let script = format!(
        "mount -t overlay overlay -o lowerdir={lower},upperdir={u},workdir={w} {m} && ls -A {m} {m}/d",
        u = t.join("upper").display(),
        w = t.join("work").display(),
        m = t.join("merged").display()
    );
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("new"), "{text}");
    assert!(
        !text.contains("old"),
        "opaque dir hides the lower layer: {text}"
    );
    assert!(
        !text.contains("gone"),
        "whiteout hides the lower file: {text}"
    );
    assert!(text.contains("bin"), "{text}");
    // gc keeps the layer dirs while named, drops them after.
    assert_eq!(hezi_image::gc::gc(&store).unwrap().layer_dirs, 0);
    store.remove_name("img").unwrap();
    assert_eq!(hezi_image::gc::gc(&store).unwrap().layer_dirs, 2);
}
