//! What-if projection (issue 16) on a real capture: the Innosilicon T2 Zynq board (256 MiB,
//! Linux 4.4 armv7, no boot log, zoneinfo present 65536 / managed 63077 pages, MemTotal
//! 252308 kB, no min_free_kbytes file) projected to 128 MiB. Expected figures by hand below.

use membudget::budget::{evaluate, Budget, Provenance, Verdict};
use membudget::collect::{load, LiveOptions};
use membudget::profile::Profile;
use std::path::Path;

const ZYNQ: &str = "tests/fixtures/real/innosilicon-t2-zynq-snapshot";

fn projected(measure: &str, ram: &str) -> Budget {
    let snapshot = load(Some(Path::new(ZYNQ)), LiveOptions::default()).unwrap();
    let profile = Profile::parse(
        &format!("ram = \"auto\"\nmeasure = \"{measure}\"\nwhat_if_ram = \"{ram}\"\n"),
        "zynq.toml",
    )
    .unwrap();
    evaluate(&snapshot, &profile).unwrap()
}

/// The kernel side, by hand (32-bit: every user mapping is below 4 GiB, [vectors] at
/// 0xffff0000; 4 KiB pages: 252308 kB / 63077 managed pages = 4096 B):
/// - seen 65536 pages = 262144 kB; kernel static 262144 - 252308 = 9836 kB.
/// - memory map 65536 x 32 B = 2048 kB -> 32768 x 32 B = 1024 kB.
/// - dentry hash (kernel's rule, no log): (65536 - 512 memmap pages) >> 1 = 32512 -> 32768
///   entries x 4 B = 128 kB; at 128 MiB (32768 - 256) >> 1 = 16256 -> 16384 = 64 kB.
/// - inode hash: 16384 entries = 64 kB -> 8192 = 32 kB.
/// - kept: 9836 - 2048 - 128 - 64 = 7596 kB.
/// - projected kernel static 1024 + 64 + 32 + 7596 = 8716 kB; MemTotal 131072 - 8716 =
///   122356 kB.
#[test]
fn zynq_to_128m_kernel_side() {
    let b = projected("pss", "128MiB");
    let w = b.what_if.as_ref().unwrap();
    assert_eq!(w.ram, 128 << 20);
    assert_eq!(w.captured_ram, 256 << 20);
    assert_eq!(w.captured_kernel_static, 9836 << 10);
    assert_eq!(w.kernel_static, 8716 << 10);
    assert_eq!(w.mem_total, 122_356 << 10);
    assert_eq!(w.captured_mem_total, 252_308 << 10);
    // No min_free_kbytes in the capture: a default and a hand-set value cannot be told
    // apart, so the projected one is unknown too (never the rule's guess).
    assert_eq!((w.min_free, w.captured_min_free), (None, None));
    let ks = b.item("kernel_static").unwrap();
    assert_eq!(ks.provenance, Provenance::Projected);
    assert_eq!(ks.bytes, Some(8716 << 10));
    let parts: Vec<(&str, u64)> = ks
        .parts
        .iter()
        .map(|p| (p.key.as_str(), p.bytes.unwrap() >> 10))
        .collect();
    assert_eq!(
        parts,
        vec![
            ("memmap", 1024),
            ("dentry_hash", 64),
            ("inode_hash", 32),
            ("kept", 7596)
        ]
    );
    assert!(ks
        .parts
        .iter()
        .all(|p| p.provenance == Provenance::Projected && p.note.is_some()));
    let min_free = b.item("min_free").unwrap();
    assert_eq!(
        (min_free.bytes, min_free.provenance),
        (None, Provenance::Projected)
    );
}

/// Under pss the user side is small: demand = kernel static 8716 kB + Slab/KernelStack/
/// PageTables 14516 kB + processes 16647 kB + Shmem 5108 kB + unattributed 3356 kB =
/// 48343 kB of 131072 kB, headroom 82729 kB; min_free is unknown, so INCONCLUSIVE (the
/// rule's 1399 kB for 122356 kB would fit, but that is a guess).
#[test]
fn zynq_to_128m_pss_is_inconclusive_on_min_free_only() {
    let b = projected("pss", "128MiB");
    assert_eq!(b.demand, 48_343 << 10);
    assert_eq!(b.headroom, 82_729 << 10);
    assert_eq!(b.verdict, Verdict::Inconclusive);
    let ram_fit = b.findings.iter().find(|f| f.rule == "ram_fit").unwrap();
    assert!(ram_fit.message.contains("a projection, not a measurement"));
}

/// Under the virtual measure (the default) the miner's 128 MiB of reserved thread stacks
/// alone exceed the smaller board: OVER BUDGET stands whatever min_free is.
#[test]
fn zynq_to_128m_virtual_is_over() {
    let b = projected("virtual", "128MiB");
    assert_eq!(b.verdict, Verdict::OverBudget);
    assert!(b.headroom < -(78 << 20));
}

/// The captured board's own RAM is no what-if: the measured figures stand.
#[test]
fn what_if_at_the_captured_size_is_the_plain_report() {
    let b = projected("pss", "256MiB");
    assert!(b.what_if.is_none());
    assert_eq!(b.item("kernel_static").unwrap().bytes, Some(9836 << 10));
    assert_eq!(
        b.item("kernel_static").unwrap().provenance,
        Provenance::Derived
    );
}

/// `[[variant]]`: three variants in one table. 256 MiB is the captured board (measured
/// MemTotal 252308 kB); 128 MiB as above; 64 MiB with a 24 MiB MMZ: the kernel sees 40 MiB =
/// 10240 pages: memmap 320 kB, dentry (10240 - 80 memmap pages, rounded up to a MiB: 10240) >> 1
/// = 5120 -> 8192 entries = 32 kB (from
/// 128 kB: the rule's 32768 -> 8192), inode 4096 entries = 16 kB, kept 7596 kB: kernel static
/// 7964 kB, MemTotal 40960 - 7964 = 32996 kB. Demand = 24576 (MMZ) + 7964 + 14516 + 16647 +
/// 5108 + 3356 = 72167 kB of 65536 kB: does not fit by 6631 kB, min_free unknown or not.
#[test]
fn variants_table() {
    let snapshot = load(Some(Path::new(ZYNQ)), LiveOptions::default()).unwrap();
    let profile = Profile::parse(
        "ram = \"auto\"\nmeasure = \"pss\"\n\
         [[variant]]\nname = \"256M\"\nram = \"256MiB\"\n\
         [[variant]]\nname = \"128M\"\nram = \"128MiB\"\n\
         [[variant]]\nname = \"64M\"\nram = \"64MiB\"\n[variant.carveouts]\nmmz = \"24MiB\"\n",
        "zynq.toml",
    )
    .unwrap();
    let b = evaluate(&snapshot, &profile).unwrap();
    let rows: Vec<(&str, Option<u64>, i64, Verdict)> = b
        .variants
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                v.mem_total.map(|m| m >> 10),
                v.headroom >> 10,
                v.verdict,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "256M",
                Some(252_308),
                262_144 - 48_343 - 9836 + 8716,
                Verdict::Inconclusive
            ),
            ("128M", Some(122_356), 82_729, Verdict::Inconclusive),
            ("64M", Some(32_996), -6631, Verdict::OverBudget),
        ]
    );
    // The report's own verdict is the captured board's.
    assert!(b.what_if.is_none());
    assert_eq!(b.ram, 256 << 20);
}
