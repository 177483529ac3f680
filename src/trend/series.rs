//! Reading a series: which paths are snapshots, loading each one, and keeping only the figures
//! a trend needs (a few numbers per process and its anonymous regions), so a long series costs
//! memory per sample, not per snapshot file.

use crate::account::classify::{Class, Classifier};
use crate::account::{account, Measure, ProcessAccount};
use crate::collect::{load, LiveOptions};
use crate::error::{Error, Result};
use crate::model::{Interner, Snapshot};
use crate::parse::meta::Meta;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A figure followed per process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Private memory by virtual size (heap, stacks, data, anon): the article's measure.
    Private,
    Heap,
    Anon,
    ThreadStack,
    /// Resident private memory, from smaps (absent without smaps).
    PrivateRss,
    /// Proportional private memory, from smaps (absent without smaps).
    PrivatePss,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::Private,
        Metric::Heap,
        Metric::Anon,
        Metric::ThreadStack,
        Metric::PrivateRss,
        Metric::PrivatePss,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Metric::Private => "private",
            Metric::Heap => "heap",
            Metric::Anon => "anon",
            Metric::ThreadStack => "thread_stack",
            Metric::PrivateRss => "private_rss",
            Metric::PrivatePss => "private_pss",
        }
    }
}

/// meminfo fields that grow when the kernel or shared memory leaks. MemAvailable is not here:
/// it is what every leak consumes, not a leak of its own; nor is Slab, whose reclaimable part
/// grows whenever files are read (reading /proc for a capture is enough).
pub const MEMINFO_FIELDS: [&str; 5] = [
    "AnonPages",
    "Shmem",
    "SUnreclaim",
    "KernelStack",
    "PageTables",
];

/// meminfo fields whose growth is kernel memory not already counted in a process or a tmpfs,
/// so their leak rates add to the processes' and the filesystems'.
pub const KERNEL_FIELDS: [&str; 3] = ["SUnreclaim", "KernelStack", "PageTables"];

/// An anonymous private mapping (class `anon`): where mmap'd malloc blocks live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
}

impl Region {
    pub fn size(&self) -> u64 {
        self.end - self.start
    }

    pub fn contains(&self, other: &Region) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

#[derive(Debug, Clone)]
pub struct ProcessSample {
    pub pid: u32,
    pub start_time: Option<u64>,
    /// Shared with every other sample of the series that has the same name (`Interner`).
    pub name: Arc<str>,
    pub cmdline: Arc<str>,
    pub metrics: MetricValues,
    pub anon_regions: Box<[Region]>,
}

/// A process's figure for each `Metric`, where it has one. A series holds one per process per
/// sample (100k in 500 samples of 200 processes), so this is a plain array: as a
/// `BTreeMap<Metric, u64>` it cost a 128-byte heap node each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MetricValues([Option<u64>; Metric::ALL.len()]);

impl MetricValues {
    pub fn get(&self, metric: Metric) -> Option<u64> {
        self.0[metric as usize]
    }

    pub fn set(&mut self, metric: Metric, value: u64) {
        self.0[metric as usize] = Some(value);
    }
}

/// Which board, and which boot of it, a sample came from (`meta` `host=` and `boot_id=`), as
/// far as the capture said: a leak is growth within one boot of one board.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Board {
    pub host: Option<String>,
    pub boot_id: Option<String>,
}

impl Board {
    pub fn of(meta: &Meta) -> Board {
        let field = |key| meta.get(key).filter(|v| !v.is_empty()).map(str::to_string);
        Board {
            host: field("host"),
            boot_id: field("boot_id"),
        }
    }
}

/// One snapshot of the series, reduced to what a trend reads.
#[derive(Debug, Clone)]
pub struct Sample {
    /// `meta` `time=`, unix seconds: finite and not negative (see [`sample_time`]).
    pub time: f64,
    pub board: Board,
    pub origin: String,
    pub processes: Vec<ProcessSample>,
    pub meminfo: BTreeMap<String, u64>,
    /// Used bytes per RAM-backed mount point.
    pub ram_fs: BTreeMap<String, u64>,
}

/// Whether a directory is one snapshot (rather than a directory of them).
fn is_snapshot_dir(path: &Path) -> bool {
    path.join("meta").is_file() || path.join("proc").is_dir()
}

fn is_archive_name(name: &str) -> bool {
    name.ends_with(".tar.gz") || name.ends_with(".tgz") || name.ends_with(".tar")
}

/// The snapshots the user named: files and snapshot directories as they are, and for a
/// directory that is not itself a snapshot, its snapshot archives and snapshot directories
/// (hidden entries, such as a capture's temporary `.membudget-XXXXXX`, are not samples).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path.display(), &e))?;
        if !meta.is_dir() || is_snapshot_dir(path) {
            out.push(path.clone());
            continue;
        }
        let entries = std::fs::read_dir(path).map_err(|e| Error::io(path.display(), &e))?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(path.display(), &e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let child = entry.path();
            if name.starts_with('.') {
                continue;
            }
            if (child.is_file() && is_archive_name(&name))
                || (child.is_dir() && is_snapshot_dir(&child))
            {
                found.push(child);
            }
        }
        if found.is_empty() {
            return Err(Error::in_file(
                path.display().to_string(),
                "neither a snapshot nor a directory holding snapshots (.tar.gz, .tar or snapshot directories)",
            ));
        }
        found.sort_unstable();
        out.extend(found);
    }
    Ok(out)
}

/// Reduces one loaded snapshot to its sample.
pub fn summarize(
    snapshot: &Snapshot,
    path: &Path,
    thread_stack_size: Option<u64>,
    names: &mut Interner,
) -> Result<Sample> {
    let time = sample_time(&snapshot.meta, &path.display().to_string())?;
    let accounting = account(snapshot, Measure::Virtual, thread_stack_size);
    let classifier = Classifier::new(&snapshot.mounts, thread_stack_size);
    let accounts: HashMap<u32, &ProcessAccount> =
        accounting.processes.iter().map(|a| (a.pid, a)).collect();
    let mut processes = Vec::with_capacity(snapshot.processes.len());
    for process in &snapshot.processes {
        let Some(acc) = accounts.get(&process.pid) else {
            continue;
        };
        let mut metrics = MetricValues::default();
        metrics.set(Metric::Private, acc.private.virtual_size);
        metrics.set(Metric::Heap, acc.class(Class::Heap).virtual_size);
        metrics.set(Metric::Anon, acc.class(Class::Anon).virtual_size);
        metrics.set(
            Metric::ThreadStack,
            acc.class(Class::ThreadStack).virtual_size,
        );
        if acc.has_smaps {
            if let Some(rss) = acc.private.rss {
                metrics.set(Metric::PrivateRss, rss);
            }
            if let Some(pss) = acc.private.pss {
                metrics.set(Metric::PrivatePss, pss);
            }
        }
        let anon_regions = classifier
            .classify_mappings(&process.mappings)
            .filter(|(_, class)| *class == Class::Anon)
            .map(|(m, _)| Region {
                start: m.map.start,
                end: m.map.end,
            })
            .collect();
        processes.push(ProcessSample {
            pid: process.pid,
            start_time: process.start_time,
            name: names.intern_str(&process.name),
            cmdline: names.intern_str(&process.cmdline),
            metrics,
            anon_regions,
        });
    }
    let meminfo = MEMINFO_FIELDS
        .iter()
        .filter_map(|&field| snapshot.meminfo.get(field).map(|v| (field.to_string(), v)))
        .collect();
    let ram_fs = snapshot
        .fs_usage
        .iter()
        .map(|u| (u.mount_point.clone(), u.used))
        .collect();
    Ok(Sample {
        time,
        board: Board::of(&snapshot.meta),
        origin: path.display().to_string(),
        processes,
        meminfo,
        ram_fs,
    })
}

/// A sample's capture time: a finite, non-negative number of unix seconds. NaN or infinite
/// times made "8 samples over NaN days"; a negative one puts a sample before 1970.
pub fn sample_time(meta: &Meta, origin: &str) -> Result<f64> {
    let Some(text) = meta.get("time") else {
        return Err(Error::in_file(
            origin,
            "meta has no time=<unix seconds>: a series is ordered by capture time",
        ));
    };
    match meta.time() {
        Some(time) if time.is_finite() && time >= 0.0 => Ok(time),
        _ => Err(Error::in_file(
            format!("{origin}:meta"),
            format!("time={text} is not a capture time (finite unix seconds, not negative)"),
        )),
    }
}

/// Orders the samples by capture time, and refuses a series that mixes boards or boots: two
/// boards with the same firmware and pids interleaved hid each one's leak, and growth across a
/// reboot is no leak. A sample whose capture did not say (older captures) is not compared.
pub fn order_series(samples: &mut [Sample]) -> Result<()> {
    samples.sort_by(|a, b| a.time.total_cmp(&b.time));
    one_value(samples, "host", "board", |b| b.host.as_deref())?;
    one_value(
        samples,
        "boot_id",
        "boot of one board (it rebooted in between)",
        |b| b.boot_id.as_deref(),
    )
}

/// Fails naming the first sample whose `key` differs from the first sample that has one.
fn one_value(
    samples: &[Sample],
    key: &str,
    unit: &str,
    value: impl Fn(&Board) -> Option<&str>,
) -> Result<()> {
    let mut with_value = samples
        .iter()
        .filter_map(|s| value(&s.board).map(|v| (s, v)));
    let Some((first, expected)) = with_value.next() else {
        return Ok(());
    };
    match with_value.find(|(_, v)| v != &expected) {
        Some((sample, found)) => Err(Error::in_file(
            sample.origin.clone(),
            format!(
                "{key} {found:?} differs from {expected:?} of {}: a trend follows one {unit}; give each its own series",
                first.origin
            ),
        )),
        None => Ok(()),
    }
}

/// The series in capture order, and the latest snapshot whole (the budget's headroom is
/// evaluated on it).
pub struct Series {
    pub samples: Vec<Sample>,
    pub last: Snapshot,
}

/// Loads every snapshot, orders them by `meta` time. Fewer than two is bad input: a trend
/// needs at least two points.
pub fn load_series(paths: &[PathBuf], thread_stack_size: Option<u64>) -> Result<Series> {
    let files = expand(paths)?;
    if files.len() < 2 {
        return Err(Error::msg(format!(
            "a trend needs at least 2 snapshots, got {}",
            files.len()
        )));
    }
    let mut samples = Vec::with_capacity(files.len());
    let mut last: Option<Snapshot> = None;
    let mut names = Interner::default();
    for file in &files {
        let snapshot = load(Some(file), LiveOptions::default())?;
        let sample = summarize(&snapshot, file, thread_stack_size, &mut names)?;
        if samples.iter().all(|s: &Sample| s.time <= sample.time) {
            last = Some(snapshot);
        }
        samples.push(sample);
    }
    order_series(&mut samples)?;
    let last = last.expect("at least two snapshots were loaded");
    Ok(Series { samples, last })
}
