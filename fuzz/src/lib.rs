//! What the fuzz targets share: turning parsed mappings into a snapshot that accounting takes.

use membudget::model::{Mapping, Process, Snapshot};

/// A snapshot of `copies` identical processes (pids 1, 2, ...) holding `mappings`: with two or
/// more, shared mappings go through the counted-once merging.
pub fn snapshot_of(mappings: Vec<Mapping>, copies: u32) -> Snapshot {
    let process = |pid| Process {
        pid,
        name: "fuzz".into(),
        cmdline: String::new(),
        threads: 1,
        vm_size: None,
        vm_rss: None,
        start_time: None,
        mappings: mappings.iter().cloned().collect(),
        rollup: None,
    };
    Snapshot {
        processes: (1..=copies).map(process).collect(),
        ..Default::default()
    }
}
