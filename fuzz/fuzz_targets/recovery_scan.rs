#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| spool_fuzz::recovery_scan(data));
