//! CRIU RPC against the host's criu: a CRIU that cannot work here must say why.

use std::path::Path;

use hezi_runtime::criu::{self, CriuError};

fn criu_path() -> Option<&'static Path> {
    ["/usr/sbin/criu", "/usr/bin/criu", "/usr/local/sbin/criu"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
}

#[test]
fn criu_check_answers_or_names_the_problem() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: criu needs root");
        return;
    }
    let Some(bin) = criu_path() else {
        eprintln!("skipped: no criu installed");
        return;
    };
    match criu::check(bin) {
        Ok(()) => {
            let v = criu::version(bin).expect("criu check passed, so VERSION must answer");
            assert!(v.major_number >= 3, "criu version {v:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            eprintln!("criu does not work here: {msg}");
            match e {
                CriuError::NoAnswer { log, .. } => assert!(!log.is_empty(), "{msg}"),
                CriuError::Failed { msg: m, .. } => {
                    assert!(!m.contains("see the criu log"), "no CRIU reason: {msg}")
                }
                other => panic!("unexpected error kind: {other}"),
            }
            assert!(msg.contains("criu"), "{msg}");
        }
    }
}

#[test]
fn missing_criu_binary_is_named() {
    let err = criu::check(Path::new("/nonexistent/criu")).expect_err("no such binary");
    assert!(
        err.to_string().contains("/nonexistent/criu"),
        "error should name the binary: {err}"
    );
}
