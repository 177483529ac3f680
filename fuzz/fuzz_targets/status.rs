//! /proc/PID/status: no input may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = membudget::parse::status::parse_status(data);
});
