//! Helpers shared by the capture and trend tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

/// The names of the entries of `dir`, sorted.
pub fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
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

/// The errors of `json` against the schema docs/NAME.schema.json (empty when it conforms).
pub fn schema_errors(name: &str, json: &serde_json::Value) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/{name}.schema.json"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Runs headless chromium on `page` with `args` (`--dump-dom`, `--screenshot=...`).
pub fn chromium(args: &[&str], page: &Path) -> std::process::Output {
    let chromium = require_tool("chromium");
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1200,2000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Distinct colours of a decoded PNG (RGB or RGBA, 8 bits).
pub fn colours(png_path: &Path) -> (u32, u32, usize) {
    let file = std::io::BufReader::new(std::fs::File::open(png_path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let distinct: std::collections::HashSet<&[u8]> =
        buf[..info.buffer_size()].chunks(channels).collect();
    (info.width, info.height, distinct.len())
}

/// Renders `html` in headless chromium: its DOM holds every `headline` and an inline chart, and
/// a 1200x2000 screenshot of it is a page, not a blank: far more colours than a blank page's one.
pub fn check_in_chromium(html: &str, dir: &Path, name: &str, headline: &[&str]) {
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "{name}: fetches something"
    );
    let page = dir.join(format!("{name}.html"));
    std::fs::write(&page, html).unwrap();
    let dom = String::from_utf8(chromium(&["--dump-dom"], &page).stdout).unwrap();
    for figure in headline {
        assert!(dom.contains(figure), "{name}: DOM lacks {figure:?}");
    }
    assert!(dom.contains("<svg"), "{name}: no chart in the DOM");
    let png = dir.join(format!("{name}.png"));
    chromium(&[&format!("--screenshot={}", png.display())], &page);
    let size = std::fs::metadata(&png).unwrap().len();
    assert!(size > 20_000, "{name}: screenshot of {size} bytes");
    let (width, height, distinct) = colours(&png);
    assert_eq!((width, height), (1200, 2000));
    assert!(
        distinct > 50,
        "{name}: {distinct} colours in the screenshot"
    );
}

/// Builds the static board binaries named (`armv7`, `aarch64`, `mipsel`, `mips`) with
/// scripts/build-board-binaries.sh into `dir` (`dir/membudget-BOARD`), reusing this build's
/// target directory, so the dependencies are built once per target, not per test run.
pub fn build_board_binaries(dir: &Path, boards: &[&str]) {
    for board in boards {
        require_tool(match *board {
            "armv7" => "arm-linux-gnueabihf-gcc",
            "aarch64" => "aarch64-linux-gnu-gcc",
            "mipsel" => "mipsel-linux-gnu-gcc",
            "mips" => "mips-linux-gnu-gcc",
            other => panic!("no board {other} in scripts/build-board-binaries.sh"),
        });
    }
    let target_dir = Path::new(env!("CARGO_BIN_EXE_membudget"))
        .parent()
        .and_then(Path::parent)
        .expect("the binary lies in TARGET/PROFILE/");
    let status = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-board-binaries.sh"))
        .args(boards)
        .env("BOARDS_DIR", dir)
        .env("CARGO_TARGET_DIR", target_dir)
        .status()
        .unwrap();
    assert!(status.success(), "scripts/build-board-binaries.sh failed");
}

/// A mapping's first line in smaps (`start-end perms ...`), not one of its `Key: value` lines.
pub fn is_smaps_header(fields: &[&str]) -> bool {
    fields
        .first()
        .is_some_and(|f| f.contains('-') && !f.ends_with(':'))
}

/// Grows the `[heap]` of `pid` by `bytes` in a snapshot copy, in maps and in smaps (Size, Rss,
/// Pss and Private_Dirty), as if the process had allocated and touched that much more. Only the
/// last `[heap]` line grows: some kernels list the heap as two adjacent VMAs (the ZTE's `pc`),
/// and growing the first would make it overlap the second.
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
    let last_heap = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.ends_with("[heap]"))
        .map(|(n, _)| n)
        .last()
        .expect("a [heap] line");
    let grown: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(n, l)| {
            if n == last_heap {
                grow_end(l)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&maps, grown.join("\n") + "\n").unwrap();
    let smaps = snapshot.join(format!("proc/{pid}/smaps"));
    if let Ok(text) = std::fs::read_to_string(&smaps) {
        let heads: Vec<usize> = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.ends_with("[heap]"))
            .map(|(n, _)| n)
            .collect();
        let last = *heads.last().expect("a [heap] entry in smaps");
        let mut in_heap = false;
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if is_smaps_header(&fields) {
                in_heap = n == last;
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

/// `membudget check --allow-incomplete SNAPSHOT -p PROFILE`'s exit code: the round trips
/// judge the limits a generated profile sets, on fixtures that lack some kernel files (the
/// real Zynq and ZTE captures have no min_free_kbytes), so the check budgets what is there.
pub fn check_exit_code(snapshot: &Path, profile: &Path) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_membudget"))
        .args(["check", "--allow-incomplete"])
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
    assert_eq!(
        budget.failed().count(),
        0,
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
    let failed: Vec<_> = after.failed().map(|f| f.message.clone()).collect();
    let grown_process = format!("{} (pid {}) ", largest.name, largest.pid);
    assert!(
        failed.iter().any(|m| m.starts_with(&grown_process)),
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
