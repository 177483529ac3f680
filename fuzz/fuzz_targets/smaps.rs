//! smaps (headers plus `Key: N kB` fields), then accounting of what parsed as two processes
//! under every measure (RSS/PSS sums, shared-once merging): no input may panic, and the fast
//! path for field lines must read every input as the general reader does.
#![no_main]
use libfuzzer_sys::fuzz_target;
use membudget::account::{account, Measure};
use membudget::model::Mapping;

fuzz_target!(|data: &[u8]| {
    let parsed = membudget::parse::smaps::parse_smaps(data);
    // The fast path for field lines (taken on ASCII input) reads as the general reader does.
    assert_eq!(parsed, membudget::parse::smaps::parse_smaps_generally(data));
    let Ok((entries, _)) = parsed else {
        return; // a field given twice: refused, nothing to account
    };
    let mappings = entries
        .into_iter()
        .map(|e| Mapping {
            map: e.map,
            smaps: Some(e.fields),
        })
        .collect();
    let snapshot = membudget_fuzz::snapshot_of(mappings, 2);
    for measure in [Measure::Virtual, Measure::Rss, Measure::Pss] {
        let _ = account(&snapshot, measure, None);
    }
});
