//! `hezi-fixtures`: builds the offline busybox fixtures for scripts (demo, benchmarks).
//!
//! ```text
//! hezi-fixtures rootfs DIR
//! hezi-fixtures bundle DIR [ARGS...]      (default args: sh)
//! hezi-fixtures layout DIR [REF]          (default ref: busybox:latest)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: hezi-fixtures rootfs DIR | bundle DIR [ARGS...] | layout DIR [REF]";
    let (Some(cmd), Some(dir)) = (args.first(), args.get(1)) else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let dir = PathBuf::from(dir);
    let rest: Vec<&str> = args[2..].iter().map(String::as_str).collect();
    let result = match cmd.as_str() {
        "rootfs" => hezi_testsupport::busybox_rootfs(&dir),
        "bundle" => {
            let run = if rest.is_empty() { vec!["sh"] } else { rest };
            hezi_testsupport::busybox_bundle(&dir, &run)
        }
        "layout" => {
            let name = rest.first().copied().unwrap_or("busybox:latest");
            hezi_testsupport::busybox_oci_layout(&dir, name).map(|d| println!("{d}"))
        }
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hezi-fixtures: {cmd} {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}
