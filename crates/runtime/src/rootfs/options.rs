//! Parsing of fstab-style mount options (`"ro"`, `"rnosuid"`, `"rslave"`, `"mode=755"`, ...)
//! into mount attributes, propagation changes and filesystem parameters.

use serde::Serialize;

/// `MOUNT_ATTR_*` bits to set and clear, as `mount_setattr(2)` takes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AttrChange {
    /// Bits to set.
    pub set: u64,
    /// Bits to clear.
    pub clr: u64,
}

impl AttrChange {
    /// True when nothing changes.
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clr == 0
    }

    fn flag(&mut self, bit: u64, on: bool) {
        if on {
            self.set |= bit;
            self.clr &= !bit;
        } else {
            self.clr |= bit;
            self.set &= !bit;
        }
    }

    fn atime(&mut self, mode: u64) {
        self.set = (self.set & !libc::MOUNT_ATTR__ATIME) | mode;
        self.clr |= libc::MOUNT_ATTR__ATIME;
    }
}

/// A mount propagation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Propagation {
    /// `MS_PRIVATE`.
    Private,
    /// `MS_SHARED`.
    Shared,
    /// `MS_SLAVE`.
    Slave,
    /// `MS_UNBINDABLE`.
    Unbindable,
}

impl Propagation {
    /// The `MS_*` value `mount_setattr(2)` takes in `mount_attr.propagation`.
    pub fn ms_flag(self) -> u64 {
        // The kernel's MS_* values (libc types them as c_ulong, whose width varies).
        match self {
            Propagation::Private => 1 << 18,
            Propagation::Shared => 1 << 20,
            Propagation::Slave => 1 << 19,
            Propagation::Unbindable => 1 << 17,
        }
    }
}

/// A propagation change, applied to the mount alone or to its whole tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PropagationChange {
    /// The propagation type.
    pub kind: Propagation,
    /// Apply to every mount below too (`r`-prefixed option).
    pub recursive: bool,
}

/// Parses a propagation word (`"rslave"`, `"private"`, ...); `None` when it is not one.
pub fn parse_propagation(word: &str) -> Option<PropagationChange> {
    let (recursive, base) = match word.strip_prefix('r') {
        Some(rest) if matches!(rest, "private" | "shared" | "slave" | "unbindable") => (true, rest),
        _ => (false, word),
    };
    let kind = match base {
        "private" => Propagation::Private,
        "shared" => Propagation::Shared,
        "slave" => Propagation::Slave,
        "unbindable" => Propagation::Unbindable,
        _ => return None,
    };
    Some(PropagationChange { kind, recursive })
}

/// A filesystem parameter passed with `fsconfig(2)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FsParam {
    /// `key` alone (`FSCONFIG_SET_FLAG`), e.g. `newinstance`.
    Flag(String),
    /// `key=value` (`FSCONFIG_SET_STRING`), e.g. `mode=755`.
    Value(String, String),
}

/// Everything one mount's `options` array says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MountOptions {
    /// `Some(recursive)` when the options contain `bind` or `rbind`.
    pub bind: Option<bool>,
    /// Attributes of the mount itself (`ro`, `nosuid`, `noatime`, ...).
    pub attrs: AttrChange,
    /// Attributes for the whole tree (`rro`, `rnosuid`, ...), applied with `AT_RECURSIVE`.
    pub rec_attrs: AttrChange,
    /// Propagation changes, in order.
    pub propagation: Vec<PropagationChange>,
    /// Filesystem parameters (`mode=755`, `newinstance`, and superblock flags like `sync`).
    pub params: Vec<FsParam>,
    /// `tmpcopyup` (runc/crun extension): copy the destination's contents into the new tmpfs.
    pub tmpcopyup: bool,
    /// `Some(recursive)` for `idmap` (`false`) or `ridmap` (`true`).
    pub idmap: Option<bool>,
}

/// Every mount option word [`parse_mount_options`] interprets itself (others are passed to
/// the filesystem as parameters); `hezi features` lists these as `mountOptions`.
pub const KNOWN_MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "idmap",
    "iversion",
    "lazytime",
    "loud",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "noiversion",
    "nolazytime",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "nosymfollow",
    "private",
    "ratime",
    "rbind",
    "rdev",
    "rdiratime",
    "relatime",
    "rexec",
    "ridmap",
    "rnoatime",
    "rnodev",
    "rnodiratime",
    "rnoexec",
    "rnorelatime",
    "rnostrictatime",
    "rnosuid",
    "rnosymfollow",
    "ro",
    "rprivate",
    "rrelatime",
    "rro",
    "rrw",
    "rshared",
    "rslave",
    "rstrictatime",
    "rsuid",
    "rsymfollow",
    "runbindable",
    "rw",
    "shared",
    "silent",
    "slave",
    "strictatime",
    "suid",
    "symfollow",
    "sync",
    "tmpcopyup",
    "unbindable",
];

/// Parses an OCI mount's `options`. `what` names the mount in errors (`mounts[3] /dev`).
///
/// Unsupported options (`remount`) are an error, never ignored.
pub fn parse_mount_options(options: &[String]) -> Result<MountOptions, String> {
    let mut out = MountOptions::default();
    for opt in options {
        let opt = opt.as_str();
        if let Some(p) = parse_propagation(opt) {
            out.propagation.push(p);
            continue;
        }
        if let Some(rest) = opt.strip_prefix('r') {
            if let Some(()) = apply_attr(&mut out.rec_attrs, rest) {
                continue;
            }
        }
        if apply_attr(&mut out.attrs, opt).is_some() {
            continue;
        }
        match opt {
            "bind" => out.bind = Some(out.bind.unwrap_or(false)),
            "rbind" => out.bind = Some(true),
            "defaults" | "async" | "nomand" | "loud" | "noiversion" | "nolazytime" => {}
            "sync" | "dirsync" | "mand" | "lazytime" | "silent" | "iversion" => {
                out.params.push(FsParam::Flag(opt.to_string()))
            }
            "tmpcopyup" => out.tmpcopyup = true,
            "idmap" => out.idmap = Some(out.idmap.unwrap_or(false)),
            "ridmap" => out.idmap = Some(true),
            "remount" => return Err(format!("mount option {opt:?} is not supported by hezi")),
            "" => {}
            _ => match opt.split_once('=') {
                Some((k, v)) => out
                    .params
                    .push(FsParam::Value(k.to_string(), v.to_string())),
                None => out.params.push(FsParam::Flag(opt.to_string())),
            },
        }
    }
    Ok(out)
}

/// Applies one per-mount attribute word; `None` when `word` is not one.
fn apply_attr(attrs: &mut AttrChange, word: &str) -> Option<()> {
    match word {
        "ro" => attrs.flag(libc::MOUNT_ATTR_RDONLY, true),
        "rw" => attrs.flag(libc::MOUNT_ATTR_RDONLY, false),
        "nosuid" => attrs.flag(libc::MOUNT_ATTR_NOSUID, true),
        "suid" => attrs.flag(libc::MOUNT_ATTR_NOSUID, false),
        "nodev" => attrs.flag(libc::MOUNT_ATTR_NODEV, true),
        "dev" => attrs.flag(libc::MOUNT_ATTR_NODEV, false),
        "noexec" => attrs.flag(libc::MOUNT_ATTR_NOEXEC, true),
        "exec" => attrs.flag(libc::MOUNT_ATTR_NOEXEC, false),
        "nodiratime" => attrs.flag(libc::MOUNT_ATTR_NODIRATIME, true),
        "diratime" => attrs.flag(libc::MOUNT_ATTR_NODIRATIME, false),
        "nosymfollow" => attrs.flag(libc::MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => attrs.flag(libc::MOUNT_ATTR_NOSYMFOLLOW, false),
        "noatime" => attrs.atime(libc::MOUNT_ATTR_NOATIME),
        "strictatime" => attrs.atime(libc::MOUNT_ATTR_STRICTATIME),
        // runc clears the relatime flag (MS_RELATIME, or MOUNT_ATTR_RELATIME for the
        // recursive form, which is the zero value of the atime field): nothing is set, so the
        // kernel's default (relatime) stays. It does not mean strictatime.
        "norelatime" => {}
        "relatime" | "atime" | "nostrictatime" => attrs.atime(libc::MOUNT_ATTR_RELATIME),
        _ => return None,
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norelatime_keeps_the_kernel_default_not_strictatime() {
        for o in ["norelatime", "rnorelatime"] {
            let m = opts(&[o]);
            assert!(m.attrs.is_empty() && m.rec_attrs.is_empty(), "{o}: {m:?}");
        }
        assert_eq!(
            opts(&["rstrictatime"]).rec_attrs.set,
            libc::MOUNT_ATTR_STRICTATIME
        );
    }

    fn opts(list: &[&str]) -> MountOptions {
        let v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        parse_mount_options(&v).unwrap()
    }

    #[test]
    fn flags_and_data_split() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(
            o.attrs.set,
            libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_STRICTATIME
        );
        assert_eq!(o.attrs.clr, libc::MOUNT_ATTR__ATIME);
        assert_eq!(
            o.params,
            vec![
                FsParam::Value("mode".into(), "755".into()),
                FsParam::Value("size".into(), "65536k".into())
            ]
        );
        assert_eq!(o.bind, None);
    }

    #[test]
    fn recursive_attrs_and_propagation() {
        let o = opts(&["rbind", "rro", "rnosuid", "rslave", "private", "rw"]);
        assert_eq!(o.bind, Some(true));
        assert_eq!(
            o.rec_attrs.set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID
        );
        assert_eq!(o.attrs.clr, libc::MOUNT_ATTR_RDONLY);
        assert_eq!(
            o.propagation,
            vec![
                PropagationChange {
                    kind: Propagation::Slave,
                    recursive: true
                },
                PropagationChange {
                    kind: Propagation::Private,
                    recursive: false
                },
            ]
        );
    }

    #[test]
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    fn propagation_values_match_the_kernel() {
        assert_eq!(Propagation::Private.ms_flag(), libc::MS_PRIVATE as u64);
        assert_eq!(Propagation::Shared.ms_flag(), libc::MS_SHARED as u64);
        assert_eq!(Propagation::Slave.ms_flag(), libc::MS_SLAVE as u64);
        assert_eq!(
            Propagation::Unbindable.ms_flag(),
            libc::MS_UNBINDABLE as u64
        );
    }

    #[test]
    fn later_option_wins() {
        let o = opts(&["ro", "rw"]);
        assert_eq!(o.attrs.set & libc::MOUNT_ATTR_RDONLY, 0);
        assert_eq!(o.attrs.clr, libc::MOUNT_ATTR_RDONLY);
    }

    #[test]
    fn every_known_option_parses() {
        for o in KNOWN_MOUNT_OPTIONS {
            assert!(parse_mount_options(&[o.to_string()]).is_ok(), "{o}");
            let r = o.strip_prefix('r').unwrap_or(o);
            assert!(
                apply_attr(&mut AttrChange::default(), o).is_some()
                    || apply_attr(&mut AttrChange::default(), r).is_some()
                    || parse_propagation(o).is_some()
                    || matches!(
                        *o,
                        "bind"
                            | "rbind"
                            | "defaults"
                            | "async"
                            | "nomand"
                            | "loud"
                            | "noiversion"
                            | "nolazytime"
                            | "sync"
                            | "dirsync"
                            | "mand"
                            | "lazytime"
                            | "silent"
                            | "iversion"
                            | "tmpcopyup"
                            | "idmap"
                            | "ridmap"
                    ),
                "{o} is listed but not interpreted"
            );
        }
    }

    #[test]
    fn unsupported_options_are_errors() {
        assert!(opts(&["tmpcopyup"]).tmpcopyup);
        assert_eq!(opts(&["idmap"]).idmap, Some(false));
        assert_eq!(opts(&["ridmap"]).idmap, Some(true));
        let err = parse_mount_options(&["remount".to_string()]).unwrap_err();
        assert!(err.contains("remount"), "{err}");
    }

    #[test]
    fn words_starting_with_r_that_are_not_recursive_attrs_are_data() {
        let o = opts(&["rdma=1", "rsize=8192"]);
        assert_eq!(o.rec_attrs, AttrChange::default());
        assert_eq!(o.params.len(), 2);
    }
}
