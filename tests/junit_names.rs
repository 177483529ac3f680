//! JUnit case names are what GitLab and Jenkins track a test by: two captures of the same idle
//! workload, started afresh (new pids) between them, must give the same case names, unique
//! within the file and free of pids.

mod common;

use assert_cmd::Command;
use common::HeldProcess;
use std::path::Path;

/// Starts the workload: three identical idle processes and one with other arguments, all
/// under `name` (a copy of `sleep`, so no other process on the machine shares it).
fn workload(program: &Path, name: &str) -> Vec<HeldProcess> {
    ["1000", "1000", "1000", "2000"]
        .iter()
        .map(|seconds| HeldProcess::start(std::process::Command::new(program).arg(seconds), name))
        .collect()
}

/// Captures this machine with the workload running; returns the process-limit case names of
/// the JUnit report and the workload's pids.
fn capture_case_names(dir: &Path, program: &Path, name: &str, run: u32) -> (Vec<String>, Vec<u32>) {
    let held = workload(program, name);
    let pids: Vec<u32> = held.iter().map(HeldProcess::pid).collect();
    let archive = dir.join(format!("run{run}.tar.gz"));
    Command::cargo_bin("membudget")
        .unwrap()
        .arg("capture")
        .arg("-o")
        .arg(&archive)
        .assert()
        .success();
    drop(held);
    let output = Command::cargo_bin("membudget")
        .unwrap()
        .arg("report")
        .arg(&archive)
        .arg("-p")
        .arg(dir.join("profile.toml"))
        .args(["--format", "junit"])
        .output()
        .unwrap();
    let xml = String::from_utf8(output.stdout).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let names = doc
        .descendants()
        .filter(|n| n.attribute("classname") == Some("membudget.process_limit"))
        .map(|n| n.attribute("name").unwrap().to_string())
        .collect();
    (names, pids)
}

#[test]
fn two_captures_of_the_same_idle_workload_give_identical_case_names() {
    let dir = tempfile::tempdir().unwrap();
    // Unique to this test run, in letters so that no pid can be a substring of it.
    let tag: String = std::process::id()
        .to_string()
        .bytes()
        .map(|d| char::from(b'a' + d - b'0'))
        .collect();
    let name = format!("mbidle{tag}");
    let program = dir.path().join(&name);
    std::fs::copy(common::require_tool("sleep"), &program).unwrap();
    std::fs::write(
        dir.path().join("profile.toml"),
        format!("name = \"idle workload\"\nram = \"1TiB\"\n\n[[process]]\nname = \"{name}\"\nmax = \"64MiB\"\n"),
    )
    .unwrap();

    let (first, first_pids) = capture_case_names(dir.path(), &program, &name, 1);
    let (second, second_pids) = capture_case_names(dir.path(), &program, &name, 2);
    assert_ne!(first_pids, second_pids, "the workload was not restarted");
    // Three processes with the same command line and one with another: ranked by command
    // line, then by start order.
    let expected: Vec<String> = (1..=4).map(|k| format!("{name} #{k}")).collect();
    assert_eq!(first, expected);
    assert_eq!(second, expected);
    for pid in first_pids.iter().chain(&second_pids) {
        assert!(
            !first
                .iter()
                .chain(&second)
                .any(|n| n.contains(&pid.to_string())),
            "a case name carries pid {pid}"
        );
    }
}
