//! The store's progress callback sees every byte of an import, an unpack and an export.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use hezi_image::archive::{export, import, Format};
use hezi_image::unpack::UnpackOptions;
use hezi_image::Store;
use serde_json::json;

#[test]
fn import_unpack_and_export_report_bytes() {
    let t = Tmp::new("progress");
    let layers = vec![
        gz_layer(&[E::File("a", &[1u8; 70_000], 0o644)]),
        gz_layer(&[E::File("b", b"bee", 0o644), E::Dir("d/", 0o755)]),
    ];
    let layer_bytes: u64 = layers.iter().map(|l| l.blob.len() as u64).sum();
    layout(&t.join("layout"), "img", &layers, json!({}));

    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let mut store = Store::open(t.join("store")).unwrap();
    store.set_progress(Some(Arc::new(move |n| {
        s.fetch_add(n, Ordering::Relaxed);
    })));

    import(&store, &t.join("layout"), Some(Format::OciDir), None).unwrap();
    let imported = seen.swap(0, Ordering::Relaxed);
    assert!(
        imported >= layer_bytes,
        "import reported {imported} of at least {layer_bytes} bytes"
    );

    let img = store.image("img", None).unwrap();
    store
        .unpack(&img, &t.join("rootfs"), UnpackOptions::default())
        .unwrap();
    assert_eq!(seen.swap(0, Ordering::Relaxed), layer_bytes, "unpack");

    export(&store, "img", &t.join("out.tar"), Format::OciArchive).unwrap();
    let exported = seen.swap(0, Ordering::Relaxed);
    let blobs: u64 = store.walk().unwrap().iter().map(|b| b.size).sum();
    assert_eq!(exported, blobs, "oci-archive export copies every blob once");

    export(&store, "img", &t.join("out-dir"), Format::OciDir).unwrap();
    assert_eq!(seen.swap(0, Ordering::Relaxed), blobs, "oci-dir export");
}
