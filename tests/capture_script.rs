//! The busybox capture script: POSIX-clean, embedded byte for byte, and what it writes analyses
//! exactly like a native capture taken at the same time.

mod common;

use common::{capture_script, live_proc_bytes, require_tool, vsyscall_bytes, HeldProcess};
use membudget::account::{account, Measure};
use membudget::collect::{load, LiveOptions};
use membudget::model::Snapshot;
use std::path::Path;
use std::process::Command;

fn syntax_check(tool: &str, args: &[&str]) {
    let tool_path = require_tool(tool);
    let out = Command::new(tool_path)
        .args(args)
        .arg(capture_script())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?} rejects the capture script:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn script_parses_under_busybox_and_dash_and_passes_shellcheck() {
    syntax_check("busybox", &["sh", "-n"]);
    syntax_check("dash", &["-n"]);
    // -s sh: judge it as POSIX sh, so any bashism is an error.
    syntax_check("shellcheck", &["-s", "sh"]);
}

#[test]
fn binary_prints_the_script_byte_for_byte() {
    let out = assert_cmd::Command::cargo_bin("membudget")
        .unwrap()
        .arg("capture-script")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, std::fs::read(capture_script()).unwrap());
}

/// Runs the script with `shell` and returns the path it printed.
fn run_script(shell: &[&str], output: &Path, extra: &[&str], path_env: Option<&Path>) -> String {
    let mut command = Command::new(shell[0]);
    command
        .args(&shell[1..])
        .arg(capture_script())
        .arg("-o")
        .arg(output)
        .args(extra);
    if let Some(dir) = path_env {
        command.env("PATH", dir);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "capture script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn held_process_classes(
    snapshot: &Snapshot,
    pid: u32,
) -> std::collections::BTreeMap<membudget::account::classify::Class, membudget::account::Figures> {
    let accounting = account(snapshot, Measure::Virtual, None);
    let process = accounting
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} missing from {}", snapshot.origin));
    assert_eq!(process.name, "sleep");
    // PSS and USS depend on how many other processes map the same library pages at that
    // instant (a page mapped by one process alone is "private"; the machine is shared), so they
    // are not properties of the held process: compare everything else.
    process
        .classes
        .iter()
        .map(|(class, mut figures)| {
            figures.pss = None;
            figures.uss = None;
            (class, figures)
        })
        .collect()
}

#[test]
fn busybox_capture_analyses_like_a_native_capture() {
    let busybox = require_tool("busybox");
    let held = HeldProcess::sleep();
    let dir = tempfile::tempdir().unwrap();
    let script_archive = dir.path().join("board.tar.gz");
    let native_archive = dir.path().join("native.tar.gz");

    let printed = run_script(
        &[busybox.to_str().unwrap(), "sh"],
        &script_archive,
        &["--smaps"],
        None,
    );
    assert_eq!(Path::new(&printed), script_archive);
    membudget::capture::capture_live(&native_archive, LiveOptions { smaps: true }).unwrap();

    let script = load(Some(&script_archive), LiveOptions::default()).unwrap();
    let native = load(Some(&native_archive), LiveOptions::default()).unwrap();

    let script_classes = held_process_classes(&script, held.pid());
    assert_eq!(script_classes, held_process_classes(&native, held.pid()));
    // Independent truth: the classes' virtual sizes add up to the kernel's VmSize (status, read
    // live here), plus x86-64's [vsyscall] page, which maps lists but VmSize leaves out.
    let vsyscall = vsyscall_bytes(
        script
            .processes
            .iter()
            .find(|p| p.pid == held.pid())
            .unwrap(),
    );
    let total_virtual: u64 = script_classes.values().map(|f| f.virtual_size).sum();
    assert_eq!(
        total_virtual,
        live_proc_bytes(held.pid(), "status", "VmSize") + vsyscall
    );
    assert!(script_classes
        .values()
        .any(|f| f.rss.is_some_and(|r| r > 0)));

    let meta = &script.meta;
    assert_eq!(meta.get("format"), Some("1"));
    assert_eq!(meta.get("smaps"), Some("1"));
    assert_eq!(meta.get("source"), Some("membudget-capture.sh"));
    assert!(meta.time().is_some());
    assert!(meta
        .get("capture_seconds")
        .is_some_and(|s| s.parse::<f64>().is_ok()));
    assert!(script.meminfo.get("MemTotal").is_some());
    assert!(!script.mounts.is_empty());
    assert!(script.min_free.is_some());
    // Both read the same tmpfs mounts (nothing writes to them here): the same usage figures.
    assert_eq!(script.fs_usage, native.fs_usage);
}

#[test]
fn script_leaves_out_its_own_shell() {
    let busybox = require_tool("busybox");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let child = Command::new(&busybox)
        .arg("sh")
        .arg(capture_script())
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(child.status.success());
    let snapshot = load(Some(&out), LiveOptions::default()).unwrap();
    // The shell running the script is the only process whose command line names this output.
    let own = out.to_str().unwrap();
    assert!(snapshot.processes.iter().all(|p| !p.cmdline.contains(own)));
    assert!(!snapshot.processes.is_empty());
}

/// A PATH of the busybox applets every board has (no dirname, basename, uname, hostname or
/// printf), without `missing`, to show the fallbacks.
fn applets_without(dir: &Path, missing: &[&str]) -> std::path::PathBuf {
    let busybox = require_tool("busybox");
    let bin = dir.join("bin");
    std::fs::create_dir(&bin).unwrap();
    for applet in [
        "cat", "date", "df", "dmesg", "du", "gzip", "ls", "mkdir", "mv", "rm", "tar",
    ] {
        if !missing.contains(&applet) {
            std::os::unix::fs::symlink(&busybox, bin.join(applet)).unwrap();
        }
    }
    bin
}

#[test]
fn without_gzip_a_tar_and_without_tar_a_directory() {
    let dash = require_tool("dash");
    let held = HeldProcess::sleep();
    for (missing, expected_name) in [(&["gzip"][..], "board.tar"), (&["gzip", "tar"], "board")] {
        let dir = tempfile::tempdir().unwrap();
        let bin = applets_without(dir.path(), missing);
        let printed = run_script(
            &[dash.to_str().unwrap()],
            &dir.path().join("board.tar.gz"),
            &[],
            Some(&bin),
        );
        let written = dir.path().join(expected_name);
        assert_eq!(Path::new(&printed), written, "without {missing:?}");
        let snapshot = load(Some(&written), LiveOptions::default()).unwrap();
        assert!(snapshot.processes.iter().any(|p| p.pid == held.pid()));
        // Nothing but the result is left beside it: no temporary directory, no partial file.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "bin")
            .collect();
        assert_eq!(names, vec![expected_name.to_string()]);
    }
}

#[test]
fn default_output_is_in_tmp_not_the_read_only_current_directory() {
    let busybox = require_tool("busybox");
    let cwd = tempfile::tempdir().unwrap();
    // A read-only current directory, as on a squashfs root (root ignores the mode, so the
    // proof is where the capture lands, not a failure here).
    std::fs::set_permissions(
        cwd.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o555),
    )
    .unwrap();
    let out = Command::new(&busybox)
        .arg("sh")
        .arg(capture_script())
        .current_dir(cwd.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let written = Path::new(&printed);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let name = written.file_name().unwrap().to_string_lossy().into_owned();
    let removed = std::fs::remove_file(written);
    assert_eq!(written.parent(), Some(Path::new("/tmp")), "{printed}");
    assert!(
        name.starts_with(&format!("membudget-{}-", host.trim())) && name.ends_with(".tar.gz"),
        "{name}"
    );
    removed.unwrap();
    assert_eq!(std::fs::read_dir(cwd.path()).unwrap().count(), 0);
}

#[test]
fn unwritable_output_directory_is_a_clear_error() {
    let busybox = require_tool("busybox");
    let out = Command::new(&busybox)
        .arg("sh")
        .arg(capture_script())
        .arg("-o")
        .arg("/proc/board.tar.gz")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/proc: cannot create a temporary directory there")
            && stderr.contains("point -o at a writable directory"),
        "{stderr}"
    );
}

#[test]
fn a_member_tar_leaves_out_is_caught_and_the_directory_written_instead() {
    let busybox = require_tool("busybox");
    let dash = require_tool("dash");
    let dir = tempfile::tempdir().unwrap();
    let bin = applets_without(dir.path(), &["tar"]);
    // A tar that loses a member and says nothing, like busybox's without GNU extensions with a
    // name of 100 characters: its listing lacks min_free_kbytes.
    let tar = bin.join("tar");
    std::fs::write(
        &tar,
        format!(
            "#!{dash}\nif [ \"$1\" = -tf ]; then\n  {bb} tar \"$@\" | {bb} grep -v min_free_kbytes\nelse\n  exec {bb} tar \"$@\"\nfi\n",
            dash = dash.display(),
            bb = busybox.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&tar, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(&busybox, bin.join("grep")).unwrap();
    let out = Command::new(&dash)
        .arg(capture_script())
        .arg("-o")
        .arg(dir.path().join("board.tar.gz"))
        .env("PATH", &bin)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: tar left proc/sys/vm/min_free_kbytes out of the archive"),
        "{stderr}"
    );
    let written = dir.path().join("board");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        written.to_str().unwrap()
    );
    // The directory has it, and the reader finds it: the kernel's own figure.
    let snapshot = load(Some(&written), LiveOptions::default()).unwrap();
    let live: u64 = std::fs::read_to_string("/proc/sys/vm/min_free_kbytes")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(snapshot.min_free, Some(live * 1024));
    assert!(!dir.path().join("board.tar.gz").exists());
}

/// The script takes user names for `report --by user` as the native capture does: `name:uid`
/// of each /etc/passwd line and nothing else (never the password field), listed in the manifest.
#[test]
fn script_keeps_only_names_and_uids_of_etc_passwd() {
    require_tool("busybox");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let written = run_script(&["busybox", "sh"], &out, &[], None);
    let snap = std::path::PathBuf::from(written);
    let taken = std::fs::read_to_string(snap.join("etc/passwd")).unwrap();
    let expected: Vec<String> = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let fields: Vec<&str> = l.split(':').collect();
            let uid = fields.get(2).copied().unwrap_or("");
            (!fields[0].is_empty()).then(|| format!("{}:{uid}", fields[0]))
        })
        .collect();
    assert_eq!(taken.lines().collect::<Vec<_>>(), expected);
    assert!(taken.lines().all(|l| l.split(':').count() == 2), "{taken}");
    let manifest = std::fs::read_to_string(snap.join("manifest")).unwrap();
    assert!(
        manifest.lines().any(|l| l == "file=etc/passwd"),
        "{manifest}"
    );
}
