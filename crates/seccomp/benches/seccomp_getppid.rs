//! Cost of one syscall under Docker's default seccomp profile: hezi's filter
//! vs libseccomp's (built by a C helper with `cc ... -lseccomp` at run time)
//! vs no filter. Each variant runs in a forked child that sets no_new_privs,
//! installs the filter and times `getppid()` in a loop; the variants are
//! interleaved over 5 rounds and each one's best run is reported as one
//! machine-readable line:
//!
//! `seccomp_getppid_ns hezi=<ns> libseccomp=<ns> none=<ns> iters=<n> hezi_insns=<n> libseccomp_insns=<n>`
//!
//! A `seccomp_personality_ns` line does the same for `personality(0xffffffff)`,
//! which the profile allows through an argument check, so the filter runs on
//! every call (getppid may be served by the kernel's seccomp action cache).
//! A first line reports compile time for that profile, uncached and as a
//! cache hit: `seccomp_compile_us compile=<us> cache_hit=<us>`.
//!
//! Run: `cargo bench -p hezi-seccomp --bench seccomp_getppid`
//! (`HEZI_BENCH_ITERS` overrides the 5,000,000 calls per run).

use hezi_seccomp::{compile, install, set_no_new_privs, CompiledFilter};
use std::path::Path;

/// The test suite's libseccomp oracle (compiled once with `cc ... -lseccomp`) and its input
/// format, shared so that the bench measures the same libseccomp filter the differential tests
/// compare against.
#[path = "../tests/common/mod.rs"]
mod common;

/// libseccomp's filter for the profile, or `None` when cc or libseccomp-dev is missing.
fn libseccomp_filter(profile_json: &[u8]) -> Option<CompiledFilter> {
    let oracle = common::oracle()?;
    let profile = hezi_seccomp::parse_profile(profile_json).ok()?;
    CompiledFilter::from_raw(common::libseccomp_bpf(oracle, &profile), 0).ok()
}

/// The syscall a run repeats.
#[derive(Clone, Copy)]
enum Call {
    /// `getppid()`: allowed unconditionally, so kernels >= 5.11 may answer
    /// it from their seccomp action cache without running the filter.
    Getppid,
    /// `personality(0xffffffff)` (a query): allowed by an argument check, so
    /// the whole filter runs on every call.
    PersonalityQuery,
}

/// ns per call in a child with `filter` installed (None: no filter).
fn measure(filter: Option<&CompiledFilter>, iters: u64, call: Call) -> f64 {
    let mut fds = [0; 2];
    // SAFETY: pipe() fills the two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: single-threaded bench; the child only makes syscalls and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let ok = match filter {
            Some(f) => set_no_new_privs().is_ok() && install(f).is_ok(),
            None => true,
        };
        let mut ns: f64 = -1.0;
        if ok {
            let t = std::time::Instant::now();
            for _ in 0..iters {
                // SAFETY: getppid takes no arguments; personality(0xffffffff)
                // only reads the persona.
                match call {
                    Call::Getppid => unsafe { libc::syscall(libc::SYS_getppid) },
                    Call::PersonalityQuery => unsafe {
                        libc::syscall(libc::SYS_personality, 0xffff_ffffu64)
                    },
                };
            }
            ns = t.elapsed().as_nanos() as f64 / iters as f64;
        }
        let b = ns.to_ne_bytes();
        // SAFETY: writing 8 bytes from a stack buffer to our pipe, then exiting.
        unsafe {
            libc::write(fds[1], b.as_ptr().cast(), 8);
            libc::_exit(0);
        }
    }
    let mut b = [0u8; 8];
    // SAFETY: reading 8 bytes into a stack buffer; reaping our child.
    unsafe {
        libc::close(fds[1]);
        libc::read(fds[0], b.as_mut_ptr().cast(), 8);
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    let ns = f64::from_ne_bytes(b);
    assert!(ns >= 0.0, "child could not install the filter");
    ns
}

/// Interleaved rounds per variant (the best one is reported).
const ROUNDS: usize = 5;

fn best_of(n: usize, f: impl Fn() -> f64) -> f64 {
    (0..n).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let iters: u64 = std::env::var("HEZI_BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5_000_000);
    let json = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/docker-default.json"),
    )
    .expect("docker-default.json fixture");
    let profile = hezi_seccomp::parse_profile(&json).expect("fixture parses");
    let hezi = compile(&profile).expect("compile docker profile");
    let compile_us = best_of(5, || {
        let t = std::time::Instant::now();
        let f = compile(&profile).expect("compile docker profile");
        std::hint::black_box(f);
        t.elapsed().as_nanos() as f64 / 1000.0
    });
    let cache_dir =
        std::env::temp_dir().join(format!("hezi-seccomp-bench-cache-{}", std::process::id()));
    let cache = hezi_seccomp::Cache::new(&cache_dir);
    cache.get_or_compile(&profile).expect("fill cache");
    let cached_us = best_of(5, || {
        let t = std::time::Instant::now();
        let f = cache.get_or_compile(&profile).expect("cache hit");
        std::hint::black_box(f);
        t.elapsed().as_nanos() as f64 / 1000.0
    });
    let _ = std::fs::remove_dir_all(&cache_dir);
    println!("seccomp_compile_us compile={compile_us:.1} cache_hit={cached_us:.1}");
    let lib = libseccomp_filter(&json);
    for (name, call) in [
        ("seccomp_getppid_ns", Call::Getppid),
        ("seccomp_personality_ns", Call::PersonalityQuery),
    ] {
        // Interleave the variants over several rounds and keep each one's
        // best, so load from other processes hits all of them alike.
        let (mut none_ns, mut hezi_ns, mut lib_ns) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        for _ in 0..ROUNDS {
            none_ns = none_ns.min(measure(None, iters, call));
            hezi_ns = hezi_ns.min(measure(Some(&hezi), iters, call));
            if let Some(f) = &lib {
                lib_ns = lib_ns.min(measure(Some(f), iters, call));
            }
        }
        let (lib_ns, lib_len) = match &lib {
            Some(f) => (format!("{lib_ns:.1}"), f.instructions().len().to_string()),
            None => ("NA".to_string(), "NA".to_string()),
        };
        println!(
            "{name} hezi={hezi_ns:.1} libseccomp={lib_ns} none={none_ns:.1} iters={iters} hezi_insns={} libseccomp_insns={lib_len}",
            hezi.instructions().len()
        );
    }
}
