//! smaps (headers plus `Key: N kB` fields), then accounting of what parsed as one process under
//! every measure (RSS/PSS sums, shared-once merging): no input may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use membudget::account::{account, Measure};
use membudget::model::{Mapping, Process, Snapshot};

fuzz_target!(|data: &[u8]| {
    let (entries, _) = membudget::parse::smaps::parse_smaps(data);
    let mappings: Vec<Mapping> = entries
        .into_iter()
        .map(|e| Mapping {
            map: e.map,
            smaps: Some(e.fields),
        })
        .collect();
    let process = |pid| Process {
        pid,
        name: "fuzz".into(),
        cmdline: String::new(),
        threads: 1,
        vm_size: None,
        vm_rss: None,
        start_time: None,
        mappings: mappings.clone(),
        rollup: None,
    };
    // Two processes with the same mappings: shared ones are merged across them.
    let snapshot = Snapshot {
        processes: vec![process(1), process(2)],
        ..Default::default()
    };
    for measure in [Measure::Virtual, Measure::Rss, Measure::Pss] {
        let _ = account(&snapshot, measure, None);
    }
});
