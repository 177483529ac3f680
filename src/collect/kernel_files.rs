//! The kernel-wide files of COMMON contract 3 (vmstat, SysV shm, swaps, PSI, zoneinfo, modules,
//! zram, dma-buf): which snapshot path is which, and how each lands in the model's
//! [`KernelFiles`]. Kept apart from the builder so that the builder only routes them.

use crate::model::KernelFiles;
use crate::parse::maps::LineIssue;
use crate::parse::modules::parse_modules;
use crate::parse::swap::{parse_mm_stat, parse_number, parse_swaps};
use crate::parse::sysvipc::parse_sysvipc_shm;
use crate::parse::vm::{parse_pressure, parse_vmstat, parse_zoneinfo};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KernelFile {
    Vmstat,
    SysvShm,
    Swaps,
    Pressure,
    Zoneinfo,
    Modules,
    ZramDisksize(String),
    ZramMmStat(String),
    DmaBufSize(String),
    DmaBufExporter(String),
}

impl KernelFile {
    /// The file a snapshot-relative path (split at `/`) holds, if it is one of these.
    /// `proc/sysvipc_shm` is the name older captures (the real Zynq and ZTE fixtures) used.
    pub fn of(parts: &[&str]) -> Option<KernelFile> {
        Some(match parts {
            ["proc", "vmstat"] => KernelFile::Vmstat,
            ["proc", "sysvipc", "shm"] | ["proc", "sysvipc_shm"] => KernelFile::SysvShm,
            ["proc", "swaps"] => KernelFile::Swaps,
            ["proc", "pressure", "memory"] => KernelFile::Pressure,
            ["proc", "zoneinfo"] => KernelFile::Zoneinfo,
            ["proc", "modules"] => KernelFile::Modules,
            ["sys", "block", name, file] if is_zram(name) => match *file {
                "disksize" => KernelFile::ZramDisksize(name.to_string()),
                "mm_stat" => KernelFile::ZramMmStat(name.to_string()),
                _ => return None,
            },
            ["sys", "kernel", "dmabuf", "buffers", inode, file] => match *file {
                "size" => KernelFile::DmaBufSize(inode.to_string()),
                "exporter_name" => KernelFile::DmaBufExporter(inode.to_string()),
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Parses `bytes` into `into`; what it could not read comes back as line issues (a
    /// one-value file that is not a number is an issue of line 1).
    pub fn take(&self, bytes: &[u8], into: &mut KernelFiles) -> Vec<LineIssue> {
        let one_value = |result: Result<(), String>| match result {
            Ok(()) => Vec::new(),
            Err(message) => vec![LineIssue { line: 1, message }],
        };
        match self {
            KernelFile::Vmstat => {
                let (counters, issues) = parse_vmstat(bytes);
                into.vmstat = Some(counters);
                issues
            }
            KernelFile::SysvShm => {
                let (segments, issues) = parse_sysvipc_shm(bytes);
                into.sysv_shm = Some(segments);
                issues
            }
            KernelFile::Swaps => {
                let (devices, issues) = parse_swaps(bytes);
                into.swaps = Some(devices);
                issues
            }
            KernelFile::Pressure => {
                let (pressure, issues) = parse_pressure(bytes);
                into.pressure = Some(pressure);
                issues
            }
            KernelFile::Zoneinfo => {
                into.zones = Some(parse_zoneinfo(bytes));
                Vec::new()
            }
            KernelFile::Modules => {
                let (modules, issues) = parse_modules(bytes);
                into.modules = Some(modules);
                issues
            }
            KernelFile::ZramDisksize(name) => one_value(parse_number(bytes).map(|size| {
                into.zram.entry(name.clone()).or_default().disksize = Some(size);
            })),
            KernelFile::ZramMmStat(name) => one_value(parse_mm_stat(bytes).map(|stat| {
                into.zram.entry(name.clone()).or_default().mm_stat = Some(stat);
            })),
            KernelFile::DmaBufSize(inode) => one_value(parse_number(bytes).map(|size| {
                into.dmabuf.entry(inode.clone()).or_default().size = Some(size);
            })),
            KernelFile::DmaBufExporter(inode) => {
                let name = String::from_utf8_lossy(bytes).trim().to_string();
                into.dmabuf.entry(inode.clone()).or_default().exporter = Some(name);
                Vec::new()
            }
        }
    }
}

/// `zram0`, `zram12`: not `zram-control` or a partition.
pub fn is_zram(name: &str) -> bool {
    name.strip_prefix("zram")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            KernelFile::of(&["proc", "sysvipc_shm"]),
            Some(KernelFile::SysvShm)
        );
        assert_eq!(
            KernelFile::of(&["sys", "block", "zram0", "mm_stat"]),
            Some(KernelFile::ZramMmStat("zram0".into()))
        );
        assert_eq!(KernelFile::of(&["sys", "block", "zram-x", "mm_stat"]), None);
        assert_eq!(
            KernelFile::of(&["sys", "kernel", "dmabuf", "buffers", "77", "size"]),
            Some(KernelFile::DmaBufSize("77".into()))
        );
    }

    #[test]
    fn a_bad_number_is_an_issue_and_stays_unknown() {
        let mut files = KernelFiles::default();
        let issues = KernelFile::ZramMmStat("zram0".into()).take(b"x y", &mut files);
        assert_eq!(issues.len(), 1);
        assert_eq!(files.zram.get("zram0"), None);
        let issues = KernelFile::DmaBufSize("9".into()).take(b"4096\n", &mut files);
        assert!(issues.is_empty());
        assert_eq!(files.dmabuf["9"].size, Some(4096));
    }
}
