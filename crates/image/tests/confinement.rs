//! Property test of the unpack invariant: whatever a layer stack holds (symlinks to `/`,
//! climbing links, absolute links to the host, `..` names, whiteouts and hardlinks through
//! links), nothing outside the rootfs is created, modified or removed.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use hezi_image::unpack::{unpack_layers, Expect, UnpackOptions};
use proptest::prelude::*;

/// Everything under `dir` except `skip`: path → (kind, size, mode, mtime, content).
fn snapshot(dir: &Path, skip: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if rel == skip {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if m.file_type().is_symlink() {
                format!("link {}", fs::read_link(&p).unwrap().display())
            } else {
                format!("file {:?}", fs::read(&p).unwrap())
            };
            out.insert(
                rel,
                format!(
                    "{what} mode={:o} mtime={}.{}",
                    m.mode(),
                    m.mtime(),
                    m.mtime_nsec()
                ),
            );
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Ent {
    File(String),
    Dir(String),
    Link(String, String),
    Hard(String, String),
}

fn name() -> impl Strategy<Value = String> {
    let comp = prop::sample::select(vec![
        "a",
        "l",
        "l",
        "..",
        ".",
        "sub",
        "victim",
        ".wh.victim",
        ".wh.sub",
        ".wh..wh..opq",
    ]);
    prop::collection::vec(comp, 1..4).prop_map(|v| v.join("/"))
}

/// `HOST` stands for the temp dir's real host path (substituted per case).
fn target() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        prop::sample::select(vec![
            "/".to_string(),
            "..".to_string(),
            "../..".to_string(),
            "../../outside".to_string(),
            "../../../../outside/sub".to_string(),
            "/../outside".to_string(),
            "HOST".to_string(),
            "HOST/outside".to_string(),
            "HOST/outside/victim".to_string(),
        ]),
    ]
}

fn entry() -> impl Strategy<Value = Ent> {
    prop_oneof![
        name().prop_map(Ent::File),
        name().prop_map(Ent::Dir),
        (name(), target()).prop_map(|(n, t)| Ent::Link(n, t)),
        (name(), target()).prop_map(|(n, t)| Ent::Hard(n, t)),
    ]
}

fn layer(ents: &[Ent]) -> Layer {
    let dirs: Vec<String> = ents
        .iter()
        .map(|e| match e {
            Ent::Dir(n) => format!("{n}/"),
            _ => String::new(),
        })
        .collect();
    let list: Vec<E<'_>> = ents
        .iter()
        .zip(&dirs)
        .map(|(e, d)| match e {
            Ent::File(n) => E::File(n, b"pwned", 0o644),
            Ent::Dir(_) => E::Dir(d, 0o755),
            Ent::Link(n, t) => E::Symlink(n, t),
            Ent::Hard(n, t) => E::Hardlink(n, t),
        })
        .collect();
    gz_layer(&list)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn nothing_outside_the_rootfs_changes(
        l1 in prop::collection::vec(entry(), 1..8),
        l2 in prop::collection::vec(entry(), 0..8),
    ) {
        let t = Tmp::new("confine");
        // Absolute link targets point at the real host path of the temp dir.
        let host = t.0.display().to_string();
        let fix = |ents: Vec<Ent>| -> Vec<Ent> {
            ents.into_iter()
                .map(|e| match e {
                    Ent::Link(n, tg) => Ent::Link(n, tg.replace("HOST", &host)),
                    Ent::Hard(n, tg) => Ent::Hard(n, tg.replace("HOST", &host)),
                    other => other,
                })
                .collect()
        };
        let (l1, l2) = (fix(l1), fix(l2));
        fs::create_dir_all(t.join("outside/sub")).unwrap();
        fs::write(t.join("outside/victim"), b"safe").unwrap();
        fs::write(t.join("outside/sub/f"), b"safe").unwrap();
        fs::create_dir_all(t.join("box")).unwrap();
        let before = snapshot(&t.0, "box");
        let layers = [layer(&l1), layer(&l2)];
        let it = layers.iter().map(|l| {
            Ok((
                l.blob.as_slice(),
                Expect {
                    digest: Some(sha(&l.blob)),
                    size: Some(l.blob.len() as u64),
                    diff_id: Some(l.diff_id.clone()),
                    media_type: l.media_type.to_string(),
                },
            ))
        });
        let result = unpack_layers(&t.join("box/rootfs"), it, UnpackOptions::default());
        let after = snapshot(&t.0, "box");
        prop_assert_eq!(before, after, "outside changed; unpack said {:?}", result.err());
        let box_names: Vec<_> = fs::read_dir(t.join("box")).unwrap().map(|e| e.unwrap().file_name()).collect();
        prop_assert!(box_names.iter().all(|n| n == "rootfs"), "{:?}", box_names);
    }
}
