//! Which namespaces a container gets: new ones (clone flags) and existing ones joined by path.
//!
//! The plan is plain data built in the parent. Joins of namespaces that only affect the
//! parent's *children* (pid, time) or that the parent can enter and leave again (net, ipc,
//! uts, cgroup) are done by the parent around the one `clone`, so the container init never
//! needs a second fork; mount and user joins are done by the init itself.
//!
//! New namespaces of a container that joins an existing user namespace must be owned by that
//! one; the clone would make them owned by the host's. For that shape (a Kubernetes pod with
//! `hostUsers: false`) a helper enters the user namespace, creates them and clones the init
//! inside them ([`crate::nshelper`], [`NamespacePlan::needs_helper`]).

use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Result, RuntimeError};

/// Every namespace type in the order they must be joined (user first, mount last).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// The name of a namespace type under `/proc/<pid>/ns/`.
pub fn proc_name(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// The clone/unshare flag of a namespace type.
pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        // CLONE_NEWTIME (0x80) is only valid for unshare/clone3.
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(0x80),
    }
}

/// The namespaces of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespacePlan {
    /// Namespaces created fresh for the container.
    pub new: Vec<LinuxNamespaceType>,
    /// Existing namespaces the container joins, in [`JOIN_ORDER`].
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
}

impl NamespacePlan {
    /// Reads `linux.namespaces`; refuses duplicates (runc does too).
    pub fn from_spec(spec: &Spec) -> Result<Self> {
        let mut plan = NamespacePlan::default();
        let list = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        let mut seen: Vec<LinuxNamespaceType> = Vec::new();
        for (i, ns) in list.iter().enumerate() {
            let t = ns.typ();
            if seen.contains(&t) {
                return Err(RuntimeError::Unsupported {
                    setting: format!("linux.namespaces[{i}]"),
                    msg: format!("duplicate namespace type {}", proc_name(t)),
                });
            }
            seen.push(t);
            match ns.path() {
                Some(p) if !p.as_os_str().is_empty() => plan.join.push((t, p.clone())),
                _ => plan.new.push(t),
            }
        }
        plan.join
            .sort_by_key(|(t, _)| JOIN_ORDER.iter().position(|o| o == t).unwrap_or(0));
        Ok(plan)
    }

    /// True when the container gets a namespace of type `t` (new or joined).
    pub fn has(&self, t: LinuxNamespaceType) -> bool {
        self.is_new(t) || self.join.iter().any(|(j, _)| *j == t)
    }

    /// True when a namespace of type `t` is created for the container.
    pub fn is_new(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(&t)
    }

    /// The flags for the one clone of the container init: every new namespace except time
    /// (a new time namespace is unshared by the parent so it applies to the child) and cgroup
    /// (unshared by the init once it is in its cgroups, as runc does, so that they are the
    /// namespace's root: on v1 the init joins them after the clone).
    pub fn clone_flags(&self) -> CloneFlags {
        self.new
            .iter()
            .filter(|t| !matches!(t, LinuxNamespaceType::Time | LinuxNamespaceType::Cgroup))
            .fold(CloneFlags::empty(), |acc, t| acc | clone_flag(*t))
    }

    /// True when the container joins a user namespace and creates namespaces that must be
    /// owned by it (everything new but cgroup, which the init unshares after joining).
    pub fn needs_helper(&self) -> bool {
        self.join
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User)
            && self
                .new
                .iter()
                .any(|t| !matches!(t, LinuxNamespaceType::Cgroup | LinuxNamespaceType::Time))
    }

    /// The joined user namespace's path, when the init must be cloned inside it by the helper
    /// ([`NamespacePlan::needs_helper`]).
    pub fn helper_userns(&self) -> Option<&std::path::Path> {
        if !self.needs_helper() {
            return None;
        }
        self.join
            .iter()
            .find(|(t, _)| *t == LinuxNamespaceType::User)
            .map(|(_, p)| p.as_path())
    }

    /// Joins done by the parent around the clone (every type but user and mount).
    pub fn parent_joins(&self) -> impl Iterator<Item = &(LinuxNamespaceType, PathBuf)> {
        self.join
            .iter()
            .filter(|(t, _)| !matches!(t, LinuxNamespaceType::User | LinuxNamespaceType::Mount))
    }

    /// Joins done by the init child itself (user, then mount). The user namespace is not
    /// among them when the helper cloned the init inside it already.
    pub fn child_joins(&self) -> impl Iterator<Item = &(LinuxNamespaceType, PathBuf)> {
        let helper = self.needs_helper();
        self.join.iter().filter(move |(t, _)| match t {
            LinuxNamespaceType::User => !helper,
            LinuxNamespaceType::Mount => true,
            _ => false,
        })
    }

    /// Refuses combinations this runtime cannot set up, naming the setting.
    pub fn check(&self) -> Result<()> {
        let user_joined = self
            .join
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User);
        if self.is_new(LinuxNamespaceType::User)
            && self
                .join
                .iter()
                .any(|(t, _)| *t == LinuxNamespaceType::Mount)
        {
            return Err(RuntimeError::Unsupported {
                setting: "linux.namespaces".into(),
                // The kernel gives a new user namespace no privilege over a mount namespace
                // owned by another: nothing could be mounted there (runc 1.1 fails at its first
                // mount, "mount /, flags: 0x84000: operation not permitted").
                msg: "joining an existing mount namespace together with a new user namespace is not supported: the new user namespace has no privilege to mount in it".into(),
            });
        }
        if self.needs_helper() && self.join.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid) {
            // The helper would report the init's pid as the joined pid namespace numbers it.
            return Err(RuntimeError::Unsupported {
                setting: "linux.namespaces".into(),
                msg: "joining a pid namespace together with a joined user namespace and new namespaces is not supported".into(),
            });
        }
        if user_joined && self.is_new(LinuxNamespaceType::Time) {
            // A new time namespace is unshared by the parent, so it would be owned by the
            // host's user namespace, not the joined one.
            return Err(RuntimeError::Unsupported {
                setting: "linux.namespaces".into(),
                msg:
                    "a new time namespace while joining an existing user namespace is not supported"
                        .into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxNamespaceBuilder, SpecBuilder};

    fn spec_with(ns: Vec<(LinuxNamespaceType, Option<&str>)>) -> Spec {
        let list: Vec<_> = ns
            .into_iter()
            .map(|(t, p)| {
                let b = LinuxNamespaceBuilder::default().typ(t);
                match p {
                    Some(p) => b.path(p).build().expect("ns"),
                    None => b.build().expect("ns"),
                }
            })
            .collect();
        SpecBuilder::default()
            .linux(
                LinuxBuilder::default()
                    .namespaces(list)
                    .build()
                    .expect("linux"),
            )
            .build()
            .expect("spec")
    }

    #[test]
    fn new_and_joined_split() {
        let spec = spec_with(vec![
            (LinuxNamespaceType::Mount, None),
            (LinuxNamespaceType::Network, Some("/proc/1/ns/net")),
            (LinuxNamespaceType::Pid, None),
            (LinuxNamespaceType::User, None),
        ]);
        let plan = NamespacePlan::from_spec(&spec).expect("plan");
        let f = plan.clone_flags();
        assert!(f.contains(
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUSER
        ));
        assert!(!f.contains(CloneFlags::CLONE_NEWNET));
        assert_eq!(plan.parent_joins().count(), 1);
        assert_eq!(plan.child_joins().count(), 0);
        assert!(plan.has(LinuxNamespaceType::Network));
        assert!(!plan.has(LinuxNamespaceType::Ipc));
        assert!(plan.check().is_ok());
    }

    #[test]
    fn duplicates_are_refused_with_index() {
        let spec = spec_with(vec![
            (LinuxNamespaceType::Pid, None),
            (LinuxNamespaceType::Pid, None),
        ]);
        let err = NamespacePlan::from_spec(&spec).expect_err("dup");
        assert!(err.to_string().contains("linux.namespaces[1]"), "{err}");
    }

    #[test]
    fn time_and_cgroup_are_not_clone_flags() {
        let spec = spec_with(vec![
            (LinuxNamespaceType::Time, None),
            (LinuxNamespaceType::Cgroup, None),
        ]);
        let plan = NamespacePlan::from_spec(&spec).expect("plan");
        assert!(plan.clone_flags().is_empty());
        assert!(plan.is_new(LinuxNamespaceType::Time));
        assert!(plan.is_new(LinuxNamespaceType::Cgroup));
    }

    #[test]
    fn joins_are_ordered_user_first_mount_last() {
        let spec = spec_with(vec![
            (LinuxNamespaceType::Mount, Some("/m")),
            (LinuxNamespaceType::User, Some("/u")),
        ]);
        let plan = NamespacePlan::from_spec(&spec).expect("plan");
        let kinds: Vec<_> = plan.child_joins().map(|(t, _)| *t).collect();
        assert_eq!(
            kinds,
            vec![LinuxNamespaceType::User, LinuxNamespaceType::Mount]
        );
    }

    #[test]
    fn a_joined_user_namespace_with_new_namespaces_goes_through_the_helper() {
        let spec = spec_with(vec![
            (LinuxNamespaceType::User, Some("/u")),
            (LinuxNamespaceType::Network, Some("/n")),
            (LinuxNamespaceType::Mount, None),
            (LinuxNamespaceType::Pid, None),
            (LinuxNamespaceType::Cgroup, None),
        ]);
        let plan = NamespacePlan::from_spec(&spec).expect("plan");
        assert!(plan.check().is_ok());
        assert!(plan.needs_helper());
        assert_eq!(plan.helper_userns(), Some(std::path::Path::new("/u")));
        // The helper unshares mount and pid; the init no longer joins the user namespace.
        assert_eq!(
            plan.clone_flags(),
            CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID
        );
        assert_eq!(plan.child_joins().count(), 0);
        assert_eq!(plan.parent_joins().count(), 1);

        // Only the user namespace joined: no helper, the init joins it.
        let plain =
            NamespacePlan::from_spec(&spec_with(vec![(LinuxNamespaceType::User, Some("/u"))]))
                .expect("plan");
        assert!(!plain.needs_helper());
        assert_eq!(plain.child_joins().count(), 1);

        // A joined pid namespace would make the helper's pid report wrong: refused.
        let pid = NamespacePlan::from_spec(&spec_with(vec![
            (LinuxNamespaceType::User, Some("/u")),
            (LinuxNamespaceType::Pid, Some("/p")),
            (LinuxNamespaceType::Mount, None),
        ]))
        .expect("plan");
        let err = pid.check().expect_err("joined pid").to_string();
        assert!(err.contains("joining a pid namespace"), "{err}");
    }
}
