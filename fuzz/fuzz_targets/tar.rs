//! The tar/tar.gz reader, then the whole pipeline (builder, budget) on whatever it yields:
//! any archive ends in a snapshot or an error, never a panic. The inflate cap is small so a
//! bomb costs the fuzzer nothing.
#![no_main]
use libfuzzer_sys::fuzz_target;
use membudget::collect::tar::{archive_stream, visit_archive};
use membudget::collect::SnapshotBuilder;

fuzz_target!(|data: &[u8]| {
    let Ok(stream) = archive_stream(std::io::Cursor::new(data.to_vec()), 1 << 22) else {
        return;
    };
    let mut builder = SnapshotBuilder::new("fuzz.tar".into());
    if visit_archive("fuzz.tar", stream, &mut builder).is_err() {
        return;
    }
    let Ok(snapshot) = builder.finish() else {
        return;
    };
    let profile = membudget::profile::Profile::load_or_default(None).unwrap();
    let _ = membudget::budget::evaluate(&snapshot, &profile);
});
