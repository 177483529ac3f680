//! The in-memory picture of one board at one moment, whatever it was read from (the live
//! system, a snapshot directory, a tar archive). Collectors fill it; accounting reads it.
//! It holds figures, never file texts, so its size follows the board, not the input bytes.

use crate::parse::exhaustion::Exhaustion;
use crate::parse::kernel::{BootMemory, KernelCmdline};
use crate::parse::meminfo::Meminfo;
use crate::parse::meta::Meta;
use crate::parse::mounts::Mount;
use crate::parse::smaps::SmapsFields;
use serde::Serialize;

mod kernel_files;
pub use kernel_files::{DmaBuf, KernelFiles, Zram};
pub use membudget_scan::model::mappings::{Interner, Mapping, Mappings, MappingsIter, Packer};

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Where it came from: `live` or the snapshot path.
    pub origin: String,
    pub meta: Meta,
    pub meminfo: Meminfo,
    pub mounts: Vec<Mount>,
    pub kernel_cmdline: Option<KernelCmdline>,
    pub kernel_version: Option<String>,
    pub boot_memory: Option<BootMemory>,
    /// OOM-killer and allocation-failure lines of the kernel log; `None` without a log.
    pub exhaustion: Option<Exhaustion>,
    /// `/proc/sys/vm/min_free_kbytes`, in bytes.
    pub min_free: Option<u64>,
    pub ramdisks: Vec<Ramdisk>,
    pub fs_usage: Vec<FsUsage>,
    /// RAM-backed mount points the snapshot has no usage figure for (no `df`/`du` line).
    pub unmeasured_mounts: Vec<String>,
    pub processes: Vec<Process>,
    pub skipped: Vec<Skipped>,
    pub warnings: Vec<Warning>,
    /// vmstat, SysV shm, swaps, zram, PSI, zoneinfo, modules, dma-buf: where present.
    pub kernel_files: KernelFiles,
    /// User names by uid, from the snapshot's `etc/passwd` (names and uids only).
    pub users: std::collections::BTreeMap<u32, String>,
}

impl Snapshot {
    /// Whether the capture recorded `path` (snapshot-relative) as one it could not take
    /// (meta `missing=`): such a figure is unknown, never 0.
    pub fn capture_missed(&self, path: &str) -> bool {
        self.meta
            .get("missing")
            .is_some_and(|m| m.split_whitespace().any(|p| p == path))
    }

    /// The kernel release, from `proc/version` or the capture's `uname`.
    pub fn kernel_release(&self) -> Option<(u32, u32, u32)> {
        let from_version = self
            .kernel_version
            .as_deref()
            .and_then(crate::parse::kernel::parse_release);
        from_version.or_else(|| {
            self.meta
                .get("uname")
                .and_then(crate::parse::kernel::parse_release)
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ramdisk {
    pub name: String,
    pub size: u64,
}

/// Used bytes of one RAM-backed filesystem, and how we know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsUsage {
    pub mount_point: String,
    pub fs_type: String,
    pub size: u64,
    pub used: u64,
    /// `df` (statfs) or `du` (ramfs, whose statfs says 0).
    pub method: String,
}

#[derive(Debug, Clone)]
pub struct Process {
    pub pid: u32,
    pub name: String,
    pub cmdline: String,
    pub threads: u32,
    /// `VmSize` from status: the kernel's own sum of the mappings, for cross-checks.
    pub vm_size: Option<u64>,
    pub vm_rss: Option<u64>,
    /// `VmHWM` from status: the peak resident size, the most this process has ever held.
    pub vm_hwm: Option<u64>,
    /// Real uid from status `Uid:`; `None` where the capture has no status.
    pub uid: Option<u32>,
    /// Clock ticks since boot when the process started (`stat` field 22): with the pid, it
    /// tells a restarted process from the same one across a series.
    pub start_time: Option<u64>,
    pub mappings: Mappings,
    /// `smaps_rollup` totals, when the capture has them.
    pub rollup: Option<SmapsFields>,
}

impl Process {
    pub fn has_smaps(&self) -> bool {
        self.mappings.iter().any(|m| m.smaps.is_some())
    }
}

/// The reason of a pid a capture's meta lists as `skipped=`: the capture does not say whether it
/// vanished (nothing lost) or could not be read (memory not counted).
pub const SKIPPED_BY_CAPTURE: &str = "skipped by the capture (vanished or unreadable)";

/// A process that was listed but could not be read whole (it exited mid-read, or we may not
/// read it). Recorded, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub pid: u32,
    pub reason: String,
}

/// Something in the input that was odd but not fatal: a skipped line, a missing optional file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
