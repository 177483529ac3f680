//! The dynamic reconciliation: every byte of MemTotal is free, reclaimable cache, in use by a
//! line item, or unattributed (docs/accounting.md, "The dynamic reconciliation").
//!
//! ```text
//! MemTotal = MemFree
//!          + reclaimable file cache   Active(file) + Inactive(file) - Mapped
//!          + mapped file pages        processes' code and data files (min(Mapped, file LRU))
//!          + AnonPages + SwapCached   processes' private memory
//!          + Shmem                    tmpfs files, shared anon, memfd/SysV/ashmem, remainder
//!          + locked file pages        Cached + Buffers - Shmem - file LRU: ramfs, mlocked files
//!          + Slab + KernelStack + PageTables (+ SecPageTables)
//!          + zram (mm_stat mem_used_total) + dma-buf buffers
//!          + unattributed             what no counter above explains
//! ```
//!
//! Every row but the last is a kernel counter or a sum of measured figures, so the remainder is
//! exact for the one moment meminfo was read; the parts of the unattributed row are what the
//! kernel still lets one say about it.

use super::held::{cma_in_use, Held};
use super::shmem::ShmemBreakdown;
use crate::model::Snapshot;
use serde::Serialize;

/// What a row's memory is for the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Free pages.
    Free,
    /// Page cache the kernel can drop or write back without harm.
    Reclaimable,
    /// Memory in use: demand, under the named line item.
    InUse,
}

#[derive(Debug, Clone, Serialize)]
pub struct DynamicRow {
    pub key: String,
    pub label: String,
    pub bytes: u64,
    pub role: Role,
    /// The budget line item that carries this memory (`processes`, `tmpfs`...), if any.
    pub line_item: Option<String>,
    /// Where the figure comes from (meminfo fields, sysfs files).
    pub source: String,
}

/// A named part of the unattributed memory, or a hint about it.
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub label: String,
    pub bytes: u64,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DynamicReconciliation {
    pub mem_total: u64,
    pub rows: Vec<DynamicRow>,
    /// MemTotal minus every row: negative when rows overlap (SwapCached pages still mapped
    /// count in AnonPages too).
    pub unattributed: i64,
    /// Parts of it a kernel counter names exactly (Percpu, hugetlb pool).
    pub counted: Vec<Part>,
    /// Unattributed minus the counted parts: memory no counter explains.
    pub unexplained: i64,
    /// Figures that may explain it but also overlap counted rows, so not subtracted: CMA in
    /// use, VmallocUsed, module sizes.
    pub hints: Vec<Part>,
    /// Above this, the unexplained memory is flagged.
    pub tolerance: u64,
    pub flagged: bool,
    pub notes: Vec<String>,
}

/// Unexplained memory above this share of MemTotal is flagged. What no counter explains on a
/// board whose drivers hold little is page allocations of drivers and early boot: 1.19 % on
/// the Zynq capture, 0.5 to 1.6 % on this project's development machine (6.18, 24 GiB). The
/// real boards whose drivers keep DMA, Wi-Fi, GPU or DSP buffers outside every counter are at
/// 6 to 23 % (docs/accounting.md lists them). 3 % (at least 1 MiB, for the smallest boards)
/// separates the two with room on both sides.
pub fn tolerance(mem_total: u64) -> u64 {
    (mem_total.saturating_mul(3) / 100).max(1 << 20)
}

struct Rows<'a> {
    meminfo: &'a crate::parse::meminfo::Meminfo,
    rows: Vec<DynamicRow>,
}

impl Rows<'_> {
    fn push(
        &mut self,
        key: &str,
        label: &str,
        bytes: u64,
        role: Role,
        item: Option<&str>,
        source: &str,
    ) {
        self.rows.push(DynamicRow {
            key: key.into(),
            label: label.into(),
            bytes,
            role,
            line_item: item.map(str::to_string),
            source: source.into(),
        });
    }

    /// A meminfo field as an in-use row, when the kernel has it.
    fn counter(&mut self, field: &str, label: &str, item: &str) {
        if let Some(bytes) = self.meminfo.get(field) {
            self.push(
                field,
                label,
                bytes,
                Role::InUse,
                Some(item),
                &format!("meminfo {field}"),
            );
        }
    }

    fn held(&mut self, key: &str, label: &str, held: Option<&Held>, notes: &mut Vec<String>) {
        let Some(held) = held else { return };
        match held.total {
            Some(bytes) => {
                let files: Vec<&str> = held.parts.iter().map(|p| p.file.as_str()).collect();
                self.push(key, label, bytes, Role::InUse, Some(key), &files.join(", "));
            }
            None => notes.push(format!(
                "{label}: a device or buffer without its size in the snapshot; unknown, left in unattributed"
            )),
        }
    }
}

/// Cached + Buffers split by what the kernel can do with it. The file LRU (Active(file) +
/// Inactive(file), kernels from 2.6.28) is exactly the evictable page cache: shmem lives on the
/// anon LRU, ramfs and mlocked pages on the unevictable one. Its mapped part is in use by the
/// processes (reclaiming it makes them fault it back); the rest is reclaimable.
fn page_cache_rows(r: &mut Rows, shmem: &ShmemBreakdown, notes: &mut Vec<String>) -> Option<()> {
    let m = r.meminfo;
    let cache = m
        .get("Cached")?
        .saturating_add(m.get("Buffers").unwrap_or(0));
    let mapped = m.get("Mapped").unwrap_or(0);
    let lru = m
        .get("Active(file)")
        .zip(m.get("Inactive(file)"))
        .map(|(a, i)| a.saturating_add(i));
    let (Some(lru), Some(shmem_bytes)) = (lru, shmem.shmem) else {
        notes.push("meminfo has no Active(file)/Inactive(file) or no Shmem (kernel before 2.6.32): Cached + Buffers is not split, and counted as in use".into());
        r.push(
            "page_cache",
            "page cache (Cached + Buffers, not split)",
            cache,
            Role::InUse,
            Some("tmpfs"),
            "meminfo Cached, Buffers",
        );
        return Some(());
    };
    let mapped_file = mapped.min(lru);
    r.push(
        "reclaimable",
        "reclaimable file cache (file LRU - Mapped)",
        lru - mapped_file,
        Role::Reclaimable,
        None,
        "meminfo Active(file), Inactive(file), Mapped",
    );
    r.push(
        "mapped_file",
        "mapped file pages (code, libraries, data files)",
        mapped_file,
        Role::InUse,
        Some("processes"),
        "meminfo Mapped",
    );
    r.push(
        "Shmem",
        "Shmem (tmpfs files, shared anon, memfd/SysV/ashmem, rest)",
        shmem_bytes,
        Role::InUse,
        Some("tmpfs"),
        "meminfo Shmem",
    );
    let locked = cache.saturating_sub(shmem_bytes).saturating_sub(lru);
    r.push(
        "locked_file",
        "unevictable file pages (ramfs, mlocked files)",
        locked,
        Role::InUse,
        Some("tmpfs"),
        "meminfo Cached + Buffers - Shmem - file LRU",
    );
    Some(())
}

/// The reconciliation of a snapshot's meminfo with the line items; `None` without the
/// counters it rests on (MemTotal, MemFree, Cached, AnonPages).
pub fn reconcile(
    snapshot: &Snapshot,
    shmem: &ShmemBreakdown,
    zram: Option<&Held>,
    dmabuf: Option<&Held>,
) -> Option<DynamicReconciliation> {
    let m = &snapshot.meminfo;
    let mem_total = m.get("MemTotal")?;
    m.get("AnonPages")?;
    let mut notes = Vec::new();
    let mut r = Rows {
        meminfo: m,
        rows: Vec::new(),
    };
    r.push(
        "MemFree",
        "free",
        m.get("MemFree")?,
        Role::Free,
        None,
        "meminfo MemFree",
    );
    page_cache_rows(&mut r, shmem, &mut notes)?;
    r.counter(
        "AnonPages",
        "anonymous pages (heap, stacks, private data)",
        "processes",
    );
    r.counter("SwapCached", "swap cache", "processes");
    for field in ["Slab", "KernelStack", "PageTables", "SecPageTables"] {
        r.counter(field, field, "kernel_dynamic");
    }
    r.held("zram", "zram compressed store", zram, &mut notes);
    r.held("dmabuf", "dma-buf buffers", dmabuf, &mut notes);
    let rows = r.rows;
    let attributed = rows
        .iter()
        .fold(0i64, |sum, row| sum.saturating_add(signed(row.bytes)));
    let unattributed = signed(mem_total).saturating_sub(attributed);
    let counted = counted_parts(snapshot);
    let unexplained = counted
        .iter()
        .fold(unattributed, |rest, p| rest.saturating_sub(signed(p.bytes)));
    let tolerance = tolerance(mem_total);
    Some(DynamicReconciliation {
        mem_total,
        rows,
        unattributed,
        counted,
        unexplained,
        hints: hints(snapshot),
        tolerance,
        flagged: unexplained.unsigned_abs() > tolerance,
        notes,
    })
}

/// zoneinfo counts pages; 4 KiB on every board this tool reads (ARM, MIPS, RISC-V, x86
/// embedded configurations).
const PAGE_SIZE: u64 = 4096;

fn signed(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Memory with a counter of its own that no line item carries: free pages on the per-CPU
/// lists (zoneinfo; MemFree leaves them out), per-CPU areas, and the hugetlb pool (reserved
/// whole, in use or not).
fn counted_parts(snapshot: &Snapshot) -> Vec<Part> {
    let m = &snapshot.meminfo;
    let mut parts = Vec::new();
    if let Some(zones) = snapshot.kernel_files.zones.filter(|z| z.pcp_pages > 0) {
        parts.push(Part {
            label: "free pages on per-CPU lists".into(),
            bytes: zones.pcp_pages.saturating_mul(PAGE_SIZE),
            source: "proc/zoneinfo pagesets count".into(),
        });
    }
    if let Some(percpu) = m.get("Percpu") {
        parts.push(Part {
            label: "per-CPU areas".into(),
            bytes: percpu,
            source: "meminfo Percpu".into(),
        });
    }
    let hugetlb = m.get("Hugetlb").or_else(|| {
        // `Hugetlb` came with 4.16; before, the default-size pool is all there is to read.
        Some(
            m.get("HugePages_Total")?
                .saturating_mul(m.get("Hugepagesize")?),
        )
    });
    if let Some(bytes) = hugetlb.filter(|b| *b > 0) {
        parts.push(Part {
            label: "hugetlb pool".into(),
            bytes,
            source: "meminfo Hugetlb or HugePages_Total x Hugepagesize".into(),
        });
    }
    parts
}

/// What may explain the rest but overlaps counted rows, so is shown, not subtracted.
fn hints(snapshot: &Snapshot) -> Vec<Part> {
    let m = &snapshot.meminfo;
    let mut hints = Vec::new();
    if let Some(cma) = cma_in_use(snapshot) {
        hints.push(Part {
            label: "CMA in use (drivers' buffers and movable pages placed in CMA)".into(),
            bytes: cma,
            source: "meminfo CmaTotal - CmaFree".into(),
        });
    }
    if let Some(vmalloc) = m.get("VmallocUsed").filter(|v| *v > 0) {
        hints.push(Part {
            label: "vmalloc (modules, vmap'd stacks counted in KernelStack too)".into(),
            bytes: vmalloc,
            source: "meminfo VmallocUsed".into(),
        });
    }
    if let Some(modules) = &snapshot.kernel_files.modules {
        let bytes = modules.iter().map(|m| m.size).fold(0, u64::saturating_add);
        hints.push(Part {
            label: format!("kernel modules ({}, in vmalloc)", modules.len()),
            bytes,
            source: "proc/modules".into(),
        });
    }
    hints
}
