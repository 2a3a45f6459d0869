#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ishowtts_fuzz::phoneme_ids(data));
