//! Fuzz target `image_documents`: see `hezi_fuzzcheck::image_documents` for the property.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hezi_fuzzcheck::image_documents(data));
