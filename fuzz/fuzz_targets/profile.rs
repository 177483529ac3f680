//! Board profiles: any text either loads or gives an error naming the file; no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = membudget::profile::Profile::parse(text, "fuzz.toml") {
            assert_eq!(e.file.as_deref(), Some("fuzz.toml"));
        }
    }
});
