//! maps lines, then the classifier and accounting over what parsed: no input may panic, every
//! parsed line keeps end >= start, and each line reads as the field-by-field reader reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use membudget::account::{account, Measure};
use membudget::model::Mapping;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&c| c == b'\n') {
        assert_eq!(
            membudget::parse::maps::parse_line(line),
            membudget::parse::maps::parse_line_field_by_field(line)
        );
    }
    let (maps, issues) = membudget::parse::maps::parse_maps(data);
    for m in &maps {
        assert!(m.end >= m.start);
    }
    for issue in issues.iter() {
        assert!(issue.line >= 1);
    }
    let mappings = maps
        .into_iter()
        .map(|map| Mapping { map, smaps: None })
        .collect();
    let _ = account(
        &membudget_fuzz::snapshot_of(mappings, 1),
        Measure::Virtual,
        Some(8 << 20),
    );
});
