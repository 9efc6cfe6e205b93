//! image-spec document checks.

use hezi_spec::image::{self, DocumentKind};
use serde_json::{json, Value};

const D: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

fn desc(mt: &str) -> Value {
    json!({"mediaType": mt, "digest": D, "size": 7})
}

fn manifest() -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": image::MEDIA_TYPE_MANIFEST,
        "config": desc(image::MEDIA_TYPE_CONFIG),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip")]
    })
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn paths(e: &hezi_spec::ValidationErrors) -> Vec<String> {
    e.problems().iter().map(|p| p.path.clone()).collect()
}

#[test]
fn good_documents_pass() {
    let m = image::check_manifest(&bytes(&manifest())).unwrap();
    assert_eq!(m.layers().len(), 1);
    let idx = json!({"schemaVersion": 2, "mediaType": image::MEDIA_TYPE_INDEX,
        "manifests": [{"mediaType": image::MEDIA_TYPE_MANIFEST, "digest": D, "size": 9,
                       "platform": {"architecture": "amd64", "os": "linux"}}]});
    assert_eq!(
        image::check_index(&bytes(&idx)).unwrap().manifests().len(),
        1
    );
    image::check_oci_layout(br#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    image::check_descriptor(&desc(image::MEDIA_TYPE_CONFIG)).unwrap();
}

#[test]
fn descriptor_problems_have_paths() {
    let mut m = manifest();
    m["config"]["digest"] = json!("sha256:abc");
    m["layers"][0]["size"] = json!(-1);
    m["layers"][0]["mediaType"] = json!("not a media type");
    m["layers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"digest": D}));
    let e = image::check_manifest(&bytes(&m)).unwrap_err();
    let p = paths(&e);
    for want in [
        "config.digest",
        "layers[0].size",
        "layers[0].mediaType",
        "layers[1].mediaType",
        "layers[1].size",
    ] {
        assert!(p.contains(&want.to_string()), "{want} missing: {e}");
    }
    assert!(
        e.to_string()
            .contains("config.digest: invalid digest length"),
        "{e}"
    );
}

#[test]
fn unknown_algorithm_passes_grammar_check() {
    let mut d = desc(image::MEDIA_TYPE_CONFIG);
    d["digest"] = json!("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564");
    let got = image::check_descriptor(&d).unwrap();
    assert_eq!(got.digest().to_string(), d["digest"]);
    // ...while a malformed one does not.
    d["digest"] = json!("sha256+:xyz");
    assert!(image::check_descriptor(&d).unwrap_err().has_path("digest"));
}

#[test]
fn manifest_rules() {
    let mut m = manifest();
    m["schemaVersion"] = json!(1);
    m["mediaType"] = json!(image::MEDIA_TYPE_INDEX);
    m["config"]["mediaType"] = json!(image::MEDIA_TYPE_EMPTY);
    let e = image::check_manifest(&bytes(&m)).unwrap_err();
    for want in ["schemaVersion", "mediaType", "artifactType"] {
        assert!(e.has_path(want), "{want}: {e}");
    }
    let e = image::check_manifest(&bytes(&json!({"schemaVersion": 2}))).unwrap_err();
    assert!(e.has_path("config") && e.has_path("layers"), "{e}");
    let e = image::check_manifest(b"[1,2").unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}

#[test]
fn layout_version() {
    let e = image::check_oci_layout(br#"{"imageLayoutVersion": "2.0.0"}"#).unwrap_err();
    assert!(e.has_path("imageLayoutVersion"), "{e}");
    let e = image::check_oci_layout(b"{}").unwrap_err();
    assert!(e.has_path("imageLayoutVersion"), "{e}");
}

#[test]
fn detect_kinds_and_ambiguity() {
    assert_eq!(
        image::detect(&bytes(&manifest())).unwrap(),
        DocumentKind::Manifest
    );
    let mut m = manifest();
    m.as_object_mut().unwrap().remove("mediaType");
    assert_eq!(image::detect(&bytes(&m)).unwrap(), DocumentKind::Manifest);
    let idx = json!({"schemaVersion": 2, "manifests": []});
    assert_eq!(image::detect(&bytes(&idx)).unwrap(), DocumentKind::Index);

    // Both shapes, no mediaType: ambiguous.
    let mut both = m.clone();
    both["manifests"] = json!([]);
    let e = image::detect(&bytes(&both)).unwrap_err();
    assert!(
        e.to_string().contains("both a manifest and an index"),
        "{e}"
    );
    // A manifest carrying manifests is rejected by check_manifest too.
    let mut mm = manifest();
    mm["manifests"] = json!([]);
    assert!(image::check_manifest(&bytes(&mm))
        .unwrap_err()
        .has_path("manifests"));
    let mut ii = idx.clone();
    ii["layers"] = json!([]);
    assert!(image::check_index(&bytes(&ii))
        .unwrap_err()
        .has_path("layers"));

    let docker = json!({"mediaType": image::MEDIA_TYPE_DOCKER_MANIFEST});
    assert!(image::detect(&bytes(&docker))
        .unwrap_err()
        .to_string()
        .contains("Docker"));
    assert!(image::detect(b"{}").is_err());
}

#[test]
fn fixture_layout_passes() {
    let dir = tempfile::tempdir().unwrap();
    let digest = hezi_testsupport::busybox_oci_layout(dir.path(), "latest").unwrap();
    image::check_oci_layout(&std::fs::read(dir.path().join("oci-layout")).unwrap()).unwrap();
    let idx = image::check_index(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    assert_eq!(idx.manifests()[0].digest().to_string(), digest);
    let (alg, hex) = digest.split_once(':').unwrap();
    let blob = std::fs::read(dir.path().join("blobs").join(alg).join(hex)).unwrap();
    assert_eq!(image::detect(&blob).unwrap(), DocumentKind::Manifest);
    image::check_manifest(&blob).unwrap();
}

#[test]
fn media_type_form() {
    assert!(image::is_media_type(
        "application/vnd.oci.image.layer.v1.tar+gzip"
    ));
    assert!(!image::is_media_type("application"));
    assert!(!image::is_media_type("/x"));
    assert!(!image::is_media_type("a/b c"));
}
