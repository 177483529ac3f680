//! Real captures from real boards, with totals computed by hand (an independent script over the
//! maps text, recorded in the comments) or given by the kernel itself (status VmSize).

use membudget::account::classify::{Class, Classifier};
use membudget::account::{account, Measure};
use membudget::budget::{evaluate, Status, Verdict};
use membudget::collect::{load, LiveOptions};
use membudget::parse::maps::parse_maps;
use membudget::profile::Profile;
use std::path::{Path, PathBuf};

const KIB: u64 = 1024;

fn real(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(rel)
}

fn ours(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The first finding of `rule`.
fn finding<'a>(b: &'a membudget::budget::Budget, rule: &str) -> &'a membudget::budget::Finding {
    b.findings.iter().find(|f| f.rule == rule).unwrap()
}

fn zynq() -> membudget::model::Snapshot {
    load(
        Some(&real("innosilicon-t2-zynq-snapshot")),
        LiveOptions::default(),
    )
    .unwrap()
}

/// The article's example maps (seed/), classified line by line. The article says the
/// `b51fc000` and `be1fc000` mappings are 16 KiB thread stacks, which only the profile's
/// `thread_stack_size` can tell (old uClibc puts no guard page below them).
#[test]
fn article_example_line_by_line() {
    let text = "\
00008000-0036a000 r-xp 00000000 00:0e 236        /home/hik/hicore
00372000-003a5000 rw-p 00362000 00:0e 236        /home/hik/hicore
003a5000-00e28000 rwxp 003a5000 00:00 0          [heap]
40000000-40005000 r-xp 00000000 01:00 94         /lib/ld-uClibc.so.0
416db000-41770000 rw-s c2005000 00:0f 68         /dev/mem
b51fc000-b5200000 rwxp b51fc000 00:00 0
be1fc000-be200000 rwxp be1fc000 00:00 0
be93b000-be950000 rwxp befeb000 00:00 0          [stack]
";
    let (maps, issues) = parse_maps(text.as_bytes());
    assert!(issues.is_empty());
    let mounts = membudget::parse::mounts::parse_mounts(b"/dev/root / squashfs ro 0 0\n").0;
    use Class::*;
    let with_profile = Classifier::new(&mounts, Some(16 * KIB)).classify_all(maps.iter());
    assert_eq!(
        with_profile,
        vec![
            Code,
            Data,
            Heap,
            Code,
            Device,
            ThreadStack,
            ThreadStack,
            Stack
        ]
    );
    let without = Classifier::new(&mounts, None).classify_all(maps.iter());
    assert_eq!(without[5], Anon);
    // Sizes by hand: heap 0xe28000-0x3a5000 = 10764 KiB; hicore data 0x33000 = 204 KiB;
    // the /dev/mem window 0x95000 = 596 KiB is device memory, not RAM.
    let size = |i: usize| maps[i].size();
    assert_eq!(size(2), 10764 * KIB);
    assert_eq!(size(1), 204 * KIB);
    assert_eq!(size(4), 596 * KIB);
}

/// All 16 processes of the Zynq board. Expected figures come from an independent Python
/// classification of the maps text (the DESIGN.md table), recorded here:
/// private 172140 KiB, shared once 7452 KiB; innominer_T2 thread stacks 131008 KiB (16 stacks of 8188 KiB; a malloc arena that follows
/// another arena's 748 KiB inaccessible tail is not a stack).
#[test]
fn zynq_all_processes_by_class() {
    let snap = zynq();
    assert_eq!(snap.processes.len(), 16);
    let acc = account(&snap, Measure::Virtual, None);
    // The kernel's own sum of every process's mappings. The files were copied one after
    // another; ftpd 7231 grew its heap by a page between its maps and its status.
    for p in &acc.processes {
        let expected = p.pid != 7231;
        assert_eq!(
            p.vm_size_matches,
            Some(expected),
            "{} (pid {})",
            p.name,
            p.pid
        );
    }
    let ftpd = acc.processes.iter().find(|p| p.pid == 7231).unwrap();
    let maps_total: u64 = ftpd.classes.values().map(|f| f.virtual_size).sum();
    assert_eq!((maps_total, ftpd.vm_size), (3076 * KIB, Some(3080 * KIB)));
    assert_eq!(acc.user_private, 172140 * KIB);
    assert_eq!(acc.user_shared, 7452 * KIB);
    assert_eq!(acc.user_demand, 179592 * KIB);
    let miner = acc.processes.iter().find(|p| p.pid == 18268).unwrap();
    assert_eq!(miner.name, "innominer_T2");
    assert_eq!(miner.threads, 14);
    assert_eq!(miner.class(Class::ThreadStack).virtual_size, 131008 * KIB);
    assert_eq!(miner.class(Class::Heap).virtual_size, 2904 * KIB);
    assert_eq!(miner.class(Class::Anon).virtual_size, 920 * KIB);
    assert_eq!(miner.class(Class::Guard).virtual_size, 2520 * KIB);
    // 13 threads are named [stack:TID] by this 4.4 kernel; 3 more stacks are found by their
    // guard page (cached stacks of exited threads).
    let snapshot_miner = snap.processes.iter().find(|p| p.pid == 18268).unwrap();
    let named = snapshot_miner
        .mappings
        .iter()
        .filter(|m| {
            m.map
                .path
                .as_deref()
                .is_some_and(|p| p.starts_with("[stack:"))
        })
        .count();
    assert_eq!(named, 13);
    assert_eq!(miner.class(Class::ThreadStack).mappings, 16);
    let python = acc.processes.iter().find(|p| p.pid == 808).unwrap();
    assert_eq!(python.class(Class::ThreadStack).virtual_size, 24820 * KIB);
    assert_eq!(python.class(Class::Anon).virtual_size, 5320 * KIB);
    assert_eq!(python.class(Class::Heap).virtual_size, 2056 * KIB);
}

/// smaps figures of the Zynq board against the numbers PROVENANCE.md records:
/// Σ Pss = 16647 kB, Σ Anonymous = 12372 kB (meminfo AnonPages 12444 kB).
#[test]
fn zynq_smaps_totals() {
    let snap = zynq();
    let mut pss = 0;
    let mut anonymous = 0;
    for p in &snap.processes {
        // Kernel 4.4 hides the stack guard page from maps but counts it in smaps `Size`.
        let size: u64 = p.mappings.iter().map(|m| m.smaps.unwrap().size).sum();
        let maps: u64 = p.mappings.iter().map(|m| m.map.size()).sum();
        assert_eq!(size, maps + 4 * KIB, "{}", p.name);
        pss += p
            .mappings
            .iter()
            .map(|m| m.smaps.unwrap().pss.unwrap())
            .sum::<u64>();
        anonymous += p
            .mappings
            .iter()
            .map(|m| m.smaps.unwrap().anonymous.unwrap())
            .sum::<u64>();
    }
    assert_eq!(pss, 16647 * KIB);
    assert_eq!(anonymous, 12372 * KIB);
    let acc = account(&snap, Measure::Pss, None);
    assert!(acc.measure_fallback.is_empty());
    // Under PSS the user line is the plain sum of PSS over every counted mapping: all but
    // guard (0), kernel pseudo-mappings and devices, which hold no PSS here.
    assert_eq!(acc.user_demand, 16647 * KIB);
}

#[test]
fn zynq_budget_line_items() {
    let snap = zynq();
    let profile = Profile::load(&ours("budgets/zynq-innosilicon-t2-256m.toml")).unwrap();
    let b = evaluate(&snap, &profile).unwrap();
    let item = |k: &str| b.item(k).unwrap().bytes.unwrap();
    // 256 MiB - MemTotal 252308 kB
    assert_eq!(item("kernel_static"), (262144 - 252308) * KIB);
    // Slab 13264 + KernelStack 880 + PageTables 372
    assert_eq!(item("kernel_dynamic"), (13264 + 880 + 372) * KIB);
    assert_eq!(item("processes"), 179592 * KIB);
    // No df in this capture, no shared anonymous memory, no shmem object: the tmpfs line is
    // the rest of meminfo Shmem, with a note naming the mounts without a figure.
    assert_eq!(item("tmpfs"), 5108 * KIB);
    assert!(b.item("tmpfs").unwrap().note.is_some());
    // MemTotal 252308 - (MemFree 138776 + Cached 83216 + AnonPages 12444 + Slab 13264
    // + KernelStack 880 + PageTables 372) kB, in use and in no counter.
    assert_eq!(item("unattributed"), 3356 * KIB);
    assert_eq!(item("reserves"), 30 * 1024 * KIB);
    let demand = (262144 - 252308) + (13264 + 880 + 372) + 179592 + 5108 + 3356 + 30 * 1024;
    assert_eq!(b.demand, demand * KIB);
    assert_eq!(b.headroom, (262144 - demand) as i64 * KIB as i64);
    // The capture has no min_free_kbytes: unknown, so no pass without --allow-incomplete.
    assert_eq!(b.item("min_free").unwrap().bytes, None);
    assert_eq!(b.verdict, Verdict::Inconclusive);
    let open: Vec<&str> = b.inconclusive().map(|f| f.subject.as_str()).collect();
    assert_eq!(open, ["unknown: min_free"]);
    assert!(b
        .findings
        .iter()
        .all(|f| matches!(f.status, Status::Pass | Status::Inconclusive)));
    let mut b = b;
    b.allow_incomplete();
    assert_eq!(b.verdict, Verdict::WithinBudget);
    assert!(b.banner.unwrap().contains("unknown: min_free"));
}

/// The Sofia camera application: 22 /dev/mmz and 3 /dev/mem mappings are device memory (MMZ
/// carve-out and registers), not RAM; 66 `[stack:TID]` thread stacks.
#[test]
fn sofia_device_mappings_are_not_ram() {
    let snap = load(
        Some(&ours("tests/fixtures/hisi-chacon-64m")),
        LiveOptions::default(),
    )
    .unwrap();
    let acc = account(&snap, Measure::Virtual, None);
    let sofia = &acc.processes[0];
    let device = sofia.class(Class::Device);
    assert_eq!(device.mappings, 25);
    assert_eq!(device.virtual_size, 9_875_456);
    assert_eq!(sofia.class(Class::ThreadStack).virtual_size, 102988 * KIB);
    assert!(sofia.class(Class::ThreadStack).mappings >= 66);
    // The SysV segment lives in shmem (tmpfs), not in the process.
    assert_eq!(sofia.class(Class::TmpfsFile).virtual_size, 4 * KIB);
    assert_eq!(acc.user_private, 108912 * KIB);
    assert_eq!(acc.user_shared, 8196 * KIB);
}

#[test]
fn hisi_camera_budget_reconciles_and_fails() {
    let snap = load(
        Some(&ours("tests/fixtures/hisi-chacon-64m")),
        LiveOptions::default(),
    )
    .unwrap();
    let profile = Profile::load(&ours("budgets/hi3518ev300-64m.toml")).unwrap();
    let b = evaluate(&snap, &profile).unwrap();
    // 64 MiB - 27 MiB MMZ - 32616 kB MemTotal
    assert_eq!(
        b.item("kernel_static").unwrap().bytes,
        Some((65536 - 27648 - 32616) * KIB)
    );
    let parts = &b.item("kernel_static").unwrap().parts;
    // mem=37M is exactly what the boot line saw: nothing unseen beyond the MMZ.
    assert_eq!(parts[0].bytes, Some(0));
    // 3575K code + 121K rwdata + 904K rodata + 146K bss
    assert_eq!(parts[1].bytes, Some((3575 + 121 + 904 + 146) * KIB));
    let r = b.reconciliation.as_ref().unwrap();
    assert_eq!(r.expected_mem_total, (31728 + 888) * KIB);
    assert_eq!(r.gap, 0);
    assert_eq!(b.device_mapped, 9_875_456);
    // Virtual sizes count the 66 reserved 1 MiB thread stacks: far over a 37 MiB kernel.
    assert!(!b.within_budget);
    let sofia = finding(&b, "process_limit");
    assert_eq!(sofia.status, Status::Fail);
    assert_eq!(sofia.actual, Some((108912 * KIB) as i64));
}

/// Hikvision DM365 on a 2.6.18-era kernel: smaps without Pss, anonymous mappings with
/// non-zero offsets, an rwxp heap. Hand sums of its smaps: Rss 272 kB = status VmRSS.
#[test]
fn hikvision_old_smaps_without_pss() {
    let dir = tempfile::tempdir().unwrap();
    let src = real("hikvision-dm365-cam");
    std::fs::create_dir_all(dir.path().join("proc/1")).unwrap();
    for f in ["maps", "smaps", "status", "cmdline"] {
        std::fs::copy(
            src.join(format!("proc_1_{f}")),
            dir.path().join("proc/1").join(f),
        )
        .unwrap();
    }
    std::fs::copy(src.join("proc_1_mounts"), dir.path().join("proc/mounts")).unwrap();
    std::fs::write(dir.path().join("proc/meminfo"), "MemTotal: 60000 kB\n").unwrap();
    let snap = load(Some(dir.path()), LiveOptions::default()).unwrap();
    let acc = account(&snap, Measure::Rss, None);
    let init = &acc.processes[0];
    assert_eq!(init.name, "init");
    assert_eq!(init.vm_size_matches, Some(true));
    assert!(init.has_smaps);
    assert_eq!(
        init.private.pss, None,
        "2.6.18 smaps has no Pss: must not read as zero"
    );
    let rss = init.private.rss.unwrap() + init.shared.rss.unwrap();
    assert_eq!(rss, 272 * KIB);
    assert_eq!(init.class(Class::Heap).virtual_size, 440 * KIB);
    // measure = "pss" on a kernel without Pss lines: counted by rss (the next figure down
    // the chain), recorded per process, never virtual under a "pss" heading.
    let acc = account(&snap, Measure::Pss, None);
    let init = &acc.processes[0];
    assert_eq!(init.measure_used, Measure::Rss);
    assert_eq!(Some(init.demand), init.private.rss);
    assert!(init.demand < init.private.virtual_size);
    assert_eq!(acc.measure_fallback, [1]);
    let profile = Profile::parse("ram = \"64MiB\"\nmeasure = \"pss\"\n", "pss.toml").unwrap();
    let b = evaluate(&snap, &profile).unwrap();
    let measure = finding(&b, "measure_figures");
    assert_eq!(measure.status, Status::Inconclusive);
    assert!(
        measure.message.contains("init (1) by rss"),
        "{}",
        measure.message
    );
    assert!(measure.remedy.as_deref().unwrap().contains("no Pss"));
    let note = b.item("processes").unwrap().note.as_deref().unwrap();
    assert!(note.contains("1 by rss"), "{note}");
    let text = membudget::report::reporter(membudget::report::Format::Text)
        .report(&b, &Default::default());
    let row = text.lines().find(|l| l.contains(" init ")).unwrap();
    assert!(row.contains("rss"), "{row}");
    assert!(!row.contains("virtual"), "{row}");
}

/// The model packs every process's mappings (src/model/mappings.rs). Unpacked, they must be
/// exactly what the parsers read from the board's own files, paired by start address, and the
/// packing must stay small: this is what bounds memory on fleet-sized snapshots.
#[test]
fn zynq_packed_mappings_unpack_to_the_parsed_files() {
    use membudget::parse::smaps::parse_smaps;
    let snapshot = zynq();
    let mut mappings = 0;
    let mut packed_bytes = 0;
    for process in &snapshot.processes {
        let dir = real("innosilicon-t2-zynq-snapshot/proc").join(process.pid.to_string());
        let (maps, _) = parse_maps(&std::fs::read(dir.join("maps")).unwrap());
        let (smaps, _) = parse_smaps(&std::fs::read(dir.join("smaps")).unwrap()).unwrap();
        let unpacked: Vec<_> = process.mappings.iter().collect();
        assert_eq!(unpacked.len(), maps.len(), "pid {}", process.pid);
        for (mapping, map) in unpacked.iter().zip(&maps) {
            assert_eq!(&mapping.map, map, "pid {}", process.pid);
            let from_smaps = smaps.iter().find(|e| e.map.start == map.start);
            assert_eq!(mapping.smaps, from_smaps.map(|e| e.fields), "{map:?}");
        }
        mappings += maps.len();
        packed_bytes += process.mappings.heap_bytes();
    }
    assert_eq!(snapshot.processes.len(), 16);
    assert_eq!(mappings, 487);
    let per_mapping = packed_bytes as f64 / mappings as f64;
    eprintln!("{mappings} mappings packed in {packed_bytes} bytes ({per_mapping:.1} per mapping)");
    assert!(per_mapping < 32.0, "{per_mapping:.1} bytes per mapping");
}
