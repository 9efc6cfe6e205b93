//! Whether hezi runs rootless: as an ordinary user, or as "root" inside a user namespace
//! that is not the initial one (rootless podman runs its runtime so). runc decides the same
//! way for its `--rootless auto`.

/// True when this process is in a user namespace other than the initial one (its uid map is
/// not the identity over all ids).
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|m| {
        let f: Vec<&str> = m.split_whitespace().collect();
        f != ["0", "0", "4294967295"]
    })
}

/// True when hezi runs without real root: a non-zero effective uid, or a user namespace.
// Only the unit tests ask; the runtime decides from the euid and in_user_namespace.
#[cfg(test)]
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_in_the_initial_namespace_is_not_rootless() {
        // The test process: either real root in the initial namespace, or not root.
        let root_initial = nix::unistd::geteuid().is_root() && !in_user_namespace();
        assert_eq!(is_rootless(), !root_initial);
    }
}
