//! `hezi image pull`, `hezi image push`, `hezi login`, `hezi logout`, and the pull of
//! `hezi run --image --pull=...`: flags to [`hezi_image::registry`] calls.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use hezi_image::registry::{self, auth, ClientOptions, Credentials, Reference};
use hezi_image::{Platform, Store};

use crate::cli::{
    ImagePullArgs, ImagePushArgs, LoginArgs, LogoutArgs, PullPolicy, RegistryOpts, TransportOpts,
};

/// The client options the TLS and transport flags give.
fn transport_options(t: &TransportOpts) -> ClientOptions {
    let mut opts = ClientOptions {
        tls_verify: t.tls_verify,
        plain_http: t.plain_http.then_some(true),
        ..ClientOptions::default()
    };
    // --cert-dir replaces the default certs.d directories.
    if let Some(dir) = &t.cert_dir {
        opts.certs_dirs = vec![dir.clone()];
    }
    opts
}

/// Client options from the command line flags, for `reference`.
pub fn client_options(o: &RegistryOpts, reference: &Reference) -> anyhow::Result<ClientOptions> {
    let mut opts = transport_options(&o.transport);
    if let Some(c) = &o.creds {
        opts.credentials = Some(
            Credentials::parse(c).context("--creds: expected USER:PASSWORD with a user name")?,
        );
    } else if let Some(f) = &o.authfile {
        opts.use_auth_files = false;
        opts.credentials = auth::lookup_in(f, &reference.registry, &reference.repository)
            .with_context(|| format!("reading credentials from {}", f.display()))?;
    }
    Ok(opts)
}

fn parse_ref(s: &str) -> anyhow::Result<Reference> {
    Ok(Reference::parse(s)?)
}

/// Connects to the registry of `reference`.
fn connect(o: &RegistryOpts, reference: &Reference) -> anyhow::Result<registry::Client> {
    let opts = client_options(o, reference)?;
    Ok(registry::connect(reference, &opts)?)
}

/// Pulls `reference` into `store`; returns the name it got.
pub fn pull_into(
    store: &Store,
    reference: &str,
    o: &RegistryOpts,
    platform: Option<&str>,
    jobs: usize,
    name: Option<&str>,
    all_platforms: bool,
) -> anyhow::Result<registry::Pulled> {
    let r = parse_ref(reference)?;
    let client = connect(o, &r).with_context(|| format!("pulling {r}"))?;
    let opts = registry::PullOptions {
        platform: platform.map(Platform::parse).transpose()?,
        jobs: jobs.max(1),
        name: name.map(str::to_string),
        all_platforms,
    };
    registry::pull(store, &client, &r, &opts).with_context(|| format!("pulling {r}"))
}

/// The store reference `hezi run --image REF --pull=POLICY` runs: `REF` itself (or its full
/// registry name) when the store has it and the policy allows, else the name of what was
/// just pulled. With `missing`, only references that name a registry (`docker://...`,
/// `HOST[:PORT]/...`) are pulled; a short name stays a store name.
pub fn image_for_run(
    store: &Store,
    reference: &str,
    policy: PullPolicy,
    o: &RegistryOpts,
) -> anyhow::Result<String> {
    let bare = reference.strip_prefix("docker://");
    let parsed = Reference::parse(reference);
    if policy != PullPolicy::Always {
        let mut local = Vec::new();
        if bare.is_none() {
            local.push(reference.to_string());
        }
        if let Ok(r) = &parsed {
            local.push(r.to_string());
        }
        if let Some(found) = local.into_iter().find(|n| store.resolve(n).is_ok()) {
            return Ok(found);
        }
        if !names_a_registry(reference) {
            // A short name (`busybox`) is a store name: no implicit trip to Docker Hub.
            return Ok(reference.to_string());
        }
        if policy == PullPolicy::Never {
            bail!(
                "image {reference} is not in the store {} and --pull=never",
                store.path().display()
            );
        }
    }
    let r = parsed
        .with_context(|| format!("image {reference} is not in the store and cannot be pulled"))?;
    tracing::info!(image = %r, ?policy, "pulling for run");
    let p = pull_into(store, &r.to_string(), o, None, 3, None, false)?;
    Ok(p.name)
}

/// True for `docker://...` and for references whose first component is a registry host
/// (has a `.` or `:`, or is `localhost`).
fn names_a_registry(reference: &str) -> bool {
    if reference.starts_with("docker://") {
        return true;
    }
    match reference.split_once('/') {
        Some((first, _)) => first.contains('.') || first.contains(':') || first == "localhost",
        None => false,
    }
}

/// `hezi image pull`.
pub fn pull(store: &Store, a: &ImagePullArgs) -> anyhow::Result<()> {
    let p = pull_into(
        store,
        &a.reference,
        &a.registry,
        a.platform.as_deref(),
        a.jobs,
        a.name.as_deref(),
        a.all_platforms,
    )?;
    tracing::info!(fetched = p.fetched, skipped = p.skipped, "pulled");
    println!("{}\t{}", p.name, p.descriptor.digest);
    Ok(())
}

/// `hezi image push`.
pub fn push(store: &Store, a: &ImagePushArgs) -> anyhow::Result<()> {
    let dest = match &a.dest {
        Some(d) => d.clone(),
        None => {
            let d = store
                .resolve(&a.source)
                .with_context(|| format!("resolving {}", a.source))?;
            match d.ref_name() {
                Some(n) => n.to_string(),
                None => bail!("{} has no name to push to; give a destination", a.source),
            }
        }
    };
    let r = parse_ref(&dest)?;
    let client =
        connect(&a.registry, &r).with_context(|| format!("pushing {} to {r}", a.source))?;
    let opts = registry::PushOptions {
        jobs: a.jobs.max(1),
        mount_from: a.mount_from.clone(),
        chunk_size: a.chunk_size,
        all_platforms: a.all_platforms,
    };
    let p = registry::push(store, &client, &a.source, &r, &opts)
        .with_context(|| format!("pushing {} to {r}", a.source))?;
    tracing::info!(uploaded = p.uploaded, skipped = p.skipped, "pushed");
    println!("{r}\t{}", p.descriptor.digest);
    Ok(())
}

/// The registry part of a `login`/`logout` argument (`docker://` and paths dropped).
fn registry_name(s: &str) -> String {
    let s = s.strip_prefix("docker://").unwrap_or(s);
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    s.split('/').next().unwrap_or(s).to_string()
}

/// `hezi login`.
pub fn login(a: &LoginArgs) -> anyhow::Result<u8> {
    let reg = registry_name(&a.registry);
    let Some(user) = a.username.clone() else {
        bail!("login {reg}: give a user name with -u");
    };
    let password = match (&a.password, a.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("reading the password from stdin")?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => bail!("login {reg}: give the password with -p or --password-stdin"),
    };
    let creds = Credentials {
        username: user,
        password,
    };
    let opts = ClientOptions {
        credentials: Some(creds.clone()),
        use_auth_files: false,
        ..transport_options(&a.transport)
    };
    let client = registry::Client::connect(&reg, "", &opts)
        .with_context(|| format!("connecting to registry {reg}"))?;
    client
        .check_login()
        .with_context(|| format!("logging in to {reg}"))?;
    let file: PathBuf = a.authfile.clone().unwrap_or_else(auth::login_file);
    auth::store_credentials(&file, &reg, &creds)?;
    tracing::info!(file = %file.display(), registry = %reg, "credentials stored");
    println!("Login Succeeded!");
    Ok(0)
}

/// `hezi logout`.
pub fn logout(a: &LogoutArgs) -> anyhow::Result<u8> {
    let file: PathBuf = a.authfile.clone().unwrap_or_else(auth::login_file);
    if a.all {
        if file.exists() {
            std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
        }
        println!("Removed login credentials for all registries");
        return Ok(0);
    }
    let Some(reg) = a.registry.as_deref().map(registry_name) else {
        bail!("logout: give a registry or --all");
    };
    if !auth::remove_credentials(&file, &reg)? {
        bail!("not logged into {reg} (in {})", file.display());
    }
    println!("Removed login credentials for {reg}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_and_options() {
        assert_eq!(
            registry_name("docker://127.0.0.1:5000/x/y"),
            "127.0.0.1:5000"
        );
        assert_eq!(registry_name("https://quay.io"), "quay.io");
        let r = Reference::parse("quay.io/a/b").unwrap();
        let o = RegistryOpts {
            creds: Some("u:p:q".into()),
            transport: TransportOpts {
                tls_verify: false,
                plain_http: true,
                cert_dir: None,
            },
            ..RegistryOpts::default()
        };
        let c = client_options(&o, &r).unwrap();
        assert_eq!(c.credentials.unwrap().password, "p:q");
        assert!(!c.tls_verify);
        assert_eq!(c.plain_http, Some(true));
        let bad = RegistryOpts {
            creds: Some("nouser".into()),
            ..RegistryOpts::default()
        };
        assert!(client_options(&bad, &r).is_err());
        assert!(names_a_registry("docker://busybox"));
        assert!(names_a_registry("127.0.0.1:5000/x:y"));
        assert!(names_a_registry("localhost/x"));
        assert!(!names_a_registry("busybox:latest"));
        assert!(!names_a_registry("library/busybox"));
    }
}
