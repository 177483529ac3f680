//! Live capture on a machine that does not hold still: processes that exit while they are read,
//! and processes we may not read (as an unprivileged user). Both are recorded, never fatal.

mod common;

use assert_cmd::Command;
use membudget::collect::{load, LiveOptions};
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Spawns and kills short-lived processes until stopped; stops when dropped, also on failure.
struct Churn {
    stop: Arc<AtomicBool>,
    worker: Option<std::thread::JoinHandle<u64>>,
}

impl Churn {
    fn start() -> Churn {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let worker = std::thread::spawn(move || {
            let mut spawned = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let mut batch: Vec<_> = (0..8)
                    .filter_map(|_| {
                        std::process::Command::new("sleep")
                            .arg("0.01")
                            .stdout(Stdio::null())
                            .spawn()
                            .ok()
                    })
                    .collect();
                spawned += batch.len() as u64;
                // Half die by signal at once, half exit on their own.
                for (i, child) in batch.iter_mut().enumerate() {
                    if i % 2 == 0 {
                        let _ = child.kill();
                    }
                }
                for mut child in batch {
                    let _ = child.wait();
                }
            }
            spawned
        });
        Churn {
            stop,
            worker: Some(worker),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.worker.take().unwrap().join().unwrap()
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[test]
fn processes_exiting_during_capture_are_skipped_not_fatal() {
    common::require_tool("sleep");
    let churn = Churn::start();
    let mut vanished = 0;
    for _ in 0..10 {
        let snapshot = load(None, LiveOptions { smaps: true })
            .expect("a live capture never fails because processes come and go");
        for s in &snapshot.skipped {
            // In a VM or container the init process may be closed even to root.
            assert!(
                s.reason.contains("vanished") || s.reason.contains("permission denied"),
                "pid {}: {}",
                s.pid,
                s.reason
            );
        }
        vanished += snapshot
            .skipped
            .iter()
            .filter(|s| s.reason.contains("vanished"))
            .count();
        assert!(!snapshot.processes.is_empty());
    }
    // The binary's capture too: exit 0 and a readable archive.
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("churn.tar.gz");
    Command::cargo_bin("membudget")
        .unwrap()
        .args(["capture", "--smaps", "-o"])
        .arg(&archive)
        .assert()
        .success();
    let spawned = churn.finish();
    println!(
        "{spawned} short-lived processes spawned; {vanished} vanished mid-read and were skipped"
    );
    let captured = load(Some(&archive), LiveOptions::default()).unwrap();
    assert!(!captured.processes.is_empty());
}

#[test]
fn unreadable_processes_are_recorded_as_an_unprivileged_user() {
    let setpriv = common::require_tool("setpriv");
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let archive = dir.path().join("nobody.tar.gz");
    let binary = assert_cmd::cargo::cargo_bin("membudget");
    let held = common::HeldProcess::sleep(); // a root-owned process nobody may read
    let own = common::HeldProcess::start(
        std::process::Command::new(&setpriv).args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sleep",
            "1000",
        ]),
        "sleep",
    ); // and one of nobody's own, which it may
    let out = std::process::Command::new(&setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args(["capture", "-o"])
        .arg(&archive)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "capture as nobody failed: {stderr}");
    let snapshot = load(Some(&archive), LiveOptions::default()).unwrap();
    let skipped: Vec<u32> = snapshot.skipped.iter().map(|s| s.pid).collect();
    println!(
        "as nobody: {} processes read, {} skipped",
        snapshot.processes.len(),
        skipped.len()
    );
    assert!(
        skipped.contains(&held.pid()),
        "root's sleep {} not among the skipped {skipped:?}",
        held.pid()
    );
    assert!(
        snapshot.processes.iter().any(|p| p.pid == own.pid()),
        "nobody's own sleep {} was not read",
        own.pid()
    );
    if std::fs::metadata("/proc/1").is_ok() {
        assert!(
            skipped.contains(&1),
            "pid 1 not among the skipped {skipped:?}"
        );
    }
    // The skipped list lives in the capture's meta, and the report names each pid.
    let meta = snapshot.meta.get("skipped").unwrap_or_default().to_string();
    assert!(
        meta.split(',').any(|p| p == held.pid().to_string()),
        "{meta}"
    );
    let report = Command::cargo_bin("membudget")
        .unwrap()
        .arg("report")
        .arg(&archive)
        .output()
        .unwrap();
    assert_eq!(report.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert!(
        stderr.contains(&format!("skipped pid {}", held.pid())),
        "{stderr}"
    );
}
