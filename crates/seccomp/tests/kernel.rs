//! Filters installed in the real kernel, in forked children (no root needed:
//! the child sets no_new_privs first). Everything the child does after fork
//! is a raw syscall; the filters are compiled before forking.

mod common;

use hezi_seccomp::{compile, install, notify, set_no_new_privs, CompiledFilter};
use oci_spec::runtime::LinuxSeccomp;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

fn profile(json: &str) -> LinuxSeccomp {
    hezi_seccomp::parse_profile(json.as_bytes()).expect("test profile parses")
}

enum Exit {
    Code(i32),
    Signal(i32),
}

/// Fork; the child sets NNP, installs `filter`, runs `body` and exits with
/// its return value (100/101 when NNP or install fail).
fn run_child(filter: &CompiledFilter, body: impl FnOnce(Option<OwnedFd>) -> i32) -> Exit {
    // SAFETY: the child only makes raw syscalls (install allocates nothing)
    // and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = if set_no_new_privs().is_err() {
            100
        } else {
            match install(filter) {
                Ok(fd) => body(fd),
                Err(_) => 101,
            }
        };
        // SAFETY: terminating the forked child without running destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid);
    if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    }
}

fn errno() -> i32 {
    // SAFETY: reading the thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Returns `-errno` on failure, the result otherwise.
fn raw(nr: libc::c_long, a0: libc::c_long) -> i64 {
    // SAFETY: test syscalls with scalar arguments only.
    let r = unsafe { libc::syscall(nr, a0, 0, 0, 0, 0, 0) };
    if r < 0 {
        -i64::from(errno())
    } else {
        r
    }
}

fn expect_code(e: Exit, want: i32, what: &str) {
    match e {
        Exit::Code(c) => assert_eq!(c, want, "{what}: child exit code"),
        Exit::Signal(s) => panic!("{what}: child killed by signal {s}"),
    }
}

#[test]
fn denied_syscall_returns_the_rule_errno() {
    let f = compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":77},
            {"names":["getpgid"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":4242,"op":"SCMP_CMP_EQ"}]}]}"#,
    ))
    .expect("compile");
    let e = run_child(&f, |_| {
        let a = raw(libc::SYS_getppid, 0) == -77;
        let b = raw(libc::SYS_getpgid, 4242) == -i64::from(libc::EPERM);
        let c = raw(libc::SYS_getpgid, 0) > 0;
        let d = raw(libc::SYS_getpid, 0) > 0;
        i32::from(a) | i32::from(b) << 1 | i32::from(c) << 2 | i32::from(d) << 3
    });
    expect_code(e, 0b1111, "errno rule");
}

#[test]
fn docker_default_denies_user_namespaces_and_answers_enosys() {
    let f = compile(&common::fixture("docker-default.json")).expect("compile docker profile");
    let e = run_child(&f, |_| {
        let unshare =
            raw(libc::SYS_unshare, libc::CLONE_NEWUSER as libc::c_long) == -i64::from(libc::EPERM);
        let clone3 = raw(libc::SYS_clone3, 0) == -i64::from(libc::ENOSYS);
        let future = raw(1000, 0) == -i64::from(libc::ENOSYS);
        let ppid = raw(libc::SYS_getppid, 0) > 0;
        i32::from(unshare) | i32::from(clone3) << 1 | i32::from(future) << 2 | i32::from(ppid) << 3
    });
    expect_code(e, 0b1111, "docker default");
}

#[test]
fn kill_rules_kill_with_sigsys() {
    for act in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
    ] {
        let f = compile(&profile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["getppid"],"action":"{act}"}}]}}"#
        )))
        .expect("compile");
        match run_child(&f, |_| {
            raw(libc::SYS_getppid, 0);
            0
        }) {
            Exit::Signal(s) => assert_eq!(s, libc::SIGSYS, "{act}"),
            Exit::Code(c) => panic!("{act}: child survived with code {c}"),
        }
    }
}

/// Send `fd` over `sock` with SCM_RIGHTS using only stack memory.
fn send_fd_raw(sock: RawFd, fd: RawFd) -> bool {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    #[repr(C)]
    struct Cmsg {
        hdr: libc::cmsghdr,
        fd: RawFd,
        _pad: u32,
    }
    // SAFETY: all-zero is a valid cmsghdr/msghdr; fields are set below.
    let mut c: Cmsg = unsafe { std::mem::zeroed() };
    c.hdr.cmsg_len = std::mem::size_of::<libc::cmsghdr>() + 4;
    c.hdr.cmsg_level = libc::SOL_SOCKET;
    c.hdr.cmsg_type = libc::SCM_RIGHTS;
    c.fd = fd;
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = (&mut c as *mut Cmsg).cast();
    msg.msg_controllen = std::mem::size_of::<Cmsg>();
    // SAFETY: msg points at live stack buffers.
    unsafe { libc::sendmsg(sock, &msg, 0) == 1 }
}

fn recv_fd(sock: RawFd) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!(RawFd);
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::empty()).expect("recvmsg");
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel just installed this fd for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no fd received");
}

#[test]
fn notify_rule_reaches_an_agent() {
    let f = compile(&profile(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    ))
    .expect("compile");
    assert!(f.has_notify());
    let (parent_sock, child_sock) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair");
    let agent = std::thread::spawn(move || {
        let listener = recv_fd(parent_sock.as_raw_fd());
        let req = notify::recv(listener.as_fd()).expect("NOTIF_RECV");
        assert_eq!(req.data.nr, libc::SYS_getppid as u32);
        assert_eq!(req.data.arch, common::AUDIT_X86_64);
        assert!(notify::id_valid(listener.as_fd(), req.id));
        notify::respond(
            listener.as_fd(),
            &notify::Response::Return {
                id: req.id,
                val: 4242,
            },
        )
        .expect("NOTIF_SEND");
        let req = notify::recv(listener.as_fd()).expect("second NOTIF_RECV");
        notify::respond(
            listener.as_fd(),
            &notify::Response::Error {
                id: req.id,
                errno: libc::EXDEV,
            },
        )
        .expect("second NOTIF_SEND");
    });
    let child_raw = child_sock.as_raw_fd();
    let e = run_child(&f, |fd| {
        let Some(fd) = fd else { return 10 };
        if !send_fd_raw(child_raw, fd.as_raw_fd()) {
            return 11;
        }
        let first = raw(libc::SYS_getppid, 0) == 4242;
        let second = raw(libc::SYS_getppid, 0) == -i64::from(libc::EXDEV);
        i32::from(first) | i32::from(second) << 1
    });
    drop(child_sock);
    agent.join().expect("agent thread");
    expect_code(e, 0b11, "notify");
}

#[test]
fn every_flag_is_accepted_by_the_kernel() {
    for (flags, notify) in [
        (
            r#"["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]"#,
            false,
        ),
        (
            r#"["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW","SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]"#,
            true,
        ),
    ] {
        let action = if notify {
            "SCMP_ACT_NOTIFY"
        } else {
            "SCMP_ACT_ERRNO"
        };
        let f = compile(&profile(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","flags":{flags},"syscalls":[{{"names":["getppid"],"action":"{action}"}}]}}"#
        )))
        .expect("compile");
        // The child only checks that install succeeded (and a listener came back for NOTIFY).
        let e = run_child(&f, |fd| i32::from(fd.is_some()));
        expect_code(e, i32::from(notify), &format!("flags {:#x}", f.flags()));
    }
}
