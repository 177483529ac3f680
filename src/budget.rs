//! The budget engine: physical RAM on one side, every line item of demand on the other
//! (DESIGN.md's equation), each with its value, where it came from, and the files behind it;
//! then the findings for every rule of the profile.

use crate::account::classify::Class;
use crate::account::dynamic::{self, DynamicReconciliation};
use crate::account::held::{self, Held};
use crate::account::shmem::{self, ShmemBreakdown};
use crate::account::{account, Accounting, Measure};
use crate::error::{Error, Result};
use crate::model::{Skipped, Snapshot, Warning};
use crate::parse::kernel::BootMemory;
use crate::profile::{LimitOf, Profile, Ram, Size};
use crate::size::human;
use serde::Serialize;
use std::collections::BTreeMap;

/// How a figure is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Read from the board (a kernel counter, a maps total).
    Measured,
    /// Computed from measured figures (RAM minus MemTotal...).
    Derived,
    /// Stated in the profile.
    Declared,
}

#[derive(Debug, Clone, Serialize)]
pub struct LineItem {
    pub key: String,
    pub label: String,
    pub bytes: u64,
    pub provenance: Provenance,
    /// The snapshot files (or profile) this figure comes from.
    pub files: Vec<String>,
    pub note: Option<String>,
    pub parts: Vec<LineItem>,
}

impl LineItem {
    fn new(key: &str, label: &str, bytes: u64, provenance: Provenance, files: &[&str]) -> Self {
        LineItem {
            key: key.into(),
            label: label.into(),
            bytes,
            provenance,
            files: files.iter().map(|f| f.to_string()).collect(),
            note: None,
            parts: Vec::new(),
        }
    }

    fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    fn with_parts(mut self, parts: Vec<LineItem>) -> Self {
        self.parts = parts;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Worth a look, but not a failed promise (a limit that matched no process).
    Warn,
}

/// The outcome of one rule. Each becomes a JUnit test case, a table row, a JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `ram_fit`, `headroom`, `process_limit`, `class_limit`, `expect`, `reconciliation`.
    pub rule: String,
    pub subject: String,
    pub status: Status,
    pub actual: Option<i64>,
    pub limit: Option<i64>,
    pub message: String,
}

/// RAM → carve-outs → boot line → MemTotal: where each kilobyte the kernel did not hand to
/// the page allocator went, and how far the sum is from MemTotal.
#[derive(Debug, Clone, Serialize)]
pub struct Reconciliation {
    pub rows: Vec<(String, i64)>,
    pub expected_mem_total: u64,
    pub mem_total: u64,
    pub gap: i64,
    pub flagged: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    pub profile: String,
    pub profile_source: String,
    pub origin: String,
    pub meta: BTreeMap<String, String>,
    pub ram: u64,
    pub ram_provenance: Provenance,
    pub ram_note: String,
    pub measure: Measure,
    pub items: Vec<LineItem>,
    /// Σ items.
    pub demand: u64,
    /// RAM - demand; negative when over.
    pub headroom: i64,
    pub min_headroom: u64,
    pub within_budget: bool,
    pub findings: Vec<Finding>,
    pub accounting: Accounting,
    /// Device / carve-out memory mapped by processes (`/dev/mmz`, `/dev/mem`...), by virtual
    /// size: not RAM the kernel manages, shown so it is not forgotten.
    pub device_mapped: u64,
    pub reconciliation: Option<Reconciliation>,
    /// meminfo Shmem taken apart (tmpfs files, shared anon, shmem objects, remainder).
    pub shmem: ShmemBreakdown,
    /// MemTotal = free + reclaimable + line items in use + unattributed.
    pub dynamic: Option<DynamicReconciliation>,
    /// Memory-related kernel boot parameters (`mem=`, `cma=`, `mmz=`, `rmem=`...), verbatim:
    /// they explain the kernel static line and the carve-outs.
    pub kernel_memory_params: Vec<(String, String)>,
    pub warnings: Vec<Warning>,
    pub skipped: Vec<Skipped>,
    /// `report --by program|library|user`: the processes grouped (filled by the caller).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<crate::account::groups::Grouping>,
}

impl Budget {
    pub fn item(&self, key: &str) -> Option<&LineItem> {
        self.items.iter().find(|i| i.key == key)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.status == Status::Fail)
    }
}

/// Sums byte figures without overflow: hostile snapshots and profiles can hold values whose
/// plain sum wraps (and panics in debug builds); a saturated total is plainly over budget.
fn saturating_sum(values: impl Iterator<Item = u64>) -> u64 {
    values.fold(0, u64::saturating_add)
}

/// A line item the profile states (carve-outs, reserves): their sum, one part per name.
fn declared_item(key: &str, label: &str, sizes: &BTreeMap<String, Size>, source: &str) -> LineItem {
    let total = saturating_sum(sizes.values().map(|s| s.0));
    LineItem::new(key, label, total, Provenance::Declared, &[source]).with_parts(
        sizes
            .iter()
            .map(|(name, size)| LineItem::new(name, name, size.0, Provenance::Declared, &[source]))
            .collect(),
    )
}

/// A byte figure as a signed quantity for headroom and findings, saturating instead of wrapping
/// to a negative number.
fn signed(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

fn kib(bytes: u64) -> String {
    format!("{} kB", bytes / 1024)
}

/// If the gap between the reconciled and the real MemTotal exceeds this, say so.
fn reconciliation_tolerance(mem_total: u64) -> u64 {
    (mem_total / 200).max(256 << 10)
}

/// Memory the kernel hands back after the `Memory:` line even when the log does not say so: a
/// console transcript at a quiet log level lacks the `Freeing ...` lines, yet init sections are
/// always freed (their size is in the `Memory:` line) and an `initrd=` image is freed once
/// loaded. Each is inferred only when the log has no line of its own for it.
fn frees_missing_from_log(snapshot: &Snapshot, boot: &BootMemory) -> Vec<(String, u64)> {
    let logged = |word: &str| boot.freed.iter().any(|(what, _)| what.contains(word));
    let mut inferred = Vec::new();
    if !logged("init") && !logged("unused kernel") {
        if let Some(init) = boot.breakdown_value("init") {
            inferred.push((
                "init (no Freeing line in the log: the Memory: line's init)".into(),
                init,
            ));
        }
    }
    if !logged("initrd") {
        if let Some(initrd) = snapshot
            .kernel_cmdline
            .as_ref()
            .and_then(|c| c.initrd_freed_bytes())
        {
            inferred.push((
                "initrd (no Freeing line in the log: initrd= of the command line, whole pages)"
                    .into(),
                initrd,
            ));
        }
    }
    inferred
}

fn reconcile(snapshot: &Snapshot, ram: u64, carveouts: u64) -> Option<Reconciliation> {
    let boot = snapshot.boot_memory.as_ref()?;
    let mem_total = snapshot.meminfo.get("MemTotal")?;
    let cma = boot.breakdown_value("cma-reserved").unwrap_or(0);
    let held_back = boot.total.saturating_sub(boot.available);
    let reserved = boot
        .breakdown_value("reserved")
        .unwrap_or(held_back.saturating_sub(cma));
    // With deferred struct page init (arm64 and x86 distribution kernels) most pages are not
    // yet initialised when the line is printed: they are neither available nor reserved nor
    // CMA, and join the allocator moments later ("deferred pages initialised").
    let deferred = held_back.saturating_sub(reserved).saturating_sub(cma);
    let mut rows = vec![
        ("physical RAM".to_string(), signed(ram)),
        ("carve-outs (profile)".to_string(), -signed(carveouts)),
        (
            "not seen by the kernel (mem=, undeclared carve-outs)".to_string(),
            signed(boot.total).saturating_sub(signed(ram).saturating_sub(signed(carveouts))),
        ),
        (
            "RAM the kernel saw (boot line)".to_string(),
            signed(boot.total),
        ),
        (
            "reserved at boot (kernel image, memmap...)".to_string(),
            -signed(reserved),
        ),
    ];
    if cma > 0 {
        rows.push(("CMA reserved at boot".to_string(), -signed(cma)));
    }
    if deferred > 0 {
        rows.push((
            "not yet initialised (deferred struct pages)".to_string(),
            -signed(deferred),
        ));
    }
    rows.push(("available at boot".to_string(), signed(boot.available)));
    for (what, bytes) in &boot.freed {
        rows.push((format!("freed later: {what}"), signed(*bytes)));
    }
    let inferred = frees_missing_from_log(snapshot, boot);
    for (what, bytes) in &inferred {
        rows.push((format!("freed later: {what}"), signed(*bytes)));
    }
    if cma > 0 {
        rows.push(("CMA handed to the allocator".to_string(), signed(cma)));
    }
    if deferred > 0 {
        rows.push(("deferred pages initialised".to_string(), signed(deferred)));
    }
    let expected = boot
        .available
        .saturating_add(boot.freed_total())
        .saturating_add(
            inferred
                .iter()
                .fold(0, |sum, (_, b)| sum.saturating_add(*b)),
        )
        .saturating_add(cma)
        .saturating_add(deferred);
    let gap = signed(mem_total).saturating_sub(signed(expected));
    Some(Reconciliation {
        rows,
        expected_mem_total: expected,
        mem_total,
        gap,
        flagged: gap.unsigned_abs() > reconciliation_tolerance(mem_total),
    })
}

/// Computes the whole budget of a snapshot against a profile.
pub fn evaluate(snapshot: &Snapshot, profile: &Profile) -> Result<Budget> {
    let mem_total = snapshot.meminfo.get("MemTotal").ok_or_else(|| {
        Error::in_file(format!("{}:proc/meminfo", snapshot.origin), "no MemTotal")
    })?;
    let carveouts = saturating_sum(profile.carveouts.values().map(|s| s.0));
    let (ram, ram_provenance, ram_note) = match profile.ram {
        Ram::Bytes(b) => (b, Provenance::Declared, format!("declared in {}", profile.source)),
        Ram::Auto => match &snapshot.boot_memory {
            Some(boot) if boot.total >= mem_total => (
                boot.total.saturating_add(carveouts),
                Provenance::Derived,
                "from the boot log's Memory: line (RAM the kernel saw) plus declared carve-outs".into(),
            ),
            _ => (
                mem_total.saturating_add(carveouts),
                Provenance::Derived,
                "from MemTotal plus declared carve-outs (no boot log: kernel static memory unknown)".into(),
            ),
        },
    };
    if ram < mem_total.saturating_add(carveouts) {
        return Err(Error::in_file(
            profile.source.clone(),
            format!(
                "profile RAM {} is smaller than the snapshot's MemTotal {} plus carve-outs {}: is this the profile for this board ({})?",
                human(ram),
                human(mem_total),
                human(carveouts),
                snapshot.origin
            ),
        ));
    }

    let accounting = account(
        snapshot,
        profile.measure,
        profile.thread_stack_size.map(|s| s.0),
    );
    let mut warnings = snapshot.warnings.clone();
    if !accounting.measure_fallback.is_empty() {
        warnings.push(Warning {
            file: snapshot.origin.clone(),
            line: None,
            message: format!(
                "measure {} needs smaps; {} process(es) have none and are counted by virtual size (pids {:?})",
                profile.measure.name(),
                accounting.measure_fallback.len(),
                accounting.measure_fallback
            ),
        });
    }

    let mut items = Vec::new();
    items.push(declared_item(
        "carveouts",
        "carve-outs (MMZ/CMA/framebuffer)",
        &profile.carveouts,
        &profile.source,
    ));

    let kernel_static = ram.saturating_sub(carveouts).saturating_sub(mem_total);
    let mut static_item = LineItem::new(
        "kernel_static",
        "kernel static (RAM - carve-outs - MemTotal)",
        kernel_static,
        Provenance::Derived,
        &["proc/meminfo", &profile.source],
    );
    if let Some(boot) = &snapshot.boot_memory {
        static_item.files.push("dmesg".into());
        let image: u64 = ["kernel code", "rwdata", "rodata", "bss", "data"]
            .iter()
            .filter_map(|k| boot.breakdown_value(k))
            .fold(0, u64::saturating_add);
        let unseen = signed(ram.saturating_sub(carveouts)).saturating_sub(signed(boot.total));
        let rest = signed(kernel_static)
            .saturating_sub(unseen)
            .saturating_sub(signed(image));
        if unseen >= 0 && rest >= 0 {
            static_item = static_item.with_parts(vec![
                LineItem::new(
                    "not_seen",
                    "not seen by the kernel (mem= cut)",
                    unseen as u64,
                    Provenance::Derived,
                    &["dmesg"],
                ),
                LineItem::new(
                    "image",
                    "kernel image (code, data, bss)",
                    image,
                    Provenance::Measured,
                    &["dmesg"],
                ),
                LineItem::new(
                    "reserved",
                    "boot reservations (memmap, page tables...)",
                    rest as u64,
                    Provenance::Derived,
                    &["dmesg", "proc/meminfo"],
                ),
            ]);
        }
    }
    items.push(static_item);

    let m = &snapshot.meminfo;
    let dynamic_parts: Vec<LineItem> = ["Slab", "KernelStack", "PageTables"]
        .iter()
        .map(|k| {
            LineItem::new(
                k,
                k,
                m.get(k).unwrap_or(0),
                Provenance::Measured,
                &["proc/meminfo"],
            )
        })
        .collect();
    items.push(
        LineItem::new(
            "kernel_dynamic",
            "kernel dynamic (Slab + KernelStack + PageTables)",
            saturating_sum(dynamic_parts.iter().map(|p| p.bytes)),
            Provenance::Measured,
            &["proc/meminfo"],
        )
        .with_parts(dynamic_parts),
    );

    items.push(
        LineItem::new(
            "processes",
            &format!(
                "user processes ({}, shared counted once)",
                profile.measure.name()
            ),
            accounting.user_demand,
            Provenance::Measured,
            &[
                "proc/<pid>/maps",
                if accounting.processes.iter().any(|p| p.has_smaps) {
                    "proc/<pid>/smaps"
                } else {
                    "proc/<pid>/status"
                },
            ],
        )
        .with_parts(vec![
            LineItem::new(
                "private",
                "private (heap, stacks, data, anon)",
                accounting.user_private,
                Provenance::Measured,
                &["proc/<pid>/maps"],
            ),
            LineItem::new(
                "shared",
                "shared (code, rodata, shared anon), once",
                accounting.user_shared,
                Provenance::Measured,
                &["proc/<pid>/maps"],
            ),
        ]),
    );

    let all_have_smaps = accounting.processes.iter().all(|p| p.has_smaps);
    let shared_anon = accounting
        .class_totals
        .get(&Class::SharedAnon)
        .copied()
        .unwrap_or_default();
    let shmem = shmem::breakdown(
        snapshot,
        &accounting.shm_objects,
        &shared_anon,
        all_have_smaps,
    );
    items.push(tmpfs_item(snapshot, &shmem, profile.measure));

    items.push(
        LineItem::new(
            "ramdisks",
            "ramdisks (/dev/ramN)",
            saturating_sum(snapshot.ramdisks.iter().map(|r| r.size)),
            Provenance::Measured,
            &["sys/block/ram*/size"],
        )
        .with_parts(
            snapshot
                .ramdisks
                .iter()
                .map(|r| {
                    LineItem::new(
                        &r.name,
                        &format!("/dev/{}", r.name),
                        r.size,
                        Provenance::Measured,
                        &[&format!("sys/block/{}/size", r.name)],
                    )
                })
                .collect(),
        ),
    );

    let zram = held::zram(snapshot);
    let dmabuf = held::dmabuf(snapshot);
    items.extend(held_item(
        "zram",
        "zram (compressed memory held)",
        zram.as_ref(),
    ));
    items.extend(held_item("dmabuf", "dma-buf buffers", dmabuf.as_ref()));
    let dynamic = dynamic::reconcile(snapshot, &shmem, zram.as_ref(), dmabuf.as_ref());
    items.extend(dynamic.as_ref().map(unattributed_item));

    let min_free_item = LineItem::new(
        "min_free",
        "min_free_kbytes (watermark reserve)",
        snapshot.min_free.unwrap_or(0),
        Provenance::Measured,
        &["proc/sys/vm/min_free_kbytes"],
    );
    items.push(if snapshot.min_free.is_none() {
        min_free_item.with_note("not in the snapshot: counted as 0")
    } else {
        min_free_item
    });

    items.push(declared_item(
        "reserves",
        "reserves (disk cache, skb...)",
        &profile.reserves,
        &profile.source,
    ));

    let demand = saturating_sum(items.iter().map(|i| i.bytes));
    let headroom = signed(ram).saturating_sub(signed(demand));
    let min_headroom = profile.min_headroom.map_or(0, |a| a.resolve(ram));

    let mut findings = Vec::new();
    findings.push(Finding {
        rule: "ram_fit".into(),
        subject: "everything fits in RAM".into(),
        status: if headroom >= 0 {
            Status::Pass
        } else {
            Status::Fail
        },
        actual: Some(demand as i64),
        limit: Some(ram as i64),
        message: format!("demand {} of RAM {}", human(demand), human(ram)),
    });
    findings.push(Finding {
        rule: "headroom".into(),
        subject: format!(
            "headroom at least {}",
            profile.min_headroom.map_or("0".into(), |a| a.to_string())
        ),
        status: if headroom >= min_headroom as i64 {
            Status::Pass
        } else {
            Status::Fail
        },
        actual: Some(headroom),
        limit: Some(min_headroom as i64),
        message: format!(
            "headroom {} ({:.1}% of RAM), minimum {}",
            crate::size::human_signed(headroom),
            headroom as f64 * 100.0 / ram.max(1) as f64,
            human(min_headroom)
        ),
    });
    process_findings(profile, &accounting, &mut findings);
    class_findings(profile, &accounting, &mut findings);
    for name in &profile.expect {
        let found = accounting.processes.iter().any(|p| &p.name == name);
        findings.push(Finding {
            rule: "expect".into(),
            subject: name.clone(),
            status: if found { Status::Pass } else { Status::Fail },
            actual: None,
            limit: None,
            message: if found {
                format!("{name} is running")
            } else {
                format!("{name} is not running")
            },
        });
    }
    let reconciliation = reconcile(snapshot, ram, carveouts);
    if let Some(r) = &reconciliation {
        findings.push(Finding {
            rule: "reconciliation".into(),
            subject: "boot Memory: line reconciles with MemTotal".into(),
            status: if r.flagged {
                Status::Warn
            } else {
                Status::Pass
            },
            actual: Some(r.mem_total as i64),
            limit: Some(r.expected_mem_total as i64),
            message: format!(
                "MemTotal {} vs boot line available + freed + CMA {}: gap {} kB",
                kib(r.mem_total),
                kib(r.expected_mem_total),
                r.gap / 1024
            ),
        });
    }
    findings.extend(dynamic.as_ref().map(dynamic_finding));
    let within_budget = !findings.iter().any(|f| f.status == Status::Fail);
    let device_mapped = accounting
        .processes
        .iter()
        .map(|p| p.class(Class::Device).virtual_size)
        .fold(0, u64::saturating_add);
    Ok(Budget {
        profile: profile.display_name(),
        profile_source: profile.source.clone(),
        origin: snapshot.origin.clone(),
        meta: snapshot.meta.fields.clone(),
        ram,
        ram_provenance,
        ram_note,
        measure: profile.measure,
        items,
        demand,
        headroom,
        min_headroom,
        within_budget,
        findings,
        accounting,
        device_mapped,
        reconciliation,
        shmem,
        dynamic,
        kernel_memory_params: snapshot
            .kernel_cmdline
            .as_ref()
            .map(|c| c.memory_params())
            .unwrap_or_default(),
        warnings,
        skipped: snapshot.skipped.clone(),
        groups: None,
    })
}

/// The tmpfs / ramfs line: files (statfs or du per mount), the shmem objects no filesystem
/// figure holds (memfd, SysV, ashmem, deleted files), and the rest of meminfo Shmem. Shared
/// anonymous memory is the process line's, so it is not here.
fn tmpfs_item(snapshot: &Snapshot, shmem: &ShmemBreakdown, measure: Measure) -> LineItem {
    let mut parts: Vec<LineItem> = snapshot
        .fs_usage
        .iter()
        .map(|u| {
            LineItem::new(
                &u.mount_point,
                &format!("{} {}", u.fs_type, u.mount_point),
                u.used,
                Provenance::Measured,
                &[&u.method],
            )
        })
        .collect();
    if !shmem.objects.is_empty() {
        parts.push(LineItem::new(
            "shm_objects",
            &format!(
                "shmem objects: memfd, SysV, ashmem, deleted files ({})",
                shmem.objects.len()
            ),
            shmem.objects_total(measure),
            Provenance::Measured,
            &["proc/<pid>/maps", "proc/sysvipc/shm"],
        ));
    }
    let remainder = LineItem::new(
        "shmem_rest",
        "rest of Shmem (fd-only memfds, GPU buffers, unmeasured mounts)",
        shmem.remainder.unwrap_or(0),
        Provenance::Derived,
        &["proc/meminfo", "df", "du", "proc/<pid>/maps"],
    );
    parts.push(match shmem.remainder {
        Some(_) => remainder,
        None => remainder
            .with_note("meminfo has no Shmem (kernel before 2.6.32): unknown, counted as 0"),
    });
    let mut item = LineItem::new(
        "tmpfs",
        "tmpfs / ramfs files and shmem",
        saturating_sum(parts.iter().map(|p| p.bytes)),
        Provenance::Measured,
        &["df", "du", "proc/meminfo"],
    );
    if !snapshot.unmeasured_mounts.is_empty() {
        item = item.with_note(format!(
            "no df/du figure for {}: their files are in the rest of Shmem ({})",
            snapshot.unmeasured_mounts.join(", "),
            kib(shmem.remainder.unwrap_or(0))
        ));
    }
    item.with_parts(parts)
}

/// zram, dma-buf: present only when the snapshot shows such memory; a part whose size is
/// missing makes the whole unknown (counted as 0 and said so).
fn held_item(key: &str, label: &str, held: Option<&Held>) -> Option<LineItem> {
    let held = held?;
    let files: Vec<&str> = held.parts.iter().map(|p| p.file.as_str()).collect();
    let item = LineItem::new(
        key,
        label,
        held.total.unwrap_or(0),
        Provenance::Measured,
        &files,
    )
    .with_parts(
        held.parts
            .iter()
            .map(|p| {
                LineItem::new(
                    &p.name,
                    &p.name,
                    p.bytes.unwrap_or(0),
                    Provenance::Measured,
                    &[&p.file],
                )
            })
            .collect(),
    );
    Some(match held.total {
        Some(_) => item,
        None => item.with_note("a size is missing from the snapshot: unknown, counted as 0"),
    })
}

/// What the dynamic reconciliation could not attribute: in use now, so demand.
fn unattributed_item(d: &DynamicReconciliation) -> LineItem {
    let mut parts: Vec<LineItem> = d
        .counted
        .iter()
        .map(|p| {
            LineItem::new(
                &p.label,
                &p.label,
                p.bytes,
                Provenance::Measured,
                &["proc/meminfo"],
            )
        })
        .collect();
    parts.push(LineItem::new(
        "unexplained",
        "explained by no counter",
        d.unexplained.max(0) as u64,
        Provenance::Derived,
        &["proc/meminfo"],
    ));
    let item = LineItem::new(
        "unattributed",
        "unattributed (in use, outside every counter above)",
        d.unattributed.max(0) as u64,
        Provenance::Derived,
        &["proc/meminfo"],
    )
    .with_parts(parts);
    if d.unattributed < 0 {
        item.with_note(format!(
            "the counters overlap by {} (swap-cached pages still mapped count twice): counted as 0",
            kib(d.unattributed.unsigned_abs())
        ))
    } else {
        item
    }
}

fn dynamic_finding(d: &DynamicReconciliation) -> Finding {
    Finding {
        rule: "dynamic_reconciliation".into(),
        subject: "memory in use is explained by the kernel's counters".into(),
        status: if d.flagged {
            Status::Warn
        } else {
            Status::Pass
        },
        actual: Some(d.unexplained),
        limit: Some(signed(d.tolerance)),
        message: format!(
            "unattributed {} of MemTotal {}, {} explained by no counter (tolerance {})",
            kib(d.unattributed.unsigned_abs()),
            kib(d.mem_total),
            kib(d.unexplained.unsigned_abs()),
            kib(d.tolerance)
        ),
    }
}

fn process_findings(profile: &Profile, accounting: &Accounting, findings: &mut Vec<Finding>) {
    for limit in &profile.processes {
        let matching: Vec<_> = accounting
            .processes
            .iter()
            .filter(|p| limit.matches(&p.name, &p.cmdline))
            .collect();
        if matching.is_empty() {
            findings.push(Finding {
                rule: "process_limit".into(),
                subject: limit.describe(),
                status: Status::Warn,
                actual: None,
                limit: Some(limit.max.0 as i64),
                message: format!("no running process matches {}", limit.describe()),
            });
        }
        for p in matching {
            let value = match limit.of {
                LimitOf::Private => p.demand,
                LimitOf::Total => p.demand.saturating_add(
                    p.shared
                        .get(accounting.measure)
                        .filter(|_| p.has_smaps)
                        .unwrap_or(p.shared.virtual_size),
                ),
            };
            let over = value > limit.max.0;
            let of = match limit.of {
                LimitOf::Private => "private",
                LimitOf::Total => "total",
            };
            findings.push(Finding {
                rule: "process_limit".into(),
                subject: format!("{} (pid {})", p.name, p.pid),
                status: if over { Status::Fail } else { Status::Pass },
                actual: Some(value as i64),
                limit: Some(limit.max.0 as i64),
                message: format!(
                    "{} {of} {} {} limit {}",
                    p.name,
                    human(value),
                    if over { "exceeds" } else { "within" },
                    human(limit.max.0)
                ),
            });
        }
    }
}

fn class_findings(profile: &Profile, accounting: &Accounting, findings: &mut Vec<Finding>) {
    for (class, max) in &profile.classes {
        let figures = accounting
            .class_totals
            .get(class)
            .copied()
            .unwrap_or_default();
        let value = figures
            .get(accounting.measure)
            .unwrap_or(figures.virtual_size);
        let over = value > max.0;
        findings.push(Finding {
            rule: "class_limit".into(),
            subject: class.name().into(),
            status: if over { Status::Fail } else { Status::Pass },
            actual: Some(value as i64),
            limit: Some(max.0 as i64),
            message: format!(
                "all {class} {} {} limit {}",
                human(value),
                if over { "exceeds" } else { "within" },
                human(max.0)
            ),
        });
    }
}
