//! Helpers shared by the capture and trend tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// A process that holds still while captures are taken (`sleep`, blocked in nanosleep, touches
/// no memory), killed when the test ends, however it ends.
pub struct HeldProcess {
    child: Child,
}

impl HeldProcess {
    pub fn sleep() -> HeldProcess {
        HeldProcess::start(Command::new("sleep").arg("1000"), "sleep")
    }

    /// Starts `command` and returns once the child runs the program whose path contains
    /// `program`: until exec is done, /proc/PID/maps is the test binary's.
    pub fn start(command: &mut Command, program: &str) -> HeldProcess {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn `{program}`: {e}"));
        let held = HeldProcess { child };
        let exe = format!("/proc/{}/exe", held.pid());
        for _ in 0..500 {
            if std::fs::read_link(&exe).is_ok_and(|p| p.to_string_lossy().contains(program)) {
                return held;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("`{program}` never exec'd");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HeldProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of a tool a test needs. A missing tool fails the test loudly: CI installs it
/// (.ci/run), so absence is a broken setup, not a reason to skip.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: .ci/run installs it (apt-get install); install it to run this test")
        })
}

/// The capture script as it sits in the repository (the same bytes the binary embeds).
pub fn capture_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/capture/membudget-capture.sh")
}

/// A `Key: N kB` figure of a live /proc file, in bytes (the kernel's own count, read
/// independently of membudget's parsers).
pub fn live_proc_bytes(pid: u32, file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/{file}"));
    kib * 1024
}

/// Bytes of x86-64's `[vsyscall]` page in a process's maps: listed by maps, left out of
/// VmSize (0 on other architectures).
pub fn vsyscall_bytes(process: &membudget::model::Process) -> u64 {
    process
        .mappings
        .iter()
        .filter(|m| m.map.path.as_deref() == Some("[vsyscall]"))
        .map(|m| m.map.size())
        .sum()
}

/// Copies a snapshot directory, to alter the copy.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The entry whose `key` is `key` in a JSON report's array (`items`, `classes`...).
pub fn keyed<'a>(entries: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    entries
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {entries}"))
        .iter()
        .find(|e| e["key"] == key)
        .unwrap_or_else(|| panic!("no entry with key {key} in {entries}"))
}

/// Compiles `tests/workloads/NAME.c` with `cc` into `dir`, with `flags` (`-pthread`).
pub fn compile_workload(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let cc = require_tool("cc");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/workloads")
        .join(format!("{name}.c"));
    let binary = dir.join(name);
    let status = Command::new(cc)
        .args(["-O1", "-Wall"])
        .args(flags)
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status()
        .unwrap();
    assert!(status.success(), "cc failed on {}", source.display());
    binary
}

/// Starts a workload and waits for its first line (it prints one when its memory is built).
pub fn start_workload(command: &mut Command) -> (Child, String) {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    (child, line)
}

/// A mapping's first line in smaps (`start-end perms ...`), not one of its `Key: value` lines.
pub fn is_smaps_header(fields: &[&str]) -> bool {
    fields
        .first()
        .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
}

/// Grows the `[heap]` of `pid` by `bytes` in a snapshot copy, in maps and in smaps (Size, Rss,
/// Pss and Private_Dirty), as if the process had allocated and touched that much more.
pub fn grow_heap(snapshot: &Path, pid: u32, bytes: u64) {
    let kb = bytes / 1024;
    let grow_end = |line: &str| -> String {
        let (range, rest) = line.split_once(' ').unwrap();
        let (start, end) = range.split_once('-').unwrap();
        let end = u64::from_str_radix(end, 16).unwrap() + bytes;
        format!("{start}-{end:08x} {rest}")
    };
    let maps = snapshot.join(format!("proc/{pid}/maps"));
    let text = std::fs::read_to_string(&maps).unwrap();
    let grown: Vec<String> = text
        .lines()
        .map(|l| {
            if l.ends_with("[heap]") {
                grow_end(l)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(grown.join("\n") != text.trim_end());
    std::fs::write(&maps, grown.join("\n") + "\n").unwrap();
    let smaps = snapshot.join(format!("proc/{pid}/smaps"));
    if let Ok(text) = std::fs::read_to_string(&smaps) {
        let mut in_heap = false;
        let mut out = Vec::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if is_smaps_header(&fields) {
                in_heap = line.ends_with("[heap]");
                out.push(if in_heap {
                    grow_end(line)
                } else {
                    line.to_string()
                });
            } else if in_heap
                && matches!(
                    fields.first(),
                    Some(&"Size:" | &"Rss:" | &"Pss:" | &"Private_Dirty:")
                )
            {
                let value: u64 = fields[1].parse().unwrap();
                out.push(format!("{} {} kB", fields[0], value + kb));
            } else {
                out.push(line.to_string());
            }
        }
        std::fs::write(&smaps, out.join("\n") + "\n").unwrap();
    }
}

/// `membudget check SNAPSHOT -p PROFILE`'s exit code.
pub fn check_exit_code(snapshot: &Path, profile: &Path) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_membudget"))
        .arg("check")
        .arg(snapshot)
        .arg("-p")
        .arg(profile)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

/// `profile new` on a snapshot directory: the profile parses, passes `check` on its own
/// snapshot, fails on a copy where the largest process with a heap grew by more than the 10 %
/// margin, and passes one where it grew by 5 %.
pub fn profile_new_round_trip(snapshot: &Path, work: &Path) {
    use membudget::budget::evaluate;
    use membudget::collect::{load, LiveOptions};
    let profile_path = work.join("board.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_membudget"))
        .args(["profile", "new"])
        .arg(snapshot)
        .args(["--margin", "10%", "-o"])
        .arg(&profile_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let profile = membudget::profile::Profile::load(&profile_path).unwrap();
    let snap = load(Some(snapshot), LiveOptions::default()).unwrap();
    let budget = evaluate(&snap, &profile).unwrap();
    assert!(
        budget.within_budget,
        "{:#?}",
        budget.failed().collect::<Vec<_>>()
    );
    assert_eq!(check_exit_code(snapshot, &profile_path), 0);
    let names: std::collections::BTreeSet<&str> =
        snap.processes.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(profile.expect.len(), names.len());
    // The largest process with a heap grows by 15 % of its private demand (plus a page).
    let has_heap = |pid: u32| {
        std::fs::read_to_string(snapshot.join(format!("proc/{pid}/maps")))
            .is_ok_and(|maps| maps.lines().any(|l| l.ends_with("[heap]")))
    };
    let largest = budget
        .accounting
        .processes
        .iter()
        .find(|p| has_heap(p.pid))
        .expect("a process with a heap");
    let grown = work.join("grown");
    copy_dir(snapshot, &grown);
    let growth = (largest.demand * 15 / 100).div_ceil(4096) * 4096 + 4096;
    grow_heap(&grown, largest.pid, growth);
    let after = evaluate(
        &load(Some(&grown), LiveOptions::default()).unwrap(),
        &profile,
    )
    .unwrap();
    let failed: Vec<_> = after.failed().map(|f| f.subject.clone()).collect();
    assert!(
        failed.contains(&format!("{} (pid {})", largest.name, largest.pid)),
        "{failed:?}"
    );
    assert_eq!(check_exit_code(&grown, &profile_path), 1);
    // Growth within the margin (5 %, whole pages) still passes.
    let within = (largest.demand * 5 / 100) / 4096 * 4096;
    if within > 0 {
        let small = work.join("small");
        copy_dir(snapshot, &small);
        grow_heap(&small, largest.pid, within);
        assert_eq!(check_exit_code(&small, &profile_path), 0);
    }
}
