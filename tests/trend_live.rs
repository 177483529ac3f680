//! No false suspect on the live machine: four captures a fraction of a second apart, judged with
//! thresholds that let four samples over any span count (so the steadiness tests, not a
//! too-short series, are what keeps quiet processes from being suspects).
//!
//! The machine is shared (compilers and other tests run beside this one), so a process may
//! really grow during the series. A suspect is therefore checked against the kernel's own
//! figure, `VmData` from each sample's status (private writable memory: heap, anonymous
//! mappings, thread stacks, data; guard pages not included, like our `private`): a false
//! suspect is one whose VmData did not grow at the steps the verdict needs. A process this
//! test holds still must be stable.

mod common;

use assert_cmd::Command;
use common::HeldProcess;
use serde_json::Value;
use std::io::Read;
use std::path::Path;

fn membudget() -> Command {
    Command::cargo_bin("membudget").unwrap()
}

/// A `Key: N kB` field of `proc/PID/status` inside a capture archive, in bytes.
fn status_field(archive: &Path, pid: u64, key: &str) -> Option<u64> {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let wanted = format!("proc/{pid}/status");
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if !entry.path().unwrap().to_string_lossy().ends_with(&wanted) {
            continue;
        }
        let mut text = String::new();
        entry.read_to_string(&mut text).unwrap();
        return text.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix(':')?;
            let kb: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
            Some(kb * 1024)
        });
    }
    None
}

#[test]
fn unchanged_machine_has_no_false_suspect() {
    let still = HeldProcess::sleep();
    let dir = tempfile::tempdir().unwrap();
    // The series convention end to end: `capture --every` writes it, `trend` reads the directory.
    let series = dir.path().join("series");
    membudget()
        .args(["capture", "--every", "250ms", "--count", "4", "-o"])
        .arg(&series)
        .assert()
        .success();
    let profile = dir.path().join("eager.toml");
    std::fs::write(
        &profile,
        "ram = \"auto\"\nmin_headroom = \"10%\"\n[leak]\nmin_samples = 4\nmin_span_seconds = 0\nmin_growth_steps = 3\n",
    )
    .unwrap();
    let output = membudget()
        .args(["trend", "--fail-on-leak", "--format", "json", "-p"])
        .arg(&profile)
        .arg(&series)
        .output()
        .unwrap();
    let trend: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!("{}", String::from_utf8_lossy(&output.stderr));
    });
    let processes = trend["processes"].as_array().unwrap();
    let judged = processes
        .iter()
        .filter(|p| p["verdict"] != "too_short")
        .count();
    assert!(judged > 3, "too few processes judged: {trend:#}");

    let held = processes
        .iter()
        .find(|p| p["pid"] == still.pid())
        .expect("the held process is in the trend");
    assert_eq!(held["verdict"], "stable", "{held:#}");
    assert_eq!(held["rate_per_hour"], 0.0);

    // Every suspect's VmData grew at three steps or more and never shrank, sample by sample,
    // in capture order.
    let mut samples: Vec<_> = std::fs::read_dir(&series)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    samples.sort();
    let suspects: Vec<&Value> = processes
        .iter()
        .filter(|p| p["verdict"] == "leak_suspect")
        .collect();
    for suspect in &suspects {
        let pid = suspect["pid"].as_u64().unwrap();
        let vm_data: Vec<u64> = samples
            .iter()
            .filter_map(|sample| status_field(sample, pid, "VmData"))
            .collect();
        let grew = vm_data.windows(2).filter(|w| w[1] > w[0]).count();
        let shrank = vm_data.windows(2).any(|w| w[1] < w[0]);
        eprintln!(
            "suspect {} (pid {pid}): VmData {vm_data:?}",
            suspect["name"]
        );
        assert!(
            grew >= 3 && !shrank,
            "false suspect {} (pid {pid}): VmData {vm_data:?}\n{suspect:#}",
            suspect["name"]
        );
    }

    // --fail-on-leak: 1 exactly when something leaks on its own.
    let system_suspect = [
        "fs:",
        "meminfo:SUnreclaim",
        "meminfo:KernelStack",
        "meminfo:PageTables",
    ]
    .iter()
    .any(|prefix| {
        trend["system"]
            .as_object()
            .unwrap()
            .iter()
            .any(|(name, m)| name.starts_with(prefix) && m["verdict"] == "leak_suspect")
    });
    let expected = if suspects.is_empty() && !system_suspect {
        0
    } else {
        1
    };
    assert_eq!(output.status.code(), Some(expected));
}
