//! smaps (headers plus `Key: N kB` fields): no input may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (entries, _) = membudget::parse::smaps::parse_smaps(data);
    for e in &entries {
        let _ = e.fields.uss();
    }
});
