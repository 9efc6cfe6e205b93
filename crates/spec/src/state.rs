//! The state of a container: runtime-spec `state.md`, and the larger document
//! `runc state` prints.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A container's status. The first four are runtime-spec's; `Paused` is runc's
/// extension for a frozen container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The container is being created.
    Creating,
    /// Created, and the user process has not yet run.
    Created,
    /// The user process is running.
    Running,
    /// The user process is frozen (runc extension).
    Paused,
    /// The user process has exited.
    Stopped,
}

impl Status {
    /// The lower-case name used in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a [`Status`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown container status {0:?} (expected creating, created, running, paused or stopped)")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "creating" => Status::Creating,
            "created" => Status::Created,
            "running" => Status::Running,
            "paused" => Status::Paused,
            "stopped" => Status::Stopped,
            other => return Err(UnknownStatus(other.to_string())),
        })
    }
}

/// The runtime-spec state document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// Runtime-spec version the state complies with.
    pub oci_version: String,
    /// The container's id.
    pub id: String,
    /// The container's status.
    pub status: Status,
    /// Host pid of the container process; present when created or running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Absolute path of the bundle directory.
    pub bundle: PathBuf,
    /// The config's annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl State {
    /// A state with hezi's spec version and no annotations.
    pub fn new(id: impl Into<String>, status: Status, pid: Option<i32>, bundle: PathBuf) -> State {
        State {
            oci_version: crate::SPEC_VERSION.to_string(),
            id: id.into(),
            status,
            pid,
            bundle,
            annotations: BTreeMap::new(),
        }
    }

    /// The document `runc state` prints for this state.
    pub fn to_runc(&self, rootfs: PathBuf, created: String, owner: String) -> RuncState {
        RuncState {
            oci_version: self.oci_version.clone(),
            id: self.id.clone(),
            pid: self.pid.unwrap_or(0),
            status: self.status,
            bundle: self.bundle.clone(),
            rootfs,
            created,
            owner,
            annotations: self.annotations.clone(),
        }
    }
}

/// The state document in the shape `runc state` prints it: runtime-spec's fields plus
/// `rootfs`, `created` and `owner`, with `pid` always present (0 once stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuncState {
    /// Runtime-spec version.
    pub oci_version: String,
    /// The container's id.
    pub id: String,
    /// Host pid of the init process, 0 if none.
    pub pid: i32,
    /// The container's status.
    pub status: Status,
    /// Absolute path of the bundle.
    pub bundle: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 with nanoseconds (`2024-01-02T03:04:05.123456789Z`).
    pub created: String,
    /// User name of the owner (empty for root, as runc prints it).
    pub owner: String,
    /// The config's annotations, printed sorted by key as runc (Go's `encoding/json`) does.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names() {
        for s in [
            Status::Creating,
            Status::Created,
            Status::Running,
            Status::Paused,
            Status::Stopped,
        ] {
            assert_eq!(s.to_string().parse::<Status>().unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert!("Running".parse::<Status>().is_err());
    }

    #[test]
    fn state_json_shapes() {
        let st = State::new("c1", Status::Created, Some(42), "/b".into());
        let v = serde_json::to_value(&st).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ociVersion": "1.2.1", "id": "c1", "status": "created", "pid": 42, "bundle": "/b"})
        );
        let back: State = serde_json::from_value(v).unwrap();
        assert_eq!(back, st);
        // The runtime-spec State from oci-spec reads ours.
        let oci: oci_spec::runtime::State =
            serde_json::from_value(serde_json::to_value(&st).unwrap()).unwrap();
        assert_eq!(oci.id(), "c1");

        let r = st.to_runc(
            "/b/rootfs".into(),
            "2024-01-02T03:04:05.000000001Z".into(),
            String::new(),
        );
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        for k in [
            "ociVersion",
            "id",
            "pid",
            "status",
            "bundle",
            "rootfs",
            "created",
            "owner",
        ] {
            assert!(keys.contains(&k), "{k} missing from {v}");
        }
    }

    #[test]
    fn runc_state_bytes_in_runc_order_with_sorted_annotations() {
        let mut st = State::new("c1", Status::Stopped, None, "/b".into());
        st.annotations.insert("z".into(), "1".into());
        st.annotations.insert("a".into(), "2".into());
        let r = st.to_runc("/b/rootfs".into(), "t".into(), "root".into());
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ociVersion":"1.2.1","id":"c1","pid":0,"status":"stopped","bundle":"/b","rootfs":"/b/rootfs","created":"t","owner":"root","annotations":{"a":"2","z":"1"}}"#
        );
    }
}
