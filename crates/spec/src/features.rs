//! The runtime-spec `features.md` document (what `runc features` prints), built from
//! what the caller says is implemented: nothing is listed by default.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::SPEC_VERSION;

/// The features document. Build it with [`FeaturesBuilder`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    /// Oldest runtime-spec version accepted.
    pub oci_version_min: String,
    /// Newest runtime-spec version accepted.
    pub oci_version_max: String,
    /// Hook kinds run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Vec<String>>,
    /// Mount options recognized.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount_options: Option<Vec<String>>,
    /// Linux-specific features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linux: Option<LinuxFeatures>,
    /// Implementation-specific facts (`io.github.hezi.*`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The `linux` object of the features document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxFeatures {
    /// Namespace types that can be created or joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<String>>,
    /// Capability names that can be set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    /// cgroup support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<CgroupFeatures>,
    /// seccomp support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<SeccompFeatures>,
    /// AppArmor support.
    pub apparmor: Enabled,
    /// SELinux support.
    pub selinux: Enabled,
    /// Intel RDT support.
    pub intel_rdt: Enabled,
    /// Mount extensions (id-mapped mounts).
    pub mount_extensions: MountExtensions,
    /// NUMA memory policy (`linux.memoryPolicy`) modes and flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_policy: Option<MemoryPolicyFeatures>,
}

/// The `linux.memoryPolicy` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryPolicyFeatures {
    /// `MPOL_*` modes accepted.
    pub modes: Vec<String>,
    /// `MPOL_F_*` flags accepted.
    pub flags: Vec<String>,
}

/// `{"enabled": bool}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Enabled {
    /// Whether the feature is supported.
    pub enabled: bool,
}

/// The `mountExtensions` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MountExtensions {
    /// Id-mapped mounts (`uidMappings`/`gidMappings` on a mount).
    pub idmap: Enabled,
}

/// The `linux.cgroup` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CgroupFeatures {
    /// cgroup v1 (also on hybrid hosts).
    pub v1: bool,
    /// cgroup v2.
    pub v2: bool,
    /// The systemd driver for system containers.
    pub systemd: bool,
    /// The systemd driver for user containers.
    pub systemd_user: bool,
    /// The rdma controller.
    pub rdma: bool,
}

/// The `linux.seccomp` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeccompFeatures {
    /// Whether seccomp filters are installed at all.
    pub enabled: bool,
    /// Actions supported.
    pub actions: Vec<String>,
    /// Argument operators supported.
    pub operators: Vec<String>,
    /// Architectures supported.
    pub archs: Vec<String>,
    /// Filter flags known to the runtime (recognized in configs).
    pub known_flags: Vec<String>,
    /// Filter flags that can actually be applied.
    pub supported_flags: Vec<String>,
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Builds a [`Features`] document; every section starts absent (or disabled), and the
/// caller adds only what its build implements.
#[derive(Debug, Clone)]
pub struct FeaturesBuilder {
    features: Features,
}

impl Default for FeaturesBuilder {
    fn default() -> Self {
        FeaturesBuilder::new()
    }
}

impl FeaturesBuilder {
    /// Runtime-spec 1.0.0 to [`SPEC_VERSION`], nothing else.
    pub fn new() -> FeaturesBuilder {
        FeaturesBuilder {
            features: Features {
                oci_version_min: "1.0.0".to_string(),
                oci_version_max: SPEC_VERSION.to_string(),
                hooks: None,
                mount_options: None,
                linux: None,
                annotations: BTreeMap::new(),
            },
        }
    }

    fn linux(&mut self) -> &mut LinuxFeatures {
        self.features
            .linux
            .get_or_insert_with(LinuxFeatures::default)
    }

    /// The hook kinds run (`prestart`, `createRuntime`, ...).
    pub fn hooks(mut self, hooks: &[&str]) -> Self {
        self.features.hooks = Some(owned(hooks));
        self
    }

    /// The mount options recognized.
    pub fn mount_options(mut self, options: &[&str]) -> Self {
        self.features.mount_options = Some(owned(options));
        self
    }

    /// The namespace types supported (`pid`, `network`, ...).
    pub fn namespaces(mut self, namespaces: &[&str]) -> Self {
        self.linux().namespaces = Some(owned(namespaces));
        self
    }

    /// The capability names supported.
    pub fn capabilities(mut self, caps: &[&str]) -> Self {
        self.linux().capabilities = Some(owned(caps));
        self
    }

    /// The cgroup section.
    pub fn cgroup(mut self, cgroup: CgroupFeatures) -> Self {
        self.linux().cgroup = Some(cgroup);
        self
    }

    /// The seccomp section.
    pub fn seccomp(mut self, seccomp: SeccompFeatures) -> Self {
        self.linux().seccomp = Some(seccomp);
        self
    }

    /// The NUMA memory policy modes and flags `linux.memoryPolicy` may use.
    pub fn memory_policy(mut self, modes: &[&str], flags: &[&str]) -> Self {
        self.linux().memory_policy = Some(MemoryPolicyFeatures {
            modes: owned(modes),
            flags: owned(flags),
        });
        self
    }

    /// Marks AppArmor profiles supported (or not: hezi applies them only where the LSM is on).
    pub fn apparmor(mut self, enabled: bool) -> Self {
        self.linux().apparmor.enabled = enabled;
        self
    }

    /// Marks id-mapped mounts supported (or not).
    pub fn idmap_mounts(mut self, enabled: bool) -> Self {
        self.linux().mount_extensions.idmap.enabled = enabled;
        self
    }

    /// Adds an annotation (use the `io.github.hezi.` prefix).
    pub fn annotation(mut self, key: &str, value: &str) -> Self {
        self.features
            .annotations
            .insert(key.to_string(), value.to_string());
        self
    }

    /// The document. SELinux and Intel RDT are always reported disabled: hezi implements
    /// neither; AppArmor is what [`apparmor`](Self::apparmor) set (default disabled).
    pub fn build(self) -> Features {
        self.features
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_document() {
        let v = serde_json::to_value(FeaturesBuilder::new().build()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ociVersionMin": "1.0.0", "ociVersionMax": SPEC_VERSION})
        );
    }

    #[test]
    fn full_document_reads_as_oci_spec_features() {
        let f = FeaturesBuilder::new()
            .hooks(crate::names::HOOKS)
            .namespaces(&["pid", "mount"])
            .capabilities(crate::names::CAPABILITIES)
            .cgroup(CgroupFeatures {
                v1: true,
                ..Default::default()
            })
            .seccomp(SeccompFeatures {
                enabled: true,
                actions: owned(&["SCMP_ACT_ALLOW"]),
                ..Default::default()
            })
            .annotation("io.github.hezi.version", "0.1.0")
            .build();
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["linux"]["apparmor"]["enabled"], false);
        assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], false);
        assert_eq!(v["linux"]["cgroup"]["systemdUser"], false);
        let oci: oci_spec::runtime::Features = serde_json::from_value(v).unwrap();
        assert_eq!(oci.oci_version_max(), SPEC_VERSION);
        assert_eq!(oci.hooks().as_ref().map(Vec::len), Some(6));
    }
}
