//! Fuzz target `layer`: see `hezi_fuzzcheck::layer` for the property.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hezi_fuzzcheck::layer(data));
