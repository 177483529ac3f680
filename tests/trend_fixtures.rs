//! `membudget trend` on synthetic series built from a real capture
//! (tests/fixtures/real/innosilicon-t2-zynq-snapshot): copies an hour apart in which one process's
//! [heap] grows by exactly 64 KiB per sample, /tmp fills by exactly 2 MiB per sample, and one
//! daemon restarts. Every slope is known exactly.

mod common;

use assert_cmd::Command;
use common::copy_dir;
use membudget::collect::{load, LiveOptions};
use membudget::profile::Profile;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/innosilicon-t2-zynq-snapshot")
}
const SAMPLES: u64 = 6;
const T0: u64 = 1_700_000_000;
const HEAP_STEP: u64 = 64 << 10;
const TMP_STEP_KIB: u64 = 2048;
/// python3.4, whose heap line is `00011000-00213000 rw-p ... [heap]`.
const GROWER: u32 = 808;
const HEAP_LINE: &str = "00011000-00213000 rw-p 00000000 00:00 0          [heap]";
/// tcpsvd: restarted (same pid, new start time) from the fourth sample on.
const RESTARTER: u32 = 16649;

/// Writes the series under `dir` (one snapshot directory per sample) and returns the paths.
fn build_series(dir: &Path) -> Vec<PathBuf> {
    (0..SAMPLES)
        .map(|k| {
            let sample = dir.join(format!("sample-{:04}", k + 1));
            copy_dir(&fixture(), &sample);
            std::fs::write(
                sample.join("meta"),
                format!("format=1\ntime={}\n", T0 + k * 3600),
            )
            .unwrap();
            let maps_path = sample.join(format!("proc/{GROWER}/maps"));
            let maps = std::fs::read_to_string(&maps_path).unwrap();
            assert!(maps.contains(HEAP_LINE), "the fixture changed");
            let grown = format!(
                "00011000-{:08x} rw-p 00000000 00:00 0          [heap]",
                0x213000 + k * HEAP_STEP
            );
            std::fs::write(&maps_path, maps.replace(HEAP_LINE, &grown)).unwrap();
            let tmp_used = 100 + k * TMP_STEP_KIB;
            std::fs::write(
                sample.join("df"),
                format!(
                    "Filesystem 1K-blocks Used Available Use% Mounted on\n\
                     none 524288 {tmp_used} {} 1% /tmp\n\
                     none 524288 300 523988 1% /var\n",
                    524288 - tmp_used
                ),
            )
            .unwrap();
            let start_time = if k < 3 { 1000 } else { 5000 };
            std::fs::write(
                sample.join(format!("proc/{RESTARTER}/stat")),
                format!(
                    "{RESTARTER} (tcpsvd) S 1 {RESTARTER} {RESTARTER} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {start_time} 1000000 100\n"
                ),
            )
            .unwrap();
            sample
        })
        .collect()
}

fn membudget() -> Command {
    Command::cargo_bin("membudget").unwrap()
}

fn trend_json(args: &[&str], series: &Path) -> (Value, Option<i32>) {
    let output = membudget()
        .arg("trend")
        .args(args)
        .args(["--format", "json"])
        .arg(series)
        .output()
        .unwrap();
    assert!(
        output.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        serde_json::from_slice(&output.stdout).unwrap(),
        output.status.code(),
    )
}

fn close(actual: &Value, expected: f64) -> bool {
    let actual = actual.as_f64().unwrap();
    (actual - expected).abs() <= 1e-6 * expected.abs().max(1.0)
}

fn processes(trend: &Value) -> &Vec<Value> {
    trend["processes"].as_array().unwrap()
}

fn grower(trend: &Value) -> &Value {
    processes(trend)
        .iter()
        .find(|p| p["pid"] == GROWER)
        .unwrap()
}

#[test]
fn exact_slopes_restart_and_exhaustion() {
    let dir = tempfile::tempdir().unwrap();
    let samples = build_series(dir.path());
    let (trend, code) = trend_json(&["--fail-on-leak"], dir.path());

    // Ordered by meta time, every sample present.
    let times: Vec<f64> = trend["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[1].as_f64().unwrap())
        .collect();
    let expected_times: Vec<f64> = (0..SAMPLES).map(|k| (T0 + k * 3600) as f64).collect();
    assert_eq!(times, expected_times);
    assert_eq!(trend["span_seconds"], 5.0 * 3600.0);

    // 64 KiB/h: exact, and below the default 1 MiB/h threshold, so stable.
    let python = grower(&trend);
    assert_eq!(python["name"], "python3.4");
    assert!(close(
        &python["metrics"]["heap"]["rate_per_hour"],
        HEAP_STEP as f64
    ));
    assert!(close(&python["rate_per_hour"], HEAP_STEP as f64));
    assert_eq!(python["metrics"]["heap"]["first"], 0x202000);
    assert_eq!(
        python["metrics"]["heap"]["last"],
        0x202000 + (SAMPLES - 1) * HEAP_STEP
    );
    assert_eq!(python["metrics"]["heap"]["fit"]["r_squared"], 1.0);
    assert_eq!(
        python["metrics"]["heap"]["fit"]["growth_steps"],
        SAMPLES - 1
    );
    assert_eq!(python["verdict"], "stable");
    // smaps was not edited: resident memory did not move.
    assert_eq!(python["metrics"]["private_rss"]["rate_per_hour"], 0.0);
    // The heap grows by brk, not by new mappings: no block size to name.
    assert_eq!(python["attribution"]["block_size"], Value::Null);

    // Every other process is flat.
    for p in processes(&trend).iter().filter(|p| p["pid"] != GROWER) {
        assert_eq!(p["rate_per_hour"], 0.0, "{p:#}");
        assert_ne!(p["verdict"], "leak_suspect", "{p:#}");
    }

    // The restart: one pid, two start times, two series.
    let tcpsvd: Vec<&Value> = processes(&trend)
        .iter()
        .filter(|p| p["pid"] == RESTARTER)
        .collect();
    assert_eq!(tcpsvd.len(), 2);
    let restarts = trend["restarts"].as_array().unwrap();
    assert_eq!(restarts.len(), 1, "{restarts:#?}");
    assert_eq!(restarts[0]["name"], "tcpsvd");
    assert_eq!(restarts[0]["old_start_time"], 1000);
    assert_eq!(restarts[0]["new_start_time"], 5000);
    assert_eq!(restarts[0]["first_seen_new"], (T0 + 3 * 3600) as f64);

    // /tmp fills at 2 MiB/h: a leak at system level; /var does not move.
    let tmp = &trend["system"]["fs:/tmp"];
    assert!(close(&tmp["rate_per_hour"], (TMP_STEP_KIB << 10) as f64));
    assert_eq!(tmp["verdict"], "leak_suspect");
    assert_eq!(trend["system"]["fs:/var"]["verdict"], "stable");
    assert_eq!(code, Some(1), "--fail-on-leak with a filling tmpfs");

    // Time to exhaustion: the last sample's budget headroom at the summed rate.
    let last = load(Some(samples.last().unwrap()), LiveOptions::default()).unwrap();
    let budget =
        membudget::budget::evaluate(&last, &Profile::load_or_default(None).unwrap()).unwrap();
    let e = &trend["exhaustion"];
    assert_eq!(e["headroom"], budget.headroom);
    assert_eq!(e["contributors"], serde_json::json!(["fs:/tmp"]));
    // This board is already under its promised minimum (16.1 MiB left of 24.6 MiB promised):
    // zero hours to that, and the rest of the headroom gone at 2 MiB/h.
    assert!(budget.headroom > 0 && budget.headroom < budget.min_headroom as i64);
    assert_eq!(e["hours_to_min_headroom"], 0.0);
    assert!(close(
        &e["hours_to_zero"],
        budget.headroom as f64 / (TMP_STEP_KIB << 10) as f64
    ));
}

#[test]
fn profile_thresholds_make_the_slow_heap_a_suspect() {
    let dir = tempfile::tempdir().unwrap();
    build_series(dir.path());
    let profile = dir.path().join("board.toml");
    std::fs::write(
        &profile,
        "ram = \"256MiB\"\nmin_headroom = \"10%\"\n[leak]\nmin_rate_per_hour = \"32KiB\"\nmin_samples = 5\n",
    )
    .unwrap();
    let (trend, code) = trend_json(&["-p", profile.to_str().unwrap()], dir.path());
    assert_eq!(
        code,
        Some(0),
        "no --fail-on-leak: exit 0 even with suspects"
    );
    let python = grower(&trend);
    assert_eq!(python["verdict"], "leak_suspect");
    assert_eq!(python["metrics"]["heap"]["verdict"], "leak_suspect");
    assert_eq!(trend["thresholds"]["min_rate_per_hour"], 32768);
    // The restarted tcpsvd has 3 samples per series: below min_samples = 5.
    for p in processes(&trend).iter().filter(|p| p["pid"] == RESTARTER) {
        assert_eq!(p["verdict"], "too_short");
    }
    let rate = trend["exhaustion"]["leak_rate_per_hour"].as_f64().unwrap();
    assert!((rate - ((TMP_STEP_KIB << 10) + HEAP_STEP) as f64).abs() < 1e-3);

    // Text and Markdown say the same.
    let text = membudget()
        .args(["trend", "-p", profile.to_str().unwrap()])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("Leak suspects: python3.4 (pid 808, 64 KiB/h)"),
        "{text}"
    );
    assert!(text.contains("tcpsvd"), "{text}");

    // JUnit: one test case per process, the suspect the one failure; HTML: the same sections.
    let format = |format: &str| {
        let out = membudget()
            .args(["trend", "-p", profile.to_str().unwrap(), "--format", format])
            .arg(dir.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let xml = format("junit");
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), processes(&trend).len());
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(failed, ["python3.4 (pid 808) does not leak"]);
    let html = format("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<p>Leak suspects: python3.4 (pid 808, 64 KiB/h).</p>"),
        "{html}"
    );
    // One chart per suspect: its 6 samples, growing by the same 64 KiB each hour, lie on a
    // straight line rising to the right.
    assert!(html.contains("python3.4 (pid 808): private memory over time"));
    let points = html
        .split("<polyline points=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a polyline in the suspect's chart");
    let xy: Vec<(f64, f64)> = points
        .split(' ')
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert_eq!(xy.len(), 6);
    for pair in xy.windows(2) {
        let (dx, dy) = (pair[1].0 - pair[0].0, pair[1].1 - pair[0].1);
        assert!((dx - (xy[1].0 - xy[0].0)).abs() < 0.2 && (dy - (xy[1].1 - xy[0].1)).abs() < 0.2);
        assert!(dx > 0.0 && dy < 0.0, "{pair:?}");
    }
}

fn fails_with(args: &[&str], paths: &[&Path], message: &str) {
    let output = membudget()
        .arg("trend")
        .args(args)
        .args(paths)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(message), "{stderr}");
}

/// Rewrites a sample's meta (its time and the board it says it came from).
fn set_meta(sample: &Path, meta: &str) {
    std::fs::write(sample.join("meta"), format!("format=1\n{meta}")).unwrap();
}

/// Gives every sample of the series its hourly time and the board lines `board(k)` say.
fn set_series_meta(samples: &[PathBuf], board: impl Fn(usize) -> String) {
    for (k, sample) in samples.iter().enumerate() {
        set_meta(
            sample,
            &format!("time={}\n{}", T0 + k as u64 * 3600, board(k)),
        );
    }
}

/// Two boards with the same firmware and pids, interleaved, looked like one board without a
/// leak; a reboot between samples is no leak either; NaN/inf/negative times made "over NaN
/// days". Each is refused, naming the sample.
#[test]
fn series_mixing_boards_or_boots_or_with_impossible_times_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let samples = build_series(dir.path());
    set_series_meta(&samples, |k| {
        format!("host=cam-{}\n", if k % 2 == 0 { 'a' } else { 'b' })
    });
    // The series is refused with a message naming `sample`, followed by `rest`.
    let refused = |sample: &Path, rest: &str| {
        fails_with(&[], &[dir.path()], &format!("{}{rest}", sample.display()))
    };
    refused(&samples[1], ": host \"cam-b\" differs from \"cam-a\" of ");
    set_series_meta(&samples, |k| format!("host=cam\nboot_id=b{}\n", 1 + k / 4));
    refused(&samples[4], ": boot_id \"b2\" differs from \"b1\" of ");
    set_series_meta(&samples, |_| "host=cam\nboot_id=b1\n".into());
    let (_, code) = trend_json(&["--fail-on-leak"], dir.path());
    assert_eq!(code, Some(1), "one board, one boot: the leak is found");
    for bad in ["NaN", "inf", "-1e300", "-1"] {
        set_meta(&samples[2], &format!("time={bad}\n"));
        refused(
            &samples[2],
            &format!(":meta: time={bad} is not a capture time"),
        );
    }
}

#[test]
fn bad_input_is_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let samples = build_series(dir.path());
    fails_with(&[], &[&samples[0]], "at least 2 snapshots, got 1");
    let garbage = dir.path().join("broken.tar.gz");
    std::fs::write(&garbage, b"not a gzip stream").unwrap();
    fails_with(&[], &[&samples[0], &garbage], "broken.tar.gz");
    let untimed = dir.path().join("untimed");
    copy_dir(&fixture(), &untimed);
    fails_with(&[], &[&samples[0], &untimed], "untimed: meta has no time=");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails_with(&[], &[&empty], "empty: neither a snapshot nor a directory");
    let profile = dir.path().join("bad.toml");
    std::fs::write(
        &profile,
        "ram = \"64MiB\"\n[leak]\nmin_steady_share = 2.0\n",
    )
    .unwrap();
    fails_with(
        &["-p", profile.to_str().unwrap()],
        &[&samples[0], &samples[1]],
        "bad.toml: [leak] min_steady_share = 2: expected a share between 0 and 1",
    );
}
