//! End to end on real ARM boards: Debian's armhf (and arm64) kernel and static busybox booted under
//! qemu-system-arm with a known memory configuration (tests/qemu/init), captured by our own
//! capture script (the one `membudget capture-script` prints), analysed here.
//! Needs qemu-system-arm, cpio and Debian's archive (packages cached under
//! ~/.cache/membudget-qemu); without them this test fails, saying what is missing.

mod common;

use assert_cmd::Command;
use membudget::account::classify::Class;
use membudget::budget::{evaluate, Budget, Status};
use membudget::collect::{load, LiveOptions};
use membudget::profile::Profile;
use std::path::{Path, PathBuf};

const KIB: u64 = 1024;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn require(tool: &str) {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{tool} is not installed: .ci/run installs it (apt-get install qemu-system-arm cpio)"
    );
}

/// Boots the board once and returns the directory of what it streamed out (`board.tar.gz`, the
/// script's capture; with a `native` membudget binary also `native.tar.gz`, `native-check.json`
/// and `native.txt`, see tests/qemu/native.sh).
fn boot_board(work: &Path, arch: &str, native: Option<&Path>) -> PathBuf {
    require(if arch == "arm64" {
        "qemu-system-aarch64"
    } else {
        "qemu-system-arm"
    });
    require("cpio");
    let script = work.join("membudget-capture.sh");
    let printed = Command::cargo_bin("membudget")
        .unwrap()
        .arg("capture-script")
        .output()
        .unwrap();
    assert!(printed.status.success());
    std::fs::write(&script, &printed.stdout).unwrap();
    let out = work.join(format!("board-{arch}"));
    let mut run = std::process::Command::new("bash");
    run.arg(repo("tests/qemu/run-board.sh"))
        .arg(&script)
        .arg(&out)
        .arg(arch);
    if let Some(binary) = native {
        run.env("NATIVE_BINARY", binary);
    }
    let status = run.status().unwrap();
    assert!(
        status.success(),
        "the emulated {arch} board did not produce a capture (see {}/console.log)",
        out.display()
    );
    out
}

#[test]
fn armhf_board_end_to_end() {
    board_end_to_end("armhf");
}

/// The 64-bit variant: Debian's arm64 kernel (deferred struct page init, which the
/// reconciliation must account for) on qemu-system-aarch64 -M virt.
#[test]
fn arm64_board_end_to_end() {
    board_end_to_end("arm64");
}

fn board_end_to_end(arch: &str) {
    let work = tempfile::tempdir().unwrap();
    let capture = boot_board(work.path(), arch, None).join("board.tar.gz");
    let snapshot = load(Some(&capture), LiveOptions::default()).unwrap();
    assert_long_lived_captured(&snapshot);
    let profile = Profile::load(&repo("budgets/qemu-virt-armhf-256m.toml")).unwrap();
    let budget = evaluate(&snapshot, &profile).unwrap();

    // RAM → boot line → MemTotal, with the cma=24M reservation handed back to the allocator.
    let boot = snapshot
        .boot_memory
        .as_ref()
        .expect("dmesg has the Memory: line");
    assert_eq!(boot.total, 262144 * KIB, "the kernel saw all 256 MiB");
    assert_eq!(boot.breakdown_value("cma-reserved"), Some(24 * 1024 * KIB));
    assert_eq!(
        snapshot.kernel_cmdline.as_ref().unwrap().cma,
        Some(24 << 20)
    );
    let reconciliation = budget.reconciliation.as_ref().unwrap();
    assert_eq!(reconciliation.gap, 0, "{reconciliation:?}");
    assert_eq!(snapshot.meminfo.get("CmaTotal"), Some(24 * 1024 * KIB));

    // Exactly what init gave the board.
    assert_eq!(budget.item("ramdisks").unwrap().bytes, Some(8 * 1024 * KIB));
    let volatile = snapshot
        .fs_usage
        .iter()
        .find(|u| u.mount_point == "/var/volatile")
        .expect("df of /var/volatile");
    assert_eq!(volatile.used, 1536 * KIB);
    assert_eq!(volatile.size, 4096 * KIB);
    assert_eq!(budget.item("min_free").unwrap().bytes, Some(2048 * KIB));
    tmpfs_ramfs_and_rootfs_each_once(&snapshot, &budget, &capture);
    zram_item_is_mem_used_total(&budget, &capture);
    dynamic_reconciliation_closes(&budget);

    // The heap holder: 2000 variables of 200 bytes in its brk heap.
    let holder = budget
        .accounting
        .processes
        .iter()
        .find(|p| p.cmdline.contains("HEAPHOLDER"))
        .expect("the heap holder was captured");
    let heap = holder.class(Class::Heap);
    assert!(heap.virtual_size >= 400_000, "heap {heap:?}");
    assert!(heap.rss.unwrap() >= 400_000, "heap resident {heap:?}");
    assert_eq!(holder.vm_size_matches, Some(true));
    for p in &budget.accounting.processes {
        assert_eq!(p.vm_size_matches, Some(true), "{} {}", p.pid, p.name);
    }
    assert!(budget.within_budget, "{:?}", budget.findings);
    // The script's meta lists the pids it skipped (its own short-lived commands) without a
    // reason; the processes read explain AnonPages within the tolerance, so that is a warning.
    for f in &budget.findings {
        match f.rule.as_str() {
            "skipped_processes" => {
                assert_eq!(f.status, Status::Warn);
                assert_eq!(f.actual, Some(snapshot.skipped.len() as i64));
            }
            _ => assert_eq!(f.status, Status::Pass, "{f:?}"),
        }
    }
    let coverage = budget
        .findings
        .iter()
        .find(|f| f.rule == "process_coverage")
        .unwrap();
    assert_eq!(
        coverage.limit,
        snapshot.meminfo.get("AnonPages").map(|a| a as i64)
    );

    // The verdict through the binary: pass with the board's profile...
    let check = |profile: &Path| {
        Command::cargo_bin("membudget")
            .unwrap()
            .arg("check")
            .arg(&capture)
            .arg("-p")
            .arg(profile)
            .output()
            .unwrap()
    };
    let pass = check(&repo("budgets/qemu-virt-armhf-256m.toml"));
    assert_eq!(
        pass.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pass.stdout)
    );
    // ...fail when the demand outgrows the RAM (reserves beyond the headroom)...
    let headroom_kib = budget.headroom as u64 / KIB;
    let tight = work.path().join("tight.toml");
    std::fs::write(
        &tight,
        format!(
            "ram = \"256MiB\"\n[reserves]\nbig = \"{}KiB\"\n",
            headroom_kib + 30 * 1024 + 4
        ),
    )
    .unwrap();
    let fail = check(&tight);
    assert_eq!(
        fail.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&fail.stdout)
    );
    // ...and refuse a RAM below what the kernel itself reports (not this board).
    std::fs::write(&tight, "ram = \"128MiB\"\n").unwrap();
    let refused = check(&tight);
    assert_eq!(refused.status.code(), Some(2));

    // A first profile written from this capture holds the board to today's figures.
    let unpacked = work.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&capture)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(status.success());
    let round_trip = work.path().join("profile-new");
    std::fs::create_dir_all(&round_trip).unwrap();
    common::profile_new_round_trip(&snapshot_root(&unpacked), &round_trip);
}

/// The directory of an unpacked capture that holds `proc` (the archive may wrap it in one).
fn snapshot_root(unpacked: &Path) -> PathBuf {
    if unpacked.join("proc").is_dir() {
        return unpacked.to_path_buf();
    }
    std::fs::read_dir(unpacked)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("proc").is_dir())
        .expect("an unpacked capture with a proc directory")
}

/// The initramfs root, the tmpfs and the ramfs: each kept, each once. ramfs is beside Shmem,
/// never offset against it; the tmpfs line is files + shmem objects + the rest of Shmem.
fn tmpfs_ramfs_and_rootfs_each_once(
    snapshot: &membudget::model::Snapshot,
    budget: &Budget,
    capture: &Path,
) {
    let usage = |point: &str| {
        snapshot
            .fs_usage
            .iter()
            .find(|u| u.mount_point == point)
            .unwrap_or_else(|| panic!("no usage for {point}: {:?}", snapshot.fs_usage))
    };
    assert_eq!(usage("/var/ramfs").used, 1024 * KIB);
    let shmem = &budget.shmem;
    // The initramfs root is tmpfs here (`rootfs ... size=`), and busybox's df leaves it out:
    // its files are the rest of Shmem (no shared anonymous memory or memfd on this board),
    // within 1 % of the initramfs's files in whole pages.
    if !snapshot.fs_usage.iter().any(|u| u.mount_point == "/") {
        assert!(snapshot.unmeasured_mounts.iter().any(|m| m == "/"));
        let files = initramfs_file_pages(&capture.with_file_name("initramfs.cpio.gz"));
        let rest = shmem.remainder.unwrap();
        assert!(
            rest.abs_diff(files) <= files / 100,
            "rest of Shmem {rest}, rootfs files {files}"
        );
    }
    assert!(shmem.ramfs_files >= 1024 * KIB, "{shmem:?}");
    assert_eq!(shmem.excess, 0, "the parts exceed Shmem: {shmem:?}");
    let files: u64 = snapshot.fs_usage.iter().map(|u| u.used).sum();
    let tmpfs = budget.item("tmpfs").unwrap();
    assert_eq!(
        tmpfs.bytes,
        Some(files + shmem.objects_total(budget.measure) + shmem.remainder.unwrap()),
        "{tmpfs:?}"
    );
    // Shmem holds every tmpfs file (the rootfs too when it is tmpfs) and nothing of ramfs.
    let meminfo_shmem = snapshot.meminfo.get("Shmem").unwrap();
    assert!(meminfo_shmem >= shmem.tmpfs_files, "{shmem:?}");
    println!(
        "tmpfs line {} kB: tmpfs files {} kB, ramfs files {} kB, objects {}, rest of Shmem {} kB (Shmem {} kB)",
        tmpfs.bytes.unwrap() / KIB,
        shmem.tmpfs_files / KIB,
        shmem.ramfs_files / KIB,
        shmem.objects.len(),
        shmem.remainder.unwrap() / KIB,
        meminfo_shmem / KIB
    );
}

/// MemTotal = free + reclaimable + in use + unattributed, exactly; what no counter explains
/// stays within the tolerance (3 % of MemTotal) on a board whose drivers hold nothing.
/// init filled a zram disk with 4 MiB of compressible text: the zram line item is exactly the
/// compressed memory the kernel says it holds, field 3 (mem_used_total) of the raw mm_stat in
/// the archive, read here with tar, not through membudget's parser.
fn zram_item_is_mem_used_total(budget: &Budget, capture: &Path) {
    let out = std::process::Command::new("tar")
        .arg("-xzOf")
        .arg(capture)
        .arg("sys/block/zram0/mm_stat")
        .output()
        .unwrap();
    assert!(out.status.success(), "no zram0/mm_stat in the capture");
    let fields: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    let (orig_data_size, mem_used_total) = (fields[0], fields[2]);
    assert_eq!(orig_data_size, 4096 * KIB, "{fields:?}");
    assert!(
        mem_used_total > 0 && mem_used_total < orig_data_size,
        "{fields:?}"
    );
    let zram = budget.item("zram").expect("a zram line item");
    assert_eq!(zram.bytes, Some(mem_used_total), "{zram:?}");
    println!("zram: 4 MiB of text held in {mem_used_total} bytes");
}

fn dynamic_reconciliation_closes(budget: &Budget) {
    let d = budget.dynamic.as_ref().expect("meminfo has the counters");
    let rows: i64 = d.rows.iter().map(|r| r.bytes as i64).sum();
    assert_eq!(rows + d.unattributed, d.mem_total as i64);
    println!(
        "unattributed {} kB ({:.2} % of MemTotal), explained by no counter {} kB",
        d.unattributed / 1024,
        d.unattributed as f64 * 100.0 / d.mem_total as f64,
        d.unexplained / 1024
    );
    assert!(!d.flagged, "{d:#?}");
}

/// The bytes of the initramfs's regular files, each rounded up to whole 4 KiB pages (what they
/// take in a tmpfs), from `cpio -itv`'s listing.
fn initramfs_file_pages(cpio_gz: &Path) -> u64 {
    let listing = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("zcat '{}' | cpio -itv --quiet", cpio_gz.display()))
        .output()
        .unwrap();
    assert!(listing.status.success());
    String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| {
            let size: u64 = l.split_whitespace().nth(4).unwrap().parse().unwrap();
            size.div_ceil(4096) * 4096
        })
        .sum()
}

/// The board's `while :; do sleep 1; done` loop and the heap holder's `sleep 5` start
/// short-lived processes: those that exit while the capture reads them are recorded as skipped
/// rather than failing it. The long-lived ones must all be there.
fn assert_long_lived_captured(snapshot: &membudget::model::Snapshot) {
    for wanted in ["sleep 600", "HEAPHOLDER", "httpd -p"] {
        assert!(
            snapshot
                .processes
                .iter()
                .any(|p| p.cmdline.contains(wanted)),
            "{wanted} was not captured; skipped: {:?}",
            snapshot.skipped
        );
    }
}

/// `key=value` lines of the board's native.txt.
fn native_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("native.txt has no {key}: {text}"))
        .to_string()
}

/// The static armv7 board binary (scripts/build-board-binaries.sh) on the armhf board.
#[test]
fn armhf_board_runs_the_native_binary() {
    board_runs_the_native_binary("armhf", "armv7");
}

/// The static aarch64 board binary on the arm64 board.
#[test]
fn arm64_board_runs_the_native_binary() {
    board_runs_the_native_binary("arm64", "aarch64");
}

/// A board binary on the emulated board itself: it captures a board of 100 processes and checks
/// it, live and from that capture. Its JSON verdict on the capture must be the host's, byte for
/// byte (paths mapped), and the capture must hold every long-lived process and every sleeper
/// the board started. Prints the capture's peak RSS on the board (`busybox time -v`), the figure
/// docs/performance.md states.
fn board_runs_the_native_binary(arch: &str, board: &str) {
    let work = tempfile::tempdir().unwrap();
    common::build_board_binaries(work.path(), &[board]);
    let out = boot_board(
        work.path(),
        arch,
        Some(&work.path().join(format!("membudget-{board}"))),
    );
    let native = std::fs::read_to_string(out.join("native.txt")).unwrap();
    println!("board native run:\n{native}");
    let processes: u32 = native_value(&native, "processes").parse().unwrap();
    assert!((99..=101).contains(&processes), "{processes} processes");
    assert_eq!(native_value(&native, "capture-exit"), "0");
    assert_eq!(native_value(&native, "live-check-exit"), "0", "{native}");
    assert_eq!(native_value(&native, "capture-check-exit"), "0");
    let peak_kib: u64 = native_value(&native, "peak_rss_kb").parse().unwrap();
    assert!(peak_kib > 0);

    let capture = out.join("native.tar.gz");
    let snapshot = load(Some(&capture), LiveOptions::default()).unwrap();
    let sleepers = snapshot
        .processes
        .iter()
        .filter(|p| p.cmdline == "sleep 700")
        .count();
    let added: usize = native_value(&native, "added").parse().unwrap();
    assert!(added > 0);
    assert_eq!(
        sleepers, added,
        "every sleeper the board started is captured"
    );
    assert_long_lived_captured(&snapshot);
    assert!(snapshot.processes.iter().any(|p| p.has_smaps()));

    let board_json = std::fs::read_to_string(out.join("native-check.json")).unwrap();
    let profile = repo("budgets/qemu-virt-armhf-256m.toml");
    let host = Command::cargo_bin("membudget")
        .unwrap()
        .arg("check")
        .arg(&capture)
        .arg("-p")
        .arg(&profile)
        .args(["--format", "json", "-q"])
        .output()
        .unwrap();
    assert_eq!(host.status.code(), Some(0));
    // The same verdict, figure for figure; only the paths differ (the board had the capture
    // and the profile at /mnt/capture/native.tar.gz and /board.toml).
    let host_json = String::from_utf8(host.stdout)
        .unwrap()
        .replace(&*capture.to_string_lossy(), "/mnt/capture/native.tar.gz")
        .replace(&*profile.to_string_lossy(), "/board.toml");
    assert!(
        board_json == host_json,
        "the board's verdict differs from the host's:\n{board_json}\n---\n{host_json}"
    );
}
