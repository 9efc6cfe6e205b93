//! Loading the device filter with bpf(2) and attaching it to a cgroup
//! (`BPF_PROG_TYPE_CGROUP_DEVICE`, `BPF_CGROUP_DEVICE`). Raw syscalls through libc: the
//! attribute layouts below are the kernel's `union bpf_attr` members for these two commands.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::devices::Insn;
use crate::CgroupError;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The `union bpf_attr` members defined here; only these may be passed to [`bpf`].
trait BpfAttr {}
impl BpfAttr for ProgLoadAttr {}
impl BpfAttr for ProgAttachAttr {}
impl BpfAttr for ProgQueryAttr {}

fn bpf<T: BpfAttr>(cmd: libc::c_int, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, properly sized repr(C) bpf_attr member for `cmd`; the kernel
    // reads (and for PROG_LOAD writes the log buffer whose pointer and size it carries) only
    // within `size_of::<T>()` bytes and the buffers those fields describe.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads `prog` as a cgroup device program; returns its fd.
pub fn load_device_program(prog: &[Insn], cgroup: &Path) -> Result<OwnedFd, CgroupError> {
    let bytes: Vec<u8> = prog.iter().flat_map(|i| i.encode()).collect();
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut name = [0u8; 16];
    name[..11].copy_from_slice(b"hezi_device");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: bytes.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: a successful BPF_PROG_LOAD returns a new fd that we now own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(source) => {
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            Err(CgroupError::Bpf {
                path: cgroup.to_path_buf(),
                op: "BPF_PROG_LOAD",
                source,
                log: if text.is_empty() {
                    String::new()
                } else {
                    format!("\nverifier log:\n{text}")
                },
            })
        }
    }
}

/// The cgroup directory as the target fd of an attach or query.
fn open_dir(cgroup: &Path) -> Result<OwnedFd, CgroupError> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    open(
        cgroup,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| CgroupError::Io {
        op: "open",
        path: cgroup.to_path_buf(),
        source: e.into(),
    })
}

/// Attaches `prog_fd` to the cgroup directory `cgroup` as its device filter. Attaching without
/// `BPF_F_ALLOW_MULTI` replaces the program a previous `apply` attached, so `update` never
/// stacks filters.
pub fn attach_device_program(prog_fd: &OwnedFd, cgroup: &Path) -> Result<(), CgroupError> {
    let dir = open_dir(cgroup)?;
    let mut attr = ProgAttachAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attr)
        .map(|_| ())
        .map_err(|source| CgroupError::Bpf {
            path: cgroup.to_path_buf(),
            op: "BPF_PROG_ATTACH",
            source,
            log: String::new(),
        })
}

/// Loads and attaches the device filter for the cgroup at `cgroup`.
pub fn install_device_filter(cgroup: &Path, prog: &[Insn]) -> Result<(), CgroupError> {
    let fd = load_device_program(prog, cgroup)?;
    attach_device_program(&fd, cgroup)
}

const BPF_PROG_QUERY: libc::c_int = 16;

#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

/// How many device programs are attached to the cgroup directory `cgroup` itself
/// (`BPF_PROG_QUERY`). Used by tests and to check that `update` does not stack filters.
pub fn attached_device_programs(cgroup: &Path) -> Result<u32, CgroupError> {
    let dir = open_dir(cgroup)?;
    let mut attr = ProgQueryAttr {
        target_fd: dir.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr).map_err(|source| CgroupError::Bpf {
        path: cgroup.to_path_buf(),
        op: "BPF_PROG_QUERY",
        source,
        log: String::new(),
    })?;
    Ok(attr.prog_cnt)
}
