#![no_main]
// Body and properties: mip6_tests::fuzz_checks::udp_decap (replayed by tests/tests/fuzz_corpus.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mip6_tests::fuzz_checks::udp_decap(data));
