//! Every command the README shows runs from a clone. The commands are read out of the README's
//! `sh` and `console` code blocks and must equal the list below, in order (so neither can
//! change without the other); each is then run with `bash -c`, in README order, in a directory
//! that looks like the root of a clone (`budgets/` and `tests/` of this checkout) with this
//! build's `membudget` first on PATH, and its exit code asserted. A `console` block's output
//! lines must appear in the command's output, in order (`...` stands for lines left out).

use std::path::Path;

/// What a README command must do here.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Exactly this exit code.
    Exit(i32),
    /// 0 or 1: a verdict about this machine, whose state the test does not control.
    Verdict,
    /// Not run, for the reason given (needs a board, installs, or is this test run).
    NotRun(&'static str),
}
use Expect::*;

const NEEDS_BOARD: Expect = NotRun("needs a board reachable over ssh");

const EXAMPLES: &[(&str, Expect)] = &[
    (
        "cargo install --path .",
        NotRun("installs into ~/.cargo/bin; the binary it installs is the one cargo built here"),
    ),
    ("membudget completions bash > membudget.bash", Exit(0)),
    ("membudget man > membudget.1", Exit(0)),
    (
        "scripts/build-board-binaries.sh",
        NotRun("cross builds take minutes: tests/board_binaries.rs runs the script"),
    ),
    (
        "scp target/boards/membudget-armv7 root@board:/tmp/membudget",
        NEEDS_BOARD,
    ),
    ("ssh root@board /tmp/membudget check", NEEDS_BOARD),
    ("membudget report", Exit(0)),
    ("cargo test", NotRun("this test is part of it")),
    (
        "membudget check tests/fixtures/real/innosilicon-t2-zynq-snapshot -p budgets/zynq-innosilicon-t2-256m.toml",
        Exit(2),
    ),
    (
        "echo $?",
        NotRun("shows the exit code of the command above it, which the line above asserts"),
    ),
    (
        "membudget check tests/fixtures/real/innosilicon-t2-zynq-snapshot -p budgets/zynq-innosilicon-t2-256m.toml --allow-incomplete",
        Exit(0),
    ),
    (
        "membudget check tests/fixtures/hisi-chacon-64m -p budgets/hi3518ev300-64m.toml",
        Exit(1),
    ),
    ("membudget capture -o board.tar.gz --smaps", Exit(0)),
    ("membudget report board.tar.gz", Exit(0)),
    ("membudget capture-script > membudget-capture.sh", Exit(0)),
    (
        "sh membudget-capture.sh -o script-board.tar.gz --smaps",
        Exit(0),
    ),
    ("membudget capture -o series --every 1s --count 4", Exit(0)),
    (
        "membudget trend series/ --profile budgets/default.toml",
        Exit(0),
    ),
    ("membudget trend series/ --format json --fail-on-leak", Verdict),
    (
        "membudget report tests/fixtures/real/innosilicon-t2-zynq-snapshot -p budgets/zynq-innosilicon-t2-256m.toml --format markdown",
        Exit(0),
    ),
    (
        "membudget check tests/fixtures/real/innosilicon-t2-zynq-snapshot -p budgets/zynq-innosilicon-t2-256m.toml --format junit -o membudget.xml",
        Exit(2),
    ),
    (
        "membudget report tests/fixtures/real/innosilicon-t2-zynq-snapshot -p budgets/zynq-innosilicon-t2-256m.toml --format html -o budget.html",
        Exit(0),
    ),
    (
        "membudget diff series/sample-0001.tar.gz series/sample-0004.tar.gz --fail-above 64MiB",
        Verdict,
    ),
];

/// A command of the README and, for `console` blocks, the output it shows.
#[derive(Debug)]
struct Example {
    command: String,
    shown: Vec<String>,
}

/// The commands of the README's `sh` blocks (every line, a trailing `  # comment` removed) and
/// `console` blocks (`$ ` lines, with the lines that follow as their shown output).
fn readme_examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut block: Option<&str> = None;
    for line in readme.lines() {
        match (block, line.strip_prefix("```")) {
            (None, Some(lang)) => block = Some(lang.trim()),
            (Some(_), Some(_)) => block = None,
            (Some("sh"), None) if !line.trim().is_empty() => {
                let command = line.split("  #").next().unwrap_or(line).trim_end();
                out.push(Example {
                    command: command.to_string(),
                    shown: Vec::new(),
                });
            }
            (Some("console"), None) => match line.strip_prefix("$ ") {
                Some(command) => out.push(Example {
                    command: command.to_string(),
                    shown: Vec::new(),
                }),
                None => {
                    let example = out.last_mut().expect("console output before a `$ ` line");
                    example.shown.push(line.to_string());
                }
            },
            _ => {}
        }
    }
    out
}

/// The shown lines appear in `output` in order (`...` marks where the README leaves lines out).
fn assert_shown(command: &str, shown: &[String], output: &str) {
    let mut lines = output.lines();
    for want in shown.iter().filter(|l| !l.is_empty()) {
        if want.trim() == "..." {
            continue;
        }
        assert!(
            lines.any(|l| l == want),
            "`{command}` did not print {want:?} (in order); it printed:\n{output}"
        );
    }
}

#[test]
fn readme_commands_are_the_listed_ones() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let found: Vec<String> = readme_examples(&readme)
        .into_iter()
        .map(|e| e.command)
        .collect();
    let listed: Vec<&str> = EXAMPLES.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        found, listed,
        "the README's commands changed: update EXAMPLES in tests/readme.rs"
    );
}

#[test]
fn readme_commands_run_from_a_clone() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
    let clone = tempfile::tempdir().unwrap();
    for dir in ["budgets", "tests", "scripts"] {
        std::os::unix::fs::symlink(repo.join(dir), clone.path().join(dir)).unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_membudget")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let examples = readme_examples(&readme);
    for (example, (_, expect)) in examples.iter().zip(EXAMPLES) {
        if let NotRun(_) = expect {
            continue;
        }
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&example.command)
            .current_dir(clone.path())
            .env("PATH", &path)
            .env_remove("MEMBUDGET_PROFILE")
            .output()
            .unwrap();
        let code = out.status.code();
        let stderr = String::from_utf8_lossy(&out.stderr);
        match expect {
            Exit(want) => assert_eq!(code, Some(*want), "`{}`: {stderr}", example.command),
            Verdict => assert!(
                matches!(code, Some(0 | 1)),
                "`{}` exited {code:?}: {stderr}",
                example.command
            ),
            NotRun(_) => unreachable!(),
        }
        assert_shown(
            &example.command,
            &example.shown,
            &String::from_utf8_lossy(&out.stdout),
        );
    }
    // What the commands were meant to write is there.
    for file in [
        "membudget.bash",
        "membudget.1",
        "board.tar.gz",
        "script-board.tar.gz",
        "series/sample-0004.tar.gz",
        "membudget.xml",
        "budget.html",
    ] {
        let meta = std::fs::metadata(clone.path().join(file)).unwrap();
        assert!(meta.len() > 0, "{file} is empty");
    }
}
