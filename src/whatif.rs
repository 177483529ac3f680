//! What-if: the kernel side of a capture projected to another RAM size (issue 16). The
//! kernel keeps a fixed part (its image, early reservations) and a part it sizes from the
//! page count (the memory map of `struct page`, the dentry and inode hash tables); the
//! watermark reserve follows the kernel's square-root rule. User space is carried over
//! unchanged. The model and its measured error are in docs/accounting.md.

use crate::budget::{evaluate, kib, Budget, LineItem, Provenance, Verdict};
use crate::error::{Error, Result};
use crate::model::Snapshot;
use crate::parse::kernel::HashTable;
use crate::profile::{Profile, Size};
use crate::size::human;
use serde::Serialize;

/// The page size the model assumes where the snapshot does not show one: every ARM, MIPS
/// and x86 configuration the project has met uses 4 KiB pages.
const DEFAULT_PAGE: u64 = 4096;

/// What the projection needs to know about the machine, and how it was learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arch {
    /// Bytes of a kernel pointer: 4 on 32-bit kernels, 8 on 64-bit ones.
    pub word: u64,
    /// Where the word size comes from (for the report's note).
    pub source: String,
    /// The linear map is mapped page by page, one 8 B page-table entry per page: arm64
    /// with `rodata=full`, its default since Linux 5.3 (CONFIG_RODATA_FULL_DEFAULT_ENABLED);
    /// `rodata=on` or `off` on the command line maps it in blocks instead.
    pub linear_map_ptes: bool,
    /// The memory map is allocated for whole SPARSEMEM sections: RAM ending inside one gets
    /// `struct page`s for all of it. arm64 sections are 128 MiB since Linux 5.12
    /// (SECTION_SIZE_BITS 27); other kernels are taken page-exact (not measured).
    pub section: Option<u64>,
}

impl Arch {
    /// `sizeof(struct page)`: 32 B on 32-bit ARM (and most 32-bit configurations), 64 B on
    /// 64-bit kernels.
    pub fn struct_page(&self) -> u64 {
        self.word * 8
    }

    pub fn bits(&self) -> u64 {
        self.word * 8
    }
}

/// The word size of a `uname -m` machine name; `None` for a name not known here.
fn word_of_machine(machine: &str) -> Option<u64> {
    let m = machine.to_ascii_lowercase();
    if [
        "aarch64", "arm64", "x86_64", "amd64", "riscv64", "mips64", "ppc64",
    ]
    .iter()
    .any(|p| m.starts_with(p))
    {
        Some(8)
    } else if m.starts_with("arm")
        || m.starts_with("mips")
        || ["i386", "i486", "i586", "i686", "riscv32", "ppc"].contains(&m.as_str())
    {
        Some(4)
    } else {
        None
    }
}

/// The kernel's word size: the machine field of the capture's `uname` (last word of meta
/// `uname=`, written by both captures), else the user mappings: a mapping at or above 4 GiB
/// proves a 64-bit kernel; user space wholly below 4 GiB is taken as a 32-bit kernel (a
/// 64-bit kernel running only 32-bit programs would be mistaken, and the note says so).
pub fn arch(snapshot: &Snapshot) -> Option<Arch> {
    if let Some(machine) = snapshot
        .meta
        .get("uname")
        .and_then(|u| u.split_whitespace().last())
    {
        if let Some(word) = word_of_machine(machine) {
            let arm64 = machine == "aarch64" || machine == "arm64";
            let block_mapped = snapshot.kernel_cmdline.as_ref().is_some_and(|c| {
                c.raw
                    .split_whitespace()
                    .any(|a| a == "rodata=on" || a == "rodata=off")
            });
            return Some(Arch {
                word,
                source: format!("meta uname machine {machine}"),
                linear_map_ptes: arm64 && !block_mapped,
                section: (arm64 && snapshot.kernel_release() >= Some((5, 12, 0)))
                    .then_some(128 << 20),
            });
        }
    }
    let mut any = false;
    for p in &snapshot.processes {
        for m in p.mappings.iter() {
            any = true;
            if m.map.end > 1 << 32 {
                return Some(Arch {
                    word: 8,
                    source: "a user mapping above 4 GiB (64-bit kernel)".into(),
                    linear_map_ptes: false,
                    section: None,
                });
            }
        }
    }
    any.then(|| Arch {
        word: 4,
        source: "no uname in the capture; every user mapping below 4 GiB, taken as a 32-bit kernel (a 64-bit kernel with only 32-bit programs would have 64 B struct pages)".into(),
        linear_map_ptes: false,
        section: None,
    })
}

/// Largest integer whose square is at most `n` (the kernel's `int_sqrt`).
pub fn int_sqrt(n: u64) -> u64 {
    let mut r = (n as f64).sqrt() as u64;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

/// The kernel's default `min_free_kbytes` for `lowmem_kb` kB of low memory
/// (mm/page_alloc.c `init_per_zone_wmark_min`): `int_sqrt(lowmem_kbytes * 16)`, at least 128,
/// at most 65536 before Linux 5.7 and 262144 since (commit ee8eb9a5fe86, "mm/page_alloc:
/// increase default min_free_kbytes bound"). An unknown release gets the older clamp, which
/// only matters above 16 GiB of low memory.
pub fn min_free_rule(lowmem_kb: u64, release: Option<(u32, u32, u32)>) -> u64 {
    let ceiling = match release {
        Some((major, minor, _)) if (major, minor) >= (5, 7) => 262_144,
        _ => 65_536,
    };
    int_sqrt(lowmem_kb.saturating_mul(16)).clamp(128, ceiling)
}

/// The reserve transparent hugepages ask for (mm/khugepaged.c
/// `set_recommended_min_free_kbytes`): per populated zone 2 + 3 x 3 pageblocks of 2 MiB (4 KiB
/// pages, pageblock order 9), at most 5 % of RAM. khugepaged does not start below 512 MiB of
/// RAM (mm/huge_memory.c `hugepage_init`), and then the kernel's rule stands alone. One zone
/// is assumed (every board of the project has its RAM in one).
pub fn thp_min_free(total_kb: u64) -> Option<u64> {
    (total_kb >= 512 * 1024).then(|| (2048 * 11).min(total_kb / 20))
}

/// The kernel's default reserve: the square-root rule, raised to the transparent hugepage
/// reserve where the kernel has them (`thp`: meminfo shows `AnonHugePages`).
pub fn default_min_free(lowmem_kb: u64, release: Option<(u32, u32, u32)>, thp: bool) -> u64 {
    let rule = min_free_rule(lowmem_kb, release);
    match thp_min_free(lowmem_kb).filter(|_| thp) {
        Some(raised) => rule.max(raised),
        None => rule,
    }
}

/// Whether a captured `min_free_kbytes` is the rule's value for the captured low memory:
/// the kernel computed it before init sections and the initrd were freed, a few hundred kB
/// less than MemTotal, which moves the square root by well under 1 %; 2 % allows for that.
pub fn is_default_min_free(captured_kb: u64, rule_kb: u64) -> bool {
    captured_kb.abs_diff(rule_kb) * 50 <= rule_kb
}

/// Entries of a hash table the kernel sizes from low memory (mm/page_alloc.c
/// `alloc_large_system_hash`): the kernel's pages rounded up to a whole MiB, one bucket per
/// 2^`scale` bytes, rounded up to a power of two.
pub fn hash_entries(kernel_pages: u64, scale: u32, page: u64) -> u64 {
    let per_mib = (1 << 20) / page;
    let pages = kernel_pages.div_ceil(per_mib) * per_mib;
    let shift = page.trailing_zeros();
    let n = if scale > shift {
        pages >> (scale - shift)
    } else {
        pages << (shift - scale)
    };
    n.max(1).next_power_of_two()
}

/// The two early hash tables: dentry cache (one bucket per 8 KiB, `dhash_entries` scale 13)
/// and inode cache (per 16 KiB, scale 14), each bucket one pointer. They come from memblock
/// before the page allocator exists, so they are kernel static.
const EARLY_TABLES: [(&str, u32); 2] = [("Dentry cache", 13), ("Inode-cache", 14)];

/// One piece of kernel static, captured and projected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub key: &'static str,
    pub label: String,
    pub captured: u64,
    pub projected: u64,
    pub method: String,
}

/// The kernel side of the capture at another RAM size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// RAM the kernel saw on the captured board, and on the projected one.
    pub seen: u64,
    pub seen_projected: u64,
    pub mem_total: u64,
    pub mem_total_projected: u64,
    pub kernel_static: u64,
    pub kernel_static_projected: u64,
    /// Memory map, hash tables, and the rest kept (image, other reservations).
    pub pieces: Vec<Piece>,
    pub arch: Arch,
    pub page: u64,
}

/// Memory map and hash tables on the captured board, and at `seen_projected`; the rest of
/// kernel static (`kernel_static` less those) is kept as it is.
pub fn project(
    seen: u64,
    mem_total: u64,
    seen_projected: u64,
    arch: Arch,
    page: Option<u64>,
    logged: &[HashTable],
) -> Option<Projection> {
    let page = page.unwrap_or(DEFAULT_PAGE);
    let kernel_static = seen.checked_sub(mem_total)?;
    let section = arch.section.unwrap_or(page);
    let memmap = |bytes: u64| (bytes.div_ceil(section) * section / page) * arch.struct_page();
    let sections = arch.section.map_or(String::new(), |s| {
        format!(", whole {} MiB sections", s >> 20)
    });
    let memmap_piece = Piece {
        key: "memmap",
        label: format!(
            "memory map (struct page, {} B per page)",
            arch.struct_page()
        ),
        captured: memmap(seen),
        projected: memmap(seen_projected),
        method: format!(
            "pages x {} B{sections} ({}-bit, {})",
            arch.struct_page(),
            arch.bits(),
            arch.source
        ),
    };
    let mut pieces = vec![memmap_piece];
    if arch.linear_map_ptes {
        let ptes = |bytes: u64| (bytes / page) * 8;
        pieces.push(Piece {
            key: "linear_map",
            label: "linear map page tables (8 B per page)".into(),
            captured: ptes(seen),
            projected: ptes(seen_projected),
            method: "pages x 8 B: arm64 maps its linear map page by page under rodata=full, the default since Linux 5.3".into(),
        });
    }
    for (name, scale) in EARLY_TABLES {
        pieces.push(table_piece(
            name,
            scale,
            &arch,
            page,
            (seen, seen_projected),
            logged,
        ));
    }
    let scaled: u64 = pieces.iter().map(|p| p.captured).sum();
    let kept = kernel_static.checked_sub(scaled)?;
    pieces.push(Piece {
        key: "kept",
        label: "kernel image and other reservations (kept)".into(),
        captured: kept,
        projected: kept,
        method: "kernel static less the pieces above, unchanged with RAM".into(),
    });
    let kernel_static_projected = pieces.iter().map(|p| p.projected).sum::<u64>();
    Some(Projection {
        seen,
        seen_projected,
        mem_total,
        mem_total_projected: seen_projected.checked_sub(kernel_static_projected)?,
        kernel_static,
        kernel_static_projected,
        pieces,
        arch,
        page,
    })
}

/// One early hash table: the size the boot log gives (else the kernel's rule for the captured
/// pages), scaled by the rule's power-of-two step to the projected pages.
fn table_piece(
    name: &'static str,
    scale: u32,
    arch: &Arch,
    page: u64,
    (seen, seen_projected): (u64, u64),
    logged: &[HashTable],
) -> Piece {
    let pages = |bytes: u64| {
        let all = bytes / page;
        all - (all * arch.struct_page()).div_ceil(page)
    };
    let rule = |bytes: u64| hash_entries(pages(bytes), scale, page);
    let (entries, captured, from) = match logged.iter().find(|t| t.name == name) {
        Some(t) => (t.entries, t.bytes, "boot log"),
        None => (rule(seen), rule(seen) * arch.word, "kernel's rule"),
    };
    let projected_entries = entries * rule(seen_projected) / rule(seen).max(1);
    Piece {
        key: if scale == 13 { "dentry_hash" } else { "inode_hash" },
        label: format!("{name} hash table"),
        captured,
        projected: captured / entries.max(1) * projected_entries,
        method: format!(
            "{entries} entries ({from}) -> {projected_entries}: one per {} KiB of low memory, power of two",
            1u64 << (scale - 10)
        ),
    }
}

/// The captured page size: MemTotal over zoneinfo's managed pages, when that is a power of
/// two of at least 4 KiB.
pub fn page_size(snapshot: &Snapshot, mem_total: u64) -> Option<u64> {
    let zones = snapshot.kernel_files.zones.as_ref()?;
    let page = mem_total.checked_div(zones.managed_pages)?;
    (page.is_power_of_two() && page >= 4096 && page * zones.managed_pages == mem_total)
        .then_some(page)
}

/// The `what_if` object of the JSON report: the projected board beside the captured one, in
/// bytes. `min_free` is `None` when the capture lacks it (unknown, never 0).
#[derive(Debug, Clone, Serialize)]
pub struct WhatIf {
    pub ram: u64,
    pub mem_total: u64,
    pub min_free: Option<u64>,
    pub kernel_static: u64,
    pub captured_ram: u64,
    pub captured_mem_total: u64,
    pub captured_min_free: Option<u64>,
    pub captured_kernel_static: u64,
    /// What every format says about it: a model, not a measurement.
    pub statement: String,
}

/// A what-if run: the figures, and the projected line items that replace the measured ones.
pub struct Plan {
    pub summary: WhatIf,
    projection: Projection,
    min_free_note: String,
    seen_from: &'static str,
}

/// The inputs a plan is built from: the captured board as the budget sees it.
pub struct Captured {
    pub ram: u64,
    pub seen: u64,
    pub seen_from: &'static str,
    pub mem_total: u64,
    pub carveouts: u64,
    pub min_free: Option<u64>,
    /// Memory the boot log says was freed after the `Memory:` line (initrd, init sections).
    pub freed_after_boot: u64,
}

/// The projected `min_free_kbytes` in bytes and how: the kernel's rule at the projected
/// MemTotal when the captured value is the rule's, else the captured value (set by hand, or
/// raised by transparent hugepages), else unknown. The kernel applies the rule at a core
/// initcall, before the initrd and the init sections are freed: its low memory is MemTotal
/// less those (`freed`, from the boot log).
fn project_min_free(
    captured: Option<u64>,
    (mem_total, mem_total_projected): (u64, u64),
    freed: u64,
    (release, thp): (Option<(u32, u32, u32)>, bool),
) -> (Option<u64>, String) {
    let lowmem = |total: u64| total.saturating_sub(freed) / 1024;
    let rule_now = default_min_free(lowmem(mem_total), release, thp);
    let Some(bytes) = captured else {
        return (
            None,
            format!("not in the snapshot: unknown (the kernel's rule would give {rule_now} kB for the captured MemTotal, but a hand-set value cannot be ruled out)"),
        );
    };
    let kb = bytes / 1024;
    if is_default_min_free(kb, rule_now) {
        let projected = default_min_free(lowmem(mem_total_projected), release, thp);
        let thp = if thp {
            ", raised to the transparent hugepage reserve (22528 kB, at most 5 % of RAM) from 512 MiB of RAM"
        } else {
            ""
        };
        (
            Some(projected * 1024),
            format!("kernel's rule int_sqrt(lowmem kB x 16), clamped{thp}; lowmem = MemTotal - {} kB freed after it ran: captured {kb} kB is the rule's {rule_now} kB, so {projected} kB at the projected MemTotal", freed / 1024),
        )
    } else {
        (
            Some(bytes),
            format!("captured {kb} kB differs from the rule's {rule_now} kB (set by hand, or raised by transparent hugepages): carried over unchanged"),
        )
    }
}

/// Builds the projection to `ram` bytes, or says why the capture cannot carry one (exit 2).
pub fn plan(snapshot: &Snapshot, ram: u64, captured: &Captured, source: &str) -> Result<Plan> {
    let refuse = |why: String| {
        Error::in_file(
            snapshot.origin.clone(),
            format!("what-if to {}: {why}", human(ram)),
        )
    };
    if snapshot.meminfo.get("HighTotal").unwrap_or(0) > 0 {
        return Err(refuse("the captured board has high memory (HighTotal), whose split the projection does not model".into()));
    }
    let seen_projected = ram.checked_sub(captured.carveouts).ok_or_else(|| {
        refuse(format!(
            "the carve-outs declared in {source} take more than that"
        ))
    })?;
    let arch = arch(snapshot).ok_or_else(|| {
        refuse(
            "the capture says nothing of the architecture (no uname in meta, no process mappings)"
                .into(),
        )
    })?;
    let projection = project(
        captured.seen,
        captured.mem_total,
        seen_projected,
        arch,
        page_size(snapshot, captured.mem_total),
        snapshot
            .boot_memory
            .as_ref()
            .map_or(&[], |b| &b.hash_tables[..]),
    )
    .ok_or_else(|| refuse("the kernel's own share would not fit in it".into()))?;
    let (min_free, min_free_note) = project_min_free(
        captured.min_free,
        (captured.mem_total, projection.mem_total_projected),
        captured.freed_after_boot,
        (
            snapshot.kernel_release(),
            snapshot.meminfo.get("AnonHugePages").is_some(),
        ),
    );
    let statement = format!(
        "WHAT-IF: projected from the captured {} board to {} RAM. Kernel static, MemTotal and min_free are a model's (docs/accounting.md), user space is the capture's, unchanged: a projection, not a measurement",
        human(captured.ram),
        human(ram)
    );
    Ok(Plan {
        summary: WhatIf {
            ram,
            mem_total: projection.mem_total_projected,
            min_free,
            kernel_static: projection.kernel_static_projected,
            captured_ram: captured.ram,
            captured_mem_total: captured.mem_total,
            captured_min_free: captured.min_free,
            captured_kernel_static: projection.kernel_static,
            statement,
        },
        projection,
        min_free_note,
        seen_from: captured.seen_from,
    })
}

impl Plan {
    /// The kernel static line at the projected size, one part per piece of the model.
    pub fn kernel_static_item(&self, profile_source: &str) -> LineItem {
        let p = &self.projection;
        let parts = p
            .pieces
            .iter()
            .map(|piece| {
                LineItem::new(
                    piece.key,
                    &format!("{} (captured {})", piece.label, kib(piece.captured)),
                    Some(piece.projected),
                    Provenance::Projected,
                    &[self.seen_from],
                )
                .with_note(piece.method.clone())
            })
            .collect();
        let methods: Vec<String> = p
            .pieces
            .iter()
            .map(|x| format!("{}: {}", x.label, x.method))
            .collect();
        LineItem::new(
            "kernel_static",
            "kernel static (projected: RAM - carve-outs - projected MemTotal)",
            Some(p.kernel_static_projected),
            Provenance::Projected,
            &["proc/meminfo", self.seen_from, profile_source],
        )
        .with_note(format!(
            "projected: the kernel saw {} and kept {} (MemTotal {}); at {} it keeps {} (MemTotal {}). {}",
            kib(p.seen),
            kib(p.kernel_static),
            kib(p.mem_total),
            kib(p.seen_projected),
            kib(p.kernel_static_projected),
            kib(p.mem_total_projected),
            methods.join("; ")
        ))
        .with_parts(parts)
    }

    /// The watermark reserve at the projected size.
    pub fn min_free_item(&self) -> LineItem {
        LineItem::new(
            "min_free",
            "min_free_kbytes (watermark reserve, projected)",
            self.summary.min_free,
            Provenance::Projected,
            &["proc/sys/vm/min_free_kbytes", "proc/meminfo"],
        )
        .with_note(format!("projected: {}", self.min_free_note))
    }
}

/// One row of the variants table: a board variant's budget, projected from the capture.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRow {
    pub name: String,
    pub ram: u64,
    pub carveouts: u64,
    /// Projected (or, at the captured size, measured) MemTotal.
    pub mem_total: Option<u64>,
    pub demand: u64,
    pub demand_incomplete: bool,
    pub headroom: i64,
    pub min_headroom: u64,
    /// The variant's own verdict under the profile's rules.
    pub verdict: Verdict,
}

/// The budget of every `[[variant]]` of the profile: the whole evaluation again with the
/// variant's RAM as the what-if RAM and its carve-outs. A variant the capture cannot be
/// projected to is an error naming it (exit 2), never a row that reads as a fit.
pub fn variant_rows(snapshot: &Snapshot, profile: &Profile) -> Result<Vec<VariantRow>> {
    profile
        .variants
        .iter()
        .map(|v| {
            let mut p = profile.clone();
            p.variants.clear();
            p.what_if_ram = Some(Size(v.ram.0));
            if let Some(c) = &v.carveouts {
                p.carveouts = c.clone();
            }
            let b = evaluate(snapshot, &p).map_err(|e| {
                Error::in_file(profile.source.clone(), format!("variant {}: {e}", v.name))
            })?;
            Ok(variant_row(&v.name, &b))
        })
        .collect()
}

fn variant_row(name: &str, b: &Budget) -> VariantRow {
    VariantRow {
        name: name.to_string(),
        ram: b.ram,
        carveouts: b.item("carveouts").and_then(|i| i.bytes).unwrap_or(0),
        mem_total: b
            .what_if
            .as_ref()
            .map(|w| w.mem_total)
            .or_else(|| b.dynamic.as_ref().map(|d| d.mem_total)),
        demand: b.demand,
        demand_incomplete: b.demand_incomplete,
        headroom: b.headroom,
        min_headroom: b.min_headroom,
        verdict: b.verdict,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_free_rule_matches_known_kernel_values() {
        // 256 MiB of low memory: sqrt(262144 * 16) = 2048 kB.
        assert_eq!(min_free_rule(262_144, Some((4, 4, 0))), 2048);
        // 1 GiB: sqrt(1048576 * 16) = 4096 kB.
        assert_eq!(min_free_rule(1_048_576, Some((6, 1, 0))), 4096);
        // The Zynq's MemTotal 252308 kB: sqrt(4036928) = 2009.2 -> 2009.
        assert_eq!(min_free_rule(252_308, Some((4, 4, 0))), 2009);
        // 64 GiB: sqrt(67108864 * 16) = 32768, under both ceilings.
        assert_eq!(min_free_rule(67_108_864, None), 32768);
        // 1 TiB: 131072, clamped at 65536 before 5.7, kept since.
        assert_eq!(min_free_rule(1 << 30, Some((5, 6, 0))), 65_536);
        assert_eq!(min_free_rule(1 << 30, Some((5, 7, 0))), 131_072);
        // 512 kB: sqrt(8192) = 90, raised to 128.
        assert_eq!(min_free_rule(512, None), 128);
    }

    #[test]
    fn transparent_hugepages_raise_the_reserve_from_512_mib() {
        // Debian arm64 6.1 under qemu: 1 GiB board, 22528 kB; a 512 MiB board (MemTotal
        // below 512 MiB) keeps the rule's 2768 kB.
        assert_eq!(default_min_free(1_000_964 - 7488, None, true), 22_528);
        assert_eq!(default_min_free(486_660 - 7488, None, true), 2768);
        // 5 % of RAM caps it: 512 MiB gives 26214 kB > 22528, so 22528.
        assert_eq!(thp_min_free(524_288), Some(22_528));
        assert_eq!(thp_min_free(524_287), None);
        assert_eq!(default_min_free(1_000_964, None, false), 4001);
    }

    #[test]
    fn int_sqrt_floors() {
        assert_eq!(int_sqrt(0), 0);
        assert_eq!(int_sqrt(15), 3);
        assert_eq!(int_sqrt(16), 4);
        assert_eq!(int_sqrt(u32::MAX as u64), 65535);
    }

    #[test]
    fn default_min_free_allows_rounding_only() {
        assert!(is_default_min_free(2009, 2009));
        assert!(is_default_min_free(1990, 2009));
        // A hand-set 4096 on a 256 MiB board is no default.
        assert!(!is_default_min_free(4096, 2009));
    }

    #[test]
    fn hash_tables_follow_debian_boot_logs() {
        // 256 MiB armhf (qemu virt, Debian 6.1): 65536 pages less 512 of memmap =
        // 65024 -> rounded to 65024 (a whole MiB) -> >> 1 = 32512 -> 32768 dentry entries,
        // >> 2 = 16256 -> 16384 inode entries.
        assert_eq!(hash_entries(65_024, 13, 4096), 32_768);
        assert_eq!(hash_entries(65_024, 14, 4096), 16_384);
        // 128 MiB: half.
        assert_eq!(hash_entries(32_512, 13, 4096), 16_384);
    }

    fn arm32() -> Arch {
        Arch {
            word: 4,
            source: "test".into(),
            linear_map_ptes: false,
            section: None,
        }
    }

    #[test]
    fn projection_to_half_the_ram() {
        // 256 MiB seen, MemTotal 252308 kB (the Zynq): kernel static 262144 - 252308 = 9836 kB.
        let p = project(256 << 20, 252_308 << 10, 128 << 20, arm32(), None, &[]).unwrap();
        assert_eq!(p.kernel_static, 9836 << 10);
        // memmap 65536 x 32 = 2048 kB -> 1024 kB; dentry 32768 x 4 = 128 kB -> 64 kB;
        // inode 16384 x 4 = 64 kB -> 32 kB; kept 9836 - 2240 = 7596 kB.
        let projected: Vec<u64> = p.pieces.iter().map(|x| x.projected >> 10).collect();
        assert_eq!(projected, vec![1024, 64, 32, 7596]);
        assert_eq!(p.kernel_static_projected, 8716 << 10);
        assert_eq!(p.mem_total_projected, (131_072 - 8716) << 10);
    }

    #[test]
    fn logged_tables_are_scaled_from_their_logged_size() {
        let logged = [HashTable {
            name: "Dentry cache".into(),
            entries: 65_536,
            bytes: 262_144,
        }];
        let p = project(256 << 20, 250 << 20, 512 << 20, arm32(), None, &logged).unwrap();
        let dentry = &p.pieces[1];
        assert_eq!((dentry.captured, dentry.projected), (262_144, 524_288));
    }
}
