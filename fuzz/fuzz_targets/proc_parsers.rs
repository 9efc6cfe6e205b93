//! Fuzz target `proc_parsers`: see `hezi_fuzzcheck::proc_parsers` for the property.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hezi_fuzzcheck::proc_parsers(data));
