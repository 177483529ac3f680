//! `membudget capture -o DIR --every ... --count N`: a directory of whole samples, in time
//! order; Ctrl-C keeps the samples taken and leaves no half-written archive.

mod common;

use membudget::collect::{load, LiveOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use common::sorted_names as entries;

/// Loads every sample and returns their `meta` times, in file-name order.
fn sample_times(dir: &Path) -> Vec<f64> {
    entries(dir)
        .iter()
        .map(|name| {
            let snapshot = load(Some(&dir.join(name)), LiveOptions::default())
                .unwrap_or_else(|e| panic!("{name} does not load: {e}"));
            assert!(!snapshot.processes.is_empty(), "{name} has no processes");
            snapshot.meta.time().expect("sample without meta time")
        })
        .collect()
}

fn assert_increasing(times: &[f64]) {
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "times not increasing: {times:?}"
    );
}

#[test]
fn three_samples_a_second_apart_read_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("leak-run");
    assert_cmd::Command::cargo_bin("membudget")
        .unwrap()
        .args(["capture", "--every", "1s", "--count", "3", "-o"])
        .arg(&series)
        .assert()
        .success();
    assert_eq!(
        entries(&series),
        [
            "sample-0001.tar.gz",
            "sample-0002.tar.gz",
            "sample-0003.tar.gz"
        ]
    );
    let times = sample_times(&series);
    assert_eq!(times.len(), 3);
    assert_increasing(&times);
}

#[test]
fn ctrl_c_keeps_the_samples_taken_and_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("until-stopped");
    let binary = assert_cmd::cargo::cargo_bin("membudget");
    let mut child = std::process::Command::new(binary)
        .args(["capture", "--every", "200ms", "-o"])
        .arg(&series)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (generously: the machine is shared) until two samples exist, then interrupt.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !series.join("sample-0002.tar.gz").exists() {
        assert!(Instant::now() < deadline, "no second sample after 120 s");
        assert!(
            child.try_wait().unwrap().is_none(),
            "series ended by itself"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted: kept"), "{stderr}");

    let names = entries(&series);
    assert!(names.len() >= 2, "{names:?}");
    // Only whole samples, numbered from 1 without gaps: no temporary `.partial` file left.
    let expected: Vec<String> = (1..=names.len() as u32)
        .map(membudget::capture::series::sample_name)
        .collect();
    assert_eq!(names, expected);
    assert_increasing(&sample_times(&series));
}

#[test]
fn a_series_needs_a_positive_count_and_a_valid_interval() {
    for args in [
        &["--every", "1s", "--count", "0"][..],
        &["--every", "soon", "--count", "2"],
        &["--count", "2"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        assert_cmd::Command::cargo_bin("membudget")
            .unwrap()
            .arg("capture")
            .args(args)
            .arg("-o")
            .arg(dir.path().join("s"))
            .assert()
            .code(2);
        assert!(!dir.path().join("s").exists(), "{args:?} wrote something");
    }
}
