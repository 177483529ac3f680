//! smem's captures as a source: a real one made here by Debian's `smemcap`, its directory form,
//! and smemcap's garbage headers for pids it could not read.

mod common;

use common::{live_proc_bytes, require_tool, vsyscall_bytes, HeldProcess};
use membudget::account::{account, Measure};
use membudget::collect::{load, LiveOptions};
use membudget::model::Snapshot;
use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

/// A process held still, and a real smemcap capture (`DIR/smem.tar`) that includes it.
fn smemcap_of_held_process() -> (HeldProcess, tempfile::TempDir, PathBuf) {
    let smemcap = require_tool("smemcap");
    let held = HeldProcess::sleep();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("smem.tar");
    let file = std::fs::File::create(&archive).unwrap();
    let status = Command::new(smemcap).stdout(file).status().unwrap();
    assert!(status.success(), "smemcap failed");
    (held, dir, archive)
}

fn assert_held_process_reported(snapshot: &Snapshot, held: &HeldProcess) {
    let process = snapshot
        .processes
        .iter()
        .find(|p| p.pid == held.pid())
        .unwrap_or_else(|| panic!("held pid {} missing", held.pid()));
    // No status in smem's layout: the name comes from stat, the thread count too.
    assert_eq!(process.name, "sleep");
    assert_eq!(process.threads, 1);
    assert!(process.has_smaps());
    assert!(process.start_time.is_some());

    let accounting = account(snapshot, Measure::Pss, None);
    let figures = accounting
        .processes
        .iter()
        .find(|p| p.pid == held.pid())
        .unwrap();
    let rss: u64 = figures.classes.values().filter_map(|f| f.rss).sum();
    let pss: u64 = figures.classes.values().filter_map(|f| f.pss).sum();
    assert_eq!(rss, live_proc_bytes(held.pid(), "smaps_rollup", "Rss"));
    assert!(pss > 0 && pss <= rss, "pss {pss} rss {rss}");
    // The smaps headers stand in for maps: their sizes add up to the kernel's VmSize (stat's
    // vsize), plus x86-64's [vsyscall] page, which VmSize leaves out.
    let total: u64 = figures.classes.values().map(|f| f.virtual_size).sum();
    assert_eq!(Some(total - vsyscall_bytes(process)), process.vm_size);

    assert!(
        snapshot
            .warnings
            .iter()
            .any(|w| w.file.ends_with("proc/mounts") && w.message.contains("by path only")),
        "no warning about the missing mounts: {:?}",
        snapshot.warnings
    );
}

#[test]
fn a_real_smemcap_capture_is_read_and_reported() {
    let (held, _dir, archive) = smemcap_of_held_process();
    let snapshot = load(Some(&archive), LiveOptions::default()).unwrap();
    assert!(snapshot.meminfo.get("MemTotal").is_some());
    assert!(snapshot.kernel_version.is_some());
    assert_held_process_reported(&snapshot, &held);

    let report = assert_cmd::Command::cargo_bin("membudget")
        .unwrap()
        .args(["report", "--bytes", "--top", "1000"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(report.status.success());
    let text = String::from_utf8_lossy(&report.stdout);
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(&held.pid().to_string()))
        .unwrap_or_else(|| panic!("pid {} not in the report:\n{text}", held.pid()));
    assert!(line.contains("sleep"), "{line}");
}

#[test]
fn smems_directory_form_is_read_too() {
    let (held, dir, archive) = smemcap_of_held_process();
    // Unpack with our own reader of entries (smemcap's modes are read-only, owners garbage).
    let unpacked = dir.path().join("smem-dir");
    let mut tar = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = unpacked.join(entry.path().unwrap());
        if entry.header().entry_type().is_dir() {
            std::fs::create_dir_all(&path).unwrap();
        } else {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
    }
    let snapshot = load(Some(&unpacked), LiveOptions::default()).unwrap();
    assert_held_process_reported(&snapshot, &held);
}

/// One V7 header as smemcap writes it (`sprintf` of octal fields, checksum over the header),
/// with `garbage` in the mode, owner and mtime fields as for a pid it could not open.
fn smemcap_header(name: &str, size: usize, kind: u8, garbage: bool) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    fn put(h: &mut [u8; 512], at: usize, text: &[u8]) {
        h[at..at + text.len()].copy_from_slice(text);
    }
    if garbage {
        put(&mut h, 100, b"\xff7\x01\xfe0000");
        put(&mut h, 108, b"60141700");
        put(&mut h, 116, b"-1\x80\x80");
        put(&mut h, 136, b"37777777777");
    } else {
        put(&mut h, 100, b"0000444\0");
        put(&mut h, 108, b"0000000\0");
        put(&mut h, 116, b"0000000\0");
        put(&mut h, 136, b"0000000\0");
    }
    put(&mut h, 124, format!("{size:011o}\0").as_bytes());
    put(&mut h, 148, b"        ");
    h[156] = kind;
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    h
}

fn push_file(tar: &mut Vec<u8>, name: &str, body: &[u8], garbage: bool) {
    tar.extend_from_slice(&smemcap_header(name, body.len(), b'0', garbage));
    tar.extend_from_slice(body);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

#[test]
fn smemcaps_garbage_headers_for_unreadable_pids_are_tolerated() {
    let mut tar = Vec::new();
    push_file(&mut tar, "meminfo", b"MemTotal: 65536 kB\n", false);
    tar.extend_from_slice(&smemcap_header("1", 0, b'5', true));
    push_file(&mut tar, "1/smaps", b"", true);
    push_file(&mut tar, "1/cmdline", b"", true);
    push_file(&mut tar, "1/stat", b"", true);
    tar.extend_from_slice(&smemcap_header("7", 0, b'5', false));
    let smaps = b"00400000-00402000 r-xp 00000000 1f:02 100 /bin/app\n\
Size: 8 kB\nRss: 8 kB\nPss: 4 kB\nShared_Clean: 8 kB\nShared_Dirty: 0 kB\n\
Private_Clean: 0 kB\nPrivate_Dirty: 0 kB\nSwap: 0 kB\n\
00600000-00603000 rw-p 00000000 00:00 0 [heap]\n\
Size: 12 kB\nRss: 12 kB\nPss: 12 kB\nShared_Clean: 0 kB\nShared_Dirty: 0 kB\n\
Private_Clean: 0 kB\nPrivate_Dirty: 12 kB\nSwap: 0 kB\n";
    push_file(&mut tar, "7/smaps", smaps, false);
    push_file(&mut tar, "7/cmdline", b"/bin/app\0--serve\0", false);
    tar.resize(tar.len() + 1024, 0);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smem.tar");
    std::fs::write(&path, tar).unwrap();
    let snapshot = load(Some(&path), LiveOptions::default()).unwrap();
    // pid 1 had nothing readable: no address space, so not a process (as a kernel thread).
    assert_eq!(snapshot.processes.len(), 1);
    let app = &snapshot.processes[0];
    // No stat either: the name falls back to the command line's program.
    assert_eq!((app.pid, app.name.as_str()), (7, "app"));
    let accounting = account(&snapshot, Measure::Pss, None);
    let figures = &accounting.processes[0];
    let pss: u64 = figures.classes.values().filter_map(|f| f.pss).sum();
    let virtual_size: u64 = figures.classes.values().map(|f| f.virtual_size).sum();
    assert_eq!(pss, (4 + 12) * 1024);
    assert_eq!(virtual_size, (8 + 12) * 1024);
}
