//! `membudget diff` on two snapshots that differ by a known amount: the real Zynq capture,
//! and a copy of it where innominer_T2's heap grew by exactly 1 MiB and one of the three `vi`
//! processes went away.

mod common;

use assert_cmd::Command;
use common::{copy_dir, keyed};
use std::path::{Path, PathBuf};

const PROFILE: &str = "budgets/zynq-innosilicon-t2-256m.toml";
const GROWN_PID: &str = "18268";
const GONE_PID: u32 = 13568;
/// The gone `vi`'s private memory by virtual size, summed by hand from its maps: heap
/// 139264 + stack 135168 + data 16384 + anon 24576. Its code stays mapped by the other two
/// `vi`, so the shared total does not change.
const GONE_PRIVATE: i64 = 315_392;
const MIB: i64 = 1 << 20;

fn zynq() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/innosilicon-t2-zynq-snapshot")
}

/// Moves the end of the `[heap]` line 1 MiB up in `maps` and `smaps`, and VmSize with it.
fn grow_heap(proc_dir: &Path) {
    for file in ["maps", "smaps"] {
        let path = proc_dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let grown: Vec<String> = text
            .lines()
            .map(|line| {
                if !line.ends_with("[heap]") {
                    return line.to_string();
                }
                let (range, rest) = line.split_once(' ').unwrap();
                let (start, end) = range.split_once('-').unwrap();
                let end = u64::from_str_radix(end, 16).unwrap() + MIB as u64;
                format!("{start}-{end:08x} {rest}")
            })
            .collect();
        assert_ne!(grown.join("\n"), text.trim_end(), "no [heap] in {file}");
        std::fs::write(&path, grown.join("\n") + "\n").unwrap();
    }
    let path = proc_dir.join("status");
    let status = std::fs::read_to_string(&path).unwrap();
    let grown: Vec<String> = status
        .lines()
        .map(|line| match line.strip_prefix("VmSize:") {
            Some(kb) => {
                let kb: u64 = kb.trim().trim_end_matches("kB").trim().parse().unwrap();
                format!("VmSize:\t{:>8} kB", kb + 1024)
            }
            None => line.to_string(),
        })
        .collect();
    std::fs::write(&path, grown.join("\n") + "\n").unwrap();
}

fn release_pair() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("release-2");
    copy_dir(&zynq(), &new);
    grow_heap(&new.join("proc").join(GROWN_PID));
    std::fs::remove_dir_all(new.join("proc").join(GONE_PID.to_string())).unwrap();
    (dir, new)
}

fn diff(new: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("membudget")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("diff")
        .arg(zynq())
        .arg(new)
        .args(["-p", PROFILE])
        .args(extra)
        .assert()
}

fn diff_json(new: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--format", "json"];
    args.extend(extra);
    let out = diff(new, &args).get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn diff_reports_exactly_the_heap_growth_and_the_gone_process() {
    let (_dir, new) = release_pair();
    let json = diff_json(&new, &[]);
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["kind"], "diff");
    let errors = common::schema_errors("diff", &json);
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    let mut broken = json.clone();
    broken["processes"][0]["delta"] = serde_json::json!("1 MiB");
    assert!(!common::schema_errors("diff", &broken).is_empty());
    // A copy of the same board: no warning.
    assert_eq!(json["warnings"], serde_json::json!([]));

    let processes = json["processes"].as_array().unwrap();
    let grown = &processes[0];
    assert_eq!(grown["name"], "innominer_T2");
    assert_eq!(grown["change"], "changed");
    assert_eq!(grown["delta"], MIB);
    assert_eq!(grown["classes"], serde_json::json!({ "heap": MIB }));

    let gone: Vec<_> = processes.iter().filter(|p| p["change"] == "gone").collect();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["name"], "vi");
    assert_eq!(gone[0]["old_pid"], GONE_PID);
    assert_eq!(gone[0]["new_pid"], serde_json::Value::Null);
    assert_eq!(gone[0]["delta"], -GONE_PRIVATE);
    assert_eq!(
        processes[1]["old_pid"], GONE_PID,
        "sorted by absolute delta"
    );
    assert!(processes.iter().all(|p| p["change"] != "appeared"));
    // The other fourteen, the two remaining vi included, paired and unchanged.
    assert_eq!(
        processes
            .iter()
            .filter(|p| p["change"] == "unchanged")
            .count(),
        14
    );

    assert_eq!(json["demand_delta"], MIB - GONE_PRIVATE);
    assert_eq!(json["headroom_delta"], GONE_PRIVATE - MIB);
    assert_eq!(
        json["new"]["demand"].as_i64().unwrap() - json["old"]["demand"].as_i64().unwrap(),
        MIB - GONE_PRIVATE
    );
    let heap = keyed(&json["classes"], "heap");
    // The gone vi's heap (139264) went with it.
    assert_eq!(heap["delta"], MIB - 139_264);
    let processes_item = keyed(&json["items"], "processes");
    assert_eq!(processes_item["delta"], MIB - GONE_PRIVATE);
}

#[test]
fn fail_above_exits_1_when_growth_exceeds_it() {
    let (_dir, new) = release_pair();
    let growth = MIB - GONE_PRIVATE; // 733184 bytes
    diff(&new, &["--fail-above", &(growth - 1).to_string()]).code(1);
    diff(&new, &["--fail-above", &growth.to_string()]).code(0);
    diff(&new, &["--fail-above", "1MiB"]).code(0);
    // Percent of the old demand (248963072 bytes): 0.29% allows 721993, 0.3% allows 746889.
    diff(&new, &["--fail-above", "0.29%"]).code(1);
    diff(&new, &["--fail-above", "0.3%"]).code(0);
    let json = diff_json(&new, &["--fail-above", "0.29%"]);
    assert_eq!(json["allowed_growth"], 721_993);
    assert_eq!(json["exceeded"], true);
    diff(&new, &["--fail-above", "lots"])
        .code(2)
        .stderr(predicates::str::contains("lots"));
}

#[test]
fn a_shrinking_release_passes_and_appeared_processes_are_listed() {
    let (_dir, new) = release_pair();
    // Swapped: the heap shrank by 1 MiB and the vi appeared.
    let json: serde_json::Value = serde_json::from_slice(
        &Command::cargo_bin("membudget")
            .unwrap()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("diff")
            .arg(&new)
            .arg(zynq())
            .args(["-p", PROFILE, "--format", "json", "--fail-above", "0"])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    )
    .unwrap();
    assert_eq!(json["demand_delta"], GONE_PRIVATE - MIB);
    let appeared: Vec<_> = json["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["change"] == "appeared")
        .collect();
    assert_eq!(appeared.len(), 1);
    assert_eq!(appeared[0]["new_pid"], GONE_PID);
    // Its per-class changes (in the budget's measure) add up to its change, by hand:
    // heap 139264 + stack 135168 + data 16384 + anon 24576.
    assert_eq!(appeared[0]["delta"], GONE_PRIVATE);
    assert_eq!(
        appeared[0]["classes"],
        serde_json::json!({ "heap": 139_264, "stack": 135_168, "data": 16_384, "anon": 24_576 })
    );
}

/// Two different boards (another host and MemTotal) diffed: the comparison is made, with a
/// warning in every format.
#[test]
fn diffing_two_boards_warns() {
    let (dir, new) = release_pair();
    std::fs::write(
        new.join("meta"),
        "format=1\nhost=other-board\ntime=1700000000\n",
    )
    .unwrap();
    let meminfo = new.join("proc/meminfo");
    let text = std::fs::read_to_string(&meminfo).unwrap();
    let changed: String = text
        .lines()
        .map(|l| {
            if l.starts_with("MemTotal:") {
                "MemTotal:         250000 kB".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&meminfo, changed + "\n").unwrap();
    let json = diff_json(&new, &[]);
    let warnings: Vec<&str> = json["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(
        warnings,
        ["different boards? MemTotal differs: 246.39 MiB (old) and 244.14 MiB (new)"]
    );
    let text = String::from_utf8(diff(&new, &[]).get_output().stdout.clone()).unwrap();
    assert!(
        text.contains("WARNING: different boards? MemTotal differs"),
        "{text}"
    );
    assert!(text.contains("captured 2023-11-14T22:13:20Z"), "{text}");
    drop(dir);
}

/// Every format of the diff, with the temporary directory's name taken out.
#[test]
fn every_format_of_the_diff_matches_its_snapshot() {
    let (dir, new) = release_pair();
    for format in ["text", "markdown", "json", "junit", "html"] {
        let out = diff(&new, &["--format", format, "--fail-above", "512KiB"])
            .code(1)
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out)
            .unwrap()
            .replace(&dir.path().display().to_string(), "<tmp>")
            .replace(&format!("{}/", env!("CARGO_MANIFEST_DIR")), "");
        // The title's underline is as long as the title with its real paths, which differ
        // between checkouts: keep the underline, not its length.
        let out: String = out
            .lines()
            .map(|l| {
                if !l.is_empty() && l.bytes().all(|c| c == b'=') {
                    "==="
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(format!("diff_{format}"), out);
    }
}

/// The diff page in headless chromium: its verdict, the grown process and a chart... the diff
/// page draws none of its own, so the screenshot shows tables and the banner.
#[test]
fn diff_html_renders_in_headless_chromium() {
    let (dir, new) = release_pair();
    let html = String::from_utf8(
        diff(&new, &["--format", "html", "--fail-above", "512KiB"])
            .code(1)
            .get_output()
            .stdout
            .clone(),
    )
    .unwrap();
    common::check_in_chromium(
        &html,
        dir.path(),
        "diff",
        &[
            "GROWTH ABOVE LIMIT: demand +716 KiB",
            "membudget diff: innosilicon-t2-zynq-snapshot → release-2",
            "heap -136 KiB, stack -132 KiB, data -16 KiB, anon -24 KiB",
        ],
    );
}

/// A release whose heap line claims the whole address space: its 16 EiB used to saturate the
/// demand, the delta wrapped to a shrink (`demand -32612353 (32612352 ->
/// 18446744073709551615)`) and `--fail-above` passed. It is bad input now, exit 2, naming the
/// file.
#[test]
fn a_snapshot_whose_sums_would_overflow_gives_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("release-2");
    copy_dir(&zynq(), &new);
    let maps = new.join("proc").join(GROWN_PID).join("maps");
    let text = std::fs::read_to_string(&maps).unwrap();
    std::fs::write(
        &maps,
        format!("{text}0-ffffffffffffffff rw-p 00000000 00:00 0\n"),
    )
    .unwrap();
    std::fs::remove_file(new.join("proc").join(GROWN_PID).join("smaps")).unwrap();
    let out = diff(&new, &["--fail-above", "1MiB"]).code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains(&format!(
            "release-2:proc/{GROWN_PID}/maps: with this process, the mappings' virtual size over all processes passes 4 EiB"
        )),
        "{stderr}"
    );
}

/// An allowance above 8 EiB used to wrap to -1 and fail even a diff of a snapshot with itself:
/// a byte count no growth can reach is refused as a usage error naming the option (exit 2), and
/// a huge percentage passes an unchanged release.
#[test]
fn a_huge_allowance_does_not_fail_an_unchanged_release() {
    diff(&zynq(), &["--fail-above", "18446744073709551615"])
        .code(2)
        .stderr(predicates::str::contains("--fail-above"))
        .stderr(predicates::str::contains("larger than any growth can be"));
    diff(&zynq(), &["--fail-above", "1e300%"]).code(0);
}
