//! Bringing up `lo` in a network namespace the runtime created, as runc does: a new network
//! namespace starts with its loopback down, and engines rely on it being up (podman
//! `--network=none`, ctr's default, anything that talks to 127.0.0.1).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{Result, RuntimeError};

/// Sets `IFF_UP` on `lo` in the caller's network namespace (`SIOCGIFFLAGS` then
/// `SIOCSIFFLAGS` on a datagram socket; no netlink needed).
pub fn bring_up_lo() -> Result<()> {
    let err = |what: &str| {
        RuntimeError::io(
            format!("network: {what} lo"),
            std::io::Error::last_os_error(),
        )
    };
    // SAFETY: socket(2) with constant arguments; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(err("socket to configure"));
    }
    // SAFETY: fd is a fresh socket nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills ifr_ifru.ifru_flags of the ifreq we pass, which lives
    // across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } < 0 {
        return Err(err("read the flags of"));
    }
    // SAFETY: reading the union member SIOCGIFFLAGS just wrote.
    let flags = unsafe { ifr.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short != 0 {
        return Ok(());
    }
    ifr.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } < 0 {
        return Err(err("bring up"));
    }
    Ok(())
}
