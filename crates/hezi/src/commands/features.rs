//! `hezi features`: the runtime-spec features document of this build.
//!
//! Every section comes from what the library crates export, so the document lists only
//! what they implement: seccomp from `hezi_seccomp`'s `SUPPORTED_*` tables, namespaces
//! from `hezi_runtime`'s join order, mount options from the rootfs option parser, hooks
//! and capabilities from `hezi_spec::names` (the runtime runs every hook kind and can set
//! every capability the kernel knows).

use hezi_spec::features::{CgroupFeatures, Features, FeaturesBuilder, SeccompFeatures};

use crate::cli::GlobalOpts;

/// What this build implements, as the crates report it.
pub struct Implemented<'a> {
    /// Hook kinds run (empty: left out of the document).
    pub hooks: &'a [&'a str],
    /// Mount options recognized (empty: left out).
    pub mount_options: &'a [&'a str],
    /// Capability names that can be set (empty: left out).
    pub capabilities: &'a [&'a str],
    /// cgroup support (`None`: left out).
    pub cgroup: Option<CgroupFeatures>,
    /// Namespace types the runtime can create or join.
    pub namespaces: Vec<String>,
    /// Seccomp actions supported.
    pub seccomp_actions: &'a [&'a str],
    /// Seccomp operators supported.
    pub seccomp_operators: &'a [&'a str],
    /// Seccomp architectures supported.
    pub seccomp_archs: &'a [&'a str],
    /// Seccomp flags supported.
    pub seccomp_flags: &'a [&'a str],
    /// `linux.memoryPolicy` modes and flags applied (empty: left out).
    pub memory_policy: (&'a [&'a str], &'a [&'a str]),
}

impl Implemented<'static> {
    /// Collects the tables from the crates of this build.
    pub fn from_crates() -> Self {
        Implemented {
            hooks: hezi_spec::names::HOOKS,
            mount_options: hezi_runtime::features::MOUNT_OPTIONS,
            capabilities: hezi_spec::names::CAPABILITIES,
            cgroup: Some(CgroupFeatures {
                v1: true,
                v2: true,
                // Transient scopes over D-Bus: PID 1's as root, the user's own manager
                // (user@UID.service) when rootless, on cgroup v2.
                systemd: true,
                systemd_user: true,
                rdma: true,
            }),
            namespaces: hezi_runtime::features::NAMESPACES
                .iter()
                // A unit enum serialises to its name; to_value cannot fail here.
                .filter_map(|t| serde_json::to_value(t).ok())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            seccomp_actions: hezi_seccomp::SUPPORTED_ACTIONS,
            seccomp_operators: hezi_seccomp::SUPPORTED_OPERATORS,
            seccomp_archs: hezi_seccomp::SUPPORTED_ARCHS,
            seccomp_flags: hezi_seccomp::SUPPORTED_FLAGS,
            memory_policy: (
                hezi_runtime::features::MEMORY_POLICY_MODES,
                hezi_runtime::features::MEMORY_POLICY_FLAGS,
            ),
        }
    }
}

/// Builds the features document from what is implemented.
pub fn features(imp: &Implemented<'_>) -> Features {
    let owned = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let namespaces: Vec<&str> = imp.namespaces.iter().map(String::as_str).collect();
    let mut b = FeaturesBuilder::new()
        .annotation("io.github.hezi.version", env!("CARGO_PKG_VERSION"))
        .annotation("io.github.hezi.commit", env!("HEZI_COMMIT"))
        .annotation(
            "io.github.hezi.seccomp",
            "hezi-seccomp (pure Rust BPF compiler)",
        );
    if !imp.hooks.is_empty() {
        b = b.hooks(imp.hooks);
    }
    // Profiles are applied wherever the AppArmor LSM is on (and refused clearly elsewhere).
    if hezi_runtime::features::apparmor_enabled() {
        b = b.apparmor(true);
    }
    if !imp.mount_options.is_empty() {
        b = b.mount_options(imp.mount_options);
        // The rootfs applies `idmap`/`ridmap` bind mounts (MOUNT_ATTR_IDMAP) wherever it lists
        // them as options: saying so here keeps the document from contradicting itself.
        b = b.idmap_mounts(imp.mount_options.contains(&"idmap"));
    }
    if !imp.memory_policy.0.is_empty() {
        b = b.memory_policy(imp.memory_policy.0, imp.memory_policy.1);
    }
    if !imp.capabilities.is_empty() {
        b = b.capabilities(imp.capabilities);
    }
    if let Some(cg) = imp.cgroup {
        b = b.cgroup(cg);
    }
    if !namespaces.is_empty() {
        b = b.namespaces(&namespaces);
    }
    if !imp.seccomp_actions.is_empty() {
        b = b.seccomp(SeccompFeatures {
            enabled: true,
            actions: owned(imp.seccomp_actions),
            operators: owned(imp.seccomp_operators),
            archs: owned(imp.seccomp_archs),
            known_flags: owned(hezi_spec::names::SECCOMP_FLAGS),
            supported_flags: owned(imp.seccomp_flags),
        });
    }
    b.build()
}

/// Runs `hezi features`.
pub fn run(g: &GlobalOpts) -> anyhow::Result<u8> {
    let mut doc = features(&Implemented::from_crates());
    let (enabled, criu) = checkpoint_annotation(g);
    // runc's key, which engines read to offer checkpoint/restore, and what CRIU says here.
    doc.annotations.insert(
        "org.opencontainers.runc.checkpoint.enabled".into(),
        enabled.into(),
    );
    doc.annotations
        .insert("io.github.hezi.checkpoint.criu".into(), criu);
    for (k, v) in rootless_annotations(std::path::Path::new("/")) {
        doc.annotations.insert(k, v);
    }
    let text = serde_json::to_string_pretty(&doc)?;
    println!("{text}");
    Ok(0)
}

/// What rootless mode can do on this host (`root` is `/` outside tests): whether an
/// ordinary user may create user namespaces, whether the shadow-utils id-map helpers for
/// multi-id mappings are installed, and what happens to cgroups.
fn rootless_annotations(root: &std::path::Path) -> Vec<(String, String)> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).map(|s| s.trim().to_string());
    // Debian's switch (absent elsewhere: allowed) and the global namespace limit.
    let userns = read("proc/sys/kernel/unprivileged_userns_clone").map_or(true, |v| v != "0")
        && read("proc/sys/user/max_user_namespaces").map_or(true, |v| v != "0");
    let helpers: Vec<&str> = ["newuidmap", "newgidmap"]
        .into_iter()
        .filter(|h| {
            ["usr/bin", "bin", "usr/sbin"]
                .iter()
                .any(|d| root.join(d).join(h).exists())
        })
        .collect();
    let cgroups = match hezi_cgroups::hierarchy::detect(&root.join("sys/fs/cgroup")) {
        Ok(hezi_cgroups::hierarchy::Hierarchy::Unified) => {
            "v2: in a subtree delegated to the user (its systemd manager with --systemd-cgroup, or a directory it owns); elsewhere none, and resource limits are refused"
        }
        Ok(_) => {
            "v1/hybrid: nothing can be delegated; containers run without a cgroup and resource limits are refused (as runc)"
        }
        Err(_) => "unknown: the cgroup hierarchy could not be read",
    };
    vec![
        (
            "io.github.hezi.rootless.userns".to_string(),
            userns.to_string(),
        ),
        (
            "io.github.hezi.rootless.idmap-helpers".to_string(),
            if helpers.len() == 2 {
                "newuidmap,newgidmap (multi-id mappings from /etc/subuid and /etc/subgid)"
                    .to_string()
            } else {
                "missing (only the caller's own id can be mapped)".to_string()
            },
        ),
        (
            "io.github.hezi.rootless.cgroups".to_string(),
            cgroups.to_string(),
        ),
    ]
}

/// Whether checkpoint/restore is available (`"true"` when a CRIU binary answers; runc says
/// `"true"` whenever it is built with CRIU support) and CRIU's version or why it did not
/// answer. Only VERSION is asked (fast); whether CRIU can dump on this kernel shows at
/// `checkpoint`, with CRIU's own reason.
fn checkpoint_annotation(g: &GlobalOpts) -> (&'static str, String) {
    let bin = hezi_runtime::criu::criu_binary(g.criu.as_deref());
    match hezi_runtime::criu::version(&bin) {
        Ok(v) => (
            "true",
            format!(
                "{}.{}{}",
                v.major_number,
                v.minor_number,
                v.sublevel.map(|s| format!(".{s}")).unwrap_or_default()
            ),
        ),
        Err(e) => ("false", format!("unavailable: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rootless_annotations_read_the_host() {
        let t = tempfile::tempdir().expect("tmp");
        let root = t.path();
        std::fs::create_dir_all(root.join("proc/sys/kernel")).expect("mkdir");
        std::fs::write(
            root.join("proc/sys/kernel/unprivileged_userns_clone"),
            "0\n",
        )
        .expect("write");
        let a: std::collections::BTreeMap<_, _> = rootless_annotations(root).into_iter().collect();
        assert_eq!(a["io.github.hezi.rootless.userns"], "false");
        assert!(a["io.github.hezi.rootless.idmap-helpers"].starts_with("missing"));
        assert!(a["io.github.hezi.rootless.cgroups"].starts_with("unknown"));
        std::fs::write(
            root.join("proc/sys/kernel/unprivileged_userns_clone"),
            "1\n",
        )
        .expect("write");
        std::fs::create_dir_all(root.join("usr/bin")).expect("mkdir");
        for h in ["newuidmap", "newgidmap"] {
            std::fs::write(root.join("usr/bin").join(h), "").expect("write");
        }
        let a: std::collections::BTreeMap<_, _> = rootless_annotations(root).into_iter().collect();
        assert_eq!(a["io.github.hezi.rootless.userns"], "true");
        assert!(a["io.github.hezi.rootless.idmap-helpers"].starts_with("newuidmap,newgidmap"));
    }

    fn nothing() -> Implemented<'static> {
        Implemented {
            hooks: &[],
            mount_options: &[],
            capabilities: &[],
            cgroup: None,
            namespaces: Vec::new(),
            seccomp_actions: &[],
            seccomp_operators: &[],
            seccomp_archs: &[],
            seccomp_flags: &[],
            memory_policy: (&[], &[]),
        }
    }

    #[test]
    fn idmap_options_and_extension_agree() {
        let v = serde_json::to_value(features(&Implemented::from_crates())).unwrap();
        let opts = v["mountOptions"].as_array().expect("mountOptions");
        let listed = opts.iter().any(|o| o == "idmap" || o == "ridmap");
        assert_eq!(
            v["linux"]["mountExtensions"]["idmap"]["enabled"],
            serde_json::json!(listed),
            "{v}"
        );
        assert!(v["linux"]["memoryPolicy"]["modes"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x == "MPOL_BIND")));
    }

    #[test]
    fn lists_only_what_is_implemented() {
        let v = serde_json::to_value(features(&nothing())).unwrap();
        for key in ["hooks", "mountOptions", "linux"] {
            assert!(v.get(key).is_none(), "{key} listed without support: {v}");
        }
        let imp = Implemented {
            hooks: &["prestart"],
            cgroup: Some(CgroupFeatures {
                v1: true,
                ..Default::default()
            }),
            seccomp_actions: &["SCMP_ACT_ALLOW"],
            ..nothing()
        };
        let v = serde_json::to_value(features(&imp)).unwrap();
        assert_eq!(v["hooks"], serde_json::json!(["prestart"]));
        assert_eq!(v["linux"]["cgroup"]["v1"], true);
        assert_eq!(
            v["linux"]["seccomp"]["actions"],
            serde_json::json!(["SCMP_ACT_ALLOW"])
        );
        assert!(v["linux"].get("capabilities").is_none());
    }
}
