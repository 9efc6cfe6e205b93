//! Fuzz target `dbus`: see `hezi_fuzzcheck::dbus` for the property.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hezi_fuzzcheck::dbus(data));
