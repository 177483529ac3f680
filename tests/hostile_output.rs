//! Hostile conditions on the OUTPUT side, driven through the binary (docs/security.md): full or
//! failing outputs, closed pipes, device nodes and links as `-o`, long names, snapshot-derived
//! text built to fool a terminal or a review page, signals mid-write, absurd durations.
//! The input side (archives, caps, manifests) is tests/hostile.rs.

mod common;

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn membudget() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("membudget"))
}

fn minimal() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/output-minimal")
}

/// A snapshot with one warning on stderr (a maps line with bad permissions).
fn warning_snapshot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/output-warning")
}

fn no_panic(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

use common::sorted_names as names;

fn c_path(path: &Path) -> std::ffi::CString {
    std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap()
}

/// `membudget check -o TARGET` of the minimal snapshot.
fn check_into(target: &Path) -> Output {
    membudget()
        .args(["check", "-o"])
        .arg(target)
        .arg(minimal())
        .output()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Write errors are exit 2.

#[test]
fn every_command_that_prints_fails_on_a_full_stdout() {
    let m = minimal();
    let m = m.to_str().unwrap();
    let commands: [&[&str]; 6] = [
        &["report", m],
        &["check", m],
        &["report", "--format", "html", m],
        &["diff", m, m],
        &["trend", m, m],
        &["capture-script"],
    ];
    for args in commands {
        let out = membudget().args(args).stdout(dev_full()).output().unwrap();
        no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("membudget: error: standard output: No space left on device"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn help_to_a_full_stdout_is_an_error_too() {
    let out = membudget()
        .arg("--help")
        .stdout(dev_full())
        .output()
        .unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// RLIMIT_FSIZE stands in for a full filesystem: a regular `-o` file cannot grow past 100
/// bytes. Nothing may appear under the output name, no temporary may stay, and the run fails.
#[test]
fn a_report_that_does_not_fit_on_disk_leaves_nothing_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("report.md");
    let mut cmd = membudget();
    cmd.args(["report", "--format", "markdown", "-o"])
        .arg(&target)
        .arg(minimal());
    limit_file_size(&mut cmd, 100);
    let out = cmd.output().unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("File too large"), "{}", stderr(&out));
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

#[test]
fn a_capture_that_does_not_fit_on_disk_leaves_nothing_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = membudget();
    cmd.args(["capture", "-o"]).arg(dir.path().join("b.tar.gz"));
    limit_file_size(&mut cmd, 4096);
    let out = cmd.output().unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
}

fn limit_file_size(cmd: &mut Command, bytes: u64) {
    // SAFETY: setrlimit is async-signal-safe; called in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Failing stderr, closed pipes.

/// A pipe whose read end is already closed: `2>&1 | head -1` once head has gone.
fn closed_pipe() -> Stdio {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe fills two new descriptors; the read end is closed at once, the write end is
    // handed to an OwnedFd, which owns it from here.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        Stdio::from(std::os::fd::OwnedFd::from_raw_fd(fds[1]))
    }
}

#[test]
fn a_failing_stderr_never_panics_and_keeps_the_verdict() {
    for stream in [dev_full(), closed_pipe()] {
        let out = membudget()
            .args(["check"])
            .arg(warning_snapshot())
            .stderr(stream)
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(101));
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("WITHIN BUDGET"));
    }
    // An error message that cannot be written still ends in exit 2.
    let out = membudget()
        .args(["report", "/nonexistent"])
        .stderr(dev_full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_closed_stdout_pipe_ends_quietly_with_status_141() {
    let out = membudget()
        .arg("report")
        .arg(minimal())
        .stdout(closed_pipe())
        .output()
        .unwrap();
    no_panic(&out);
    assert_eq!(out.status.code(), Some(141));
    assert_eq!(stderr(&out), "");
}

// ---------------------------------------------------------------------------------------------
// 3. Output files: devices, links, FIFOs, long names, exclusive temporaries.

#[test]
fn a_link_to_a_device_is_written_through_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let null = dir.path().join("null");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    let out = membudget()
        .args(["report", "-o"])
        .arg(&null)
        .arg(minimal())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::symlink_metadata(&null).unwrap().is_symlink());
    assert_eq!(names(dir.path()), ["null"]);

    let full = dir.path().join("full");
    std::os::unix::fs::symlink("/dev/full", &full).unwrap();
    for args in [&["report", "-o"][..], &["capture", "-o"]] {
        let out = membudget()
            .args(args)
            .arg(&full)
            .args((args[0] == "report").then(minimal))
            .output()
            .unwrap();
        no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(std::fs::symlink_metadata(&full).unwrap().is_symlink());
    }
}

/// /dev/stdout is a link to the process's descriptor 1: the report must go down the pipe.
#[test]
fn dash_o_dev_stdout_writes_to_standard_output() {
    let out = check_into(Path::new("/dev/stdout"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("WITHIN BUDGET"));
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .is_symlink());
}

#[test]
fn a_fifo_output_is_written_into_and_stays_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    // SAFETY: mkfifo takes a NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(c_path(&fifo).as_ptr(), 0o600) }, 0);
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let out = check_into(&fifo);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(reader.join().unwrap().starts_with("WITHIN BUDGET"));
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

/// Root can make device nodes: a copy of /dev/null (char 1:3) in a temp directory stands in
/// for the real one, which an old build would have replaced with a regular file.
#[test]
fn a_device_node_output_stays_a_device_node() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("null");
    let device = libc::makedev(1, 3);
    // SAFETY: mknod takes a NUL-terminated path, a mode and a device number.
    let made = unsafe { libc::mknod(c_path(&node).as_ptr(), libc::S_IFCHR | 0o666, device) };
    if made != 0 {
        // Not root (CI runs as root, where this test has teeth).
        eprintln!("skipped: mknod needs root");
        return;
    }
    for args in [&["report", "-o"][..], &["capture", "-o"]] {
        let out = membudget()
            .args(args)
            .arg(&node)
            .args((args[0] == "report").then(minimal))
            .output()
            .unwrap();
        if args[0] == "report" {
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        }
        let kind = std::fs::symlink_metadata(&node).unwrap().file_type();
        assert!(kind.is_char_device(), "{args:?}: {kind:?}");
    }
    assert_eq!(names(dir.path()), ["null"]);
}

/// `-o /dev/stdout` with standard output redirected to a file: the link leads to a regular
/// file, and must still be written through, not replaced (an old build renamed a file over
/// /dev/stdout itself).
#[test]
fn a_link_to_a_regular_file_is_written_through_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redirected");
    let out = membudget()
        .args(["check", "-o", "/dev/stdout"])
        .arg(minimal())
        .stdout(std::fs::File::create(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .starts_with("WITHIN BUDGET"));
    assert!(std::fs::symlink_metadata("/dev/stdout")
        .unwrap()
        .is_symlink());
    assert_eq!(names(dir.path()), ["redirected"]);
}

/// A link planted by another user (`/tmp/report.txt` -> a file of root's) is not followed.
#[test]
fn a_link_owned_by_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let link = dir.path().join("report.txt");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    if std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).is_err() {
        eprintln!("skipped: lchown needs root");
        return;
    }
    let out = check_into(&link);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link owned by uid 65534: not followed"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
}

#[test]
fn a_254_character_output_name_works() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r".repeat(254));
    let out = check_into(&report);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .starts_with("WITHIN BUDGET"));
    let capture = dir.path().join(format!("{}.tar.gz", "c".repeat(247)));
    let out = membudget()
        .args(["capture", "-o"])
        .arg(&capture)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(names(dir.path()).len(), 2, "{:?}", names(dir.path()));
}

/// The old temporary name was `.NAME.tmp-PID`: planted as a link by whoever can write the
/// directory, it redirected root's write. Links at every such name for a range of pids around
/// the next one must neither be followed nor make the run fail.
#[test]
fn planted_links_at_the_old_temporary_names_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    let next_pid = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(std::process::id());
    for pid in next_pid..next_pid + 200 {
        for name in [format!(".r.txt.tmp-{pid}"), format!(".c.tar.partial-{pid}")] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
    }
    let out = membudget()
        .args(["check", "-o"])
        .arg(dir.path().join("r.txt"))
        .arg(minimal())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = membudget()
        .args(["capture", "-o"])
        .arg(dir.path().join("c.tar"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

// ---------------------------------------------------------------------------------------------
// 5. Signals.

/// Starts `args`, waits until a temporary (a dot file) shows up in `dir`, sends `signal`, and
/// returns the exit status. Retries: the temporary lives only while the capture runs.
fn signal_mid_write(args: &[&str], dir: &Path, signal: i32) -> std::process::ExitStatus {
    for _attempt in 0..20 {
        for name in names(dir) {
            let _ = std::fs::remove_file(dir.join(name));
        }
        let mut child = membudget()
            .args(args)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = false;
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            if names(dir).iter().any(|n| n.starts_with('.')) {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if seen {
            // SAFETY: kill sends a signal to our own child.
            unsafe { libc::kill(child.id() as i32, signal) };
            return child.wait().unwrap();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("never caught {args:?} mid-write");
}

#[test]
fn a_signal_during_a_capture_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("board.tar.gz");
    let out = out.to_str().unwrap();
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // A capture that completed between the sighting of its temporary and the signal is
        // no test of the signal: it is taken again (signal_mid_write empties the directory).
        let status = (0..10)
            .map(|_| signal_mid_write(&["capture", "--smaps", "-o", out], dir.path(), signal))
            .find(|_| !Path::new(out).exists())
            .expect("every capture finished before its signal");
        assert_eq!(status.signal(), Some(signal), "{status:?}");
        assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    }
}

#[test]
fn a_signal_during_a_series_sample_leaves_whole_samples_only() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("s");
    std::fs::create_dir(&series).unwrap();
    let s = series.to_str().unwrap();
    for signal in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT] {
        let status = signal_mid_write(
            &["capture", "--smaps", "--every", "10ms", "-o", s],
            &series,
            signal,
        );
        assert_eq!(status.code(), Some(128 + signal), "{status:?}");
        let left = names(&series);
        assert!(left.iter().all(|n| !n.starts_with('.')), "{left:?}");
        for name in &left {
            membudget::collect::load(
                Some(&series.join(name)),
                membudget::collect::LiveOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Durations.

#[test]
fn absurd_intervals_are_refused_not_panicked_on() {
    for every in [
        "100000000000000000000",
        "10000000000000000000s",
        "18446744073709551615h",
        "1e400",
        "0.0000000001ms",
        "99999999999999999999999999999999999999ms",
        "31d",
    ] {
        let out = membudget()
            .args([
                "capture",
                "-o",
                "/nonexistent/x",
                "--count",
                "1",
                "--every",
                every,
            ])
            .output()
            .unwrap();
        no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{every}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("--every"),
            "{every}: {}",
            stderr(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Snapshot-derived text in every format.

/// Painted on the terminal, this clears the screen and shows a green verdict of its own.
const FAKE_VERDICT: &str = "\u{1b}[2J\u{1b}[H\u{1b}[32mWITHIN BUDGET\u{1b}[0m";
/// Markup, a cell break and a mention for a review page.
const MARKUP: &str = "<script>alert(1)</script>|@all ![x](http://t/p.png)";
/// A forged line, a C1 CSI and a right-to-left override.
const FORGED_LINE: &str = "x\nWITHIN BUDGET: forged\u{9b}2J\u{202e}";

/// Characters that act on a terminal rather than show.
fn acts_on_a_terminal(c: char) -> bool {
    (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c)
}

/// A snapshot directory named like an escape sequence, holding three processes with the names
/// above, those names as their command lines, a damaged maps line (for a warning that names
/// the snapshot on stderr) and a hostile `host` in meta; `time` as given.
fn hostile_names_snapshot(parent: &Path, time: u32) -> PathBuf {
    let root = parent.join(format!("snap{time}-\u{1b}[2J"));
    let copy = |rel: &str, to: &str| {
        let to = root.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(minimal().join(rel), to).unwrap();
    };
    for f in [
        "proc/meminfo",
        "proc/mounts",
        "proc/zoneinfo",
        "proc/sys/vm/min_free_kbytes",
        "df",
    ] {
        copy(f, f);
    }
    std::fs::write(
        root.join("meta"),
        format!("format=1\ntime={time}\nhost=board{FAKE_VERDICT}\n"),
    )
    .unwrap();
    for (pid, name) in [(1, FAKE_VERDICT), (2, MARKUP), (3, FORGED_LINE)] {
        let dir = root.join(format!("proc/{pid}"));
        copy("proc/1/maps", &format!("proc/{pid}/maps"));
        let status = std::fs::read_to_string(minimal().join("proc/1/status")).unwrap();
        let first_line = name.lines().next().unwrap();
        let status = status
            .replace("Name:\tinit", &format!("Name:\t{first_line}"))
            .replace("Pid:\t1", &format!("Pid:\t{pid}"))
            .replace("Tgid:\t1", &format!("Tgid:\t{pid}"));
        std::fs::write(dir.join("status"), status).unwrap();
        std::fs::write(dir.join("cmdline"), format!("{name}\0--flag\0")).unwrap();
    }
    let mut maps = std::fs::read_to_string(root.join("proc/1/maps")).unwrap();
    maps.push_str("00010000-00011000 rwzq 00000000 00:00 0 \u{1b}[31m\n");
    std::fs::write(root.join("proc/1/maps"), maps).unwrap();
    root
}

fn run_format(args: &[&str], snapshots: &[&Path]) -> (String, String) {
    let out = membudget().args(args).args(snapshots).output().unwrap();
    no_panic(&out);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        stderr(&out)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn terminal_output_shows_escape_sequences_and_never_obeys_them() {
    let dir = tempfile::tempdir().unwrap();
    let snap = hostile_names_snapshot(dir.path(), 1_700_000_000);
    let later = hostile_names_snapshot(dir.path(), 1_700_003_600);
    for args in [
        &["report"][..],
        &["check"],
        &["diff"],
        &["trend"],
        &["report", "--format", "markdown"],
    ] {
        let pair: &[&Path] = if matches!(args[0], "diff" | "trend") {
            &[&snap, &later]
        } else {
            &[&snap]
        };
        let (stdout, stderr) = run_format(args, pair);
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            let bad: Vec<char> = text.chars().filter(|&c| acts_on_a_terminal(c)).collect();
            assert!(bad.is_empty(), "{args:?} {stream}: {bad:?}\n{text}");
        }
        // Only the real verdict may start a line.
        let verdicts = stdout
            .lines()
            .filter(|l| {
                l.trim_start_matches(['#', ' ', '|'])
                    .starts_with("WITHIN BUDGET")
            })
            .count();
        assert!(verdicts <= 1, "{args:?}: a forged verdict line\n{stdout}");
        // report and check repeat the snapshot's warnings (naming it) on stderr.
        if matches!(args[0], "report" | "check") {
            assert!(
                stderr.contains("snap1700000000-\\u{1b}[2J"),
                "{args:?}: {stderr}"
            );
        }
    }
    let (report, _) = run_format(&["report"], &[&snap]);
    assert!(
        report.contains("\\u{1b}[32mWITHIN BUDGET\\u{1b}[0m"),
        "{report}"
    );
    assert!(report.contains("host: board\\u{1b}[2J"), "{report}");
}

#[test]
fn markdown_html_junit_and_json_carry_names_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let snap = hostile_names_snapshot(dir.path(), 1_700_000_000);
    let later = hostile_names_snapshot(dir.path(), 1_700_003_600);

    let (md, _) = run_format(&["report", "--format", "markdown"], &[&snap]);
    assert!(!md.replace("\\<", "").contains("<script"), "{md}");
    assert!(!md.contains("@all"), "{md}");
    assert!(!md.replace("\\[", "").contains("[x]"), "{md}");
    assert!(
        md.contains("\\<script>alert(1)\\</script>\\|@\u{200b}all"),
        "{md}"
    );
    // Every row of a table has as many cell separators (unescaped `|`) as its header.
    let separators = |line: &str| {
        let bytes = line.as_bytes();
        (0..bytes.len())
            .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
            .count()
    };
    for table in md.split("\n\n").filter(|b| b.starts_with('|')) {
        let header = separators(table.lines().next().unwrap());
        for row in table.lines() {
            assert_eq!(separators(row), header, "{row}");
        }
    }

    for args in [
        &["report", "--format", "html"][..],
        &["trend", "--format", "html"],
    ] {
        let pair: &[&Path] = if args[0] == "trend" {
            &[&snap, &later]
        } else {
            &[&snap]
        };
        let (html, _) = run_format(args, pair);
        assert!(!html.contains("<script"), "{args:?}");
        assert!(!html.chars().any(acts_on_a_terminal), "{args:?}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{args:?}"
        );
    }

    let (junit, _) = run_format(&["trend", "--format", "junit"], &[&snap, &later]);
    assert!(!junit.chars().any(acts_on_a_terminal));
    let xml = roxmltree::Document::parse(&junit).unwrap_or_else(|e| panic!("{e}\n{junit}"));
    let names: Vec<&str> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert!(names.iter().any(|n| n.starts_with(MARKUP)), "{names:?}");

    // JSON carries the names exactly, every terminal control written as `\uXXXX`.
    let (json, _) = run_format(&["report", "--format", "json"], &[&snap]);
    assert!(!json.chars().any(acts_on_a_terminal), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let found: Vec<&str> = value["accounting"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [FAKE_VERDICT, MARKUP, FORGED_LINE.lines().next().unwrap()] {
        assert!(found.contains(&name), "{name:?} not in {found:?}");
    }
    assert!(json.contains(r"\u009b2J\u202e"), "C1 and RLO not escaped");
    let cmdlines: Vec<&str> = value["accounting"]["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["cmdline"].as_str())
        .collect();
    assert!(
        cmdlines.iter().any(|c| c.starts_with(FORGED_LINE)),
        "{cmdlines:?}"
    );
}

/// `--fail-above` beyond any growth (1e300% of the demand, 2^63 bytes) once wrapped negative
/// and failed a diff of a snapshot against itself.
#[test]
fn absurd_growth_limits_never_fail_an_unchanged_diff() {
    let m = minimal();
    for (limit, code) in [
        ("1e300%", 0),
        ("9223372036854775807", 0),
        ("9223372036854775808", 2),
    ] {
        let out = membudget()
            .args(["diff", "--fail-above", limit])
            .args([&m, &m])
            .output()
            .unwrap();
        no_panic(&out);
        assert_eq!(out.status.code(), Some(code), "{limit}: {}", stderr(&out));
    }
}
