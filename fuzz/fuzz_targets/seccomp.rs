//! Fuzz target `seccomp`: see `hezi_fuzzcheck::seccomp` for the property.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hezi_fuzzcheck::seccomp(data));
