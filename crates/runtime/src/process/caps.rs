//! Capability sets as bit masks, converted from config.json names.

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use crate::error::{Result, RuntimeError};

/// The five capability sets of a process, as bit masks (bit n = capability n).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    /// Bounding set.
    pub bounding: u64,
    /// Effective set.
    pub effective: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Ambient set.
    pub ambient: u64,
}

/// The kernel number of a capability (`CAP_CHOWN` = 0, ...).
pub fn cap_number(c: Capability) -> Result<u8> {
    let name = format!("CAP_{c}");
    name.parse::<caps::Capability>()
        .map(|k| k.index())
        .map_err(|_| RuntimeError::Unsupported {
            setting: "process.capabilities".into(),
            msg: format!("unknown capability {name}"),
        })
}

/// The number of a capability given by name (`CAP_NET_ADMIN` or `NET_ADMIN`, any case).
// Only the unit tests look capabilities up by name; the plan parses them once from the config.
#[cfg(test)]
pub fn cap_number_by_name(name: &str) -> Result<u8> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse::<caps::Capability>()
        .map(|k| k.index())
        .map_err(|_| RuntimeError::Unsupported {
            setting: "--cap".into(),
            msg: format!("unknown capability {name}"),
        })
}

fn mask(set: &Option<Capabilities>) -> Result<u64> {
    let mut m = 0u64;
    for c in set.iter().flatten() {
        m |= 1u64 << cap_number(*c)?;
    }
    Ok(m)
}

impl CapSets {
    /// Converts config.json's `process.capabilities` (a missing set is empty).
    pub fn from_spec(c: &LinuxCapabilities) -> Result<Self> {
        Ok(CapSets {
            bounding: mask(c.bounding())?,
            effective: mask(c.effective())?,
            permitted: mask(c.permitted())?,
            inheritable: mask(c.inheritable())?,
            ambient: mask(c.ambient())?,
        })
    }

    /// Drops capabilities above `last_cap` (unknown to the running kernel), as runc does.
    pub fn clamp(mut self, last_cap: u8) -> Self {
        let keep = if last_cap >= 63 {
            u64::MAX
        } else {
            (1u64 << (last_cap + 1)) - 1
        };
        self.bounding &= keep;
        self.effective &= keep;
        self.permitted &= keep;
        self.inheritable &= keep;
        self.ambient &= keep;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxCapabilitiesBuilder;

    #[test]
    fn masks_from_spec() {
        let set: Capabilities = [Capability::Chown, Capability::Kill].into_iter().collect();
        let c = LinuxCapabilitiesBuilder::default()
            .bounding(set.clone())
            .effective(set)
            .build()
            .expect("caps");
        let m = CapSets::from_spec(&c).expect("sets");
        assert_eq!(m.bounding, (1 << 0) | (1 << 5));
        assert_eq!(m.effective, m.bounding);
        // Unset sets keep the builder default (AUDIT_WRITE, KILL, NET_BIND_SERVICE).
        assert_eq!(m.permitted, (1 << 29) | (1 << 10) | (1 << 5));
    }

    #[test]
    fn names_parse() {
        assert_eq!(cap_number_by_name("CAP_NET_ADMIN").ok(), Some(12));
        assert_eq!(cap_number_by_name("sys_admin").ok(), Some(21));
        assert!(cap_number_by_name("CAP_NOPE").is_err());
    }

    #[test]
    fn clamp_drops_unknown() {
        let s = CapSets {
            bounding: u64::MAX,
            ..Default::default()
        }
        .clamp(40);
        assert_eq!(s.bounding, (1u64 << 41) - 1);
    }
}
