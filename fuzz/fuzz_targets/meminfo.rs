//! meminfo: no input may panic; every kept value is a whole number of bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = membudget::parse::meminfo::parse_meminfo(data);
});
