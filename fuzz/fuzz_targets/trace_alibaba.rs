#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| xisuan_io::fuzz::run("trace_alibaba", data));
