//! The board binaries (scripts/build-board-binaries.sh: static armv7 hard-float, aarch64, and
//! little- and big-endian 32-bit MIPS) give the same reports as the host build. Each runs under
//! qemu user-mode emulation (qemu-arm-static, qemu-aarch64-static, qemu-mipsel-static,
//! qemu-mips-static) on the real fixtures, and its JSON report must equal, byte for byte, the
//! host binary's for the same snapshot and profile: same parsing, same accounting, same figures
//! on 32- and 64-bit, little- and big-endian machines. The binaries must be static (no program
//! interpreter), since boards carry older C libraries than the build machine.
//!
//! Needs rustup (and the nightly toolchain with rust-src for MIPS), the cross compilers with
//! their libc6-dev-*-cross packages, qemu-user-static and binutils (`readelf`); .ci/run
//! installs them. The four release cross builds take minutes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// (board name, emulator): the boards scripts/build-board-binaries.sh builds.
const BOARDS: [(&str, &str); 4] = [
    ("armv7", "qemu-arm-static"),
    ("aarch64", "qemu-aarch64-static"),
    ("mipsel", "qemu-mipsel-static"),
    ("mips", "qemu-mips-static"),
];

/// Snapshots (the real captures and the checked-in ones) and the profiles they are reported
/// against; `None` is the built-in default.
const CASES: [(&str, Option<&str>); 7] = [
    (
        "tests/fixtures/real/innosilicon-t2-zynq-snapshot",
        Some("budgets/zynq-innosilicon-t2-256m.toml"),
    ),
    ("tests/fixtures/real/innosilicon-t2-zynq-snapshot", None),
    ("tests/fixtures/real/zte-zx279128-ont-snapshot", None),
    (
        "tests/fixtures/hisi-chacon-64m",
        Some("budgets/hi3518ev300-64m.toml"),
    ),
    ("tests/fixtures/reconcile/fullhan-fh8856-asecam", None),
    ("tests/fixtures/reconcile/fullhan-fh8856v200-jieuno", None),
    ("tests/fixtures/reconcile/jbl-bar91-mt8531", None),
];

/// `report SNAPSHOT [-p PROFILE] --format json` run by `program` (with `emulator` in front when
/// given): exit code and stdout.
fn json_report(
    emulator: Option<&Path>,
    program: &Path,
    snapshot: &Path,
    profile: Option<&str>,
) -> (Option<i32>, String) {
    let mut cmd = match emulator {
        Some(qemu) => {
            let mut cmd = Command::new(qemu);
            cmd.arg(program);
            cmd
        }
        None => Command::new(program),
    };
    cmd.current_dir(repo(""))
        .env_remove("MEMBUDGET_PROFILE")
        .arg("report")
        .arg(snapshot)
        .args(["--format", "json", "--quiet"]);
    if let Some(profile) = profile {
        cmd.arg("-p").arg(repo(profile));
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("JSON is UTF-8"),
    )
}

/// A static ELF has no PT_INTERP program header (no dynamic loader, no C library needed).
fn assert_static(binary: &Path) {
    let out = Command::new(common::require_tool("readelf"))
        .args(["--program-headers", "--wide"])
        .arg(binary)
        .output()
        .unwrap();
    assert!(out.status.success());
    let headers = String::from_utf8_lossy(&out.stdout);
    assert!(headers.contains("LOAD"), "{headers}");
    assert!(
        !headers.contains("INTERP"),
        "{} is dynamically linked:\n{headers}",
        binary.display()
    );
}

#[test]
fn board_binaries_report_exactly_what_the_host_reports() {
    let boards = tempfile::tempdir().unwrap();
    let names: Vec<&str> = BOARDS.iter().map(|(board, _)| *board).collect();
    common::build_board_binaries(boards.path(), &names);
    // One snapshot as .tar.gz too: inflating runs on the board as well. An archive in our
    // layout must carry a `meta` (a cut archive would lose it), so one is added beside the
    // fixture's files.
    let archive = boards.path().join("zynq.tar.gz");
    let meta_dir = tempfile::tempdir().unwrap();
    std::fs::write(meta_dir.path().join("meta"), "format=1\nhost=zynq\n").unwrap();
    let status = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(repo("tests/fixtures/real/innosilicon-t2-zynq-snapshot"))
        .arg(".")
        .arg("-C")
        .arg(meta_dir.path())
        .arg("meta")
        .status()
        .unwrap();
    assert!(status.success());
    let mut cases: Vec<(PathBuf, Option<&str>)> =
        CASES.iter().map(|(s, p)| (repo(s), *p)).collect();
    cases.push((archive, Some("budgets/zynq-innosilicon-t2-256m.toml")));

    let host = Path::new(env!("CARGO_BIN_EXE_membudget"));
    for (board, emulator) in BOARDS {
        let binary = boards.path().join(format!("membudget-{board}"));
        assert_static(&binary);
        let qemu = common::require_tool(emulator);
        for (snapshot, profile) in &cases {
            let (host_code, host_json) = json_report(None, host, snapshot, *profile);
            assert!(matches!(host_code, Some(0)), "host: {}", snapshot.display());
            assert!(host_json.contains("\"schema_version\""));
            let (code, json) = json_report(Some(&qemu), &binary, snapshot, *profile);
            assert_eq!(code, host_code, "{board}: {}", snapshot.display());
            let first_difference = json
                .lines()
                .zip(host_json.lines())
                .find(|(board_line, host_line)| board_line != host_line);
            assert!(
                json == host_json,
                "{board} reports {} differently from the host; first differing line (board, host): {first_difference:?}",
                snapshot.display()
            );
        }
    }
}
