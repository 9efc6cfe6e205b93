//! The registry client against Debian's `docker-registry` (distribution 2.8) on loopback,
//! skopeo as a second client, and a small fake registry in this file for corrupt blobs,
//! 429s and broken downloads. Tests that need a tool skip with a message when it is missing.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hezi_image::archive::{import, Format};
use hezi_image::registry::{self, ClientOptions, Credentials, PullOptions, PushOptions, Reference};
use hezi_image::{ImageError, Store};

use hezi_testsupport::registry::{htpasswd, DockerRegistry as Registry};
use hezi_testsupport::require_tool;

/// A store holding a two-layer image named `img:v1`; returns the manifest digest.
fn store_with_image(dir: &Path) -> (Store, String) {
    let layout = dir.join("layout");
    let mut layers = Vec::new();
    for (name, body) in [
        ("a.txt", vec![b'a'; 70_000]),
        (
            "b.bin",
            (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect(),
        ),
    ] {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1);
        h.set_cksum();
        b.append_data(&mut h, name, body.as_slice()).unwrap();
        let tar = b.into_inner().unwrap();
        let diff = hezi_testsupport::sha256_digest(&tar);
        layers.push((hezi_testsupport::gzip(&tar).unwrap(), diff));
    }
    let digest = hezi_testsupport::layout_from_layers(&layout, "img:v1", &layers, &["sh"]).unwrap();
    let store = Store::open(dir.join("store")).unwrap();
    import(&store, &layout, Some(Format::OciDir), None).unwrap();
    (store, digest)
}

fn opts() -> ClientOptions {
    ClientOptions {
        use_auth_files: false,
        backoff: Duration::from_millis(20),
        ..ClientOptions::default()
    }
}

fn stored_blobs(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = store
        .walk()
        .unwrap()
        .into_iter()
        .map(|b| b.digest.to_string())
        .collect();
    v.sort();
    v
}

fn ingest_is_empty(store: &Store) -> bool {
    fs::read_dir(store.path().join("ingest"))
        .unwrap()
        .next()
        .is_none()
}

#[test]
fn push_then_pull_into_a_fresh_store_with_docker_registry() {
    require_tool!("docker-registry");
    let reg = Registry::start(None).unwrap();
    let t = tempfile::tempdir().unwrap();
    let (src, digest) = store_with_image(t.path());
    let dest = Reference::parse(&format!("docker://{}/hezi/img:v1", reg.addr)).unwrap();
    let client = registry::connect(&dest, &opts()).unwrap();
    assert!(
        client.base().starts_with("http://"),
        "loopback uses plain HTTP"
    );
    let pushed = registry::push(&src, &client, "img:v1", &dest, &PushOptions::default()).unwrap();
    assert_eq!(pushed.descriptor.digest.to_string(), digest);
    assert_eq!(pushed.uploaded, 3);
    // A second push finds every blob there.
    let again = registry::push(&src, &client, "img:v1", &dest, &PushOptions::default()).unwrap();
    assert_eq!((again.uploaded, again.skipped), (0, 3));

    let fresh = Store::open(t.path().join("fresh")).unwrap();
    let pulled = registry::pull(&fresh, &client, &dest, &PullOptions::default()).unwrap();
    assert_eq!(pulled.descriptor.digest.to_string(), digest);
    assert_eq!(pulled.name, format!("{}/hezi/img:v1", reg.addr));
    assert_eq!((pulled.fetched, pulled.skipped), (3, 0));
    assert_eq!(stored_blobs(&fresh), stored_blobs(&src));
    let img = fresh.image(&pulled.name, None).unwrap();
    assert_eq!(img.manifest.layers.len(), 2);
    let again = registry::pull(&fresh, &client, &dest, &PullOptions::default()).unwrap();
    assert_eq!((again.fetched, again.skipped), (0, 3));

    // Chunked (PATCH) uploads to another repository, pulled back into a third store.
    let chunked = Reference::parse(&format!("{}/hezi/chunked:v1", reg.addr)).unwrap();
    let o = PushOptions {
        chunk_size: Some(64 << 10),
        ..PushOptions::default()
    };
    let p = registry::push(&src, &client, "img:v1", &chunked, &o).unwrap();
    assert_eq!(p.uploaded, 3);
    let third = Store::open(t.path().join("third")).unwrap();
    let p = registry::pull(&third, &client, &chunked, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digest);
    assert_eq!(stored_blobs(&third), stored_blobs(&src));
    // A mount from the first repository uploads nothing new.
    let mounted = Reference::parse(&format!("{}/hezi/mounted:v1", reg.addr)).unwrap();
    let o = PushOptions {
        mount_from: Some("hezi/img".into()),
        ..PushOptions::default()
    };
    registry::push(&src, &client, "img:v1", &mounted, &o).unwrap();
    let p = registry::pull(&third, &client, &mounted, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digest);

    // By digest, under another name, with one job.
    let by_digest = Reference::parse(&format!("{}/hezi/img@{digest}", reg.addr)).unwrap();
    let o = PullOptions {
        jobs: 1,
        name: Some("byd".into()),
        ..PullOptions::default()
    };
    let p = registry::pull(&fresh, &client, &by_digest, &o).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digest);
    assert_eq!(fresh.resolve("byd").unwrap().digest.to_string(), digest);

    // Errors name registry, repository and reference.
    let missing = Reference::parse(&format!("{}/hezi/img:nope", reg.addr)).unwrap();
    let e = registry::pull(&fresh, &client, &missing, &PullOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(&e, ImageError::Registry(b) if matches!(**b, registry::RegistryError::NotFound { .. })),
        "{msg}"
    );
    assert!(
        msg.contains(&reg.addr) && msg.contains("hezi/img") && msg.contains("nope"),
        "{msg}"
    );
    assert!(msg.contains("MANIFEST_UNKNOWN"), "{msg}");
}

#[test]
fn skopeo_reads_what_we_push_and_we_read_what_it_pushes() {
    require_tool!("docker-registry");
    require_tool!("skopeo");
    let reg = Registry::start(None).unwrap();
    let t = tempfile::tempdir().unwrap();
    let (src, digest) = store_with_image(t.path());
    let dest = Reference::parse(&format!("{}/ours/img:v1", reg.addr)).unwrap();
    let client = registry::connect(&dest, &opts()).unwrap();
    registry::push(&src, &client, "img:v1", &dest, &PushOptions::default()).unwrap();

    let out = t.path().join("skopeo-oci");
    let st = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", "--preserve-digests"])
        .arg(format!("docker://{}/ours/img:v1", reg.addr))
        .arg(format!("oci:{}:v1", out.display()))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());

    // skopeo pushes the layout (OCI media types kept) under another name; we pull it back.
    let st = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--preserve-digests"])
        .arg(format!("oci:{}:v1", out.display()))
        .arg(format!("docker://{}/theirs/img:v2", reg.addr))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let theirs = Reference::parse(&format!("{}/theirs/img:v2", reg.addr)).unwrap();
    let c2 = registry::connect(&theirs, &opts()).unwrap();
    let fresh = Store::open(t.path().join("fresh")).unwrap();
    let p = registry::pull(&fresh, &c2, &theirs, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digest);
    assert_eq!(stored_blobs(&fresh), stored_blobs(&src));

    // A Docker schema 2 manifest (skopeo converts), pulled and checked against its raw bytes.
    let st = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--format", "v2s2"])
        .arg(format!("oci:{}:v1", out.display()))
        .arg(format!("docker://{}/theirs/docker:v3", reg.addr))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/theirs/docker:v3", reg.addr))
        .output()
        .unwrap();
    assert!(raw.status.success());
    let v3 = Reference::parse(&format!("{}/theirs/docker:v3", reg.addr)).unwrap();
    let c3 = registry::connect(&v3, &opts()).unwrap();
    let p = registry::pull(&fresh, &c3, &v3, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.media_type, hezi_image::media::DOCKER_MANIFEST);
    assert_eq!(
        p.descriptor.digest.to_string(),
        hezi_testsupport::sha256_digest(&raw.stdout)
    );
    let img = fresh.image(&p.name, None).unwrap();
    assert_eq!(
        img.manifest.layers[0].media_type,
        hezi_image::media::DOCKER_LAYER_GZIP
    );
}

#[test]
fn htpasswd_basic_auth() {
    require_tool!("docker-registry");
    require_tool!("htpasswd");
    let t = tempfile::tempdir().unwrap();
    let pw = t.path().join("htpasswd");
    htpasswd(&pw, "alice", "s3cret").unwrap();
    let reg = Registry::start(Some(&pw)).unwrap();
    let (src, digest) = store_with_image(t.path());
    let dest = Reference::parse(&format!("{}/auth/img:v1", reg.addr)).unwrap();

    let anon = registry::connect(&dest, &opts()).unwrap();
    let e = registry::push(&src, &anon, "img:v1", &dest, &PushOptions::default()).unwrap_err();
    assert!(
        matches!(&e, ImageError::Registry(b) if matches!(**b, registry::RegistryError::Unauthorized { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("hezi login"), "{e}");

    let wrong = ClientOptions {
        credentials: Credentials::parse("alice:nope"),
        ..opts()
    };
    let c = registry::connect(&dest, &wrong).unwrap();
    assert!(registry::push(&src, &c, "img:v1", &dest, &PushOptions::default()).is_err());

    // Credentials from an auth file, as `hezi login` writes it.
    let authfile = t.path().join("auth.json");
    registry::auth::store_credentials(
        &authfile,
        &reg.addr,
        &Credentials::parse("alice:s3cret").unwrap(),
    )
    .unwrap();
    let creds = registry::auth::lookup_in(&authfile, &reg.addr, "auth/img").unwrap();
    let good = ClientOptions {
        credentials: creds,
        ..opts()
    };
    let c = registry::connect(&dest, &good).unwrap();
    registry::push(&src, &c, "img:v1", &dest, &PushOptions::default()).unwrap();
    let fresh = Store::open(t.path().join("fresh")).unwrap();
    let p = registry::pull(&fresh, &c, &dest, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digest);
}

// ---- a fake registry -------------------------------------------------------------------

struct Req {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What the fake answers: status, headers, body, and whether to cut the body after that
/// many bytes (closing the connection).
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    cut_at: Option<usize>,
}

fn resp(status: u16, body: &[u8]) -> Resp {
    Resp {
        status,
        headers: Vec::new(),
        body: body.to_vec(),
        cut_at: None,
    }
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// Serves `handler` on a loopback port (one thread per connection, `Connection: close`).
fn fake(handler: Handler) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            let h = handler.clone();
            std::thread::spawn(move || serve(s, &h));
        }
    });
    addr
}

fn serve(s: TcpStream, h: &Handler) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut l = String::new();
        if r.read_line(&mut l).is_err() || l.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = Vec::new();
    if let Some(n) = headers
        .get("content-length")
        .and_then(|n| n.parse::<u64>().ok())
    {
        let _ = (&mut r).take(n).read_to_end(&mut body);
    }
    let out = h(&Req {
        method,
        path,
        headers,
        body,
    });
    let mut w = s;
    let reason = match out.status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "X",
    };
    let mut head = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n",
        out.status,
        out.body.len()
    );
    for (k, v) in &out.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = w.write_all(head.as_bytes());
    let body = match out.cut_at {
        Some(n) => &out.body[..n],
        None => &out.body[..],
    };
    let _ = w.write_all(body);
    let _ = w.flush();
    let _ = w.shutdown(std::net::Shutdown::Both);
}

/// A one-layer image as the fake serves it: (manifest bytes, manifest digest, config, layer).
fn fake_image(layer: &[u8]) -> (Vec<u8>, String, Vec<u8>) {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [hezi_testsupport::sha256_digest(layer)]}
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": hezi_testsupport::sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": hezi_testsupport::sha256_digest(layer), "size": layer.len()}]
    })).unwrap();
    let d = hezi_testsupport::sha256_digest(&manifest);
    (manifest, d, config)
}

/// Routes the fake: `/v2/`, the manifest under tag `t`, the config; `layer` decides blobs.
fn routes(
    manifest: Vec<u8>,
    config: Vec<u8>,
    layer_digest: String,
    layer: impl Fn(&Req) -> Resp + Send + Sync + 'static,
) -> Handler {
    let cfg_digest = hezi_testsupport::sha256_digest(&config);
    Arc::new(move |r: &Req| {
        if r.path == "/v2/" {
            return resp(200, b"{}");
        }
        if r.path.ends_with("/manifests/t") {
            let mut x = resp(200, &manifest);
            x.headers.push((
                "Content-Type".into(),
                "application/vnd.oci.image.manifest.v1+json".into(),
            ));
            return x;
        }
        if r.path.ends_with(&format!("/blobs/{cfg_digest}")) {
            return resp(200, &config);
        }
        if r.path.ends_with(&format!("/blobs/{layer_digest}")) {
            return layer(r);
        }
        resp(
            404,
            br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#,
        )
    })
}

#[test]
fn a_corrupt_blob_is_rejected_and_nothing_is_stored() {
    let layer: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let (manifest, _, config) = fake_image(&layer);
    let ld = hezi_testsupport::sha256_digest(&layer);
    let mut bad = layer.clone();
    bad[5000] ^= 1;
    let addr = fake(routes(manifest, config, ld.clone(), move |_| {
        resp(200, &bad)
    }));
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let r = Reference::parse(&format!("{addr}/x/y:t")).unwrap();
    let c = registry::connect(&r, &opts()).unwrap();
    let e = registry::pull(
        &store,
        &c,
        &r,
        &PullOptions {
            jobs: 1,
            ..PullOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, ImageError::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&ld), "{e}");
    assert!(!stored_blobs(&store).contains(&ld));
    assert!(ingest_is_empty(&store));
    assert!(store.names().unwrap().is_empty());
}

#[test]
fn too_many_requests_then_success_and_a_broken_download_resumes_with_range() {
    let layer: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let (manifest, mdigest, config) = fake_image(&layer);
    let ld = hezi_testsupport::sha256_digest(&layer);
    let calls = Arc::new(AtomicUsize::new(0));
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let (c2, r2) = (calls.clone(), ranges.clone());
    let body = layer.clone();
    let addr = fake(routes(manifest, config, ld.clone(), move |r: &Req| {
        let n = c2.fetch_add(1, Ordering::SeqCst);
        assert_eq!(r.method, "GET");
        match n {
            0 => {
                let mut x = resp(
                    429,
                    br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#,
                );
                x.headers.push(("Retry-After".into(), "0".into()));
                x
            }
            1 => Resp {
                cut_at: Some(120_000),
                ..resp(200, &body)
            },
            _ => {
                let range = r.headers.get("range").cloned().unwrap_or_default();
                r2.lock().unwrap().push(range.clone());
                let from: usize = range
                    .trim_start_matches("bytes=")
                    .trim_end_matches('-')
                    .parse()
                    .unwrap_or(0);
                let mut x = resp(206, &body[from..]);
                x.headers.push((
                    "Content-Range".into(),
                    format!("bytes {from}-{}/{}", body.len() - 1, body.len()),
                ));
                x
            }
        }
    }));
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let r = Reference::parse(&format!("{addr}/x/y:t")).unwrap();
    let c = registry::connect(&r, &opts()).unwrap();
    let p = registry::pull(&store, &c, &r, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), mdigest);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(*ranges.lock().unwrap(), vec!["bytes=120000-".to_string()]);
    assert!(stored_blobs(&store).contains(&ld));
    assert!(ingest_is_empty(&store));
}

#[test]
fn manifest_digest_header_and_size_cap_are_enforced() {
    let layer = b"x".to_vec();
    let (manifest, _, config) = fake_image(&layer);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let m2 = manifest.clone();
    let addr = fake(Arc::new(move |r: &Req| {
        if r.path == "/v2/" {
            return resp(200, b"{}");
        }
        if r.path.ends_with("/manifests/forbidden") {
            return resp(
                403,
                br#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
            );
        }
        if r.path.ends_with("/manifests/big") {
            return resp(200, &vec![b' '; (registry::MAX_MANIFEST + 10) as usize]);
        }
        let mut x = resp(200, &m2);
        x.headers
            .push(("Docker-Content-Digest".into(), wrong.clone()));
        x
    }));
    let _ = config;
    let r = Reference::parse(&format!("{addr}/x/y:t")).unwrap();
    let c = registry::connect(&r, &opts()).unwrap();
    let e = c.fetch_manifest("x/y", "t").unwrap_err().to_string();
    assert!(e.contains("Docker-Content-Digest"), "{e}");
    let e = c.fetch_manifest("x/y", "forbidden").unwrap_err();
    assert!(matches!(e, registry::RegistryError::Denied { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains(&addr) && e.contains("x/y") && e.contains("forbidden") && e.contains("DENIED"),
        "{e}"
    );
    let e = c.fetch_manifest("x/y", "big").unwrap_err().to_string();
    assert!(e.contains("limit"), "{e}");
}

#[test]
fn bearer_tokens_are_fetched_with_credentials_and_cached_per_scope() {
    let layer = b"layer bytes".to_vec();
    let (manifest, mdigest, config) = fake_image(&layer);
    let ld = hezi_testsupport::sha256_digest(&layer);
    // The layer is redirected to "storage" that wants no token, as registries on S3 do.
    let cdn = format!("/cdn/{ld}");
    let cdn2 = cdn.clone();
    let inner = routes(manifest, config, ld, move |_| {
        let mut x = resp(307, b"");
        x.headers.push(("Location".into(), cdn2.clone()));
        x
    });
    let token_calls = Arc::new(Mutex::new(Vec::<String>::new()));
    let tc = token_calls.clone();
    let addr_cell: Arc<Mutex<String>> = Arc::new(Mutex::new(String::new()));
    let ac = addr_cell.clone();
    let basic = format!("Basic {}", Credentials::parse("bob:pw").unwrap().encoded());
    let addr = fake(Arc::new(move |r: &Req| {
        if r.path == cdn {
            return resp(200, &layer);
        }
        if r.path.starts_with("/token?") {
            if r.headers.get("authorization") != Some(&basic) {
                return resp(
                    401,
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad creds"}]}"#,
                );
            }
            tc.lock().unwrap().push(r.path.clone());
            return resp(200, br#"{"token":"tok-1","expires_in":300}"#);
        }
        if r.headers.get("authorization").map(String::as_str) != Some("Bearer tok-1") {
            let mut x = resp(
                401,
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"need a token"}]}"#,
            );
            x.headers.push((
                "WWW-Authenticate".into(),
                format!(
                    r#"Bearer realm="http://{}/token",service="fake reg""#,
                    ac.lock().unwrap()
                ),
            ));
            return x;
        }
        inner(r)
    }));
    *addr_cell.lock().unwrap() = addr.clone();
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let r = Reference::parse(&format!("{addr}/x/y:t")).unwrap();

    let anon = registry::connect(&r, &opts()).unwrap();
    let e = registry::pull(&store, &anon, &r, &PullOptions::default()).unwrap_err();
    assert!(
        matches!(&e, ImageError::Registry(b) if matches!(**b, registry::RegistryError::Unauthorized { .. })),
        "{e}"
    );

    let wrong = ClientOptions {
        credentials: Credentials::parse("bob:nope"),
        ..opts()
    };
    let e = registry::connect(&r, &wrong)
        .unwrap()
        .check_login()
        .unwrap_err();
    assert!(
        matches!(e, registry::RegistryError::Unauthorized { .. }),
        "{e}"
    );
    let o = ClientOptions {
        credentials: Credentials::parse("bob:pw"),
        ..opts()
    };
    let c = registry::connect(&r, &o).unwrap();
    c.check_login().unwrap();
    let p = registry::pull(&store, &c, &r, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), mdigest);
    let calls = token_calls.lock().unwrap().clone();
    assert_eq!(
        calls.len(),
        2,
        "one token for login, one for the pull scope: {calls:?}"
    );
    assert!(!calls[0].contains("scope="), "{calls:?}");
    assert!(
        calls[1].contains("service=fake%20reg")
            && calls[1].contains("scope=repository%3Ax%2Fy%3Apull"),
        "{calls:?}"
    );
}

#[test]
fn tls_with_a_certs_d_ca_without_it_and_unverified() {
    require_tool!("docker-registry");
    require_tool!("openssl");
    let t = tempfile::tempdir().unwrap();
    let (ca, cert, key) = hezi_testsupport::registry::test_certs(&t.path().join("pki")).unwrap();
    let reg = Registry::start_tls(&cert, &key).unwrap();
    let (src, digest) = store_with_image(t.path());
    let dest = Reference::parse(&format!("{}/tls/img:v1", reg.addr)).unwrap();
    let certs_d = t.path().join("certs.d");
    fs::create_dir_all(certs_d.join(&reg.addr)).unwrap();
    fs::copy(&ca, certs_d.join(&reg.addr).join("ca.crt")).unwrap();

    // Loopback means plain HTTP unless told otherwise; here we ask for TLS.
    let with_ca = ClientOptions {
        plain_http: Some(false),
        certs_dirs: vec![certs_d.clone()],
        ..opts()
    };
    let c = registry::connect(&dest, &with_ca).unwrap();
    assert!(c.base().starts_with("https://"));
    registry::push(&src, &c, "img:v1", &dest, &PushOptions::default()).unwrap();

    // Without the CA the certificate is refused, clearly.
    let no_ca = ClientOptions {
        plain_http: Some(false),
        certs_dirs: vec![],
        ..opts()
    };
    let e = registry::connect(&dest, &no_ca).unwrap_err().to_string();
    assert!(
        e.contains(&reg.addr) && e.to_lowercase().contains("certificate"),
        "{e}"
    );

    // --tls-verify=false talks TLS without checking.
    let unverified = ClientOptions {
        plain_http: Some(false),
        tls_verify: false,
        certs_dirs: vec![],
        ..opts()
    };
    let c = registry::connect(&dest, &unverified).unwrap();
    assert!(c.base().starts_with("https://"));
    let fresh = Store::open(t.path().join("fresh")).unwrap();
    let p = registry::pull(&fresh, &c, &dest, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digest);

    // --tls-verify=false against a plain HTTP registry falls back to HTTP.
    let plain = Registry::start(None).unwrap();
    let r2 = Reference::parse(&format!("{}/p/img:v1", plain.addr)).unwrap();
    let c = registry::connect(&r2, &unverified).unwrap();
    assert!(c.base().starts_with("http://"), "{}", c.base());
}

#[test]
fn tls_client_certificate_from_certs_d() {
    require_tool!("docker-registry");
    require_tool!("openssl");
    let t = tempfile::tempdir().unwrap();
    let pki = t.path().join("pki");
    let (ca, cert, key) = hezi_testsupport::registry::test_certs(&pki).unwrap();
    let (client_cert, client_key) = hezi_testsupport::registry::test_client_cert(&pki).unwrap();
    let reg = Registry::start_mtls(&cert, &key, &ca).unwrap();
    let (src, digest) = store_with_image(t.path());
    let dest = Reference::parse(&format!("{}/mtls/img:v1", reg.addr)).unwrap();
    let certs_d = t.path().join("certs.d");
    let host = certs_d.join(&reg.addr);
    fs::create_dir_all(&host).unwrap();
    fs::copy(&ca, host.join("ca.crt")).unwrap();
    let with = |dirs: Vec<std::path::PathBuf>| ClientOptions {
        plain_http: Some(false),
        certs_dirs: dirs,
        ..opts()
    };

    // The CA alone is not enough: the registry wants a client certificate, and the error
    // names the registry.
    let e = match registry::connect(&dest, &with(vec![certs_d.clone()])) {
        Err(e) => e.to_string(),
        Ok(c) => registry::push(&src, &c, "img:v1", &dest, &PushOptions::default())
            .expect_err("no client certificate")
            .to_string(),
    };
    eprintln!("without a client certificate: {e}");
    assert!(e.contains(&reg.addr) && e.contains("client.cert"), "{e}");

    // client.cert + client.key beside ca.crt (podman's and Docker's certs.d layout): push
    // and pull work.
    fs::copy(&client_cert, host.join("client.cert")).unwrap();
    fs::copy(&client_key, host.join("client.key")).unwrap();
    let c = registry::connect(&dest, &with(vec![certs_d.clone()])).unwrap();
    registry::push(&src, &c, "img:v1", &dest, &PushOptions::default()).unwrap();
    let fresh = Store::open(t.path().join("fresh")).unwrap();
    let p = registry::pull(&fresh, &c, &dest, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digest);

    // A certificate without its key is named, not ignored.
    fs::remove_file(host.join("client.key")).unwrap();
    let e = registry::connect(&dest, &with(vec![certs_d.clone()]))
        .expect_err("cert without key")
        .to_string();
    eprintln!("certificate without key: {e}");
    assert!(e.contains("client.cert") || e.contains("client.key"), "{e}");
}

/// A store in `dir` holding a two-platform index (linux/amd64, linux/arm64) named
/// `multi:v1`; returns the store, the index blob and the two manifests' digests.
fn multi_arch_store(dir: &Path) -> (Store, hezi_image::BlobInfo, Vec<String>) {
    let layout = dir.join("layout");
    let mut digests = Vec::new();
    for (name, content) in [
        ("amd", b"amd64 bits".as_slice()),
        ("arm", b"arm64 bits".as_slice()),
    ] {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "f", content).unwrap();
        let tar = b.into_inner().unwrap();
        let diff = hezi_testsupport::sha256_digest(&tar);
        let gz = hezi_testsupport::gzip(&tar).unwrap();
        digests.push(
            hezi_testsupport::layout_from_layers(&layout, name, &[(gz, diff)], &["sh"]).unwrap(),
        );
    }
    let src = Store::open(dir.join("src")).unwrap();
    import(&src, &layout, Some(Format::OciDir), None).unwrap();
    let mut manifests = Vec::new();
    for (d, arch) in digests.iter().zip(["amd64", "arm64"]) {
        let size = src.info(&d.parse().unwrap()).unwrap().size;
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": d, "size": size,
            "platform": {"os": "linux", "architecture": arch}
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests
    }))
    .unwrap();
    let info = src.put_bytes(&index).unwrap();
    let idesc =
        hezi_image::Descriptor::new(hezi_image::media::OCI_INDEX, info.digest.clone(), info.size);
    src.set_name("multi:v1", &idesc).unwrap();
    (src, info, digests)
}

#[test]
fn an_index_is_pushed_with_its_manifests_and_pulled_per_platform() {
    require_tool!("docker-registry");
    let reg = Registry::start(None).unwrap();
    let t = tempfile::tempdir().unwrap();
    let (src, info, digests) = multi_arch_store(t.path());

    let dest = Reference::parse(&format!("{}/multi/img:v1", reg.addr)).unwrap();
    let c = registry::connect(&dest, &opts()).unwrap();
    let pushed = registry::push(&src, &c, "multi:v1", &dest, &PushOptions::default()).unwrap();
    assert_eq!(pushed.descriptor.digest, info.digest);
    assert_eq!(
        c.fetch_manifest("multi/img", "v1").unwrap().digest,
        info.digest
    );

    let fresh = Store::open(t.path().join("fresh")).unwrap();
    let host = registry::pull(&fresh, &c, &dest, &PullOptions::default()).unwrap();
    assert_eq!(host.index.as_ref(), Some(&info.digest));
    let want_host = if hezi_image::Platform::host().architecture == "arm64" {
        &digests[1]
    } else {
        &digests[0]
    };
    if ["amd64", "arm64"].contains(&hezi_image::Platform::host().architecture.as_str()) {
        assert_eq!(&host.descriptor.digest.to_string(), want_host);
    }
    let arm = PullOptions {
        platform: Some(hezi_image::Platform::parse("linux/arm64").unwrap()),
        name: Some("arm".into()),
        ..PullOptions::default()
    };
    let p = registry::pull(&fresh, &c, &dest, &arm).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), digests[1]);
    let s390 = PullOptions {
        platform: Some(hezi_image::Platform::parse("linux/s390x").unwrap()),
        ..PullOptions::default()
    };
    let e = registry::pull(&fresh, &c, &dest, &s390).unwrap_err();
    assert!(matches!(e, ImageError::NoPlatform { .. }), "{e}");
    assert!(e.to_string().contains("linux/s390x"), "{e}");
}

#[test]
fn all_platforms_pull_and_push_a_whole_index_as_skopeo_copy_all_does() {
    require_tool!("docker-registry");
    let reg = Registry::start(None).unwrap();
    let t = tempfile::tempdir().unwrap();
    let (src, info, digests) = multi_arch_store(t.path());
    let dest = Reference::parse(&format!("{}/all/img:v1", reg.addr)).unwrap();
    let c = registry::connect(&dest, &opts()).unwrap();
    let all_push = PushOptions {
        all_platforms: true,
        ..PushOptions::default()
    };
    registry::push(&src, &c, "multi:v1", &dest, &all_push).unwrap();

    // Pull every platform: the index gets the name, both manifests and all blobs are in.
    let fresh = Store::open(t.path().join("fresh")).unwrap();
    let all = PullOptions {
        all_platforms: true,
        ..PullOptions::default()
    };
    let p = registry::pull(&fresh, &c, &dest, &all).unwrap();
    assert_eq!(
        p.descriptor.digest, info.digest,
        "the name points at the index"
    );
    assert_eq!(fresh.resolve(&p.name).unwrap().digest, info.digest);
    for d in &digests {
        assert!(fresh.contains(&d.parse().unwrap()), "manifest {d} pulled");
    }
    let mut want = stored_blobs(&src);
    want.sort();
    let mut got = stored_blobs(&fresh);
    got.sort();
    assert_eq!(got, want, "the same blobs as the source store");

    // What was pulled pushes back whole to another repository.
    let again = Reference::parse(&format!("{}/all/again:v1", reg.addr)).unwrap();
    registry::push(&fresh, &c, &p.name, &again, &all_push).unwrap();
    assert_eq!(
        c.fetch_manifest("all/again", "v1").unwrap().digest,
        info.digest
    );

    // A store that has the index without one of its manifests cannot push --all-platforms,
    // and says which manifest is missing.
    let one = Store::open(t.path().join("one")).unwrap();
    let arm = PullOptions {
        platform: Some(hezi_image::Platform::parse("linux/arm64").unwrap()),
        ..PullOptions::default()
    };
    registry::pull(&one, &c, &dest, &arm).unwrap();
    let index_bytes = src.read_bytes(&info.digest).unwrap();
    let idx = one.put_bytes(&index_bytes).unwrap();
    one.set_name(
        "partial:v1",
        &hezi_image::Descriptor::new(hezi_image::media::OCI_INDEX, idx.digest, idx.size),
    )
    .unwrap();
    let e = registry::push(&one, &c, "partial:v1", &again, &all_push)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&digests[0]) && e.contains("linux/amd64"), "{e}");

    // skopeo copy --all reads the same index back (and what skopeo pushes, hezi pulls whole).
    if hezi_testsupport::registry::have_tool("skopeo") {
        let oci = t.path().join("skopeo-oci");
        let st = Command::new("skopeo")
            .args(["copy", "-q", "--all", "--src-tls-verify=false"])
            .arg(format!("docker://{}/all/img:v1", reg.addr))
            .arg(format!("oci:{}:v1", oci.display()))
            .status()
            .unwrap();
        assert!(st.success());
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(oci.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["manifests"][0]["digest"], info.digest.to_string());
        let st = Command::new("skopeo")
            .args(["copy", "-q", "--all", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", oci.display()))
            .arg(format!("docker://{}/all/from-skopeo:v1", reg.addr))
            .status()
            .unwrap();
        assert!(st.success());
        let from = Reference::parse(&format!("{}/all/from-skopeo:v1", reg.addr)).unwrap();
        let back = Store::open(t.path().join("back")).unwrap();
        let p = registry::pull(&back, &c, &from, &all).unwrap();
        assert_eq!(p.descriptor.digest, info.digest);
        for d in &digests {
            assert!(back.contains(&d.parse().unwrap()));
        }
    } else {
        eprintln!("skopeo missing: the skopeo half of this test is skipped");
    }
}

#[test]
fn a_failed_pull_keeps_its_partial_blob_and_the_next_pull_continues_it() {
    let layer: Vec<u8> = (0..400_000u32).map(|i| (i % 239) as u8).collect();
    let (manifest, mdigest, config) = fake_image(&layer);
    let ld = hezi_testsupport::sha256_digest(&layer);
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let r2 = ranges.clone();
    let healthy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let h2 = healthy.clone();
    let body = layer.clone();
    let addr = fake(routes(manifest, config, ld.clone(), move |r: &Req| {
        let range = r.headers.get("range").cloned();
        r2.lock().unwrap().push(range.clone().unwrap_or_default());
        if !h2.load(Ordering::SeqCst) {
            return Resp {
                cut_at: Some(150_000),
                ..resp(200, &body)
            };
        }
        let from: usize = range
            .map(|r| {
                r.trim_start_matches("bytes=")
                    .trim_end_matches('-')
                    .parse()
                    .unwrap()
            })
            .unwrap_or(0);
        let mut x = resp(206, &body[from..]);
        x.headers.push((
            "Content-Range".into(),
            format!("bytes {from}-{}/{}", body.len() - 1, body.len()),
        ));
        x
    }));
    let t = tempfile::tempdir().unwrap();
    let store = Store::open(t.path()).unwrap();
    let r = Reference::parse(&format!("{addr}/x/y:t")).unwrap();
    // No retries: the first pull gives up after the broken body.
    let c = registry::connect(
        &r,
        &ClientOptions {
            retries: 0,
            ..opts()
        },
    )
    .unwrap();
    let e = registry::pull(&store, &c, &r, &PullOptions::default()).unwrap_err();
    assert!(e.to_string().contains(&ld), "{e}");
    assert!(!stored_blobs(&store).contains(&ld));
    assert!(store.names().unwrap().is_empty());
    let hex = &ld["sha256:".len()..];
    let kept = store
        .path()
        .join("ingest")
        .join(format!("partial-sha256-{hex}"));
    assert_eq!(fs::metadata(&kept).unwrap().len(), 150_000);

    healthy.store(true, Ordering::SeqCst);
    let p = registry::pull(&store, &c, &r, &PullOptions::default()).unwrap();
    assert_eq!(p.descriptor.digest.to_string(), mdigest);
    assert_eq!(
        ranges.lock().unwrap().last().map(String::as_str),
        Some("bytes=150000-")
    );
    assert!(stored_blobs(&store).contains(&ld));
    assert!(ingest_is_empty(&store));
}

/// A content type and body the fake received.
type Sent = (String, Vec<u8>);

#[test]
fn push_restarts_a_failed_upload_and_sends_exact_bytes() {
    let t = tempfile::tempdir().unwrap();
    let (src, digest) = store_with_image(t.path());
    let puts = Arc::new(AtomicUsize::new(0));
    let received: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::new(Mutex::new(HashMap::new()));
    let manifest_put: Arc<Mutex<Option<Sent>>> = Arc::new(Mutex::new(None));
    let (p2, rec2, m2) = (puts.clone(), received.clone(), manifest_put.clone());
    let addr = fake(Arc::new(move |r: &Req| {
        if r.path == "/v2/" {
            return resp(200, b"{}");
        }
        if r.method == "HEAD" {
            return resp(404, b"");
        }
        if r.method == "POST" && r.path == "/v2/p/img/blobs/uploads/" {
            let mut x = resp(202, b"");
            x.headers.push((
                "Location".into(),
                "/v2/p/img/blobs/uploads/u1?_state=abc".into(),
            ));
            return x;
        }
        if r.method == "PUT"
            && r.path
                .starts_with("/v2/p/img/blobs/uploads/u1?_state=abc&digest=")
        {
            // The first upload fails: the client must start it over.
            if p2.fetch_add(1, Ordering::SeqCst) == 0 {
                return resp(500, b"");
            }
            let d = r.path.rsplit("digest=").next().unwrap().replace("%3A", ":");
            rec2.lock().unwrap().insert(d, r.body.clone());
            return resp(201, b"");
        }
        if r.method == "PUT" && r.path == "/v2/p/img/manifests/v9" {
            let ct = r.headers.get("content-type").cloned().unwrap_or_default();
            *m2.lock().unwrap() = Some((ct, r.body.clone()));
            let mut x = resp(201, b"");
            x.headers.push((
                "Docker-Content-Digest".into(),
                hezi_testsupport::sha256_digest(&r.body),
            ));
            return x;
        }
        resp(404, b"")
    }));
    let dest = Reference::parse(&format!("{addr}/p/img:v9")).unwrap();
    let c = registry::connect(&dest, &opts()).unwrap();
    let p = registry::push(
        &src,
        &c,
        "img:v1",
        &dest,
        &PushOptions {
            jobs: 1,
            ..PushOptions::default()
        },
    )
    .unwrap();
    assert_eq!(p.uploaded, 3);
    assert_eq!(
        puts.load(Ordering::SeqCst),
        4,
        "three uploads, one of them twice"
    );
    let got = received.lock().unwrap();
    assert_eq!(got.len(), 3);
    for (d, bytes) in got.iter() {
        assert_eq!(
            &hezi_testsupport::sha256_digest(bytes),
            d,
            "the bytes sent for {d}"
        );
    }
    let (ct, body) = manifest_put.lock().unwrap().clone().unwrap();
    assert_eq!(ct, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(hezi_testsupport::sha256_digest(&body), digest);
}
