#![no_main]
// Body and properties: mip6_tests::fuzz_checks::dest_opts_hoa (replayed by tests/tests/fuzz_corpus.rs).
libfuzzer_sys::fuzz_target!(|data: &[u8]| mip6_tests::fuzz_checks::dest_opts_hoa(data));
