//! End to end on real ARM boards: Debian's armhf (and arm64) kernel and static busybox booted under
//! qemu-system-arm with a known memory configuration (tests/qemu/init), captured by our own
//! capture script (the one `membudget capture-script` prints), analysed here.
//! Needs qemu-system-arm, cpio and Debian's archive (packages cached under
//! ~/.cache/membudget-qemu); without them this test fails, saying what is missing.

use assert_cmd::Command;
use membudget::account::classify::Class;
use membudget::budget::{evaluate, Status};
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

/// Boots the board once and returns the capture it streamed out.
fn boot_board(work: &Path, arch: &str) -> PathBuf {
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
    let status = std::process::Command::new("bash")
        .arg(repo("tests/qemu/run-board.sh"))
        .arg(&script)
        .arg(&out)
        .arg(arch)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the emulated {arch} board did not produce a capture (see {}/console.log)",
        out.display()
    );
    out.join("board.tar.gz")
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
    let capture = boot_board(work.path(), arch);
    let snapshot = load(Some(&capture), LiveOptions::default()).unwrap();
    // The board's `while :; do sleep 1; done` loop and the heap holder's `sleep 5` start
    // short-lived processes: those that exit while the capture reads them are recorded as
    // skipped rather than failing it. The long-lived ones must all be there.
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
}
