#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| inlink_fuzzing::notes_folder(data));
