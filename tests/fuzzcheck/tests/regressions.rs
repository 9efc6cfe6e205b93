//! Replays every kept fuzz input (the seed corpus under `fuzz/corpus/<target>/` and each input
//! that once failed, kept under `fuzz/regressions/<target>/`) through the property of its
//! target. Runs in plain `cargo test`, without libFuzzer.

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_kept_input_holds_its_property() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    for (name, check) in hezi_fuzzcheck::TARGETS {
        let seeds = inputs(&fuzz.join("corpus").join(name));
        assert!(!seeds.is_empty(), "no seed corpus for fuzz target {name}");
        let regressions = inputs(&fuzz.join("regressions").join(name));
        for path in seeds.iter().chain(&regressions) {
            let data = std::fs::read(path).expect("read input");
            eprintln!("{name}: {}", path.display());
            check(&data);
        }
    }
}

#[test]
fn layer_containment_check_can_fail() {
    // The property itself must see a member written next to the rootfs.
    let dir = tempfile::tempdir().expect("tmp");
    let outer = dir.path().join("outer");
    std::fs::create_dir_all(outer.join("rootfs")).expect("mkdir");
    assert!(hezi_fuzzcheck::holds_only(&outer, &["rootfs"]));
    std::fs::write(outer.join("escaped"), b"x").expect("write");
    assert!(!hezi_fuzzcheck::holds_only(&outer, &["rootfs"]));
}
