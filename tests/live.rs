//! The live system against the kernel's own counters, and a capture against the live read.

use membudget::account::{account, Measure};
use membudget::collect::{load, LiveOptions};
use membudget::parse::maps::parse_maps;
use membudget::parse::smaps::parse_smaps;
use membudget::parse::status::parse_status;
use std::process::{Child, Command};

/// A process that holds still while the test looks at it, killed however the test ends.
struct Still(Child);

impl Still {
    /// Starts `sleep` and waits until it sleeps with its memory settled (two equal reads of
    /// smaps_rollup), so that a read now and a read later see the same pages.
    fn start() -> Self {
        let still = Still(
            Command::new("sleep")
                .arg("1000")
                .spawn()
                .expect("spawn sleep"),
        );
        let rollup = || std::fs::read(format!("/proc/{}/smaps_rollup", still.pid())).ok();
        let mut previous = None;
        for _ in 0..100 {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let stat = std::fs::read_to_string(format!("/proc/{}/stat", still.pid())).unwrap();
            let sleeping = stat
                .rsplit(')')
                .next()
                .unwrap()
                .trim_start()
                .starts_with('S');
            let now = rollup();
            if sleeping && now.is_some() && now == previous {
                break;
            }
            previous = now;
        }
        still
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Still {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn live_pids() -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Runs a comparison with the kernel; if it keeps failing, it is accepted only when the
/// process was seen changing (`witness`, a file whose content follows what is compared, differs
/// between two reads): a busy compiler next door is not a bug, but a still process that
/// disagrees with the kernel is.
fn consistent_or_changing(
    pid: u32,
    witness: &str,
    check: impl Fn() -> Option<bool>,
) -> Result<(), String> {
    for _ in 0..5 {
        match check() {
            None => return Ok(()), // vanished or unreadable
            Some(true) => return Ok(()),
            Some(false) => {}
        }
    }
    let read = || std::fs::read(format!("/proc/{pid}/{witness}")).ok();
    let a = read();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let b = read();
    if a != b || a.is_none() {
        Ok(())
    } else {
        Err(format!(
            "pid {pid}: still process disagrees with the kernel 5 times"
        ))
    }
}

#[test]
fn every_process_maps_sum_equals_vmsize() {
    let _still = Still::start();
    let mut checked = 0;
    for pid in live_pids() {
        let result = consistent_or_changing(pid, "status", || {
            let maps = std::fs::read(format!("/proc/{pid}/maps")).ok()?;
            let status = std::fs::read(format!("/proc/{pid}/status")).ok()?;
            let vm_size = parse_status(&status).vm_size?; // kernel threads have none
            let (maps, issues) = parse_maps(&maps);
            assert!(issues.is_empty(), "pid {pid}: {issues:?}");
            let total: u64 = maps
                .iter()
                .filter(|m| !m.is_gate_area())
                .map(|m| m.size())
                .sum();
            Some(total == vm_size)
        });
        result.unwrap();
        checked += 1;
    }
    assert!(checked > 3, "only {checked} processes readable");
}

#[test]
fn every_process_smaps_rss_equals_rollup() {
    let _still = Still::start();
    for pid in live_pids() {
        consistent_or_changing(pid, "smaps_rollup", || {
            let smaps = std::fs::read(format!("/proc/{pid}/smaps")).ok()?;
            let rollup = std::fs::read(format!("/proc/{pid}/smaps_rollup")).ok()?;
            let (entries, issues) = parse_smaps(&smaps).unwrap();
            assert!(issues.is_empty(), "pid {pid}: {issues:?}");
            let (rollup, _) = parse_smaps(&rollup).unwrap();
            let rollup = rollup.first()?.fields;
            let rss: Option<u64> = entries.iter().map(|e| e.fields.rss).sum();
            let pss: u64 = entries.iter().map(|e| e.fields.pss.unwrap_or(0)).sum();
            // Pss is rounded per mapping in smaps but summed exactly in the rollup.
            let pss_close = pss.abs_diff(rollup.pss.unwrap_or(0)) <= entries.len() as u64 * 1024;
            Some(rss == rollup.rss && pss_close)
        })
        .unwrap();
    }
}

/// The still process seen through the library's live source, with smaps.
#[test]
fn live_collector_agrees_with_the_kernel_for_a_still_process() {
    let still = Still::start();
    let snapshot = load(None, LiveOptions { smaps: true }).unwrap();
    let process = snapshot
        .processes
        .iter()
        .find(|p| p.pid == still.pid())
        .expect("the still process is in the live snapshot");
    assert_eq!(process.name, "sleep");
    assert_eq!(process.cmdline, "sleep 1000");
    let total: u64 = process
        .mappings
        .iter()
        .filter(|m| !m.map.is_gate_area())
        .map(|m| m.map.size())
        .sum();
    assert_eq!(Some(total), process.vm_size);
    let rss: Option<u64> = process.mappings.iter().map(|m| m.smaps.unwrap().rss).sum();
    assert_eq!(rss, process.rollup.and_then(|r| r.rss));
    assert!(process.start_time.is_some());
    // The test process itself is the measuring tool: never part of the board's workload.
    assert!(!snapshot
        .processes
        .iter()
        .any(|p| p.pid == std::process::id()));
}

/// `capture` then `report` on the capture gives the same figures as the live read, for a
/// process that did not change in between, and the same system-wide kernel-side items.
#[test]
fn capture_analyses_like_the_live_system() {
    let still = Still::start();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("board.tar.gz");
    let live = load(None, LiveOptions { smaps: true }).unwrap();
    let summary = membudget::capture::capture_live(&archive, LiveOptions { smaps: true }).unwrap();
    assert!(summary.files > 10);
    let captured = load(Some(&archive), LiveOptions::default()).unwrap();
    assert_eq!(captured.meta.get("format"), Some("1"));
    for measure in [Measure::Virtual, Measure::Rss] {
        let a = account(&live, measure, None);
        let b = account(&captured, measure, None);
        let pa = a.processes.iter().find(|p| p.pid == still.pid()).unwrap();
        let pb = b.processes.iter().find(|p| p.pid == still.pid()).unwrap();
        // PSS and USS depend on how many processes map a page at that moment (other tests
        // start and stop processes beside this one); every other figure of a still process is
        // its own.
        let without_pss = |p: &membudget::account::ProcessAccount| {
            p.classes
                .iter()
                .map(|(c, f)| {
                    let own = membudget::account::Figures {
                        pss: None,
                        uss: None,
                        ..f
                    };
                    (c, own)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(without_pss(pa), without_pss(pb), "{measure:?}");
        assert_eq!(pa.demand, pb.demand);
    }
    assert_eq!(live.mounts, captured.mounts);
    assert_eq!(live.min_free, captured.min_free);
    assert_eq!(live.ramdisks, captured.ramdisks);
    assert_eq!(live.boot_memory, captured.boot_memory);
    let mount_points = |s: &membudget::model::Snapshot| {
        s.fs_usage
            .iter()
            .map(|u| u.mount_point.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(mount_points(&live), mount_points(&captured));
    assert_eq!(
        live.meminfo.get("MemTotal"),
        captured.meminfo.get("MemTotal")
    );
    // No temporary file left next to the archive.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// Capture contracts 1 and 4: the native capture ends with a manifest that lists every other
/// file it wrote, says `manifest=1` and the boot id in meta; the same archive cut just before
/// the manifest (a whole, valid tar, one entry short) is refused.
#[test]
fn capture_is_verifiable_by_its_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("board.tar");
    let summary = membudget::capture::capture_live(&archive, LiveOptions::default()).unwrap();
    let bytes = std::fs::read(&archive).unwrap();
    let mut names = Vec::new();
    let mut texts = std::collections::BTreeMap::new();
    let mut manifest_at = 0;
    for entry in tar::Archive::new(&bytes[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let name = name.split_once('/').unwrap().1.to_string();
        if name == "meta" || name == "manifest" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            texts.insert(name.clone(), text);
        }
        manifest_at = entry.raw_header_position() as usize;
        names.push(name);
    }
    assert_eq!(names.len(), summary.files);
    assert_eq!(
        names.last().map(String::as_str),
        Some("manifest"),
        "manifest is last"
    );
    let listed: Vec<&str> = texts["manifest"]
        .lines()
        .filter_map(|l| l.strip_prefix("file="))
        .collect();
    assert!(texts["manifest"].starts_with(&format!("format=1\nfiles={}\n", names.len() - 1)));
    assert_eq!(listed, names[..names.len() - 1]);
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert!(texts["meta"].contains(&format!("\nboot_id={}\n", boot_id.trim())));
    assert!(texts["meta"].contains("\nmanifest=1\n"));
    load(Some(&archive), LiveOptions::default()).unwrap();

    // The same capture without its manifest: a well-formed tar that lost its last entry.
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, [&bytes[..manifest_at], &[0u8; 1024]].concat()).unwrap();
    let err = load(Some(&cut), LiveOptions::default()).unwrap_err();
    assert!(
        err.message
            .starts_with("meta says the capture wrote a manifest (manifest=1), but there is none"),
        "{err}"
    );
}
