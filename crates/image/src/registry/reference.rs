//! Registry image references: `[docker://]HOST[:PORT]/REPO[:TAG|@DIGEST]`, with Docker
//! Hub's short forms (`busybox` is `docker.io/library/busybox:latest`).

use std::fmt;

use hezi_digest::Digest;

use super::RegistryError;

/// The registry name Docker Hub images carry.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's API is served from.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed reference to an image in a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The registry: `host` or `host:port` (`docker.io` for Docker Hub).
    pub registry: String,
    /// The repository path (`library/busybox`).
    pub repository: String,
    /// The tag, if one was given (`latest` is assumed when neither tag nor digest is).
    pub tag: Option<String>,
    /// The digest, if one was given.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses `[docker://]HOST[:PORT]/REPO[:TAG][@DIGEST]` or a Docker Hub short form.
    pub fn parse(input: &str) -> Result<Reference, RegistryError> {
        let bad = |reason: &str| RegistryError::Reference {
            reference: input.to_string(),
            reason: reason.to_string(),
        };
        let s = input.strip_prefix("docker://").unwrap_or(input);
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let d = d
                    .parse::<Digest>()
                    .map_err(|e| bad(&format!("digest: {e}")))?;
                (r, Some(d))
            }
            None => (s, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (path, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_string()),
            ),
            None => (rest, None),
        };
        let (registry, repository) = match path.split_once('/') {
            Some((first, repo))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), repo.to_string())
            }
            _ => (DOCKER_HUB.to_string(), path.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        check_registry(&registry).map_err(|r| bad(&r))?;
        check_repository(&repository).map_err(|r| bad(&r))?;
        if let Some(t) = &tag {
            check_tag(t).map_err(|r| bad(&r))?;
        }
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What goes in `/v2/<repo>/manifests/<reference>`: the digest if given, else the tag,
    /// else `latest`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The host (and port) the registry API is served from (Docker Hub's differs from its
    /// name).
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }

    /// The same repository with another tag (and no digest).
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

/// The API host of `registry` (`docker.io` is served by `registry-1.docker.io`).
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB || registry == "index.docker.io" {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// The full name: `registry/repository[:tag][@digest]` (`:latest` when neither is given).
/// This is the name a pulled image gets in the store.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        match (&self.tag, &self.digest) {
            (Some(t), _) => write!(f, ":{t}")?,
            (None, None) => write!(f, ":latest")?,
            (None, Some(_)) => {}
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn check_registry(r: &str) -> Result<(), String> {
    let (host, port) = match r.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, Some(p)),
        _ => (r, None),
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
    {
        return Err(format!("registry host {host:?} is not a host name"));
    }
    if let Some(p) = port {
        if p.parse::<u16>().is_err() {
            return Err(format!("registry port {p:?} is not a port number"));
        }
    }
    Ok(())
}

fn check_repository(r: &str) -> Result<(), String> {
    if r.is_empty() || r.len() > 255 {
        return Err("repository name is empty or longer than 255 characters".into());
    }
    for comp in r.split('/') {
        let ok = !comp.is_empty()
            && comp.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
            && comp.starts_with(|c: char| c.is_ascii_alphanumeric())
            && comp.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!(
                "repository component {comp:?}: lowercase letters, digits and inner . _ - only"
            ));
        }
    }
    Ok(())
}

fn check_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {t:?}: up to 128 of [A-Za-z0-9_.-], not starting with . or -"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_and_short_forms() {
        let r = Reference::parse("docker://127.0.0.1:5000/a/b:v1").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "a/b");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.reference(), "v1");
        assert_eq!(r.to_string(), "127.0.0.1:5000/a/b:v1");

        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/busybox");
        assert_eq!(r.reference(), "latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");

        let r = Reference::parse("localhost/x").unwrap();
        assert_eq!(r.registry, "localhost");
        assert_eq!(r.repository, "x");

        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("quay.io/x/y@{d}")).unwrap();
        assert_eq!(r.reference(), d);
        assert_eq!(r.tag, None);
        assert_eq!(r.to_string(), format!("quay.io/x/y@{d}"));
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "docker://",
            "host.io/UPPER:tag",
            "host.io/a//b",
            "host.io/a:-tag",
            "host.io:notaport/a",
            "host.io/a@sha256:short",
            "host.io/a:t@g",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
