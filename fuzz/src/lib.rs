//! What the fuzz targets share: turning parsed mappings into a snapshot that accounting takes.

use membudget::model::{Mapping, Mappings, Process, Snapshot};

/// A snapshot of `copies` identical processes (pids 1, 2, ...) holding `mappings`: with two or
/// more, shared mappings go through the counted-once merging.
///
/// The packed form the model keeps must give back exactly the mappings packed.
pub fn snapshot_of(mappings: Vec<Mapping>, copies: u32) -> Snapshot {
    let packed: Mappings = mappings.iter().cloned().collect();
    assert_eq!(packed.iter().collect::<Vec<_>>(), mappings);
    let process = |pid| Process {
        pid,
        name: "fuzz".into(),
        cmdline: String::new(),
        threads: 1,
        vm_size: None,
        vm_rss: None,
        vm_hwm: None,
        uid: None,
        start_time: None,
        mappings: packed.clone(),
        rollup: None,
    };
    Snapshot {
        processes: (1..=copies).map(process).collect(),
        ..Default::default()
    }
}
