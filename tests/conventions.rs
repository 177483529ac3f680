//! The command-line conventions a user expects of an installed tool: shell completions, a man
//! page, `-q/--quiet`, profile discovery (`--profile`, `MEMBUDGET_PROFILE`, `./membudget.toml`,
//! built-in default, each named in the report), and one progress line per sample when a series
//! runs without a terminal.

mod common;

use assert_cmd::Command;
use clap::CommandFactory;
use std::path::{Path, PathBuf};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The binary with no profile named in its environment (the tests set it where they mean to).
fn bin() -> Command {
    let mut cmd = Command::cargo_bin("membudget").unwrap();
    cmd.env_remove("MEMBUDGET_PROFILE");
    cmd
}

fn zynq() -> PathBuf {
    repo("tests/fixtures/real/innosilicon-t2-zynq-snapshot")
}

/// The names of every subcommand, from the parser itself (so a new one cannot be forgotten).
fn subcommands() -> Vec<String> {
    membudget::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect()
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completion_is_valid_bash_and_knows_every_subcommand() {
    let script = stdout_of(bin().args(["completions", "bash"]));
    for name in subcommands() {
        assert!(script.contains(&name), "bash completion lacks {name}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("membudget.bash");
    std::fs::write(&file, &script).unwrap();
    // Sourcing it must define the completion: `complete -p membudget` fails otherwise.
    let status = std::process::Command::new(common::require_tool("bash"))
        .arg("-c")
        .arg(format!(
            "source {} && complete -p membudget",
            file.display()
        ))
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("membudget"));
}

#[test]
fn zsh_and_fish_completions_name_the_program() {
    assert!(stdout_of(bin().args(["completions", "zsh"])).starts_with("#compdef membudget"));
    let fish = stdout_of(bin().args(["completions", "fish"]));
    for name in subcommands() {
        assert!(fish.contains(&name), "fish completion lacks {name}");
    }
    bin().args(["completions", "tcsh"]).assert().code(2);
}

#[test]
fn man_page_is_roff_with_every_subcommand() {
    let page = stdout_of(bin().arg("man"));
    assert!(page.contains(".TH membudget 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"));
    assert!(page.contains("\\fB\\-q\\fR, \\fB\\-\\-quiet\\fR"), "{page}");
    for name in subcommands() {
        // roff escapes a hyphen as `\-`.
        let roff = name.replace('-', "\\-");
        assert!(page.contains(&roff), "man page lacks {roff}");
    }
}

/// `-q` leaves stdout alone and takes the stderr copies of the report's warnings away; the
/// report still lists them.
#[test]
fn quiet_drops_the_stderr_copies_of_report_warnings() {
    let profile = repo("budgets/zynq-innosilicon-t2-256m.toml");
    let run = |quiet: bool| {
        let mut cmd = bin();
        cmd.arg("report").arg(zynq()).arg("-p").arg(&profile);
        if quiet {
            cmd.arg("--quiet");
        }
        cmd.output().unwrap()
    };
    let loud = run(false);
    let quiet = run(true);
    assert_eq!(loud.status.code(), Some(0));
    assert_eq!(quiet.status.code(), Some(0));
    let loud_err = String::from_utf8_lossy(&loud.stderr);
    // The Zynq capture has no `df`: one warning per tmpfs mount (/dev, /tmp, /var).
    assert_eq!(loud_err.matches("no usage recorded for tmpfs").count(), 3);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    assert_eq!(loud.stdout, quiet.stdout);
    assert!(String::from_utf8_lossy(&quiet.stdout).contains("no usage recorded for tmpfs /tmp"));
}

/// Errors are never quiet.
#[test]
fn quiet_keeps_errors() {
    bin()
        .args(["-q", "check", "/nonexistent/snapshot"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("/nonexistent/snapshot"));
}

/// A series without a terminal (CI, a log file) prints one line per sample; `-q` none.
#[test]
fn series_prints_one_progress_line_per_sample_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .arg("capture")
        .arg("-o")
        .arg(dir.path().join("loud"))
        .args(["--every", "100ms", "--count", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("membudget: sample "))
        .collect();
    assert_eq!(progress.len(), 3, "{stderr}");
    for (i, line) in progress.iter().enumerate() {
        assert!(line.starts_with(&format!("membudget: sample {}/3 written (", i + 1)));
        assert!(!line.contains('\r') && !line.contains('\x1b'), "{line:?}");
    }
    assert!(stderr.contains("membudget: wrote 3 sample(s)"));

    let out = bin()
        .arg("capture")
        .arg("-o")
        .arg(dir.path().join("quiet"))
        .args(["--every", "100ms", "--count", "2", "--quiet"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("sample 1/2") && !stderr.contains("wrote"),
        "{stderr}"
    );
    assert!(dir.path().join("quiet/sample-0002.tar.gz").is_file());
}

/// `report --format json` run in `cwd` with `env` set, plus `args`: the parsed report.
fn json_report(cwd: &Path, env: Option<&Path>, args: &[&str]) -> serde_json::Value {
    let mut cmd = bin();
    cmd.current_dir(cwd)
        .arg("report")
        .arg(zynq())
        .args(["--format", "json"])
        .args(args);
    if let Some(profile) = env {
        cmd.env("MEMBUDGET_PROFILE", profile);
    }
    serde_json::from_str(&stdout_of(&mut cmd)).unwrap()
}

/// Discovery order: `--profile`, then `MEMBUDGET_PROFILE`, then `./membudget.toml`, then the
/// built-in default. Each profile states a different RAM, so the report's `ram` shows which was
/// used, and `profile_chosen_by` says why.
#[test]
fn profile_discovery_order_is_flag_env_local_default() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let zynq_profile = repo("budgets/zynq-innosilicon-t2-256m.toml");
    let local = "name = \"local board\"\nram = \"300MiB\"\n";
    let flagged = cwd.join("flagged.toml");
    std::fs::write(&flagged, "ram = \"512MiB\"\n").unwrap();

    let default = json_report(cwd, None, &[]);
    assert_eq!(default["profile_source"], "budgets/default.toml (built in)");
    assert!(default["profile_chosen_by"]
        .as_str()
        .unwrap()
        .starts_with("built-in default"));

    std::fs::write(cwd.join("membudget.toml"), local).unwrap();
    let found = json_report(cwd, None, &[]);
    assert_eq!(found["ram"], 300 << 20);
    assert_eq!(found["profile"], "local board");
    assert_eq!(found["profile_chosen_by"], "found as ./membudget.toml");

    let named = json_report(cwd, Some(&zynq_profile), &[]);
    assert_eq!(named["ram"], 256 << 20);
    assert_eq!(named["profile_chosen_by"], "named by MEMBUDGET_PROFILE");

    let flag = json_report(
        cwd,
        Some(&zynq_profile),
        &["--profile", flagged.to_str().unwrap()],
    );
    assert_eq!(flag["ram"], 512 << 20);
    assert_eq!(flag["profile_chosen_by"], "given with --profile");
}

/// The text header says the same; a profile named but missing is an error, not the default.
#[test]
fn profile_choice_is_in_the_text_header_and_a_missing_one_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("membudget.toml"), "ram = \"256MiB\"\n").unwrap();
    let text = stdout_of(
        bin()
            .current_dir(dir.path())
            .args(["check", "--allow-incomplete"])
            .arg(zynq()),
    );
    assert!(
        text.lines()
            .any(|l| l == "profile: membudget.toml (membudget.toml; found as ./membudget.toml)"),
        "{text}"
    );
    bin()
        .env("MEMBUDGET_PROFILE", dir.path().join("missing.toml"))
        .arg("check")
        .arg(zynq())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("missing.toml"))
        .stderr(predicates::str::contains("MEMBUDGET_PROFILE"));
}
