//! Credentials and authentication: auth files (containers auth.json, Docker's config.json),
//! `WWW-Authenticate` challenges and the files `hezi login` writes.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::reference::DOCKER_HUB;
use super::RegistryError;

/// A user name and password (or identity token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Credentials {
    /// Parses `user:pass` (the password may contain colons).
    pub fn parse(s: &str) -> Option<Credentials> {
        let (u, p) = s.split_once(':')?;
        if u.is_empty() {
            return None;
        }
        Some(Credentials {
            username: u.to_string(),
            password: p.to_string(),
        })
    }

    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", self.encoded())
    }

    /// base64 of `user:pass`, as auth files store it.
    pub fn encoded(&self) -> String {
        B64.encode(format!("{}:{}", self.username, self.password))
    }

    fn decode(auth: &str) -> Option<Credentials> {
        let raw = B64.decode(auth.trim()).ok()?;
        Credentials::parse(std::str::from_utf8(&raw).ok()?)
    }
}

/// The auth files consulted for credentials, in order: `$REGISTRY_AUTH_FILE`,
/// `$XDG_RUNTIME_DIR/containers/auth.json` (`/run/containers/<uid>/auth.json` without
/// XDG_RUNTIME_DIR), `~/.config/containers/auth.json`, then Docker's
/// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn auth_files() -> Vec<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut out = Vec::new();
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        out.push(p);
    }
    out.push(login_file());
    if let Some(home) = env("HOME") {
        out.push(home.join(".config/containers/auth.json"));
    }
    match env("DOCKER_CONFIG") {
        Some(d) => out.push(d.join("config.json")),
        None => {
            if let Some(home) = env("HOME") {
                out.push(home.join(".docker/config.json"));
            }
        }
    }
    out
}

/// The file `hezi login` writes: `$REGISTRY_AUTH_FILE`, else
/// `$XDG_RUNTIME_DIR/containers/auth.json`, else `/run/containers/<uid>/auth.json` (podman's
/// choices).
pub fn login_file() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = env("REGISTRY_AUTH_FILE") {
        return p;
    }
    match env("XDG_RUNTIME_DIR") {
        Some(d) => d.join("containers/auth.json"),
        // SAFETY: geteuid cannot fail and touches no memory.
        None => PathBuf::from(format!("/run/containers/{}/auth.json", unsafe {
            libc::geteuid()
        })),
    }
}

/// Normalises an auth file key to `host[:port][/path]` (drops the scheme, trailing `/` and
/// Docker Hub's `/v1/` suffix and aliases).
fn normalize_key(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    let k = k
        .strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        _ => k.to_string(),
    }
}

/// Looks credentials for `registry`/`repository` up in the default auth files; the first
/// file with a matching entry wins, the most specific key (`host/repo/path`, then shorter
/// prefixes, then `host`) within it.
pub fn lookup(registry: &str, repository: &str) -> Result<Option<Credentials>, RegistryError> {
    for f in auth_files() {
        if let Some(c) = lookup_in(&f, registry, repository)? {
            tracing::debug!(file = %f.display(), registry, "using stored credentials");
            return Ok(Some(c));
        }
    }
    Ok(None)
}

/// Looks credentials up in one auth file (missing file: none).
pub fn lookup_in(
    path: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, RegistryError> {
    let Some(doc) = read_auth_file(path)? else {
        return Ok(None);
    };
    // Docker's order: a helper named for this registry, then a stored entry, then the
    // default store (whose `auths` entries are empty placeholders).
    if let Some(helpers) = doc.get("credHelpers").and_then(Value::as_object) {
        let want = normalize_key(registry);
        if let Some(h) = helpers
            .iter()
            .find(|(k, _)| normalize_key(k) == want)
            .and_then(|(_, v)| v.as_str())
        {
            return super::credhelper::get(h, registry, path);
        }
    }
    if let Some(c) = lookup_entry(&doc, path, registry, repository)? {
        return Ok(Some(c));
    }
    match doc.get("credsStore").and_then(Value::as_str) {
        Some(store) if !store.is_empty() => super::credhelper::get(store, registry, path),
        _ => Ok(None),
    }
}

/// The `auths` entry for `registry`/`repository` in an auth file's document.
fn lookup_entry(
    doc: &Map<String, Value>,
    path: &Path,
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, RegistryError> {
    let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
        return Ok(None);
    };
    let keyed: BTreeMap<String, &Value> =
        auths.iter().map(|(k, v)| (normalize_key(k), v)).collect();
    let mut candidates = Vec::new();
    let full = format!("{registry}/{repository}");
    let mut cur = full.as_str();
    loop {
        candidates.push(cur.to_string());
        match cur.rsplit_once('/') {
            Some((head, _)) => cur = head,
            None => break,
        }
    }
    for c in candidates {
        let Some(entry) = keyed.get(&c) else { continue };
        if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
            if auth.is_empty() {
                continue;
            }
            return Credentials::decode(auth)
                .map(Some)
                .ok_or_else(|| RegistryError::Credentials {
                    path: path.to_path_buf(),
                    reason: format!("entry {c:?}: `auth` is not base64 of user:password"),
                });
        }
        if let (Some(u), Some(p)) = (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            return Ok(Some(Credentials {
                username: u.to_string(),
                password: p.to_string(),
            }));
        }
    }
    Ok(None)
}

fn read_auth_file(path: &Path) -> Result<Option<Map<String, Value>>, RegistryError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::Credentials {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Some(Map::new()));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        Ok(_) => Err(RegistryError::Credentials {
            path: path.to_path_buf(),
            reason: "not a JSON object".into(),
        }),
        Err(e) => Err(RegistryError::Credentials {
            path: path.to_path_buf(),
            reason: format!("invalid JSON: {e}"),
        }),
    }
}

/// Stores `creds` for `registry` in the auth file `path` (created with mode 0600 in a 0700
/// directory; other entries and fields are kept). The file is replaced atomically.
pub fn store_credentials(
    path: &Path,
    registry: &str,
    creds: &Credentials,
) -> Result<(), RegistryError> {
    let mut doc = read_auth_file(path)?.unwrap_or_default();
    let auths = doc
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(auths) = auths else {
        return Err(RegistryError::Credentials {
            path: path.to_path_buf(),
            reason: "`auths` is not an object".into(),
        });
    };
    let key = normalize_key(registry);
    auths.retain(|k, _| normalize_key(k) != key);
    auths.insert(key, serde_json::json!({ "auth": creds.encoded() }));
    write_auth_file(path, &doc)
}

/// Removes the entry for `registry` from the auth file `path`; false if there was none.
pub fn remove_credentials(path: &Path, registry: &str) -> Result<bool, RegistryError> {
    let Some(mut doc) = read_auth_file(path)? else {
        return Ok(false);
    };
    let key = normalize_key(registry);
    let removed = match doc.get_mut("auths") {
        Some(Value::Object(auths)) => {
            let before = auths.len();
            auths.retain(|k, _| normalize_key(k) != key);
            auths.len() != before
        }
        _ => false,
    };
    if removed {
        write_auth_file(path, &doc)?;
    }
    Ok(removed)
}

fn write_auth_file(path: &Path, doc: &Map<String, Value>) -> Result<(), RegistryError> {
    let err = |what: &str, e: std::io::Error| RegistryError::Credentials {
        path: path.to_path_buf(),
        reason: format!("{what}: {e}"),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.as_os_str().is_empty() && !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| err("create directory", e))?;
    }
    let data = serde_json::to_vec_pretty(doc).map_err(|e| RegistryError::Credentials {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".auth-")
        .tempfile_in(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .map_err(|e| err("create temp file", e))?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| err("chmod", e))?;
    tmp.write_all(&data).map_err(|e| err("write", e))?;
    tmp.as_file().sync_all().map_err(|e| err("fsync", e))?;
    tmp.persist(path).map_err(|e| err("rename", e.error))?;
    Ok(())
}

/// One challenge of a `WWW-Authenticate` header: a scheme and its parameters (names in
/// lowercase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `basic` or `bearer` (lowercase).
    pub scheme: String,
    /// `realm`, `service`, `scope`, `error`, ...
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value, which may hold several challenges.
    pub fn parse_all(header: &str) -> Vec<Challenge> {
        let mut out: Vec<Challenge> = Vec::new();
        let b = header.as_bytes();
        let mut i = 0;
        let skip_ws = |i: &mut usize| {
            while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t' || b[*i] == b',') {
                *i += 1;
            }
        };
        loop {
            skip_ws(&mut i);
            if i >= b.len() {
                break;
            }
            // A token: either a new scheme or a parameter name.
            let start = i;
            while i < b.len() && !matches!(b[i], b' ' | b'\t' | b',' | b'=') {
                i += 1;
            }
            let token = &header[start..i];
            let mut j = i;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if j < b.len() && b[j] == b'=' && !out.is_empty() {
                // name=value
                i = j + 1;
                while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                    i += 1;
                }
                let mut value = String::new();
                if i < b.len() && b[i] == b'"' {
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        if b[i] == b'\\' && i + 1 < b.len() {
                            i += 1;
                        }
                        let ch_len = utf8_len(b[i]);
                        value.push_str(&header[i..(i + ch_len).min(b.len())]);
                        i += ch_len;
                    }
                    i += 1;
                } else {
                    let vs = i;
                    while i < b.len() && b[i] != b',' {
                        i += 1;
                    }
                    value = header[vs..i].trim().to_string();
                }
                if let Some(c) = out.last_mut() {
                    c.params.insert(token.to_ascii_lowercase(), value);
                }
            } else if !token.is_empty() {
                out.push(Challenge {
                    scheme: token.to_ascii_lowercase(),
                    params: BTreeMap::new(),
                });
            } else {
                i += 1;
            }
        }
        out
    }

    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = Challenge::parse_all(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(c[0].param("scope"), Some("repository:library/busybox:pull"));

        let c =
            Challenge::parse_all(r#"Basic realm="Registry Realm", Bearer realm=x,error="a\"b""#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));
        assert_eq!(c[1].param("realm"), Some("x"));
        assert_eq!(c[1].param("error"), Some("a\"b"));
    }

    #[test]
    fn auth_file_round_trip_and_lookup() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("sub/auth.json");
        let creds = Credentials::parse("alice:pa:ss").unwrap();
        store_credentials(&f, "127.0.0.1:5000", &creds).unwrap();
        let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            lookup_in(&f, "127.0.0.1:5000", "x/y").unwrap(),
            Some(creds.clone())
        );
        assert_eq!(lookup_in(&f, "127.0.0.1:5001", "x/y").unwrap(), None);
        assert!(remove_credentials(&f, "127.0.0.1:5000").unwrap());
        assert!(!remove_credentials(&f, "127.0.0.1:5000").unwrap());
        assert_eq!(lookup_in(&f, "127.0.0.1:5000", "x/y").unwrap(), None);
    }

    #[test]
    fn docker_config_keys_and_repo_scoped_entries() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("config.json");
        let hub = B64.encode("hub:pw");
        let scoped = B64.encode("scoped:pw");
        let host = B64.encode("host:pw");
        fs::write(
            &f,
            serde_json::json!({"auths": {
                "https://index.docker.io/v1/": {"auth": hub},
                "quay.io/org/app": {"auth": scoped},
                "quay.io": {"auth": host},
            }, "credsStore": "desktop"})
            .to_string(),
        )
        .unwrap();
        let u = |r, p| lookup_in(&f, r, p).unwrap().map(|c| c.username);
        assert_eq!(u("docker.io", "library/busybox").as_deref(), Some("hub"));
        assert_eq!(u("quay.io", "org/app").as_deref(), Some("scoped"));
        assert_eq!(u("quay.io", "org/other").as_deref(), Some("host"));
        fs::write(&f, "{not json").unwrap();
        assert!(lookup_in(&f, "quay.io", "x").is_err());
        assert!(lookup_in(&t.path().join("missing"), "quay.io", "x")
            .unwrap()
            .is_none());
    }
}
