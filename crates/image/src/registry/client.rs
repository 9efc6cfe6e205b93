//! The HTTP side: one [`Client`] per registry over a blocking ureq agent, with the
//! `/v2/` ping, basic and bearer authentication (tokens cached per scope), retries with
//! backoff for 429, 5xx and broken connections, and registry errors decoded into
//! [`RegistryError`]s that name registry, repository and reference.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::auth::{Challenge, Credentials};
use super::reference::api_host;
use super::tls;
use super::RegistryError;

/// How to reach a registry.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Verify TLS certificates (`--tls-verify`); false also allows falling back to plain
    /// HTTP when the registry does not speak TLS.
    pub tls_verify: bool,
    /// Use plain HTTP: `Some(true)` always, `Some(false)` never, `None` for loopback
    /// registries (`localhost`, `127.0.0.1`, `[::1]`) only, as podman does.
    pub plain_http: Option<bool>,
    /// Credentials to use (`--creds`); `None` looks them up in the auth files.
    pub credentials: Option<Credentials>,
    /// Whether to look credentials up in the auth files when none are given.
    pub use_auth_files: bool,
    /// Directories with per-registry certificates (`<dir>/<host[:port]>/*.crt`).
    pub certs_dirs: Vec<PathBuf>,
    /// How many times a failed request is retried (429, 5xx, connection errors).
    pub retries: u32,
    /// The first retry delay; it doubles with every retry (capped at 10 s).
    pub backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls_verify: true,
            plain_http: None,
            credentials: None,
            use_auth_files: true,
            certs_dirs: tls::CERTS_DIRS.iter().map(PathBuf::from).collect(),
            retries: 4,
            backoff: Duration::from_millis(500),
        }
    }
}

/// What a request is about, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// The repository.
    pub repository: &'a str,
    /// The tag or digest.
    pub reference: &'a str,
    /// Whether the request needs push access (token scope `pull,push`, else `pull`).
    pub push: bool,
}

impl Ctx<'_> {
    /// The token scope of the request.
    fn scope(&self) -> String {
        let actions = if self.push { "pull,push" } else { "pull" };
        format!("repository:{}:{actions}", self.repository)
    }
}

/// A request body.
pub(crate) enum Body<'a> {
    /// No body.
    None,
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A function opening the body afresh for each attempt, and its length.
    Reader(
        &'a (dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Sync),
        u64,
    ),
}

#[derive(Default)]
struct AuthState {
    /// The challenge of the `/v2/` ping (None: no auth needed, as far as we know).
    challenge: Option<Challenge>,
    /// Bearer tokens by scope, with their expiry.
    tokens: HashMap<String, (String, Option<Instant>)>,
}

/// A connection to one registry.
pub struct Client {
    registry: String,
    base: Mutex<String>,
    agent: ureq::Agent,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
    retries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry)
            .field("base", &self.base())
            .finish_non_exhaustive()
    }
}

/// True for registries on the loopback interface.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => h,
        _ => registry,
    };
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1") || host.starts_with("127.")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Client {
    /// Connects to `registry` (`host[:port]`, `docker.io` for Docker Hub): builds the
    /// agent, pings `/v2/` (learning the auth scheme) and, with `tls_verify` off, falls back
    /// to plain HTTP when TLS fails. `repository` is only used to find stored credentials.
    pub fn connect(
        registry: &str,
        repository: &str,
        opts: &ClientOptions,
    ) -> Result<Client, RegistryError> {
        let host = api_host(registry);
        let plain = opts.plain_http.unwrap_or_else(|| is_loopback(registry));
        let tls = tls::client_config(registry, opts.tls_verify, &opts.certs_dirs)?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls)
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .timeout_write(Duration::from_secs(120))
            .redirects(8)
            .user_agent(concat!("hezi/", env!("CARGO_PKG_VERSION")))
            .build();
        let credentials = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None if opts.use_auth_files => super::auth::lookup(registry, repository)?,
            None => None,
        };
        let scheme = if plain { "http" } else { "https" };
        let client = Client {
            registry: registry.to_string(),
            base: Mutex::new(format!("{scheme}://{host}")),
            agent,
            credentials,
            auth: Mutex::new(AuthState::default()),
            retries: opts.retries,
            backoff: opts.backoff,
        };
        let may_fall_back = !plain && !opts.tls_verify;
        match client.ping(!may_fall_back) {
            Err(RegistryError::Transport { message, .. }) if may_fall_back => {
                tracing::warn!(registry, error = %message, "HTTPS failed; trying plain HTTP (--tls-verify=false)");
                *lock(&client.base) = format!("http://{host}");
                client.ping(true)?;
            }
            r => r?,
        }
        Ok(client)
    }

    /// The registry name.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `scheme://host` of the API.
    pub fn base(&self) -> String {
        lock(&self.base).clone()
    }

    /// True if credentials were given or found.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// Checks the credentials: basic ones with an authenticated `GET /v2/`, bearer ones by
    /// getting a token with them. A registry that asks for no auth accepts anything.
    pub fn check_login(&self) -> Result<(), RegistryError> {
        let ctx = Ctx {
            repository: "",
            reference: "login",
            push: false,
        };
        let challenge = lock(&self.auth).challenge.clone();
        match challenge {
            None => {
                tracing::info!(registry = %self.registry, "the registry asks for no authentication");
                Ok(())
            }
            Some(ch) if ch.scheme == "bearer" => self.fetch_token(&ch, "", ctx).map(|_| ()),
            Some(_) => {
                let url = format!("{}/v2/", self.base());
                let mut req = self.agent.get(&url);
                if let Some(c) = &self.credentials {
                    req = req.set("Authorization", &c.basic_header());
                }
                match req.call() {
                    Ok(_) => Ok(()),
                    Err(ureq::Error::Status(code, resp)) => {
                        Err(self.status_error("GET", code, resp, ctx))
                    }
                    Err(ureq::Error::Transport(t)) => Err(self.transport(&url, &t)),
                }
            }
        }
    }

    /// `GET /v2/`: 200 means no auth, 401 carries the challenge. Connection errors are
    /// retried only with `retry`.
    fn ping(&self, retry: bool) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base());
        let mut attempt = 0;
        loop {
            match self.agent.get(&url).call() {
                Ok(_) => return Ok(()),
                Err(ureq::Error::Status(401, resp)) => {
                    let challenges = resp
                        .header("www-authenticate")
                        .map(Challenge::parse_all)
                        .unwrap_or_default();
                    let pick = challenges
                        .iter()
                        .find(|c| c.scheme == "bearer")
                        .or_else(|| challenges.iter().find(|c| c.scheme == "basic"))
                        .cloned();
                    tracing::debug!(registry = %self.registry, challenge = ?pick, "registry wants auth");
                    lock(&self.auth).challenge = pick;
                    return Ok(());
                }
                Err(ureq::Error::Status(code, resp))
                    if retryable(code) && attempt < self.retries =>
                {
                    self.wait(attempt, retry_after(&resp));
                }
                Err(ureq::Error::Status(code, resp)) => {
                    return Err(self.status_error(
                        "GET",
                        code,
                        resp,
                        Ctx {
                            repository: "",
                            reference: "/v2/",
                            push: false,
                        },
                    ))
                }
                Err(ureq::Error::Transport(t))
                    if retry && attempt < self.retries && transient_at_ping(&t) =>
                {
                    tracing::debug!(error = %t, "ping failed; retrying");
                    self.wait(attempt, None);
                }
                Err(ureq::Error::Transport(t)) => return Err(self.transport(&url, &t)),
            }
            attempt += 1;
        }
    }

    /// Sleeps before retry number `attempt` (Retry-After if the server gave one).
    pub(crate) fn wait(&self, attempt: u32, after: Option<Duration>) {
        let backoff = self
            .backoff
            .saturating_mul(1u32 << attempt.min(8))
            .min(Duration::from_secs(10));
        let d = after.unwrap_or(backoff).min(Duration::from_secs(60));
        tracing::info!(registry = %self.registry, attempt = attempt + 1, delay_ms = d.as_millis() as u64, "retrying");
        std::thread::sleep(d);
    }

    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    /// Makes a URL from a path under the API base (or returns an absolute URL as it is).
    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{path}", self.base())
        } else {
            format!("{}/{path}", self.base())
        }
    }

    /// Sends a request with authentication and retries. `scope` is the token scope
    /// (from `ctx`); `retry` allows retrying 429/5xx/connection errors (not for
    /// requests whose repetition is unsafe). Returns the response of status 2xx or 3xx.
    pub(crate) fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
        ctx: Ctx<'_>,
        retry: bool,
    ) -> Result<ureq::Response, RegistryError> {
        let scope = ctx.scope();
        let scope = scope.as_str();
        let mut attempt = 0u32;
        let mut reauthed = false;
        loop {
            let mut req = self.agent.request(method, url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(a) = self.authorization(scope, ctx)? {
                req = req.set("Authorization", &a);
            }
            let result = match &body {
                Body::None => req.call(),
                Body::Bytes(b) => req.send_bytes(b),
                Body::Reader(open, len) => {
                    let r = open().map_err(|e| RegistryError::Transport {
                        registry: self.registry.clone(),
                        url: url.to_string(),
                        message: format!("opening the request body: {e}"),
                    })?;
                    req.set("Content-Length", &len.to_string()).send(r)
                }
            };
            match result {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if !reauthed => {
                    reauthed = true;
                    let challenges = resp
                        .header("www-authenticate")
                        .map(Challenge::parse_all)
                        .unwrap_or_default();
                    let pick = challenges
                        .iter()
                        .find(|c| c.scheme == "bearer")
                        .or_else(|| challenges.iter().find(|c| c.scheme == "basic"))
                        .cloned();
                    let mut st = lock(&self.auth);
                    st.tokens.remove(scope);
                    if pick.is_none() && st.challenge.is_none() {
                        drop(st);
                        return Err(self.status_error(method, 401, resp, ctx));
                    }
                    if pick.is_some() {
                        st.challenge = pick;
                    }
                }
                Err(ureq::Error::Status(code, resp))
                    if retry && retryable(code) && attempt < self.retries =>
                {
                    let after = retry_after(&resp);
                    tracing::debug!(%url, status = code, "registry asks to retry");
                    self.wait(attempt, after);
                    attempt += 1;
                }
                Err(ureq::Error::Status(code, resp)) => {
                    return Err(self.status_error(method, code, resp, ctx))
                }
                Err(ureq::Error::Transport(t))
                    if retry && attempt < self.retries && transient_at_ping(&t) =>
                {
                    tracing::debug!(%url, error = %t, "request failed; retrying");
                    self.wait(attempt, None);
                    attempt += 1;
                }
                Err(ureq::Error::Transport(t)) => return Err(self.transport(url, &t)),
            }
        }
    }

    /// The `Authorization` header for `scope`, fetching a bearer token if needed.
    fn authorization(&self, scope: &str, ctx: Ctx<'_>) -> Result<Option<String>, RegistryError> {
        let challenge = {
            let st = lock(&self.auth);
            let Some(ch) = st.challenge.clone() else {
                return Ok(None);
            };
            if ch.scheme == "bearer" {
                if let Some((tok, exp)) = st.tokens.get(scope) {
                    if exp.is_none_or(|e| Instant::now() < e) {
                        return Ok(Some(format!("Bearer {tok}")));
                    }
                }
            }
            ch
        };
        match challenge.scheme.as_str() {
            "basic" => Ok(self.credentials.as_ref().map(Credentials::basic_header)),
            "bearer" => {
                let (tok, exp) = self.fetch_token(&challenge, scope, ctx)?;
                let header = format!("Bearer {tok}");
                lock(&self.auth)
                    .tokens
                    .insert(scope.to_string(), (tok, exp));
                Ok(Some(header))
            }
            other => {
                tracing::debug!(
                    scheme = other,
                    "unknown auth scheme; sending no credentials"
                );
                Ok(None)
            }
        }
    }

    /// Gets a token from the challenge's realm for `scope` (with basic credentials if any).
    fn fetch_token(
        &self,
        ch: &Challenge,
        scope: &str,
        ctx: Ctx<'_>,
    ) -> Result<(String, Option<Instant>), RegistryError> {
        let realm = ch.param("realm").unwrap_or_default();
        let terr = |reason: String| RegistryError::Token {
            registry: self.registry.clone(),
            realm: realm.to_string(),
            reason,
        };
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(terr("the challenge has no http(s) realm".into()));
        }
        let mut url = realm.to_string();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        if let Some(service) = ch.param("service") {
            url.push_str(&format!("{sep}service={}", encode_query(service)));
            sep = '&';
        }
        if !scope.is_empty() {
            url.push_str(&format!("{sep}scope={}", encode_query(scope)));
        }
        let mut attempt = 0;
        let resp = loop {
            let mut req = self.agent.get(&url);
            if let Some(c) = &self.credentials {
                req = req.set("Authorization", &c.basic_header());
            }
            match req.call() {
                Ok(r) => break r,
                Err(ureq::Error::Status(code, r)) if retryable(code) && attempt < self.retries => {
                    self.wait(attempt, retry_after(&r));
                }
                Err(ureq::Error::Status(code @ (401 | 403), r)) => {
                    let detail = error_detail(r);
                    return Err(RegistryError::Unauthorized {
                        registry: self.registry.clone(),
                        repository: ctx.repository.to_string(),
                        reference: ctx.reference.to_string(),
                        detail: format!(" (token server answered {code}{detail})"),
                    });
                }
                Err(ureq::Error::Status(code, r)) => {
                    return Err(terr(format!("HTTP {code}{}", error_detail(r))))
                }
                Err(ureq::Error::Transport(t)) if attempt < self.retries && transient(&t) => {
                    self.wait(attempt, None);
                }
                Err(ureq::Error::Transport(t)) => return Err(terr(t.to_string())),
            }
            attempt += 1;
        };
        let mut body = String::new();
        resp.into_reader()
            .take(1 << 20)
            .read_to_string(&mut body)
            .map_err(|e| terr(format!("reading the answer: {e}")))?;
        let v: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| terr(format!("invalid JSON: {e}")))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| terr("the answer has no token".into()))?;
        let exp = v
            .get("expires_in")
            .and_then(|e| e.as_u64())
            .map(|s| Instant::now() + Duration::from_secs(s.saturating_sub(10).max(1)));
        tracing::debug!(registry = %self.registry, scope, "got a bearer token");
        Ok((token.to_string(), exp))
    }

    /// Turns an error status into a [`RegistryError`].
    pub(crate) fn status_error(
        &self,
        method: &str,
        code: u16,
        resp: ureq::Response,
        ctx: Ctx<'_>,
    ) -> RegistryError {
        let registry = self.registry.clone();
        let repository = ctx.repository.to_string();
        let reference = ctx.reference.to_string();
        let detail = if method == "HEAD" {
            String::new()
        } else {
            error_detail(resp)
        };
        match code {
            401 => RegistryError::Unauthorized {
                registry,
                repository,
                reference,
                detail,
            },
            403 => RegistryError::Denied {
                registry,
                repository,
                reference,
                detail,
            },
            404 => RegistryError::NotFound {
                registry,
                repository,
                reference,
                detail,
            },
            status => RegistryError::Status {
                registry,
                repository,
                reference,
                method: method.to_string(),
                status,
                detail,
            },
        }
    }

    fn transport(&self, url: &str, t: &ureq::Transport) -> RegistryError {
        // ureq's message starts with the URL when it knows it.
        let message = t.to_string();
        let mut message = match message.strip_prefix(url) {
            Some(rest) => rest.trim_start_matches([':', ' ']).to_string(),
            None => message,
        };
        // The server's TLS alert when it wants a client certificate it did not get (or
        // refused the one sent): say where hezi looks for one.
        if message.contains("BadCertificate") || message.contains("CertificateRequired") {
            message.push_str(&format!(
                " (the registry refused the TLS client certificate, or wants one: put client.cert and client.key in {}/{})",
                super::tls::CERTS_DIRS[0],
                self.registry
            ));
        }
        RegistryError::Transport {
            registry: self.registry.clone(),
            url: url.to_string(),
            message,
        }
    }
}

/// 429 and 5xx are worth retrying (501 is not).
fn retryable(code: u16) -> bool {
    code == 429 || code == 408 || (code >= 500 && code != 501 && code != 505)
}

/// Connection problems worth retrying: resets, timeouts and refused connections (not DNS
/// failures, TLS errors or invalid URLs).
fn transient(t: &ureq::Transport) -> bool {
    matches!(
        t.kind(),
        ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Io
    ) && !t.to_string().contains("certificate")
}

/// What the first contact retries: broken connections, not a refused one (a wrong port or
/// a registry that is not running should fail at once).
fn transient_at_ping(t: &ureq::Transport) -> bool {
    t.kind() == ureq::ErrorKind::Io && transient(t)
}

/// `Retry-After` in seconds (HTTP dates are ignored: the backoff applies).
fn retry_after(resp: &ureq::Response) -> Option<Duration> {
    resp.header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// `: CODE: message` from a registry error body (`{"errors":[{"code","message"}]}`), or
/// empty.
fn error_detail(resp: ureq::Response) -> String {
    let mut body = String::new();
    if resp
        .into_reader()
        .take(64 << 10)
        .read_to_string(&mut body)
        .is_err()
    {
        return String::new();
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return String::new();
    };
    let Some(errs) = v.get("errors").and_then(|e| e.as_array()) else {
        return String::new();
    };
    let parts: Vec<String> = errs
        .iter()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let msg = e.get("message").and_then(|c| c.as_str()).unwrap_or("");
            match (code.is_empty(), msg.is_empty()) {
                (false, false) => format!("{code}: {msg}"),
                (false, true) => code.to_string(),
                _ => msg.to_string(),
            }
        })
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
pub(crate) fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_queries_and_knows_loopback() {
        assert_eq!(
            encode_query("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("quay.io"));
        assert!(!is_loopback("10.0.0.1:5000"));
        assert!(retryable(429) && retryable(503) && !retryable(501) && !retryable(404));
    }
}
