//! The capture script's compatibility matrix (docs/capture.md): busybox built from Debian's
//! source package in the configurations boards ship (tests/busybox/build-busybox.sh: the
//! Fullhan cameras' applet set, and GNU tar extensions, tar create, printf, `command` and shell
//! arithmetic each turned off), static, cached under ~/.cache/membudget-busybox. The script
//! runs under that busybox's ash and hush with a PATH of its applets only (less some, to show
//! the fallbacks), on this machine's /proc. Every run must give a complete snapshot (its files
//! exactly those its manifest lists, the manifest the archive's last member) that membudget
//! loads, or exit 2 with an error naming what is missing.

mod common;

use common::{capture_script, live_proc_bytes, vsyscall_bytes, HeldProcess};
use membudget::collect::{load, LiveOptions};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run must write.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The archive asked for (`.tar.gz`).
    Asked,
    /// `NAME.tar` instead of `NAME.tar.gz`, with a warning naming gzip.
    PlainTar,
    /// The directory `NAME`, with a warning naming tar.
    Directory,
    /// No snapshot: exit 2, and stderr names this.
    Error(&'static str),
}

struct Case {
    variant: &'static str,
    /// Applets left out of the PATH (as if the board's busybox had not been built with them).
    without: &'static [&'static str],
    expect: Expect,
    /// Meta `missing=` the run must write.
    missing: &'static str,
}

const CASES: &[Case] = &[
    Case {
        variant: "common",
        without: &[],
        expect: Expect::Asked,
        missing: "",
    },
    Case {
        variant: "fullhan",
        without: &[],
        expect: Expect::Asked,
        missing: "",
    },
    Case {
        variant: "no-gnu-tar",
        without: &[],
        expect: Expect::Asked,
        missing: "",
    },
    Case {
        variant: "no-tar-create",
        without: &[],
        expect: Expect::Directory,
        missing: "",
    },
    Case {
        variant: "no-printf",
        without: &[],
        expect: Expect::Asked,
        missing: "",
    },
    Case {
        variant: "no-command",
        without: &[],
        expect: Expect::Asked,
        missing: "",
    },
    Case {
        variant: "no-math",
        without: &[],
        expect: Expect::Asked,
        missing: "",
    },
    Case {
        variant: "common",
        without: &["gzip"],
        expect: Expect::PlainTar,
        missing: "",
    },
    Case {
        variant: "common",
        without: &["tar"],
        expect: Expect::Directory,
        missing: "",
    },
    Case {
        variant: "common",
        without: &["dmesg", "df"],
        expect: Expect::Asked,
        missing: "df dmesg",
    },
    Case {
        variant: "common",
        without: &["cat"],
        expect: Expect::Error("no cat applet"),
        missing: "",
    },
];

/// An output name long enough that `DIR/NAME/proc/sys/vm/min_free_kbytes` passes tar's 100
/// characters: members must not carry the output's name.
const LONG_NAME: &str =
    "board-with-a-long-hostname-as-factories-name-them-0123456789abcdef-0123456789abcdef";

#[test]
fn busybox_matrix_gives_whole_snapshots_or_clear_errors() {
    let held = HeldProcess::sleep();
    let mut failures = Vec::new();
    for case in CASES {
        let busybox = build_busybox(case.variant);
        for shell in ["ash", "hush"] {
            let label = format!("{} {shell} without {:?}", case.variant, case.without);
            if let Err(why) = run_case(&busybox, shell, case, held.pid()) {
                failures.push(format!("{label}: {why}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The cached static busybox of `variant`, built on first use. A build that cannot happen
/// (no network to Debian's archive, no compiler) fails the test, saying why.
fn build_busybox(variant: &str) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/busybox/build-busybox.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(variant)
        .output()
        .expect("run tests/busybox/build-busybox.sh");
    assert!(
        out.status.success(),
        "cannot build busybox {variant} (needs Debian's source archive, gcc, make, bzip2: .ci/run installs them):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A directory of links to `busybox`'s applets, less `without`: the PATH of a board.
fn applet_dir(busybox: &Path, dir: &Path, without: &[&str]) -> PathBuf {
    let list = Command::new(busybox).arg("--list").output().unwrap();
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if !without.contains(&applet) {
            std::os::unix::fs::symlink(busybox, bin.join(applet)).unwrap();
        }
    }
    bin
}

fn run_case(busybox: &Path, shell: &str, case: &Case, held: u32) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let bin = applet_dir(busybox, dir.path(), case.without);
    let name = dir.path().join(LONG_NAME);
    let asked = name.with_extension("tar.gz");
    let out = Command::new(busybox)
        .arg(shell)
        .arg(capture_script())
        .arg("-o")
        .arg(&asked)
        .env_clear()
        .env("PATH", &bin)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let written = match case.expect {
        Expect::Error(names) => return expect_error(&out, &stderr, names, dir.path()),
        Expect::Asked => asked,
        Expect::PlainTar => name.with_extension("tar"),
        Expect::Directory => name,
    };
    if !out.status.success() {
        return Err(format!("exit {:?}: {stderr}", out.status.code()));
    }
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if Path::new(&printed) != written {
        return Err(format!(
            "printed {printed:?}, expected {written:?}; {stderr}"
        ));
    }
    let warned = match case.expect {
        Expect::PlainTar => Some("gzip"),
        Expect::Directory => Some("tar"),
        _ => None,
    };
    if let Some(word) = warned.filter(|w| !stderr.contains(&format!("warning: {w}"))) {
        return Err(format!("no warning naming {word}: {stderr}"));
    }
    check_snapshot(&written, case, held)
}

/// Exit 2, stderr naming what is missing, and nothing left behind but the applet links.
fn expect_error(
    out: &std::process::Output,
    stderr: &str,
    names: &str,
    dir: &Path,
) -> Result<(), String> {
    if out.status.code() != Some(2) || !stderr.contains(names) {
        return Err(format!(
            "expected exit 2 naming {names:?}, got {:?}: {stderr}",
            out.status.code()
        ));
    }
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "bin")
        .collect();
    if !left.is_empty() {
        return Err(format!("left behind {left:?}"));
    }
    Ok(())
}

/// The snapshot's files (path relative to its root, contents) in the order written.
fn snapshot_files(written: &Path) -> Vec<(String, Vec<u8>)> {
    if written.is_dir() {
        let mut files = Vec::new();
        walk(written, written, &mut files);
        return files;
    }
    let file = std::fs::File::open(written).unwrap();
    let reader: Box<dyn Read> = if written.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut archive = tar::Archive::new(reader);
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_file() {
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            files.push((path, body));
        }
    }
    files
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.push((rel, std::fs::read(&path).unwrap()));
        }
    }
}

fn check_snapshot(written: &Path, case: &Case, held: u32) -> Result<(), String> {
    let files = snapshot_files(written);
    check_manifest(written, &files)?;
    let snapshot = load(Some(written), LiveOptions::default()).map_err(|e| e.to_string())?;
    let meta = &snapshot.meta;
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    for (key, want) in [
        ("manifest", "1"),
        ("missing", case.missing),
        ("boot_id", boot_id.trim()),
    ] {
        if meta.get(key) != Some(want) {
            return Err(format!("meta {key}={:?}, expected {want:?}", meta.get(key)));
        }
    }
    // df read every RAM-backed mount (the list the script built in its read loop).
    if !case.missing.contains("df") && !snapshot.unmeasured_mounts.is_empty() {
        return Err(format!("no df figure for {:?}", snapshot.unmeasured_mounts));
    }
    // Without shell arithmetic the capture's duration is not known, and not made up.
    let timed = meta.get("capture_seconds").is_some();
    if timed == (case.variant == "no-math") {
        return Err(format!("capture_seconds {:?}", meta.get("capture_seconds")));
    }
    // Independent truth: the kernel's own figures, read live here.
    let mem_total = live_mem_total();
    if snapshot.meminfo.get("MemTotal") != Some(mem_total) {
        return Err(format!("MemTotal {:?}", snapshot.meminfo.get("MemTotal")));
    }
    let process = snapshot
        .processes
        .iter()
        .find(|p| p.pid == held)
        .ok_or_else(|| format!("the held process {held} was not captured"))?;
    let virtual_size: u64 = process.mappings.iter().map(|m| m.map.size()).sum();
    let vm_size = live_proc_bytes(held, "status", "VmSize") + vsyscall_bytes(process);
    if virtual_size != vm_size {
        return Err(format!(
            "held process maps {virtual_size} != VmSize {vm_size}"
        ));
    }
    Ok(())
}

/// The manifest is the last file written, counts and lists every other file, and no more.
fn check_manifest(written: &Path, files: &[(String, Vec<u8>)]) -> Result<(), String> {
    let Some((last, manifest)) = files.last() else {
        return Err(format!("{} is empty", written.display()));
    };
    if !written.is_dir() && last != "manifest" {
        return Err(format!("last member is {last}, not manifest"));
    }
    let manifest = files
        .iter()
        .find(|(path, _)| path == "manifest")
        .map_or(manifest, |(_, body)| body);
    let text = String::from_utf8_lossy(manifest);
    let mut lines = text.lines();
    let header: Vec<_> = lines.by_ref().take(2).collect();
    let listed: BTreeSet<&str> = lines.filter_map(|l| l.strip_prefix("file=")).collect();
    let present: BTreeSet<&str> = files
        .iter()
        .map(|(path, _)| path.as_str())
        .filter(|p| *p != "manifest")
        .collect();
    let count = format!("files={}", present.len());
    if header != ["format=1", count.as_str()] || listed != present {
        let extra: Vec<_> = present.difference(&listed).collect();
        let lost: Vec<_> = listed.difference(&present).collect();
        return Err(format!(
            "manifest {header:?} vs {count}: unlisted {extra:?}, listed but absent {lost:?}"
        ));
    }
    Ok(())
}

/// MemTotal of the live /proc/meminfo, in bytes, read without membudget's parsers.
fn live_mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("MemTotal in /proc/meminfo");
    kib * 1024
}
