//! `hezi spec`: write a default `config.json` (runc's shape) into the bundle.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};

use anyhow::Context;
use hezi_spec::defaults;
use hezi_spec::oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use crate::cli::{GlobalOpts, SpecArgs};

/// Runs `hezi spec`.
pub fn run(_g: &GlobalOpts, a: &SpecArgs) -> anyhow::Result<u8> {
    let spec = if a.rootless {
        defaults::rootless_spec(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        defaults::default_spec()
    };
    let spec = with_cgroup_ns_on_unified(spec);
    let text = defaults::config_json(&spec).context("cannot encode the default config")?;
    let path = a.bundle.join("config.json");
    // create_new: never overwrite, and no window between a check and the write.
    let mut file = match OpenOptions::new().write(true).create_new(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            anyhow::bail!(
                "File {} exists. Remove it first",
                path_for_message(a, &path)
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::debug!(path = %path.display(), rootless = a.rootless, "wrote default config");
    Ok(0)
}

/// On a pure cgroup v2 host runc's default config also unshares the cgroup namespace (so the
/// container sees its own cgroup as the root); hezi does the same.
fn with_cgroup_ns_on_unified(mut spec: hezi_spec::Spec) -> hezi_spec::Spec {
    let unified = matches!(
        hezi_cgroups::detect(std::path::Path::new(hezi_cgroups::DEFAULT_ROOT)),
        Ok(hezi_cgroups::Hierarchy::Unified)
    );
    if !unified {
        return spec;
    }
    if let Some(linux) = spec.linux_mut() {
        let mut ns = linux.namespaces().clone().unwrap_or_default();
        if !ns.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup) {
            let mut cg = LinuxNamespace::default();
            cg.set_typ(LinuxNamespaceType::Cgroup);
            ns.push(cg);
            linux.set_namespaces(Some(ns));
        }
    }
    spec
}

/// runc says "File config.json exists" for the current directory; name the full path
/// for any other bundle.
fn path_for_message(a: &SpecArgs, path: &std::path::Path) -> String {
    if a.bundle.as_os_str() == "." {
        "config.json".to_string()
    } else {
        path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::test_util::globals;

    #[test]
    fn writes_default_then_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let a = SpecArgs {
            bundle: dir.path().to_path_buf(),
            rootless: false,
        };
        assert_eq!(run(&globals(), &a).unwrap(), 0);
        let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["ociVersion"], hezi_spec::SPEC_VERSION);
        assert!(v["linux"]["uidMappings"].is_null());

        let err = run(&globals(), &a).unwrap_err().to_string();
        assert!(err.contains("exists. Remove it first"), "{err}");
        // The file is untouched.
        assert_eq!(
            std::fs::read_to_string(dir.path().join("config.json")).unwrap(),
            text
        );
    }

    #[test]
    fn rootless_maps_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let a = SpecArgs {
            bundle: dir.path().to_path_buf(),
            rootless: true,
        };
        assert_eq!(run(&globals(), &a).unwrap(), 0);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(
            v["linux"]["uidMappings"][0]["hostID"],
            nix::unistd::geteuid().as_raw()
        );
    }
}
