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

/// A profile whose leak threshold (32 KiB/h) makes python3.4's 64 KiB/h heap a suspect, with
/// more `[leak]` settings appended.
fn slow_heap_profile(dir: &Path, leak: &str) -> PathBuf {
    let profile = dir.join("board.toml");
    std::fs::write(
        &profile,
        format!("ram = \"256MiB\"\nmin_headroom = \"10%\"\n[leak]\nmin_rate_per_hour = \"32KiB\"\n{leak}"),
    )
    .unwrap();
    profile
}

#[test]
fn profile_thresholds_make_the_slow_heap_a_suspect() {
    let dir = tempfile::tempdir().unwrap();
    build_series(dir.path());
    let profile = slow_heap_profile(dir.path(), "min_samples = 5\n");
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
    // The restart, seen first in the fourth sample (3 h after the first), in ISO 8601 UTC.
    assert!(text.contains("2023-11-15T01:13:20Z (+3.0 h)"), "{text}");

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
    // One per process, and one for the series itself (long enough to judge).
    assert_eq!(cases.len(), processes(&trend).len() + 1);
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .collect();
    let names: Vec<&str> = failed
        .iter()
        .map(|c| c.attribute("name").unwrap())
        .collect();
    assert_eq!(names, ["python3.4 does not leak"]);
    let failure = failed[0]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .unwrap();
    assert_eq!(
        failure.attribute("message"),
        Some("python3.4 (pid 808) is a leak suspect: private memory grows 64 KiB/h")
    );
    let rate_property = failed[0]
        .descendants()
        .find(|n| n.attribute("name") == Some("rate_bytes_per_hour"))
        .unwrap();
    assert_eq!(rate_property.attribute("value"), Some("65536"));
    let html = format("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<p>Leak suspects: python3.4 (pid 808, 64 KiB/h).</p>"),
        "{html}"
    );
    // One chart per suspect: its 6 samples, growing by the same 64 KiB each hour, lie on a
    // straight line rising to the right.
    assert!(html.contains("python3.4 (pid 808): private memory (virtual), LEAK SUSPECT"));
    assert!(html.contains("<p class=\"verdict fail\" id=\"verdict\">LEAK SUSPECT: 1 process(es)"));
    // Time on x in ISO 8601 UTC, from the first sample to the last (5 h later), the fitted rate.
    assert!(html.contains(">2023-11-14T22:13:20Z</text>"), "{html}");
    assert!(html.contains(">2023-11-15T03:13:20Z</text>"), "{html}");
    assert!(html.contains(">fitted: 64 KiB/h</text>"), "{html}");
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

#[test]
fn trend_json_validates_against_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    build_series(dir.path());
    let (trend, _) = trend_json(&[], dir.path());
    let errors = common::schema_errors("trend", &trend);
    assert!(errors.is_empty(), "schema errors: {errors:#?}");
    assert_eq!(trend["schema_version"], 1);
    assert_eq!(trend["kind"], "trend");
    assert_eq!(trend["outcome"], "leak_suspect");
    let mut broken = trend.clone();
    broken["outcome"] = serde_json::json!("fine");
    assert!(!common::schema_errors("trend", &broken).is_empty());
}

/// Three samples an hour apart while python3.4's heap grows: fewer than the four samples a
/// verdict needs. Not a clean bill: INCONCLUSIVE, exit 2 with --fail-on-leak, and the grower
/// named.
#[test]
fn a_short_series_is_inconclusive_and_names_what_grew() {
    let dir = tempfile::tempdir().unwrap();
    let samples = build_series(dir.path());
    let short = &samples[..3];
    let output = membudget()
        .args(["trend", "--fail-on-leak"])
        .args(short)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("INCONCLUSIVE: 3 samples over 2.0 h is too short to judge (the thresholds ask for at least 4 samples over 1 s). Grew meanwhile: python3.4 (pid 808, +128 KiB)."),
        "{text}"
    );
    assert!(!text.contains("NO LEAK SUSPECT"), "{text}");
    let output = membudget()
        .args(["trend", "--format", "json"])
        .args(short)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "no --fail-on-leak: a report, exit 0"
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["outcome"], "inconclusive");
    let xml = String::from_utf8(
        membudget()
            .args(["trend", "--format", "junit"])
            .args(short)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let series = doc
        .descendants()
        .find(|n| n.attribute("name") == Some("series long enough to judge"))
        .unwrap();
    assert!(
        series.children().any(|n| n.has_tag_name("failure")),
        "{xml}"
    );
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

/// The trend page in headless chromium: the verdict banner, the suspect's chart with its time
/// axis and fitted rate.
#[test]
fn trend_html_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    build_series(dir.path());
    let profile = slow_heap_profile(dir.path(), "");
    let out = membudget()
        .args(["trend", "--format", "html", "-p", profile.to_str().unwrap()])
        .arg(dir.path())
        .output()
        .unwrap();
    let html = String::from_utf8(out.stdout).unwrap();
    let pages = tempfile::tempdir().unwrap();
    common::check_in_chromium(
        &html,
        pages.path(),
        "trend",
        &[
            "LEAK SUSPECT: 1 process(es)",
            "2023-11-14T22:13:20Z",
            "fitted: 64 KiB/h",
        ],
    );
}
