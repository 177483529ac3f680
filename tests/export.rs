//! `membudget export` on a generated fleet (examples/gen_snapshot.rs `--fleet`): 18 snapshots
//! of 6 devices on two real boards, three firmware versions, innominer_T2's heap 4 MiB bigger
//! on firmware 1.2, plus one broken archive. The tables must follow docs/export.schema.json,
//! and DuckDB's answers to three fleet questions (tests/fleet/questions.py) must be what
//! `membudget report --format json` says for the same snapshots.

mod common;

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ZYNQ_PROFILE: &str = "budgets/zynq-innosilicon-t2-256m.toml";
const ZYNQ_BOARD: &str = "innosilicon-t2-zynq";
const LEAKER: &str = "innominer_T2";
/// innominer_T2's `[heap]` in the real Zynq capture: 00091000-00367000, by hand.
const HEAP: u64 = 0x367000 - 0x91000;
/// `--leak-kib 4096` on the newest firmware: small enough that the leaking Zynq devices stay
/// within their budget, close to it (the "within 5 %" question has an answer).
const LEAK: u64 = 4 << 20;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the snapshot generator (an example: `cargo test --test export` alone does not build
/// examples) and returns its path, beside this test's own target directory.
fn gen_snapshot() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "--example", "gen_snapshot"])
        .current_dir(crate_dir())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo build --example gen_snapshot failed"
    );
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples/gen_snapshot")
}

struct Fleet {
    _dir: tempfile::TempDir,
    snapshots: PathBuf,
    map: PathBuf,
    tables: PathBuf,
}

fn fleet() -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let snapshots = dir.path().join("snapshots");
    let status = std::process::Command::new(gen_snapshot())
        .args([
            "--fleet",
            "18",
            "--hosts",
            "6",
            "--processes",
            "16",
            "--leak-kib",
            "4096",
            "--out",
        ])
        .arg(&snapshots)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(snapshots.join("broken.tar.gz"), "not a tar archive\n").unwrap();
    let map = dir.path().join("boards.toml");
    std::fs::write(
        &map,
        format!(
            "[[rule]]\nmatch = {{ board = \"^{ZYNQ_BOARD}$\" }}\nprofile = \"{}\"\n",
            crate_dir().join(ZYNQ_PROFILE).display()
        ),
    )
    .unwrap();
    let tables = dir.path().join("tables");
    Fleet {
        snapshots,
        map,
        tables,
        _dir: dir,
    }
}

fn export(fleet: &Fleet, tables: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("membudget")
        .unwrap()
        .arg("export")
        .arg(&fleet.snapshots)
        .arg("-o")
        .arg(tables)
        .arg("--profile-map")
        .arg(&fleet.map)
        .args(extra)
        .assert()
}

fn rows(tables: &Path, table: &str) -> Vec<Value> {
    std::fs::read_to_string(tables.join(format!("{table}.ndjson")))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn schema() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(crate_dir().join("docs/export.schema.json")).unwrap(),
    )
    .unwrap()
}

/// `membudget report --format json` of one snapshot, with the profile the map gives its board.
fn report(path: &str, board: &str) -> Value {
    let mut cmd = Command::cargo_bin("membudget").unwrap();
    cmd.args(["report", path, "--format", "json"]);
    if board == ZYNQ_BOARD {
        cmd.arg("-p").arg(crate_dir().join(ZYNQ_PROFILE));
    }
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Unix seconds as ISO 8601 UTC, by coreutils `date` (independent of the exporter's calendar).
fn utc_by_date(unix: &str) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{unix}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Linear interpolation between closest ranks, the definition DuckDB's `quantile_cont` uses.
fn quantile(mut values: Vec<i64>, q: f64) -> f64 {
    values.sort_unstable();
    let h = (values.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    values[lo] as f64 + (h - lo as f64) * (values[hi] - values[lo]) as f64
}

#[test]
fn fleet_tables_follow_the_schema_and_answer_like_the_reports() {
    let fleet = fleet();
    export(&fleet, &fleet.tables, &[])
        .code(2)
        .stderr(predicates::str::contains("1 of 19 snapshots failed"));

    // Every row of every table validates against its table's schema (no column more or less).
    let mut schema = schema();
    let version = schema["version"].clone();
    for table in ["snapshots", "items", "processes", "findings", "errors"] {
        schema["$ref"] = Value::from(format!("#/$defs/{table}"));
        let validator = jsonschema::validator_for(&schema).unwrap();
        let rows = rows(&fleet.tables, table);
        assert!(!rows.is_empty(), "{table} is empty");
        for row in &rows {
            let errors: Vec<String> = validator.iter_errors(row).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{table} row {row}: {errors:?}");
        }
    }

    let errors = rows(&fleet.tables, "errors");
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("broken.tar.gz"));
    assert!(
        errors[0]["error"].as_str().unwrap().contains("tar"),
        "{}",
        errors[0]
    );

    // Each snapshot row says what the report of the same snapshot says.
    let snapshots = rows(&fleet.tables, "snapshots");
    assert_eq!(snapshots.len(), 18);
    let items = rows(&fleet.tables, "items");
    let findings = rows(&fleet.tables, "findings");
    let processes = rows(&fleet.tables, "processes");
    let of = |table: &[Value], id: &Value| -> Vec<Value> {
        table
            .iter()
            .filter(|r| r["snapshot_id"] == *id)
            .cloned()
            .collect()
    };
    let mut heap: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut headroom: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut newest: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for row in &snapshots {
        assert_eq!(row["export_schema"], version);
        let board = row["meta"]["board"].as_str().unwrap();
        let r = report(row["path"].as_str().unwrap(), board);
        for (column, field) in [
            ("ram", "ram"),
            ("demand", "demand"),
            ("headroom", "headroom"),
        ] {
            assert_eq!(row[column], r[field], "{column} of {}", row["path"]);
        }
        assert_eq!(row["min_headroom"], r["min_headroom"]);
        let verdict = match r["verdict"].as_str().unwrap() {
            "within_budget" => "within",
            "over_budget" => "over",
            other => other,
        };
        assert_eq!(row["verdict"], verdict);
        let time = r["meta"]["time"].as_str().unwrap();
        assert_eq!(row["time"].as_str().unwrap(), utc_by_date(time));

        // Its items, findings and processes are the report's.
        let id = &row["snapshot_id"];
        let top: Vec<(Value, Value)> = of(&items, id)
            .into_iter()
            .filter(|i| i["parent"].is_null())
            .map(|i| (i["key"].clone(), i["bytes"].clone()))
            .collect();
        let reported: Vec<(Value, Value)> = r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["key"].clone(), i["bytes"].clone()))
            .collect();
        assert_eq!(top, reported);
        let statuses = |f: &[Value]| -> Vec<(Value, Value, Value)> {
            f.iter()
                .map(|f| (f["rule"].clone(), f["subject"].clone(), f["status"].clone()))
                .collect()
        };
        assert_eq!(
            statuses(&of(&findings, id)),
            statuses(r["findings"].as_array().unwrap())
        );
        let mut pids: Vec<u64> = of(&processes, id)
            .iter()
            .map(|p| p["pid"].as_u64().unwrap())
            .collect();
        pids.dedup();
        assert_eq!(
            pids.len(),
            r["accounting"]["processes"].as_array().unwrap().len()
        );

        let firmware = r["meta"]["firmware"].as_str().unwrap().to_string();
        for p in r["accounting"]["processes"].as_array().unwrap() {
            if p["name"] == LEAKER {
                let bytes = p["classes"]["heap"]["virtual"].as_u64().unwrap();
                let entry = heap.entry(firmware.clone()).or_default();
                entry.0 += bytes;
                entry.1 += 1;
            }
        }
        headroom
            .entry(board.to_string())
            .or_default()
            .push(r["headroom"].as_i64().unwrap());
        let allowed = r["ram"].as_u64().unwrap() - r["min_headroom"].as_u64().unwrap();
        let demand = r["demand"].as_u64().unwrap();
        let near = demand as f64 >= 0.95 * allowed as f64 && demand <= allowed;
        let host = r["meta"]["host"].as_str().unwrap().to_string();
        let time = r["meta"]["time"].as_str().unwrap().to_string();
        if newest.get(&host).is_none_or(|(t, _)| *t < time) {
            newest.insert(host, (time, near));
        }
    }
    // Independent truth for the leak: the heap's size from the real maps, 4 MiB more on 1.2.
    let three = |bytes: u64| (3 * bytes, 3);
    let expected_heap = BTreeMap::from([
        ("1.0".to_string(), three(HEAP)),
        ("1.1".to_string(), three(HEAP)),
        ("1.2".to_string(), three(HEAP + LEAK)),
    ]);
    assert_eq!(heap, expected_heap, "the reports themselves");

    let python = common::require_tool("python3");
    let out = std::process::Command::new(python)
        .arg(crate_dir().join("tests/fleet/questions.py"))
        .arg(&fleet.tables)
        .arg(crate_dir().join("docs/export.schema.json"))
        .arg(LEAKER)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "questions.py failed (pip install duckdb: .ci/run does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Value = serde_json::from_slice(&out.stdout).unwrap();

    // 1. Which firmware grew innominer_T2's heap.
    let duck_heap: BTreeMap<String, (u64, u64)> = answers["heap_by_firmware"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), (v[0].as_u64().unwrap(), v[1].as_u64().unwrap())))
        .collect();
    assert_eq!(duck_heap, heap);
    assert_eq!(
        answers["firmware_that_grew_heap"],
        serde_json::json!(["1.2"])
    );

    // 2. The 95th percentile of headroom per board model.
    let p95 = answers["p95_headroom_by_board"].as_object().unwrap();
    assert_eq!(p95.len(), 2);
    for (board, values) in headroom {
        let expected = quantile(values, 0.95);
        let got = p95[&board].as_f64().unwrap();
        assert!((got - expected).abs() < 1.0, "{board}: {got} vs {expected}");
    }

    // 3. Devices within 5 % of their budget at their newest snapshot.
    let near: Vec<&str> = newest
        .iter()
        .filter(|(_, (_, near))| *near)
        .map(|(host, _)| host.as_str())
        .collect();
    assert_eq!(near, ["dev-000", "dev-002"], "the reports themselves");
    assert_eq!(answers["near_budget_hosts"], serde_json::json!(near));
    assert_eq!(answers["errors"], 1);
}

/// Rows sorted by their identifying columns: workers finish in any order.
fn sorted(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| {
        (
            r["snapshot_id"].as_u64(),
            r["pid"].as_u64(),
            r["class"].to_string(),
        )
    });
    rows
}

#[test]
fn one_worker_writes_the_same_rows_and_redaction_keeps_the_program() {
    let fleet = fleet();
    export(&fleet, &fleet.tables, &[]).code(2);
    let redacted = fleet.tables.with_file_name("redacted");
    export(&fleet, &redacted, &["--jobs", "1", "--redact"]).code(2);
    for table in ["snapshots", "items", "findings", "errors"] {
        assert_eq!(
            sorted(rows(&fleet.tables, table)),
            sorted(rows(&redacted, table)),
            "{table}"
        );
    }
    let full = sorted(rows(&fleet.tables, "processes"));
    let short = sorted(rows(&redacted, "processes"));
    assert_eq!(full.len(), short.len());
    let mut shortened = 0;
    for (f, s) in full.iter().zip(&short) {
        let (f_cmd, s_cmd) = (
            f["cmdline"].as_str().unwrap(),
            s["cmdline"].as_str().unwrap(),
        );
        assert_eq!(s_cmd, f_cmd.split(' ').next().unwrap());
        shortened += usize::from(f_cmd != s_cmd);
        assert_eq!(
            (&f["pid"], &f["virtual"], &f["pss"]),
            (&s["pid"], &s["virtual"], &s["pss"])
        );
    }
    // innominer_T2's pool password and every other argument are gone.
    assert!(shortened > 0);
    assert!(!std::fs::read_to_string(redacted.join("processes.ndjson"))
        .unwrap()
        .contains("stratum+tcp"));

    // An export never writes over a directory that holds something.
    let before = std::fs::read(fleet.tables.join("snapshots.ndjson")).unwrap();
    export(&fleet, &fleet.tables, &[])
        .code(2)
        .stderr(predicates::str::contains("not empty"));
    assert_eq!(
        std::fs::read(fleet.tables.join("snapshots.ndjson")).unwrap(),
        before
    );
}

#[test]
fn a_clean_run_exits_0_and_a_bad_profile_map_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = crate_dir().join("tests/fixtures/real/innosilicon-t2-zynq-snapshot");
    let tables = dir.path().join("tables");
    Command::cargo_bin("membudget")
        .unwrap()
        .arg("export")
        .arg(&snapshot)
        .arg("-o")
        .arg(&tables)
        .arg("-p")
        .arg(crate_dir().join(ZYNQ_PROFILE))
        .assert()
        .code(0);
    let row = &rows(&tables, "snapshots")[0];
    let r = report(snapshot.to_str().unwrap(), ZYNQ_BOARD);
    assert_eq!(
        (&row["demand"], &row["headroom"]),
        (&r["demand"], &r["headroom"])
    );
    assert_eq!(rows(&tables, "errors").len(), 0);

    let map = dir.path().join("boards.toml");
    std::fs::write(
        &map,
        "[[rule]]\nmatch = { board = \"x\" }\nprofile = \"missing.toml\"\n",
    )
    .unwrap();
    let none = dir.path().join("none");
    Command::cargo_bin("membudget")
        .unwrap()
        .arg("export")
        .arg(&snapshot)
        .arg("-o")
        .arg(&none)
        .arg("--profile-map")
        .arg(&map)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("missing.toml"));
    assert!(!none.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary left"
    );
}
