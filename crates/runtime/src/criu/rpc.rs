//! The subset of CRIU's `rpc.proto` (criu 3.x) that hezi uses, as prost messages.
//!
//! Field numbers are CRIU's; fields hezi does not send are left out (protobuf skips unknown
//! fields, so CRIU's answers still decode).

/// `criu_req_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
#[non_exhaustive]
pub enum ReqType {
    /// No request.
    Empty = 0,
    /// Checkpoint.
    Dump = 1,
    /// Restore.
    Restore = 2,
    /// Check the kernel.
    Check = 3,
    /// Memory-only pre-dump.
    PreDump = 4,
    /// A notification (CRIU to client) or its acknowledgement (client to CRIU).
    Notify = 6,
    /// Feature check.
    FeatureCheck = 9,
    /// Version query.
    Version = 10,
}

/// `criu_opts` (subset).
#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuOpts {
    /// Image directory fd (required).
    #[prost(int32, required, tag = "1")]
    pub images_dir_fd: i32,
    /// Root pid of the tree to dump.
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
    /// Keep the tree running after dump.
    #[prost(bool, optional, tag = "3")]
    pub leave_running: Option<bool>,
    /// Allow external unix sockets.
    #[prost(bool, optional, tag = "4")]
    pub ext_unix_sk: Option<bool>,
    /// Allow established TCP connections.
    #[prost(bool, optional, tag = "5")]
    pub tcp_established: Option<bool>,
    /// Allow device files CRIU cannot name (restore opens them by device number).
    #[prost(bool, optional, tag = "6")]
    pub evasive_devices: Option<bool>,
    /// Shell job.
    #[prost(bool, optional, tag = "7")]
    pub shell_job: Option<bool>,
    /// File locks.
    #[prost(bool, optional, tag = "8")]
    pub file_locks: Option<bool>,
    /// Log verbosity.
    #[prost(int32, optional, tag = "9")]
    pub log_level: Option<i32>,
    /// Log file name inside the work directory.
    #[prost(string, optional, tag = "10")]
    pub log_file: Option<String>,
    /// Send notifications (`setup-namespaces`, `post-restore`, ...) and wait for each answer.
    #[prost(bool, optional, tag = "12")]
    pub notify_scripts: Option<bool>,
    /// Root directory of the tree on restore.
    #[prost(string, optional, tag = "13")]
    pub root: Option<String>,
    /// Parent image directory, relative to the image directory.
    #[prost(string, optional, tag = "14")]
    pub parent_img: Option<String>,
    /// Track memory changes (pre-dump).
    #[prost(bool, optional, tag = "15")]
    pub track_mem: Option<bool>,
    /// Deduplicate parent images.
    #[prost(bool, optional, tag = "16")]
    pub auto_dedup: Option<bool>,
    /// Work directory fd.
    #[prost(int32, optional, tag = "17")]
    pub work_dir_fd: Option<i32>,
    /// External mounts: mount point in the container to a key (dump) or host path (restore).
    #[prost(message, repeated, tag = "23")]
    pub ext_mnt: Vec<ExtMountMap>,
    /// Let CRIU dump and restore cgroups.
    #[prost(bool, optional, tag = "24")]
    pub manage_cgroups: Option<bool>,
    /// Where a controller's cgroups are restored (v1: one per controller).
    #[prost(message, repeated, tag = "25")]
    pub cg_root: Vec<CgroupRoot>,
    /// Restore the tree as a sibling of criu (a child of the caller), `swrk` only.
    #[prost(bool, optional, tag = "26")]
    pub rst_sibling: Option<bool>,
    /// Files the restored tree gets from the caller's fds instead of from the image.
    #[prost(message, repeated, tag = "27")]
    pub inherit_fd: Vec<InheritFd>,
    /// How cgroups are handled ([`CgMode`]).
    #[prost(enumeration = "CgMode", optional, tag = "34")]
    pub manage_cgroups_mode: Option<i32>,
    /// External resources (`net[<inode>]:<key>`, ...).
    #[prost(string, repeated, tag = "37")]
    pub external: Vec<String>,
    /// Namespaces (clone flags) CRIU creates empty on restore.
    #[prost(uint32, optional, tag = "38")]
    pub empty_ns: Option<u32>,
    /// The cgroup to freeze the tree through (a paused container).
    #[prost(string, optional, tag = "44")]
    pub freeze_cgroup: Option<String>,
    /// Lazy migration (pages served on demand).
    #[prost(bool, optional, tag = "48")]
    pub lazy_pages: Option<bool>,
    /// An fd CRIU writes a byte to when the lazy-pages server is ready.
    #[prost(int32, optional, tag = "49")]
    pub status_fd: Option<i32>,
    /// Send the master of a terminal whose other end is in the tree (`orphan-pts-master`).
    #[prost(bool, optional, tag = "50")]
    pub orphan_pts_master: Option<bool>,
}

/// `ext_mount_map`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtMountMap {
    /// Mount point (dump) or key (restore).
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// Key (dump) or host path (restore).
    #[prost(string, required, tag = "2")]
    pub val: String,
}

/// `inherit_fd`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InheritFd {
    /// What the image calls the file (e.g. `pipe:[1234]`).
    #[prost(string, required, tag = "1")]
    pub key: String,
    /// The caller's fd that replaces it.
    #[prost(int32, required, tag = "2")]
    pub fd: i32,
}

/// `cgroup_root`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CgroupRoot {
    /// The controller (v1), none for all.
    #[prost(string, optional, tag = "1")]
    pub ctrl: Option<String>,
    /// The cgroup path.
    #[prost(string, required, tag = "2")]
    pub path: String,
}

/// `criu_cg_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
#[non_exhaustive]
pub enum CgMode {
    /// Leave cgroups alone.
    Ignore = 0,
    /// No mode given.
    CgNone = 1,
    /// Restore properties only.
    Props = 2,
    /// Restore properties where the cgroup is new (CRIU's default).
    Soft = 3,
    /// Restore all properties.
    Full = 4,
    /// Fail when a cgroup exists with other properties.
    Strict = 5,
    /// CRIU's default.
    Default = 6,
}

/// `criu_notify`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuNotify {
    /// The notification's name (`setup-namespaces`, `post-restore`, `orphan-pts-master`, ...).
    #[prost(string, optional, tag = "1")]
    pub script: Option<String>,
    /// The restored tree's root pid, where the notification has one.
    #[prost(int32, optional, tag = "2")]
    pub pid: Option<i32>,
}

/// `criu_restore_resp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuRestoreResp {
    /// Host pid of the restored tree's root.
    #[prost(int32, required, tag = "1")]
    pub pid: i32,
}

/// `criu_version`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuVersion {
    /// Major version.
    #[prost(int32, required, tag = "1")]
    pub major_number: i32,
    /// Minor version.
    #[prost(int32, required, tag = "2")]
    pub minor_number: i32,
    /// Git id, when built from git.
    #[prost(string, optional, tag = "3")]
    pub gitid: Option<String>,
    /// Sublevel.
    #[prost(int32, optional, tag = "4")]
    pub sublevel: Option<i32>,
}

/// `criu_req`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuReq {
    /// The request type ([`ReqType`]).
    #[prost(enumeration = "ReqType", required, tag = "1")]
    pub r#type: i32,
    /// Options.
    #[prost(message, optional, tag = "2")]
    pub opts: Option<CriuOpts>,
    /// The answer to a notification.
    #[prost(bool, optional, tag = "3")]
    pub notify_success: Option<bool>,
}

/// `criu_resp`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CriuResp {
    /// The request type answered.
    #[prost(enumeration = "ReqType", required, tag = "1")]
    pub r#type: i32,
    /// Whether it succeeded.
    #[prost(bool, required, tag = "2")]
    pub success: bool,
    /// The restored tree, for a RESTORE answer.
    #[prost(message, optional, tag = "4")]
    pub restore: Option<CriuRestoreResp>,
    /// A notification (type NOTIFY).
    #[prost(message, optional, tag = "5")]
    pub notify: Option<CriuNotify>,
    /// CRIU's errno on failure.
    #[prost(int32, optional, tag = "7")]
    pub cr_errno: Option<i32>,
    /// CRIU's error message on failure.
    #[prost(string, optional, tag = "9")]
    pub cr_errmsg: Option<String>,
    /// The version, for a VERSION request.
    #[prost(message, optional, tag = "10")]
    pub version: Option<CriuVersion>,
}

#[cfg(test)]
mod tests {
    //! The field numbers above are CRIU's: checked against the `rpc.proto` Debian's criu
    //! package installs (skipped with a message where it is absent).
    use std::collections::BTreeMap;

    const PROTO: &str = "/usr/include/criu/rpc.proto";

    /// `message name { ... type field = N; }` -> name -> field -> N (also enum values).
    fn proto_fields(text: &str) -> BTreeMap<String, BTreeMap<String, i64>> {
        let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            let line = line.split("//").next().unwrap_or("").trim();
            if line.starts_with("/*") || line.starts_with('*') {
                continue;
            }
            if let Some(rest) = line
                .strip_prefix("message ")
                .or_else(|| line.strip_prefix("enum "))
            {
                current = rest.split_whitespace().next().map(str::to_string);
                continue;
            }
            if line.starts_with('}') {
                current = None;
                continue;
            }
            let (Some(msg), Some((lhs, rhs))) = (current.as_ref(), line.split_once('=')) else {
                continue;
            };
            let name = lhs.split_whitespace().last().unwrap_or("").to_string();
            let num: String = rhs
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if let Ok(n) = num.parse() {
                out.entry(msg.clone()).or_default().insert(name, n);
            }
        }
        out
    }

    /// Our structs: `pub struct Name` / `pub enum Name`, `tag = "N"` then `pub field:`, or
    /// `Variant = N,` in enums; names converted to the proto's (snake case, upper case).
    fn our_fields() -> BTreeMap<String, BTreeMap<String, i64>> {
        let src = include_str!("rpc.rs");
        let src = src.split("#[cfg(test)]").next().unwrap_or(src);
        let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let mut current: Option<(String, bool)> = None;
        let mut tag: Option<i64> = None;
        for line in src.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("pub struct ") {
                current = Some((
                    proto_name(rest.split_whitespace().next().unwrap_or("")),
                    false,
                ));
            } else if let Some(rest) = line.strip_prefix("pub enum ") {
                current = Some((
                    proto_name(rest.split_whitespace().next().unwrap_or("")),
                    true,
                ));
            } else if let Some(pos) = line.find("tag = \"") {
                let num: String = line[pos + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                tag = num.parse().ok();
            } else if let (Some((msg, false)), Some(n)) = (&current, tag) {
                if let Some(rest) = line.strip_prefix("pub ") {
                    let field = rest
                        .split(':')
                        .next()
                        .unwrap_or("")
                        .trim_start_matches("r#");
                    out.entry(msg.clone())
                        .or_default()
                        .insert(field.to_string(), n);
                    tag = None;
                }
            } else if let Some((msg, true)) = &current {
                if let Some((variant, n)) = line.trim_end_matches(',').split_once(" = ") {
                    if let Ok(n) = n.parse() {
                        out.entry(msg.clone())
                            .or_default()
                            .insert(proto_name(variant).to_uppercase(), n);
                    }
                }
            }
        }
        out
    }

    /// `CriuOpts` -> `criu_opts`; enums by their proto names.
    fn proto_name(rust: &str) -> String {
        match rust {
            "ReqType" => return "criu_req_type".into(),
            "CgMode" => return "criu_cg_mode".into(),
            _ => {}
        }
        let mut s = String::new();
        for (i, c) in rust.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        }
        s
    }

    #[test]
    fn field_numbers_match_criu_rpc_proto() {
        let Ok(text) = std::fs::read_to_string(PROTO) else {
            eprintln!("skipped: {PROTO} not installed (Debian's criu package has it)");
            return;
        };
        let theirs = proto_fields(&text);
        let ours = our_fields();
        assert!(ours.len() >= 10, "parsed too few messages: {ours:?}");
        let mut checked = 0;
        for (msg, fields) in &ours {
            let Some(proto) = theirs.get(msg) else {
                panic!("{msg} is not a message or enum of {PROTO}");
            };
            for (field, n) in fields {
                assert_eq!(
                    proto.get(field),
                    Some(n),
                    "{msg}.{field} = {n} here, {:?} in {PROTO}",
                    proto.get(field)
                );
                checked += 1;
            }
        }
        assert!(checked >= 40, "only {checked} fields checked");
    }

    #[test]
    fn a_wrong_number_would_be_caught() {
        let proto = "message criu_opts {\n required int32 images_dir_fd = 1;\n optional int32 pid = 3;\n}\n";
        let theirs = proto_fields(proto);
        assert_eq!(theirs["criu_opts"]["pid"], 3);
        assert_ne!(
            Some(&theirs["criu_opts"]["pid"]),
            our_fields()["criu_opts"].get("pid")
        );
    }
}
