//! No false suspect: four captures of this machine a fraction of a second apart, judged with
//! thresholds that let four samples over any span count (so the steadiness tests, not a too-short
//! series, are what keeps quiet processes from being suspects).

use assert_cmd::Command;
use serde_json::Value;

fn membudget() -> Command {
    Command::cargo_bin("membudget").unwrap()
}

#[test]
fn unchanged_machine_has_no_suspect() {
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
        "ram = \"auto\"\nmin_headroom = \"10%\"\n[leak]\nmin_samples = 4\nmin_span_seconds = 0\n",
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
    let suspects: Vec<String> = processes
        .iter()
        .filter(|p| p["verdict"] == "leak_suspect")
        .map(|p| {
            format!(
                "{} (pid {}, {} B/h)",
                p["name"], p["pid"], p["rate_per_hour"]
            )
        })
        .collect();
    let system: Vec<&String> = trend["system"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, m)| m["verdict"] == "leak_suspect")
        .map(|(name, _)| name)
        .collect();
    eprintln!("suspects: {suspects:?}, system: {system:?}");
    assert!(suspects.is_empty(), "false suspects: {suspects:?}");
    assert_eq!(output.status.code(), Some(0), "system suspects: {system:?}");
}
