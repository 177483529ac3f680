//! Closed accounting (issue 12): shmem objects, written private pages of RAM files, and the
//! dynamic reconciliation, against workloads of known construction
//! (tests/workloads/shm_objects.c), hand-built maps fixtures, a real board and this machine.
//!
//! "Demand grows by the touched size" is measured on one snapshot against the same snapshot
//! with the workload taken out: its process removed and its pages handed back to MemFree in
//! meminfo (from the counter the kernel keeps them in: Shmem and Cached for shmem, AnonPages for
//! private copies). Two live snapshots taken apart in time would differ by whatever else this
//! shared machine did meanwhile.

mod common;

use membudget::account::shmem::ObjectKind;
use membudget::account::Measure;
use membudget::budget::{evaluate, Budget};
use membudget::collect::{load, LiveOptions};
use membudget::model::Snapshot;
use membudget::profile::Profile;
use std::path::Path;
use std::process::{Child, Command};

const MIB: u64 = 1 << 20;
const KIB: u64 = 1 << 10;

fn profile(measure: Measure) -> Profile {
    Profile::parse(
        &format!("ram = \"auto\"\nmeasure = \"{}\"\n", measure.name()),
        "test profile",
    )
    .unwrap()
}

fn budget(snapshot: &Snapshot, measure: Measure) -> Budget {
    evaluate(snapshot, &profile(measure)).unwrap()
}

/// The snapshot as it was before `pid` built its memory: the process gone, and `bytes` moved
/// from each meminfo counter in `counters` back to MemFree.
fn without(snapshot: &Snapshot, pid: u32, counters: &[&str], bytes: u64) -> Snapshot {
    let mut before = snapshot.clone();
    before.processes.retain(|p| p.pid != pid);
    for counter in counters {
        let value = before.meminfo.fields.get_mut(*counter).unwrap();
        *value = value.checked_sub(bytes).unwrap();
    }
    *before.meminfo.fields.get_mut("MemFree").unwrap() += bytes;
    before
}

fn within_one_percent(what: &str, grew: i64, touched: u64) {
    let error = grew.abs_diff(touched as i64);
    println!(
        "{what:<40} touched {touched:>10}  demand grew {grew:>10}  error {:+.3}%",
        (grew as f64 - touched as f64) * 100.0 / touched as f64
    );
    assert!(
        error <= touched / 100,
        "{what}: demand grew by {grew}, touched {touched}"
    );
}

/// Demand of `after` minus demand of `before`, under `measure`.
fn growth(after: &Snapshot, before: &Snapshot, measure: Measure) -> i64 {
    budget(after, measure).demand as i64 - budget(before, measure).demand as i64
}

/// A running workload, killed when dropped (also when an assertion fails).
struct Workload(Child);

impl Workload {
    fn start(binary: &Path, args: &[&str]) -> Workload {
        let (child, line) = common::start_workload(Command::new(binary).args(args));
        assert_eq!(line, "ready\n", "workload {args:?} not ready");
        Workload(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn live() -> Snapshot {
    load(None, LiveOptions { smaps: true }).unwrap()
}

const TOUCHED: u64 = 128 * MIB;

/// memfd and SysV shm: once, as shmem objects of the tmpfs line, never in the process, never
/// twice (as an object and again in the rest of Shmem).
fn shmem_object_counted_once(mode: &str, kind: ObjectKind) {
    let dir = tempfile::tempdir().unwrap();
    let binary = common::compile_workload(dir.path(), "shm_objects", &[]);
    let workload = Workload::start(&binary, &[mode, &(TOUCHED / MIB).to_string()]);
    let after = live();
    let b = budget(&after, Measure::Rss);
    let object = b
        .shmem
        .objects
        .iter()
        .find(|o| o.kind == kind && o.processes == 1 && o.virtual_size == TOUCHED)
        .unwrap_or_else(|| panic!("no {mode} object of {TOUCHED} bytes: {:?}", b.shmem.objects));
    assert_eq!(object.resident, Some(TOUCHED));
    let mut before = without(&after, workload.pid(), &["Shmem", "Cached"], TOUCHED);
    // Before the workload, the kernel's SysV table did not list its segment either.
    let segments = before.kernel_files.sysv_shm.as_mut().unwrap();
    segments.retain(|s| kind != ObjectKind::Sysv || s.shmid != object.inode);
    for measure in [Measure::Virtual, Measure::Rss, Measure::Pss] {
        within_one_percent(
            &format!("{mode} ({})", measure.name()),
            growth(&after, &before, measure),
            TOUCHED,
        );
    }
}

#[test]
fn memfd_touched_memory_is_demand() {
    shmem_object_counted_once("memfd", ObjectKind::Memfd);
}

#[test]
fn sysv_touched_memory_is_demand() {
    shmem_object_counted_once("sysv", ObjectKind::Sysv);
}

/// A sparse file on /dev/shm mapped MAP_PRIVATE and written whole: the written pages are the
/// process's own anonymous copies (AnonPages), its data; the file itself holds no block.
#[test]
fn written_private_mapping_of_a_tmpfs_file_is_the_writers() {
    let dir = tempfile::tempdir().unwrap();
    let binary = common::compile_workload(dir.path(), "shm_objects", &[]);
    let path = format!("/dev/shm/membudget-cow-{}", std::process::id());
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _remove = Remove(path.clone());
    let workload = Workload::start(&binary, &["cow", &(TOUCHED / MIB).to_string(), &path]);
    let after = live();
    let before = without(&after, workload.pid(), &["AnonPages"], TOUCHED);
    for measure in [Measure::Virtual, Measure::Rss, Measure::Pss] {
        within_one_percent(
            &format!("COW tmpfs mapping ({})", measure.name()),
            growth(&after, &before, measure),
            TOUCHED,
        );
    }
}

/// Writes a minimal snapshot: meminfo, a tmpfs mount with its df line, one process.
fn fixture(dir: &Path, meminfo: &str, maps: &str) -> Snapshot {
    let files = [
        ("proc/meminfo", meminfo.to_string()),
        ("proc/mounts", "tmpfs /dev/shm tmpfs rw 0 0\n".to_string()),
        (
            "df",
            "Filesystem 1K-blocks Used Available Use% Mounted on\ntmpfs 65536 0 65536 0% /dev/shm\n"
                .to_string(),
        ),
        ("proc/1/status", "Name:\tapp_process\nTgid:\t1\n".to_string()),
        ("proc/1/maps", maps.to_string()),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    load(Some(dir), LiveOptions::default()).unwrap()
}

fn meminfo(free: u64, cached: u64, anon: u64, shmem: u64) -> String {
    format!(
        "MemTotal: 262144 kB\nMemFree: {free} kB\nBuffers: 0 kB\nCached: {cached} kB\nSwapCached: 0 kB\nActive(file): {} kB\nInactive(file): 0 kB\nAnonPages: {anon} kB\nMapped: 0 kB\nShmem: {shmem} kB\nSlab: 4096 kB\nKernelStack: 512 kB\nPageTables: 256 kB\n",
        cached - shmem
    )
}

const APP: &str = "00400000-00410000 r-xp 00000000 1f:02 17 /system/bin/app_process\n00410000-00411000 rw-p 00010000 1f:02 17 /system/bin/app_process\n7f000000-7f021000 rw-p 00000000 00:00 0 [stack]\n";

/// Android ashmem: a shared region is a shmem object (in Shmem, counted once in the tmpfs
/// line), the private `dalvik-heap` is anonymous memory of the process. Both were "device"
/// memory before, and left out of RAM.
#[test]
fn ashmem_regions_are_demand() {
    let heap = 32 * MIB;
    let shared = 16 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let before = fixture(
        &dir.path().join("before"),
        &meminfo(200000, 20000, 1024, 1024),
        APP,
    );
    let with_heap = format!(
        "{APP}12c00000-14c00000 rw-p 00000000 00:05 3311 /dev/ashmem/dalvik-heap (deleted)\n"
    );
    let after_heap = fixture(
        &dir.path().join("heap"),
        &meminfo(200000 - heap / KIB, 20000, 1024 + heap / KIB, 1024),
        &with_heap,
    );
    within_one_percent(
        "ashmem dalvik-heap, private (virtual)",
        growth(&after_heap, &before, Measure::Virtual),
        heap,
    );
    let with_shared = format!(
        "{with_heap}20000000-21000000 rw-s 00000000 00:05 3312 /dev/ashmem/GFXStats-4292 (deleted)\n"
    );
    let after_shared = fixture(
        &dir.path().join("shared"),
        &meminfo(
            200000 - (heap + shared) / KIB,
            20000 + shared / KIB,
            1024 + heap / KIB,
            1024 + shared / KIB,
        ),
        &with_shared,
    );
    within_one_percent(
        "ashmem GFXStats, shared (virtual)",
        growth(&after_shared, &after_heap, Measure::Virtual),
        shared,
    );
    let b = budget(&after_shared, Measure::Virtual);
    assert_eq!(b.shmem.objects.len(), 1);
    assert_eq!(b.shmem.objects[0].kind, ObjectKind::Ashmem);
    assert_eq!(b.shmem.objects[0].virtual_size, shared);
    assert_eq!(b.device_mapped, 0);
    // Shmem 17408 kB = the object, and 1024 kB of rest: the tmpfs line holds both, once.
    assert_eq!(b.item("tmpfs").unwrap().bytes, Some(shared + 1024 * KIB));
}

fn real(name: &str) -> Snapshot {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(name);
    load(Some(&dir), LiveOptions::default()).unwrap()
}

/// Every row and the unattributed remainder sum to MemTotal exactly.
fn closes(d: &membudget::account::dynamic::DynamicReconciliation) {
    let rows: i64 = d.rows.iter().map(|r| r.bytes as i64).sum();
    assert_eq!(rows + d.unattributed, d.mem_total as i64);
}

/// The Zynq board (kernel 4.4, 256 MiB): every figure hand-computed from its meminfo.
#[test]
fn zynq_dynamic_reconciliation() {
    let snapshot = real("innosilicon-t2-zynq-snapshot");
    // Its `proc/sysvipc_shm` (the older capture's name) is the header alone: no segment.
    assert_eq!(snapshot.kernel_files.sysv_shm, Some(Vec::new()));
    let b = budget(&snapshot, Measure::Virtual);
    let d = b.dynamic.as_ref().unwrap();
    closes(d);
    let row = |key: &str| d.rows.iter().find(|r| r.key == key).unwrap().bytes;
    assert_eq!(row("MemFree"), 138776 * KIB);
    // file LRU 7340 + 70768 = 78108 kB, of which Mapped 5180 kB is in use by processes.
    assert_eq!(row("reclaimable"), (78108 - 5180) * KIB);
    assert_eq!(row("mapped_file"), 5180 * KIB);
    assert_eq!(row("Shmem"), 5108 * KIB);
    // Cached 83216 = Shmem 5108 + file LRU 78108: no ramfs, nothing mlocked.
    assert_eq!(row("locked_file"), 0);
    assert_eq!(row("AnonPages"), 12444 * KIB);
    // 252308 - (138776 + 83216 + 12444 + 13264 + 880 + 372) kB: 1.33 % of MemTotal. Of it,
    // 88 free pages sit on the per-CPU lists (zoneinfo pagesets: 49 + 39); 4.4 has no Percpu
    // or Hugetlb line. CMA in use (16384 - 16112 kB) could be 272 kB of the rest. The rest,
    // 3004 kB (1.19 %), is below the 3 % tolerance (7569 kB): not flagged.
    assert_eq!(d.unattributed, 3356 * KIB as i64);
    assert_eq!(d.counted.len(), 1);
    assert_eq!(d.counted[0].bytes, 88 * 4 * KIB);
    assert_eq!(d.unexplained, 3004 * KIB as i64);
    assert_eq!(d.tolerance, 252308 * KIB * 3 / 100);
    assert!(!d.flagged);
    assert_eq!(d.hints[0].bytes, 272 * KIB);
    assert_eq!(b.item("unattributed").unwrap().bytes, Some(3356 * KIB));
}

/// The ZTE ONT board: 22 MB (23.5 % of MemTotal) explained by no counter, flagged.
#[test]
fn zte_unattributed_memory_is_flagged() {
    let b = budget(&real("zte-zx279128-ont-snapshot"), Measure::Virtual);
    let d = b.dynamic.as_ref().unwrap();
    closes(d);
    // 94412 - (2016 + 4456 + 28648 + 12504 + 23104 + 960 + 548) kB
    assert_eq!(d.unattributed, 22176 * KIB as i64);
    assert!(d.flagged);
    let finding = b
        .findings
        .iter()
        .find(|f| f.rule == "dynamic_reconciliation")
        .unwrap();
    assert_eq!(finding.status, membudget::budget::Status::Warn);
}

/// This machine: the rows close to MemTotal exactly, and what no counter explains stays
/// within the tolerance (measured: 0.6 to 1.6 % on the development machine).
#[test]
fn live_dynamic_reconciliation() {
    let snapshot = live();
    let b = budget(&snapshot, Measure::Rss);
    let d = b.dynamic.as_ref().unwrap();
    closes(d);
    println!(
        "live: unattributed {} kB ({:.2} % of MemTotal), explained by no counter {} kB, tolerance {} kB",
        d.unattributed / 1024,
        d.unattributed as f64 * 100.0 / d.mem_total as f64,
        d.unexplained / 1024,
        d.tolerance / 1024
    );
    assert!(!d.flagged, "{d:#?}");
    // zram on this machine (if any): the item is mm_stat's mem_used_total, read here apart.
    if let Some(zram) = b.item("zram") {
        let expected: u64 = snapshot
            .kernel_files
            .zram
            .keys()
            .map(|name| {
                let text = std::fs::read_to_string(format!("/sys/block/{name}/mm_stat")).unwrap();
                text.split_whitespace()
                    .nth(2)
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        assert_eq!(zram.bytes, Some(expected));
    }
}

/// The native capture takes the kernel files of contract 3 that this kernel has, and reading
/// the capture back gives their figures (a file absent here stays unknown).
#[test]
fn native_capture_takes_the_new_kernel_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("board.tar.gz");
    membudget::capture::capture_live(&path, LiveOptions::default()).unwrap();
    let snapshot = load(Some(&path), LiveOptions::default()).unwrap();
    let files = &snapshot.kernel_files;
    let present = |rel: &str| Path::new("/").join(rel).exists();
    assert_eq!(files.vmstat.is_some(), present("proc/vmstat"));
    assert_eq!(files.zones.is_some(), present("proc/zoneinfo"));
    assert_eq!(files.swaps.is_some(), present("proc/swaps"));
    assert_eq!(files.sysv_shm.is_some(), present("proc/sysvipc/shm"));
    assert_eq!(files.modules.is_some(), present("proc/modules"));
    assert_eq!(files.pressure.is_some(), present("proc/pressure/memory"));
    assert!(files.vmstat.as_ref().unwrap().contains_key("nr_free_pages"));
    let zram_here: Vec<String> = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("zram"))
        .collect();
    for name in &zram_here {
        assert!(files.zram[name].mm_stat.is_some(), "{name}");
        assert!(files.zram[name].disksize.is_some(), "{name}");
    }
    assert_eq!(files.zram.len(), zram_here.len());
}
