//! The subset of CRIU's `rpc.proto` (criu 3.x) that hezi uses, as prost messages.
//!
//! Field numbers are CRIU's; fields hezi does not send are left out (protobuf skips unknown
//! fields, so CRIU's answers still decode).

/// `criu_req_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, prost::Enumeration)]
#[repr(i32)]
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
