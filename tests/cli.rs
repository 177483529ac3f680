//! The binary's contract: exit 0 within budget, 1 over budget, 2 on bad input or evidence
//! that cannot carry a verdict, with messages that name the file (and line/column) at fault.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn bin() -> Command {
    Command::cargo_bin("membudget").unwrap()
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `membudget check SNAPSHOT -p PROFILE [EXTRA...]`.
fn check_with(snapshot: &Path, profile: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    bin()
        .arg("check")
        .arg(snapshot)
        .arg("-p")
        .arg(profile)
        .args(extra)
        .assert()
}

fn check(snapshot: &Path, profile: &Path) -> assert_cmd::assert::Assert {
    check_with(snapshot, profile, &[])
}

/// The Zynq capture has no `proc/sys/vm/min_free_kbytes`: the watermark reserve is unknown,
/// so a pass needs `--allow-incomplete` (and says so first).
fn check_allowing(snapshot: &Path, profile: &Path) -> assert_cmd::assert::Assert {
    check_with(snapshot, profile, &["--allow-incomplete"])
}

fn zynq() -> PathBuf {
    repo("tests/fixtures/real/innosilicon-t2-zynq-snapshot")
}

#[test]
fn check_within_budget_exits_0() {
    check(&zynq(), &repo("budgets/zynq-innosilicon-t2-256m.toml"))
        .code(2)
        .stdout(predicate::str::starts_with("INCONCLUSIVE"))
        .stdout(predicate::str::contains("unknown: min_free"));
    check_allowing(&zynq(), &repo("budgets/zynq-innosilicon-t2-256m.toml"))
        .code(0)
        .stdout(predicate::str::starts_with(
            "INCOMPLETE EVIDENCE (--allow-incomplete)",
        ))
        .stdout(predicate::str::contains("WITHIN BUDGET"));
}

#[test]
fn check_over_budget_exits_1_and_names_the_process() {
    check(
        &repo("tests/fixtures/hisi-chacon-64m"),
        &repo("budgets/hi3518ev300-64m.toml"),
    )
    .code(1)
    .stdout(predicate::str::contains("OVER BUDGET"))
    .stdout(predicate::str::is_match(r"FAIL  process_limit +Sofia \(pid 1\) private").unwrap());
}

#[test]
fn tighter_profile_flips_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("tight.toml");
    let check_profile = |text: &str| {
        std::fs::write(&profile, text).unwrap();
        check_allowing(&zynq(), &profile)
    };
    // Headroom = MemTotal 252308 kB - dynamic 14516 - processes 179592 - tmpfs 5108 - reserves.
    // With 30 MiB of reserves: 22372 kB left.
    check_profile("ram = \"256MiB\"\n[reserves]\ndisk_cache = \"30MiB\"\n").code(0);
    // 52 MiB of reserves leaves 22372 - 22528 = -156 kB: over.
    check_profile("ram = \"256MiB\"\n[reserves]\ndisk_cache = \"52MiB\"\n")
        .code(1)
        .stdout(predicate::str::contains("FAIL  ram_fit"));
    // A headroom promise of 22 MiB (22528 kB) is just missed with 30 MiB of reserves.
    check_profile(
        "ram = \"256MiB\"\nmin_headroom = \"22MiB\"\n[reserves]\ndisk_cache = \"30MiB\"\n",
    )
    .code(1)
    .stdout(predicate::str::contains("FAIL  headroom"));
    // 240 MiB is below MemTotal (246.4 MiB): the profile cannot be for this board.
    check_profile("ram = \"240MiB\"\n")
        .code(2)
        .stderr(predicate::str::contains(
            "smaller than the snapshot's MemTotal",
        ));
}

#[test]
fn profile_syntax_error_has_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("bad.toml");
    std::fs::write(&profile, "ram = \"64MiB\"\nmin_headroom = \"10 parsecs\"\n").unwrap();
    let expected = format!("{}:2:16:", profile.display());
    check(&zynq(), &profile)
        .code(2)
        .stderr(predicate::str::contains(expected))
        .stderr(predicate::str::contains("unknown size unit"));
    std::fs::write(&profile, "ram = \"64MiB\"\n[carveouts\nmmz = 1\n").unwrap();
    check(&zynq(), &profile)
        .code(2)
        .stderr(predicate::str::contains(format!(
            "{}:2:",
            profile.display()
        )));
}

#[test]
fn missing_snapshot_and_profile_exit_2_naming_them() {
    bin()
        .args(["report", "/nonexistent/board.tar.gz"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/board.tar.gz"));
    bin()
        .arg("report")
        .arg(zynq())
        .args(["--profile", "/nonexistent/profile.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("/nonexistent/profile.toml"));
}

#[test]
fn not_a_snapshot_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    bin()
        .arg("report")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a snapshot"));
    let junk = dir.path().join("junk.tar.gz");
    std::fs::write(&junk, b"\x1f\x8b this is not gzip").unwrap();
    bin()
        .arg("report")
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("junk.tar.gz"));
}

#[test]
fn usage_errors_exit_2() {
    bin().args(["report", "--no-such-flag"]).assert().code(2);
    bin().assert().code(2);
    let dir = tempfile::tempdir().unwrap();
    bin()
        .args(["capture", "-o"])
        .arg(dir.path().join("x.zip"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains(".tar.gz"));
}

#[test]
fn bytes_flag_prints_exact_numbers() {
    bin()
        .arg("report")
        .arg(zynq())
        .arg("-p")
        .arg(repo("budgets/zynq-innosilicon-t2-256m.toml"))
        .arg("--bytes")
        .assert()
        .code(0)
        // Σ user processes: 179592 KiB
        .stdout(predicate::str::contains("183902208"));
}

#[test]
fn report_to_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.txt");
    bin()
        .arg("report")
        .arg(zynq())
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("membudget report"));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

/// `report` is a document, `check` the gate: over budget, report still exits 0 and its help
/// says so; a warning is printed once in the report, and once on stderr when the report is not
/// on a terminal (a CI log; on a terminal, where both would show, only the report has it).
#[test]
fn report_exits_0_over_budget_and_says_check_is_the_gate() {
    let hisi = repo("tests/fixtures/hisi-chacon-64m");
    let profile = repo("budgets/hi3518ev300-64m.toml");
    let output = bin()
        .arg("report")
        .arg(&hisi)
        .arg("-p")
        .arg(&profile)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("OVER BUDGET"));
    let warning = "proc/mounts: missing";
    assert_eq!(stdout.matches(warning).count(), 1, "{stdout}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.matches(warning).count(), 1, "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    bin()
        .arg("report")
        .arg(&hisi)
        .arg("-p")
        .arg(&profile)
        .arg("-o")
        .arg(dir.path().join("r.txt"))
        .assert()
        .code(0)
        .stderr(predicate::str::contains(warning).count(1));
    bin()
        .args(["report", "--help"])
        .assert()
        .stdout(predicate::str::contains("`membudget check`"))
        .stdout(predicate::str::contains("exit 1 over budget"));
}

#[test]
fn help_has_an_example_per_command() {
    for command in ["report", "check", "capture"] {
        bin()
            .args([command, "--help"])
            .assert()
            .code(0)
            .stdout(predicate::str::contains("Examples:"))
            .stdout(predicate::str::contains(format!("membudget {command}")));
    }
}

#[test]
fn live_report_runs_with_no_flags() {
    bin()
        .arg("report")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("user processes"))
        .stdout(
            predicate::str::contains("WITHIN BUDGET")
                .or(predicate::str::contains("OVER BUDGET"))
                .or(predicate::str::contains("INCONCLUSIVE")),
        );
}

/// The Zynq capture's miner runs with a pool user on its command line: `--redact` (or the
/// profile's `redact = true`) hides it in every format of report, check and diff, and keeps
/// the program name.
#[test]
fn redact_hides_arguments_in_every_format() {
    const SECRET: &str = "ChaosMine.1x43";
    let profile = repo("budgets/zynq-innosilicon-t2-256m.toml");
    let dir = tempfile::tempdir().unwrap();
    let redacting = dir.path().join("redacting.toml");
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(&redacting, format!("redact = true\n{text}")).unwrap();
    let run = |command: &str, profile: &Path, extra: &[&str], format: &str| {
        let mut cmd = bin();
        cmd.arg(command).arg(zynq());
        if command == "diff" {
            cmd.arg(zynq());
        }
        let output = cmd
            .arg("-p")
            .arg(profile)
            .args(["--format", format])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    // Unredacted, the JSON report carries the secret: the test can fail.
    assert!(run("report", &profile, &[], "json").contains(SECRET));
    for format in ["text", "markdown", "json", "junit", "html"] {
        for command in ["report", "check", "diff"] {
            for (profile, extra) in [(&profile, &["--redact"][..]), (&redacting, &[][..])] {
                let out = run(command, profile, extra, format);
                assert!(!out.is_empty(), "{command} {format}: no output");
                assert!(!out.contains(SECRET), "{command} {format} {extra:?}");
            }
        }
    }
    let json = run("report", &profile, &["--redact"], "json");
    assert!(json.contains("\"cmdline\": \"innominer_T2 [arguments redacted]\""));
}

/// `--bytes` reaches the findings; `--top 0` leaves the process table out, header and all.
#[test]
fn bytes_reach_the_findings_and_top_0_prints_no_table() {
    let hisi = repo("tests/fixtures/hisi-chacon-64m");
    let profile = repo("budgets/hi3518ev300-64m.toml");
    let run = |extra: &[&str]| {
        let out = bin()
            .arg("report")
            .arg(&hisi)
            .arg("-p")
            .arg(&profile)
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let exact = run(&["--bytes"]);
    // Sofia's private 106.36 MiB and the 24 MiB limit, in bytes.
    assert!(
        exact.contains("Sofia (pid 1) private 111525888 exceeds limit 25165824"),
        "{exact}"
    );
    assert!(
        exact.contains("demand 157827072 of RAM 67108864"),
        "{exact}"
    );
    let none = run(&["--top", "0"]);
    assert!(!none.contains("by private"), "{none}");
    assert!(run(&[]).contains("Processes by private virtual (1)"));
}
