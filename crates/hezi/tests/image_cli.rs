//! `hezi image ...` end to end through the binary, including a SIGKILLed import.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Tmp(PathBuf);

impl Tmp {
    fn new(prefix: &str) -> Tmp {
        let p = std::env::temp_dir().join(hezi_testsupport::unique_id(prefix));
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn hezi(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hezi"))
        .arg("--store")
        .arg(store)
        .args(args)
        .output()
        .unwrap()
}

fn ok(store: &Path, args: &[&str]) -> String {
    let o = hezi(store, args);
    assert!(
        o.status.success(),
        "hezi {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn import_list_tag_export_unpack_rm_gc_verify() {
    let t = Tmp::new("image-cli");
    let store = t.0.join("store");
    let layout = t.0.join("layout");
    let digest = hezi_testsupport::busybox_oci_layout(&layout, "busybox:latest").unwrap();
    let out = ok(&store, &["image", "import", layout.to_str().unwrap()]);
    assert!(out.contains(&digest), "{out}");

    let ls: Value =
        serde_json::from_str(&ok(&store, &["image", "ls", "--format", "json"])).unwrap();
    assert_eq!(ls[0]["name"], "busybox:latest");
    assert_eq!(ls[0]["digest"], digest.as_str());

    let inspect: Value =
        serde_json::from_str(&ok(&store, &["image", "inspect", "busybox"])).unwrap();
    assert_eq!(inspect["config"]["config"]["Cmd"], json!(["sh"]));

    ok(&store, &["image", "tag", "busybox", "mine:1"]);
    assert_eq!(ok(&store, &["image", "ls", "-q"]).lines().count(), 2);

    let dar = t.0.join("bb-docker.tar");
    ok(
        &store,
        &[
            "image",
            "export",
            "mine:1",
            dar.to_str().unwrap(),
            "--format",
            "docker-archive",
        ],
    );
    let listing = Command::new("tar").arg("tf").arg(&dar).output().unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("manifest.json"));

    let bundle = t.0.join("bundle");
    ok(
        &store,
        &["image", "unpack", "mine:1", bundle.to_str().unwrap()],
    );
    let cfg: Value =
        serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["process"]["args"], json!(["sh"]));
    assert_eq!(cfg["root"]["path"], "rootfs");
    assert!(bundle.join("rootfs/bin/busybox").is_file());

    let rootfs_only = t.0.join("rootfs-only");
    ok(
        &store,
        &[
            "image",
            "unpack",
            "--rootfs-only",
            "busybox",
            rootfs_only.to_str().unwrap(),
        ],
    );
    assert!(rootfs_only.join("bin/busybox").is_file());
    assert!(!rootfs_only.join("config.json").exists());

    ok(&store, &["image", "rm", "busybox", "mine:1"]);
    let missing = hezi(&store, &["image", "rm", "busybox"]);
    assert!(!missing.status.success());
    let gc = ok(&store, &["image", "gc"]);
    assert!(gc.contains("removed 3 blobs"), "{gc}");
    ok(&store, &["image", "import", dar.to_str().unwrap()]);
    assert_eq!(ok(&store, &["image", "ls", "-q"]).trim(), "mine:1");
    let v = ok(&store, &["image", "verify"]);
    assert!(v.contains("0 problems"), "{v}");

    // Damage the biggest blob (the layer) in place: verify exits 1 and names it.
    let name = fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut data = fs::read(&name).unwrap();
    data[100] ^= 0xff;
    fs::write(&name, &data).unwrap();
    let bad = hezi(&store, &["image", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = String::from_utf8_lossy(&bad.stdout);
    assert!(
        text.contains(name.file_name().unwrap().to_str().unwrap()),
        "{text}"
    );
    // Repair from the docker-archive that holds a good copy.
    let fixed = ok(
        &store,
        &[
            "image",
            "verify",
            "--repair",
            "--from",
            dar.to_str().unwrap(),
        ],
    );
    assert!(
        fixed.contains("restored 1, removed 0; 0 problems remain"),
        "{fixed}"
    );
    assert!(ok(&store, &["image", "verify"]).contains("0 problems"));
    // Without a source a corrupt blob is removed and then reported missing.
    fs::write(&name, b"rot").unwrap();
    let gone = hezi(&store, &["image", "verify", "--repair"]);
    assert_eq!(gone.status.code(), Some(1));
    let text = String::from_utf8_lossy(&gone.stdout);
    assert!(text.contains("is missing"), "{text}");
    assert!(!name.exists());
}

/// An oci-archive whose one layer blob is `size` bytes of pseudo-random data.
fn big_archive(path: &Path, size: usize) -> String {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut blob = vec![0u8; size];
    for chunk in blob.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    let sha = |d: &[u8]| hezi_testsupport::sha256_digest(d);
    let layer_digest = sha(&blob);
    let config = serde_json::to_vec(&json!({"architecture":"amd64","os":"linux",
        "rootfs":{"type":"layers","diff_ids":[layer_digest]}}))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({"schemaVersion":2,
        "mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":sha(&config),"size":config.len()},
        "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":layer_digest,"size":blob.len()}]}))
    .unwrap();
    let index = serde_json::to_vec(&json!({"schemaVersion":2,"manifests":[{
        "mediaType":"application/vnd.oci.image.manifest.v1+json","digest":sha(&manifest),"size":manifest.len(),
        "annotations":{"org.opencontainers.image.ref.name":"big"}}]}))
    .unwrap();
    let dir = path.with_extension("d");
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    fs::write(dir.join("index.json"), &index).unwrap();
    for data in [&config, &manifest, &blob] {
        fs::write(blobs.join(&sha(data)[7..]), data).unwrap();
    }
    let st = Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(path)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    fs::remove_dir_all(&dir).unwrap();
    layer_digest
}

#[test]
fn killed_import_leaves_a_consistent_store() {
    let t = Tmp::new("image-kill");
    let store = t.0.join("store");
    let archive = t.0.join("big.tar");
    let layer = big_archive(&archive, 512 << 20);
    ok(&store, &["image", "ls"]); // creates the store
    let mut child = Command::new(env!("CARGO_BIN_EXE_hezi"))
        .arg("--store")
        .arg(&store)
        .args(["image", "import"])
        .arg(&archive)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the big blob is being ingested.
    let start = Instant::now();
    let mut killed_mid_ingest = false;
    while start.elapsed() < Duration::from_secs(60) {
        let busy = fs::read_dir(store.join("ingest"))
            .map(|rd| {
                rd.flatten()
                    .any(|e| e.metadata().map(|m| m.len() > (16 << 20)).unwrap_or(false))
            })
            .unwrap_or(false);
        if busy {
            killed_mid_ingest = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        killed_mid_ingest,
        "the import finished before it could be killed"
    );
    let partial = store.join("blobs/sha256").join(&layer[7..]);
    assert!(!partial.exists(), "a partial blob became visible");
    let v = ok(&store, &["image", "verify"]);
    assert!(v.contains("0 problems"), "{v}");
    assert_eq!(ok(&store, &["image", "ls", "-q"]).trim(), "");
    // The import can simply be run again.
    ok(&store, &["image", "import", archive.to_str().unwrap()]);
    assert!(partial.exists());
    assert_eq!(ok(&store, &["image", "ls", "-q"]).trim(), "big");
    assert!(ok(&store, &["image", "verify"]).contains("0 problems"));
}

/// Import, unpack and export print no progress when stderr is not a terminal (logs and
/// pipes stay clean).
#[test]
fn no_progress_output_without_a_terminal() {
    let t = Tmp::new("image-cli-quiet");
    let store = t.0.join("store");
    let layout = t.0.join("layout");
    hezi_testsupport::busybox_oci_layout(&layout, "busybox:latest").unwrap();
    let runs: [Vec<String>; 3] = [
        vec![
            "image".into(),
            "import".into(),
            layout.display().to_string(),
        ],
        vec![
            "image".into(),
            "unpack".into(),
            "--rootfs-only".into(),
            "busybox".into(),
            t.0.join("r").display().to_string(),
        ],
        vec![
            "image".into(),
            "export".into(),
            "busybox".into(),
            t.0.join("x.tar").display().to_string(),
            "--format".into(),
            "oci-archive".into(),
        ],
    ];
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = hezi(&store, &args);
        assert!(o.status.success(), "{args:?}");
        assert!(
            o.stderr.is_empty(),
            "{args:?} wrote to stderr: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert!(t.0.join("r/bin/busybox").is_file());
}

/// On a terminal (a pty from util-linux `script`), import, unpack and export draw a
/// progress bar with bytes and throughput.
#[test]
fn progress_bar_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` not installed");
        return;
    }
    let t = Tmp::new("image-cli-tty");
    let store = t.0.join("store");
    let layout = t.0.join("layout");
    hezi_testsupport::busybox_oci_layout(&layout, "busybox:latest").unwrap();
    let bin = env!("CARGO_BIN_EXE_hezi");
    let q = |p: &Path| format!("'{}'", p.display());
    let on_tty = |cmd: String| -> String {
        let o = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{cmd}: {text}");
        text
    };
    let imp = on_tty(format!(
        "{bin} --store {} image import {}",
        q(&store),
        q(&layout)
    ));
    assert!(imp.contains("importing"), "{imp}");
    assert!(imp.contains("/s"), "throughput expected: {imp}");
    assert!(imp.contains("busybox:latest\tsha256:"), "{imp}");
    let rootfs = t.0.join("r");
    let un = on_tty(format!(
        "{bin} --store {} image unpack --rootfs-only busybox {}",
        q(&store),
        q(&rootfs)
    ));
    assert!(un.contains("unpacking"), "{un}");
    assert!(un.contains("iB/"), "bytes of a total expected: {un}");
    assert!(rootfs.join("bin/busybox").is_file());
    let ex = on_tty(format!(
        "{bin} --store {} image export busybox {} --format oci-archive",
        q(&store),
        q(&t.0.join("x.tar"))
    ));
    assert!(ex.contains("exporting"), "{ex}");
}

/// `image ls` sizes and times, `image history` and `image du` with a layer two images share.
#[test]
fn ls_history_and_du_report_sizes_and_sharing() {
    use hezi_testsupport::{
        busybox_layer_tar, busybox_rootfs, gzip, layout_from_layers, sha256_digest,
    };
    let t = Tmp::new("hezi-image-du");
    let rootfs = t.0.join("rootfs");
    if let Err(e) = busybox_rootfs(&rootfs) {
        eprintln!("skipped: no busybox rootfs ({e})");
        return;
    }
    let tar = busybox_layer_tar(&rootfs).unwrap();
    let layer = (gzip(&tar).unwrap(), sha256_digest(&tar));
    let own = b"only in b".to_vec();
    let mut own_tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(own.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    own_tar
        .append_data(&mut h, "b.txt", own.as_slice())
        .unwrap();
    let own_tar = own_tar.into_inner().unwrap();
    let own_layer = (gzip(&own_tar).unwrap(), sha256_digest(&own_tar));
    let layout = t.0.join("layout");
    layout_from_layers(&layout, "a:1", std::slice::from_ref(&layer), &["sh"]).unwrap();
    layout_from_layers(
        &layout,
        "b:1",
        &[layer.clone(), own_layer.clone()],
        &["true"],
    )
    .unwrap();
    let store = t.0.join("store");
    ok(&store, &["image", "import", layout.to_str().unwrap()]);
    ok(&store, &["image", "tag", "a:1", "a:alias"]);

    let ls: Value =
        serde_json::from_str(&ok(&store, &["image", "ls", "--format", "json"])).unwrap();
    let rows = ls.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{ls}");
    for r in rows {
        assert_eq!(r["created"], "2026-01-01T00:00:00Z", "{r}");
        assert!(r["size"].as_u64().unwrap() > layer.0.len() as u64, "{r}");
    }
    let table = ok(&store, &["image", "ls"]);
    assert!(table.lines().next().unwrap().contains("SIZE"), "{table}");
    assert!(table.contains("2026-01-01T00:00:00"), "{table}");

    let hist: Value = serde_json::from_str(&ok(
        &store,
        &["image", "history", "b:1", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(hist[0]["created_by"], "hezi-testsupport", "{hist}");
    assert_eq!(hist[0]["size"], layer.0.len() as u64, "{hist}");

    let du: Value =
        serde_json::from_str(&ok(&store, &["image", "du", "--format", "json"])).unwrap();
    let images = du["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "two manifests, three names: {du}");
    let a = images
        .iter()
        .find(|i| i["names"].as_array().unwrap().len() == 2)
        .expect("a:1 + alias");
    let b = images
        .iter()
        .find(|i| i["names"] == json!(["b:1"]))
        .expect("b:1");
    assert_eq!(a["shared"], layer.0.len() as u64, "{du}");
    assert_eq!(b["shared"], layer.0.len() as u64, "{du}");
    let b_unique = b["unique"].as_u64().unwrap();
    assert!(b_unique >= own_layer.0.len() as u64, "{du}");
    assert_eq!(
        b["size"].as_u64().unwrap(),
        b["shared"].as_u64().unwrap() + b_unique,
        "{du}"
    );
    let blob_bytes: u64 = fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(du["blob_bytes"], blob_bytes, "{du}");
    assert!(ok(&store, &["image", "du"]).contains("UNIQUE"));
}

/// `image unpack --max-layer-size` refuses the busybox layer under a limit smaller than it,
/// naming the limit, and leaves no destination behind; a larger limit unpacks it.
#[test]
fn unpack_max_layer_size() {
    let t = Tmp::new("image-cli-max");
    let store = t.0.join("store");
    let layout = t.0.join("layout");
    hezi_testsupport::busybox_oci_layout(&layout, "busybox:latest").unwrap();
    ok(&store, &["image", "import", layout.to_str().unwrap()]);
    for rootfs_only in [false, true] {
        let dest = t.0.join(format!("small-{rootfs_only}"));
        let mut args = vec!["image", "unpack", "--max-layer-size", "64K"];
        if rootfs_only {
            args.push("--rootfs-only");
        }
        args.extend(["busybox", dest.to_str().unwrap()]);
        let o = hezi(&store, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "unpack passed the limit");
        assert!(err.contains("more than 65536 bytes"), "{err}");
        assert!(!dest.exists(), "{} left behind", dest.display());
    }
    let dest = t.0.join("large");
    ok(
        &store,
        &[
            "image",
            "unpack",
            "--max-layer-size",
            "1G",
            "busybox",
            dest.to_str().unwrap(),
        ],
    );
    assert!(dest.join("rootfs/bin/busybox").is_file());
    let bad = hezi(
        &store,
        &["image", "unpack", "--max-layer-size", "1X", "busybox", "x"],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown size suffix"));
}
