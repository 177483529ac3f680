//! `membudget trend` on a live workload whose leak is known by construction
//! (tests/workloads/leaker.c): it must name the leaker, measure its rate within 10 % of what
//! it allocates, find the size of its mmap'd blocks, and call its steady neighbour stable.

mod common;

use assert_cmd::Command;
use common::HeldProcess;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const KIB: f64 = 1024.0;
/// Per tick: one 200 KiB block (mmap'd: above M_MMAP_THRESHOLD) and four of 16 KiB (brk heap).
const BIG_KIB: u64 = 200;
const SMALL_COUNT: u64 = 4;
const SMALL_KIB: u64 = 16;
const PERIOD_MS: u64 = 100;
/// Enough ticks to outlast the captures; the process is killed when they are done.
const TICKS: u64 = 400;

/// Compiles the workload with the system C compiler (CI installs it: .ci/run).
fn compile(dir: &Path) -> PathBuf {
    let cc = common::require_tool("cc");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/leaker.c");
    let binary = dir.join("leaker");
    let status = std::process::Command::new(cc)
        .args(["-O0", "-Wall", "-o"])
        .arg(&binary)
        .arg(&source)
        .status()
        .unwrap();
    assert!(status.success(), "compiling {} failed", source.display());
    binary
}

/// Starts the workload; it is killed when the test ends, pass or fail.
fn start(binary: &Path, args: &[u64]) -> HeldProcess {
    let name = binary.file_name().unwrap().to_string_lossy().into_owned();
    HeldProcess::start(
        std::process::Command::new(binary)
            .args(args.iter().map(u64::to_string))
            .stdout(Stdio::null()),
        &name,
    )
}

fn membudget() -> Command {
    Command::cargo_bin("membudget").unwrap()
}

fn process(trend: &Value, pid: u32) -> &Value {
    trend["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pid"] == pid)
        .unwrap_or_else(|| panic!("pid {pid} is not in the trend"))
}

#[test]
fn names_the_leaker_its_rate_and_block_size() {
    let work = tempfile::tempdir().unwrap();
    let leaker_binary = compile(work.path());
    // The same program under another name, leaking nothing.
    let steady_binary = work.path().join("steady");
    std::fs::copy(&leaker_binary, &steady_binary).unwrap();

    let leaker = start(
        &leaker_binary,
        &[BIG_KIB, SMALL_COUNT, SMALL_KIB, PERIOD_MS, TICKS],
    );
    let steady = start(&steady_binary, &[0, 0, 0, PERIOD_MS, TICKS]);
    // Let the first ticks leak before the first capture.
    std::thread::sleep(Duration::from_millis(300));

    let series = work.path().join("series");
    std::fs::create_dir(&series).unwrap();
    for k in 1..=8 {
        let sample = series.join(format!("sample-{k:04}.tar.gz"));
        membudget()
            .arg("capture")
            .arg("-o")
            .arg(&sample)
            .assert()
            .success();
        // Intervals alternate by one tick, so the blocks leaked per interval differ by one
        // (n, n+1, n, ...: coprime) and their GCD is one block, not an artefact of the timing:
        // a fixed 400 ms on a quiet machine leaked exactly four blocks every time.
        std::thread::sleep(Duration::from_millis(300 + PERIOD_MS * (k % 2)));
    }
    let (leaker_pid, steady_pid) = (leaker.pid(), steady.pid());
    drop(leaker);
    drop(steady);

    let output = membudget()
        .args(["trend", "--format", "json"])
        .arg(&series)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trend: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(trend["samples"].as_array().unwrap().len(), 8);

    let leaker = process(&trend, leaker_pid);
    assert_eq!(leaker["name"], "leaker");
    assert_eq!(leaker["verdict"], "leak_suspect", "{leaker:#}");
    let per_hour = 3600.0 * 1000.0 / PERIOD_MS as f64;
    let allocated = (BIG_KIB + SMALL_COUNT * SMALL_KIB) as f64 * KIB * per_hour;
    let measured = leaker["rate_per_hour"].as_f64().unwrap();
    eprintln!(
        "leaker: allocates {:.0} KiB/s, measured {:.0} KiB/s ({:+.2} %)",
        allocated / KIB / 3600.0,
        measured / KIB / 3600.0,
        (measured / allocated - 1.0) * 100.0
    );
    assert!(
        (measured / allocated - 1.0).abs() < 0.10,
        "measured {measured} B/h against {allocated} B/h allocated"
    );
    // The mmap'd blocks alone: 200 KiB + malloc's header, rounded to pages = 204 KiB each.
    let anon = leaker["metrics"]["anon"]["rate_per_hour"].as_f64().unwrap();
    let mapped_block = 204.0 * KIB;
    assert!(
        (anon / (mapped_block * per_hour) - 1.0).abs() < 0.10,
        "anon rate {anon} B/h"
    );
    assert_eq!(leaker["metrics"]["anon"]["verdict"], "leak_suspect");
    let block = &leaker["attribution"]["block_size"];
    eprintln!("leaker: block size {block}");
    assert_eq!(block["bytes"], 204 * 1024, "{:#}", leaker["attribution"]);

    let steady = process(&trend, steady_pid);
    assert_eq!(steady["name"], "steady");
    assert_eq!(steady["verdict"], "stable", "{steady:#}");
    assert_eq!(steady["rate_per_hour"], 0.0);

    // The text names the leaker and the block size; --fail-on-leak turns the suspect into 1.
    let text = membudget()
        .args(["trend", "--fail-on-leak"])
        .arg(&series)
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(1));
    let text = String::from_utf8(text.stdout).unwrap();
    let suspects = text
        .lines()
        .find(|l| l.starts_with("Leak suspects: "))
        .unwrap_or_else(|| panic!("no suspects line in\n{text}"));
    assert!(
        suspects.contains(&format!("leaker (pid {leaker_pid}, ")),
        "{suspects}"
    );
    assert!(!suspects.contains("steady"), "{suspects}");
    assert!(text.contains("Leaking block size: 204 KiB"), "{text}");
    let markdown = membudget()
        .args(["trend", "--format", "markdown"])
        .arg(&series)
        .output()
        .unwrap();
    let markdown = String::from_utf8(markdown.stdout).unwrap();
    assert!(
        markdown.contains(&format!("## leaker (pid {leaker_pid}): LEAK SUSPECT")),
        "{markdown}"
    );
}
