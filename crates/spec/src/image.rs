//! Checks of image-spec documents: descriptors, image manifests, image indexes and the
//! `oci-layout` file. Like [`crate::validate`], every problem is reported with its JSON
//! path (`layers[1].digest: ...`).
//!
//! Digests are checked against the image-spec grammar ([`GenericDigest`]): a well-formed
//! digest of an algorithm hezi cannot compute passes here, and fails later, when the
//! content is to be verified.
//!
//! A document without `mediaType` that reads as both a manifest and an index is
//! rejected as ambiguous (the CVE-2021-41190 confusion), and a manifest may not carry
//! `manifests` nor an index `config` or `layers`.

use hezi_digest::GenericDigest;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, OciLayout};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::validate::walk::{field, index, Walker};
use crate::validate::{Problem, ValidationErrors};

/// Media type of an image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an image index.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an image config.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the empty descriptor (`{}`) used by artifacts.
pub const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// Docker's schema 2 manifest media type.
pub const MEDIA_TYPE_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list media type.
pub const MEDIA_TYPE_DOCKER_LIST: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// The only `imageLayoutVersion` defined.
pub const IMAGE_LAYOUT_VERSION: &str = "1.0.0";

/// Which kind of document a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentKind {
    /// An image manifest.
    Manifest,
    /// An image index.
    Index,
}

/// True if `s` has RFC 6838's `type/subtype` form, as image-spec's schema requires.
pub fn is_media_type(s: &str) -> bool {
    let part = |p: &str| {
        let b = p.as_bytes();
        !b.is_empty()
            && b.len() <= 127
            && b[0].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(c))
    };
    match s.split_once('/') {
        Some((t, sub)) => part(t) && part(sub),
        None => false,
    }
}

fn errors(problems: Vec<Problem>) -> ValidationErrors {
    ValidationErrors::new(problems)
}

fn parse_json(bytes: &[u8]) -> Result<Value, ValidationErrors> {
    serde_json::from_slice(bytes)
        .map_err(|e| errors(vec![Problem::new("", format!("not valid JSON: {e}"))]))
}

/// Runs `check` on `v`, then decodes it into `T` (reporting the decoder's error with its
/// path when the checks found nothing at or inside that path).
fn finish<T: DeserializeOwned>(w: Walker, v: &Value) -> Result<T, ValidationErrors> {
    let mut problems = w.into_problems();
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) if problems.is_empty() => Ok(t),
        Ok(_) => Err(errors(problems)),
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            if !problems.iter().any(|p| p.path.starts_with(&path)) {
                problems.push(Problem::new(path, e.into_inner().to_string()));
            }
            Err(errors(problems))
        }
    }
}

fn media_type_field(w: &mut Walker, v: &Value, path: &str) -> Option<String> {
    let s = w.string(v, path)?;
    if is_media_type(s) {
        Some(s.to_string())
    } else {
        w.report(path, format!("{s:?} is not a media type (type/subtype)"));
        None
    }
}

fn string_map(w: &mut Walker, v: &Value, path: &str) {
    if let Some(m) = w.object(v, path) {
        for (k, val) in m {
            w.string(val, &field(path, k));
        }
    }
}

/// Checks a descriptor at `path`; returns its media type if well-formed.
fn descriptor(w: &mut Walker, v: &Value, path: &str) -> Option<String> {
    let o = w.object(v, path)?;
    let mt = match o.get("mediaType") {
        None => {
            w.report(field(path, "mediaType"), "is required");
            None
        }
        Some(m) => media_type_field(w, m, &field(path, "mediaType")),
    };
    match o.get("digest") {
        None => w.report(field(path, "digest"), "is required"),
        Some(d) => {
            if let Some(s) = w.string(d, &field(path, "digest")) {
                if let Err(e) = GenericDigest::parse(s) {
                    w.report(field(path, "digest"), e.to_string());
                }
            }
        }
    }
    match o.get("size") {
        None => w.report(field(path, "size"), "is required"),
        Some(n) => {
            w.int(n, &field(path, "size"), 0, i64::MAX.into());
        }
    }
    if let Some(u) = o.get("urls") {
        w.strings(u, &field(path, "urls"));
    }
    if let Some(a) = o.get("annotations") {
        string_map(w, a, &field(path, "annotations"));
    }
    if let Some(d) = o.get("data") {
        w.string(d, &field(path, "data"));
    }
    if let Some(a) = o.get("artifactType") {
        media_type_field(w, a, &field(path, "artifactType"));
    }
    if let Some(p) = o.get("platform") {
        let pp = field(path, "platform");
        if let Some(po) = w.object(p, &pp) {
            for k in ["architecture", "os"] {
                match po.get(k) {
                    None => w.report(field(&pp, k), "is required"),
                    Some(s) => {
                        w.string(s, &field(&pp, k));
                    }
                }
            }
        }
    }
    mt
}

fn schema_version(w: &mut Walker, o: &serde_json::Map<String, Value>) {
    match o.get("schemaVersion") {
        None => w.report("schemaVersion", "is required"),
        Some(v) => {
            if w.int(v, "schemaVersion", 0, i64::MAX.into())
                .is_some_and(|n| n != 2)
            {
                w.report("schemaVersion", "must be 2");
            }
        }
    }
}

/// Checks a descriptor document and decodes it.
pub fn check_descriptor(v: &Value) -> Result<Descriptor, ValidationErrors> {
    let mut w = Walker::default();
    descriptor(&mut w, v, "");
    finish(w, v)
}

fn manifest_checks(w: &mut Walker, v: &Value) {
    let Some(o) = w.object(v, "") else { return };
    schema_version(w, o);
    if let Some(m) = o.get("mediaType") {
        if let Some(s) = w.string(m, "mediaType") {
            if s != MEDIA_TYPE_MANIFEST {
                w.report(
                    "mediaType",
                    format!("{s:?} is not the image manifest media type {MEDIA_TYPE_MANIFEST}"),
                );
            }
        }
    }
    if o.contains_key("manifests") {
        w.report(
            "manifests",
            "an image manifest must not have manifests (it would read as an index)",
        );
    }
    let artifact_type = o
        .get("artifactType")
        .and_then(|a| media_type_field(w, a, "artifactType"));
    match o.get("config") {
        None => w.report("config", "is required"),
        Some(c) => {
            if let Some(mt) = descriptor(w, c, "config") {
                if mt == MEDIA_TYPE_EMPTY && artifact_type.is_none() {
                    w.report(
                        "artifactType",
                        "is required when config.mediaType is the empty media type",
                    );
                }
                if [MEDIA_TYPE_MANIFEST, MEDIA_TYPE_INDEX].contains(&mt.as_str()) {
                    w.report(
                        "config.mediaType",
                        format!("{mt} is not a config media type"),
                    );
                }
            }
        }
    }
    match o.get("layers") {
        None => w.report("layers", "is required"),
        Some(l) => {
            if let Some(items) = w.array(l, "layers") {
                for (i, item) in items.iter().enumerate() {
                    let p = index("layers", i);
                    if let Some(mt) = descriptor(w, item, &p) {
                        if [MEDIA_TYPE_MANIFEST, MEDIA_TYPE_INDEX, MEDIA_TYPE_CONFIG]
                            .contains(&mt.as_str())
                        {
                            w.report(
                                field(&p, "mediaType"),
                                format!("{mt} is not a layer media type"),
                            );
                        }
                    }
                }
            }
        }
    }
    if let Some(s) = o.get("subject") {
        descriptor(w, s, "subject");
    }
    if let Some(a) = o.get("annotations") {
        string_map(w, a, "annotations");
    }
}

/// Checks an image manifest blob and decodes it.
pub fn check_manifest(bytes: &[u8]) -> Result<ImageManifest, ValidationErrors> {
    let v = parse_json(bytes)?;
    let mut w = Walker::default();
    manifest_checks(&mut w, &v);
    finish(w, &v)
}

fn index_checks(w: &mut Walker, v: &Value) {
    let Some(o) = w.object(v, "") else { return };
    schema_version(w, o);
    if let Some(m) = o.get("mediaType") {
        if let Some(s) = w.string(m, "mediaType") {
            if s != MEDIA_TYPE_INDEX {
                w.report(
                    "mediaType",
                    format!("{s:?} is not the image index media type {MEDIA_TYPE_INDEX}"),
                );
            }
        }
    }
    for k in ["config", "layers"] {
        if o.contains_key(k) {
            w.report(
                k,
                "an image index must not have it (it would read as a manifest)",
            );
        }
    }
    match o.get("manifests") {
        None => w.report("manifests", "is required"),
        Some(l) => {
            if let Some(items) = w.array(l, "manifests") {
                for (i, item) in items.iter().enumerate() {
                    descriptor(w, item, &index("manifests", i));
                }
            }
        }
    }
    if let Some(a) = o.get("artifactType") {
        media_type_field(w, a, "artifactType");
    }
    if let Some(s) = o.get("subject") {
        descriptor(w, s, "subject");
    }
    if let Some(a) = o.get("annotations") {
        string_map(w, a, "annotations");
    }
}

/// Checks an image index blob (also `index.json` of a layout) and decodes it.
pub fn check_index(bytes: &[u8]) -> Result<ImageIndex, ValidationErrors> {
    let v = parse_json(bytes)?;
    let mut w = Walker::default();
    index_checks(&mut w, &v);
    finish(w, &v)
}

/// Checks an `oci-layout` file: `imageLayoutVersion` must be `1.0.0`.
pub fn check_oci_layout(bytes: &[u8]) -> Result<OciLayout, ValidationErrors> {
    let v = parse_json(bytes)?;
    let mut w = Walker::default();
    if let Some(o) = w.object(&v, "") {
        match o.get("imageLayoutVersion") {
            None => w.report("imageLayoutVersion", "is required"),
            Some(s) => {
                if let Some(s) = w.string(s, "imageLayoutVersion") {
                    if s != IMAGE_LAYOUT_VERSION {
                        w.report(
                            "imageLayoutVersion",
                            format!("{s:?} is not supported (only {IMAGE_LAYOUT_VERSION})"),
                        );
                    }
                }
            }
        }
    }
    finish(w, &v)
}

/// Tells a manifest from an index: by `mediaType` when present, otherwise by shape.
/// A blob without `mediaType` that would pass as both is rejected as ambiguous; a
/// Docker media type is reported as unsupported, by name.
pub fn detect(bytes: &[u8]) -> Result<DocumentKind, ValidationErrors> {
    let v = parse_json(bytes)?;
    let one = |path: &str, msg: String| Err(errors(vec![Problem::new(path, msg)]));
    match v.get("mediaType").and_then(Value::as_str) {
        Some(MEDIA_TYPE_MANIFEST) => return Ok(DocumentKind::Manifest),
        Some(MEDIA_TYPE_INDEX) => return Ok(DocumentKind::Index),
        Some(mt @ (MEDIA_TYPE_DOCKER_MANIFEST | MEDIA_TYPE_DOCKER_LIST)) => {
            return one(
                "mediaType",
                format!("{mt} is a Docker media type, not an OCI manifest or index"),
            )
        }
        Some(other) => {
            return one(
                "mediaType",
                format!("{other:?} is neither an image manifest nor an image index"),
            )
        }
        None => {}
    }
    let mut wm = Walker::default();
    manifest_checks(&mut wm, &v);
    let as_manifest = wm.into_problems().is_empty();
    let mut wi = Walker::default();
    index_checks(&mut wi, &v);
    let as_index = wi.into_problems().is_empty();
    let has_manifest_keys = v.get("config").is_some() || v.get("layers").is_some();
    let has_index_keys = v.get("manifests").is_some();
    match (as_manifest || has_manifest_keys, as_index || has_index_keys) {
        (true, true) => one(
            "mediaType",
            "is missing and the document reads as both a manifest and an index".to_string(),
        ),
        (true, false) => Ok(DocumentKind::Manifest),
        (false, true) => Ok(DocumentKind::Index),
        (false, false) => one(
            "",
            "neither an image manifest (config, layers) nor an image index (manifests)".to_string(),
        ),
    }
}
