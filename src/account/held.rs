//! Memory the kernel hands out outside every meminfo counter of pages in use, read from where
//! the kernel exposes it: zram's compressed store (`mm_stat` `mem_used_total`: zsmalloc pages
//! no meminfo field holds) and dma-buf buffers (`/sys/kernel/dmabuf/buffers/*/size`, most of
//! them pages a heap or driver took directly). Each is `None` when the snapshot does not show
//! it at all, and unknown (`total: None`) when a device is known but its figure is missing.

use crate::model::Snapshot;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    /// The sum of the parts; `None` when any part is unknown.
    pub total: Option<u64>,
    /// Per device (zram) or per exporter (dma-buf): name, bytes, the file it comes from.
    pub parts: Vec<HeldPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldPart {
    pub name: String,
    pub bytes: Option<u64>,
    pub file: String,
}

impl Held {
    fn of(parts: Vec<HeldPart>) -> Option<Held> {
        if parts.is_empty() {
            return None;
        }
        let total = parts
            .iter()
            .try_fold(0u64, |sum, p| Some(sum.saturating_add(p.bytes?)));
        Some(Held { total, parts })
    }
}

/// zram devices the snapshot shows (by their sysfs files, or as swap areas in `proc/swaps`).
pub fn zram(snapshot: &Snapshot) -> Option<Held> {
    let files = &snapshot.kernel_files;
    let mut names: Vec<String> = files.zram.keys().cloned().collect();
    for swap in files.swaps.iter().flatten() {
        if let Some(name) = swap.zram_name() {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
    }
    names.sort_unstable();
    Held::of(
        names
            .into_iter()
            .map(|name| HeldPart {
                bytes: files
                    .zram
                    .get(&name)
                    .and_then(|z| z.mm_stat)
                    .map(|m| m.mem_used_total),
                file: format!("sys/block/{name}/mm_stat"),
                name: format!("/dev/{name}"),
            })
            .collect(),
    )
}

/// Exporters whose buffers are shmem pages, already in meminfo Shmem: not added again.
const SHMEM_EXPORTERS: [&str; 1] = ["udmabuf"];

/// dma-buf buffers, summed per exporter (`system`, `cma`, a driver's name). The system heap's
/// pages are in no meminfo counter, the CMA heap's only in CmaTotal - CmaFree (which no row
/// adds); udmabuf's are shmem and left out.
pub fn dmabuf(snapshot: &Snapshot) -> Option<Held> {
    let mut by_exporter: BTreeMap<String, Option<u64>> = BTreeMap::new();
    for buffer in snapshot.kernel_files.dmabuf.values() {
        let exporter = buffer.exporter.clone().unwrap_or_else(|| "unnamed".into());
        if SHMEM_EXPORTERS.contains(&exporter.as_str()) {
            continue;
        }
        let sum = by_exporter.entry(exporter).or_insert(Some(0));
        *sum = sum.zip(buffer.size).map(|(a, b)| a.saturating_add(b));
    }
    Held::of(
        by_exporter
            .into_iter()
            .map(|(name, bytes)| HeldPart {
                name,
                bytes,
                file: "sys/kernel/dmabuf/buffers/*/size".into(),
            })
            .collect(),
    )
}

/// CMA pages allocated (`CmaTotal - CmaFree`): driver buffers taken with `cma_alloc` and
/// movable pages (anonymous, page cache) the allocator placed there. Only an upper bound of
/// what drivers hold, so it explains unattributed memory rather than being added to it.
pub fn cma_in_use(snapshot: &Snapshot) -> Option<u64> {
    let total = snapshot.meminfo.get("CmaTotal").filter(|t| *t > 0)?;
    Some(total.saturating_sub(snapshot.meminfo.get("CmaFree")?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DmaBuf, Zram};
    use crate::parse::swap::{parse_mm_stat, parse_swaps};

    #[test]
    fn zram_by_device_and_unknown_without_mm_stat() {
        let mut s = Snapshot::default();
        assert_eq!(zram(&s), None);
        s.kernel_files.zram.insert(
            "zram0".into(),
            Zram {
                disksize: Some(1 << 26),
                mm_stat: Some(parse_mm_stat(b"8192000 40000 49152 0 49152 3 0").unwrap()),
            },
        );
        assert_eq!(zram(&s).unwrap().total, Some(49152));
        s.kernel_files.swaps = Some(
            parse_swaps(b"Filename Type Size Used Priority\n/dev/zram1 partition 100 0 5\n").0,
        );
        let held = zram(&s).unwrap();
        assert_eq!(held.total, None);
        assert_eq!(held.parts[1].name, "/dev/zram1");
    }

    #[test]
    fn dmabuf_per_exporter() {
        let mut s = Snapshot::default();
        for (inode, exporter, size) in [
            ("1", "system", 4096),
            ("2", "system", 8192),
            ("3", "cma", 1 << 20),
            ("4", "udmabuf", 1 << 30),
        ] {
            s.kernel_files.dmabuf.insert(
                inode.into(),
                DmaBuf {
                    size: Some(size),
                    exporter: Some(exporter.into()),
                },
            );
        }
        let held = dmabuf(&s).unwrap();
        assert_eq!(held.total, Some(12288 + (1 << 20)));
        assert_eq!(held.parts[1].name, "system");
        assert_eq!(held.parts[1].bytes, Some(12288));
    }
}
