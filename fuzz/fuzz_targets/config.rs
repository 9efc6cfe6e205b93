//! Fuzz target `config`: see `hezi_fuzzcheck::config` for the property.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hezi_fuzzcheck::config(data));
