//! Docker credential helpers: `credHelpers` and `credsStore` in an auth file name a program
//! `docker-credential-<name>` that keeps the secrets. hezi only reads through them (the `get`
//! verb: the server address on stdin, `{"ServerURL","Username","Secret"}` on stdout);
//! `hezi login` writes auth.json as podman does and never stores into a helper.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::auth::Credentials;
use super::RegistryError;

/// What a helper prints for `get`.
#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// The user name a helper gives for an identity token (an OAuth2 refresh token) instead of a
/// password; hezi's token client does not use refresh tokens, so such an answer is refused
/// by name rather than sent as a password.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// The server address a helper is asked about: Docker Hub under its historical key, every
/// other registry as `host[:port]`.
pub fn server_url(registry: &str) -> String {
    if registry == super::reference::DOCKER_HUB {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

/// Runs `docker-credential-<helper> get` for `registry` (helpers are looked up on `PATH`, as
/// Docker does). `Ok(None)` when the helper has no credentials for it; an error names the
/// helper, the auth file that configured it and what went wrong.
pub fn get(
    helper: &str,
    registry: &str,
    configured_in: &Path,
) -> Result<Option<Credentials>, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let err = |reason: String| RegistryError::Credentials {
        path: configured_in.to_path_buf(),
        reason,
    };
    if helper.is_empty() || helper.contains('/') {
        return Err(err(format!("invalid credential helper name {helper:?}")));
    }
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("credential helper {program}: {e} (is it on PATH?)")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input reports through its status below.
        let _ = stdin.write_all(server_url(registry).as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("credential helper {program}: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let said = format!(
            "{}{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        // The protocol's answer for "nothing stored for this server".
        if said.contains("credentials not found") {
            return Ok(None);
        }
        return Err(err(format!(
            "credential helper {program} get {}: {} ({})",
            server_url(registry),
            said,
            out.status
        )));
    }
    let answer: HelperAnswer = serde_json::from_str(stdout.trim())
        .map_err(|e| err(format!("credential helper {program}: invalid answer: {e}")))?;
    if answer.username == IDENTITY_TOKEN_USER {
        return Err(err(format!(
            "credential helper {program} gave an identity token for {registry}; hezi needs a user name and password (use --creds or hezi login)"
        )));
    }
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: answer.username,
        password: answer.secret,
    }))
}
