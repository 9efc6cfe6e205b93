//! TLS for registries: rustls with the system's roots (webpki-roots when the system has
//! none), per-registry CAs and client certificates from `certs.d` directories, and an
//! unverified mode for `--tls-verify=false`.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::RegistryError;

/// Where per-registry certificates are looked for: `<dir>/<host[:port]>/*.crt` (CAs) and
/// `*.cert` + `*.key` (a client certificate), as podman and Docker do.
pub const CERTS_DIRS: &[&str] = &["/etc/containers/certs.d", "/etc/docker/certs.d"];

/// Builds the rustls config for `registry`.
pub(crate) fn client_config(
    registry: &str,
    verify: bool,
    certs_dirs: &[PathBuf],
) -> Result<Arc<ClientConfig>, RegistryError> {
    let tls_err = |reason: String| RegistryError::Tls {
        registry: registry.to_string(),
        reason,
    };
    // ring, as ureq uses: it builds with a C compiler only (aws-lc-rs, which rustls now
    // prefers for its post-quantum key exchange, needs cmake and much longer builds).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?;
    let dirs: Vec<PathBuf> = certs_dirs.iter().map(|d| d.join(registry)).collect();
    let builder = if verify {
        builder.with_root_certificates(roots(registry, &dirs)?)
    } else {
        tracing::warn!(registry, "TLS certificate verification is off");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
    };
    let config = match client_cert(registry, &dirs)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| tls_err(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn files_with(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn roots(registry: &str, dirs: &[PathBuf]) -> Result<RootCertStore, RegistryError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::debug!(error = %e, "loading system CA certificates");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        tracing::debug!("no system CA certificates found; using the built-in Mozilla roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for dir in dirs {
        for f in files_with(dir, "crt") {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&f)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| RegistryError::Tls {
                    registry: registry.to_string(),
                    reason: format!("{}: {e}", f.display()),
                })?;
            for c in certs {
                roots.add(c).map_err(|e| RegistryError::Tls {
                    registry: registry.to_string(),
                    reason: format!("{}: {e}", f.display()),
                })?;
            }
            tracing::debug!(file = %f.display(), registry, "added registry CA");
        }
    }
    Ok(roots)
}

type ClientCert = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn client_cert(registry: &str, dirs: &[PathBuf]) -> Result<Option<ClientCert>, RegistryError> {
    let err = |p: &Path, e: String| RegistryError::Tls {
        registry: registry.to_string(),
        reason: format!("{}: {e}", p.display()),
    };
    for dir in dirs {
        let Some(cert) = files_with(dir, "cert").into_iter().next() else {
            continue;
        };
        let key = cert.with_extension("key");
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| err(&cert, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| err(&key, e.to_string()))?;
        return Ok(Some((chain, key)));
    }
    Ok(None)
}

/// Accepts any server certificate (`--tls-verify=false`); handshake signatures are still
/// checked so the session keys belong to whoever sent the certificate.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
