//! What the peers show (ps_mem by program, smem -m / librank by library, smem -u by user) and
//! `profile new`, against independent truth: the accounting's per-process figures, Pss summed
//! straight from the smaps text, and the kernel's own smaps for a shared object built here.

mod common;

use membudget::account::groups::{group, GroupBy, GroupOptions, Grouping};
use membudget::account::Measure;
use membudget::budget::evaluate;
use membudget::collect::{load, LiveOptions};
use membudget::model::Snapshot;
use membudget::profile::Profile;
use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

const ZYNQ: &str = "tests/fixtures/real/innosilicon-t2-zynq-snapshot";
const ZTE: &str = "tests/fixtures/real/zte-zx279128-ont-snapshot";

fn snapshot(rel: &str) -> Snapshot {
    load(Some(&crate_path(rel)), LiveOptions::default()).unwrap()
}

fn grouped(snapshot: &Snapshot, by: GroupBy, measure: Measure) -> Grouping {
    group(
        snapshot,
        &GroupOptions {
            by,
            members: true,
            top: usize::MAX,
            measure,
            thread_stack_size: None,
        },
    )
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_membudget"))
}

/// Pss (bytes) of every smaps entry whose path is `path`, per pid directory, read from the text.
fn smaps_pss_of(proc_dir: &Path, path: &str) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(proc_dir).unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path().join("smaps")) else {
            continue;
        };
        let mut current = false;
        let mut pss = 0;
        let mut maps_it = false;
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if common::is_smaps_header(&fields) {
                current = fields.len() >= 6 && fields[5] == path;
                maps_it |= current;
            } else if current && fields.first() == Some(&"Pss:") {
                pss += fields[1].parse::<u64>().unwrap() * 1024;
            }
        }
        if maps_it {
            out.push((pid, pss));
        }
    }
    out.sort();
    out
}

#[test]
fn zynq_by_program_totals_equal_the_per_process_totals() {
    let snap = snapshot(ZYNQ);
    let profile = Profile::load(&crate_path("budgets/zynq-innosilicon-t2-256m.toml")).unwrap();
    let budget = evaluate(&snap, &profile).unwrap();
    let g = grouped(&snap, GroupBy::Program, Measure::Virtual);
    assert_eq!(g.total_groups, 12);
    let processes = &budget.accounting.processes;
    let members: usize = g.groups.iter().map(|g| g.pids.len()).sum();
    assert_eq!(members, processes.len());
    assert_eq!(members, 16);
    // Private memory adds up to the budget's private line (172140 KiB, hand-computed in #2).
    let private: u64 = g.groups.iter().map(|g| g.private.virtual_size).sum();
    assert_eq!(private, budget.accounting.user_private);
    assert_eq!(private, 172140 * 1024);
    for group in &g.groups {
        let accounts: Vec<_> = processes.iter().filter(|p| p.name == group.name).collect();
        assert_eq!(accounts.len(), group.pids.len(), "{}", group.name);
        let sum = |f: &dyn Fn(&membudget::account::ProcessAccount) -> u64| -> u64 {
            accounts.iter().map(|p| f(p)).sum()
        };
        assert_eq!(group.private.virtual_size, sum(&|p| p.private.virtual_size));
        assert_eq!(group.private.pss, Some(sum(&|p| p.private.pss.unwrap())));
        assert_eq!(group.private.rss, Some(sum(&|p| p.private.rss.unwrap())));
        // PSS needs no dedupe: the group's is the sum of its members' whole PSS.
        assert_eq!(
            group.total.pss,
            Some(sum(&|p| p.private.pss.unwrap() + p.shared.pss.unwrap()))
        );
        // Shared once within the group: never more than the members map between them, and
        // for one program exactly what one instance maps.
        assert!(group.shared.virtual_size <= sum(&|p| p.shared.virtual_size));
        assert!(group.shared.virtual_size >= accounts[0].shared.virtual_size);
    }
    // vi runs three times: 3 x 308 KiB private, its 2.64 MiB of shared mappings once.
    let vi = g.groups.iter().find(|g| g.name == "vi").unwrap();
    assert_eq!(vi.pids, vec![12829, 13456, 13568]);
    assert_eq!(vi.private.virtual_size, 3 * 308 * 1024);
    let one_vi = processes.iter().find(|p| p.pid == 12829).unwrap();
    assert_eq!(vi.shared.virtual_size, one_vi.shared.virtual_size);
    assert_eq!(vi.members.len(), 3);
}

#[test]
fn zynq_by_library_libc_pss_equals_the_smaps_sum() {
    let snap = snapshot(ZYNQ);
    let g = grouped(&snap, GroupBy::Library, Measure::Pss);
    let libc = g
        .groups
        .iter()
        .find(|g| g.name == "/lib/libc-2.21.so")
        .unwrap();
    let truth = smaps_pss_of(&crate_path(ZYNQ).join("proc"), "/lib/libc-2.21.so");
    assert_eq!(truth.len(), 16);
    let pids: Vec<u32> = truth.iter().map(|(pid, _)| *pid).collect();
    assert_eq!(libc.pids, pids);
    let total: u64 = truth.iter().map(|(_, pss)| pss).sum();
    assert_eq!(libc.total.pss, Some(total));
    assert_eq!(libc.id.as_deref(), Some("1f:04:481"));
    for member in &libc.members {
        let pss = truth.iter().find(|(pid, _)| *pid == member.pid).unwrap().1;
        assert_eq!(
            member.private.pss.unwrap() + member.shared.pss.unwrap(),
            pss
        );
    }
    // Ranked by pss: libpython (one mapper, 2.11 MiB) before libc.
    assert_eq!(g.groups[0].name, "/lib/libpython3.4m.so.1.0");
}

#[test]
fn by_user_names_from_the_snapshot_passwd_never_its_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("snap");
    common::copy_dir(&crate_path(ZTE), &copy);
    std::fs::create_dir_all(copy.join("etc")).unwrap();
    std::fs::write(
        copy.join("etc/passwd"),
        "root:$1$secret$hash:0:0:root:/:/bin/sh\n",
    )
    .unwrap();
    let snap = load(Some(&copy), LiveOptions::default()).unwrap();
    let g = grouped(&snap, GroupBy::User, Measure::Virtual);
    assert_eq!(g.groups.len(), 1);
    assert_eq!(g.groups[0].name, "root");
    assert_eq!(g.groups[0].id.as_deref(), Some("0"));
    assert_eq!(g.groups[0].pids.len(), snap.processes.len());
    let out = bin()
        .args(["report", "--by", "user", "--format", "json"])
        .arg(&copy)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\"name\": \"root\""));
    assert!(!text.contains("hash"));
}

/// Runs the binary; its standard output, which it must exit 0 with.
fn run_ok(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn report(args: &[&str]) -> String {
    run_ok(bin().arg("report").arg(crate_path(ZYNQ)).args(args))
}

#[test]
fn every_format_shows_the_groups() {
    let text = report(&["--by", "program", "--members"]);
    assert!(text.contains("By program (12 groups;"), "{text}");
    let vi_row = text.lines().find(|l| l.starts_with("vi ")).unwrap();
    assert!(
        vi_row.contains(" 3 ") && vi_row.contains("924 KiB"),
        "{vi_row}"
    );
    assert!(text.contains("  vi (13456)"));

    let markdown = report(&["--by", "library", "--format", "markdown"]);
    assert!(markdown.contains("## By library (36 groups; the largest 15 by virtual)"));
    assert!(
        markdown.contains("| /lib/libc-2.21.so | 1f:04:481 | 16 |"),
        "{markdown}"
    );

    let html = report(&["--by", "user", "--format", "html"]);
    assert!(html.contains("<h2>By user (1 groups; the largest 1 by virtual)</h2>"));

    let json: serde_json::Value = serde_json::from_str(&report(&[
        "--by", "library", "--format", "json", "--top", "40",
    ]))
    .unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate_path("docs/report.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(json["groups"]["by"], "library");
    assert_eq!(json["groups"]["total_groups"], 36);
    let libc = json["groups"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "/lib/libc-2.21.so")
        .unwrap();
    let truth: u64 = smaps_pss_of(&crate_path(ZYNQ).join("proc"), "/lib/libc-2.21.so")
        .iter()
        .map(|(_, p)| p)
        .sum();
    assert_eq!(libc["total"]["pss"], truth);
    // Without --by the report has no groups at all.
    let plain: serde_json::Value = serde_json::from_str(&report(&["--format", "json"])).unwrap();
    assert!(plain.get("groups").is_none());
}

/// One shared object, built here, loaded by three processes: its read-only pages are shared
/// by exactly those three, so the kernel splits their PSS three ways, and the library view
/// must show the kernel's figures.
#[test]
fn a_shared_object_in_three_processes_splits_its_pss_three_ways() {
    let dir = tempfile::tempdir().unwrap();
    let cc = common::require_tool("cc");
    let workloads = crate_path("tests/workloads");
    let lib = dir.path().join("libmbshared.so");
    let user = dir.path().join("shared_lib_user");
    let built = |args: &mut Command| assert!(args.status().unwrap().success());
    built(
        Command::new(&cc)
            .args(["-O1", "-Wall", "-shared", "-fPIC", "-o"])
            .arg(&lib)
            .arg(workloads.join("shared_lib.c")),
    );
    built(
        Command::new(&cc)
            .args(["-O1", "-Wall", "-o"])
            .arg(&user)
            .arg(workloads.join("shared_lib_user.c"))
            .arg(format!("-L{}", dir.path().display()))
            .arg("-lmbshared")
            .arg(format!("-Wl,-rpath,{}", dir.path().display())),
    );
    let children: Vec<_> = (0..3)
        .map(|_| common::start_workload(&mut Command::new(&user)))
        .collect();
    let pids: Vec<u32> = children.iter().map(|(c, _)| c.id()).collect();
    let path = lib.display().to_string();
    // The kernel's figures, read before and after our own read to see they held still.
    let kernel = || {
        let mut all = smaps_pss_of(Path::new("/proc"), &path);
        all.retain(|(pid, _)| pids.contains(pid));
        all
    };
    let before = kernel();
    let snap = load(None, LiveOptions { smaps: true }).unwrap();
    let after = kernel();
    let g = grouped(&snap, GroupBy::Library, Measure::Pss);
    for (mut child, _) in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(before, after);
    assert_eq!(after.len(), 3);
    let group = g.groups.iter().find(|g| g.name == path).unwrap();
    let mut expected_pids = pids.clone();
    expected_pids.sort();
    assert_eq!(group.pids, expected_pids);
    let kernel_total: u64 = after.iter().map(|(_, p)| p).sum();
    assert_eq!(group.total.pss, Some(kernel_total));
    // Each process's share is the kernel's figure for it: the pages all three map count a
    // third in each, plus its own written pages (relocations, data).
    for m in &group.members {
        let kernel_pss = after.iter().find(|(pid, _)| *pid == m.pid).unwrap().1;
        assert_eq!(m.shared.pss.unwrap() + m.private.pss.unwrap(), kernel_pss);
        // All three map and read the same pages: the same share each.
        assert_eq!(kernel_pss, after[0].1);
    }
    // The table's mapping in our model of each process: every page resident (all three read
    // all of it) and a third of it in PSS, as the kernel prints it (whole kB, rounded down).
    for pid in &pids {
        let process = snap.processes.iter().find(|p| p.pid == *pid).unwrap();
        let table = process
            .mappings
            .iter()
            .filter(|m| m.map.path.as_deref() == Some(path.as_str()))
            .max_by_key(|m| m.map.size())
            .unwrap();
        let smaps = table.smaps.unwrap();
        assert!(table.map.size() >= 64 * 1024);
        assert_eq!(smaps.rss, Some(table.map.size()));
        assert_eq!(smaps.pss, Some(smaps.rss.unwrap() / 3 / 1024 * 1024));
    }
    // Resident once in the group: the table's 64 KiB is in it once, not three times.
    let shared_rss = group.shared.rss.unwrap();
    let one_member = group.members[0].shared.rss.unwrap();
    assert!(
        shared_rss >= 64 * 1024 && shared_rss < one_member + 2 * 8 * 1024,
        "{shared_rss} vs {one_member}"
    );
}

#[test]
fn profile_new_round_trip_on_the_zynq_board() {
    let work = tempfile::tempdir().unwrap();
    common::profile_new_round_trip(&crate_path(ZYNQ), work.path());
}

#[test]
fn profile_new_round_trip_on_the_zte_ont() {
    let work = tempfile::tempdir().unwrap();
    common::profile_new_round_trip(&crate_path(ZTE), work.path());
}

/// The HiSilicon camera's kernel saw 37 MiB (`mem=37M`, boot line 37888K); its vendor's boot
/// loader passes the 27 MiB MMZ as `mmz=...` on boards that have it (added to a copy here).
/// The generated profile states the 64 MiB of budgets/hi3518ev300-64m.toml (written by hand
/// from the datasheet) and declares the MMZ as a carve-out to confirm.
#[test]
fn profile_new_adds_command_line_carveouts_to_the_ram() {
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join("hisi");
    common::copy_dir(&crate_path("tests/fixtures/hisi-chacon-64m"), &copy);
    std::fs::write(
        copy.join("proc/cmdline"),
        "mem=37M mmz=anonymous,0,0x82500000,27M console=ttyAMA0,115200n8\n",
    )
    .unwrap();
    let text = run_ok(bin().args(["profile", "new"]).arg(&copy));
    let profile = Profile::parse(&text, "generated").unwrap();
    let by_hand = Profile::load(&crate_path("budgets/hi3518ev300-64m.toml")).unwrap();
    assert_eq!(profile.ram, by_hand.ram);
    assert_eq!(profile.carveouts["mmz"], by_hand.carveouts["mmz"]);
    assert!(text.contains("mmz = \"27648KiB\"  # CHECK: from mmz=anonymous,0,0x82500000,27M"));
    // No smaps in this capture: virtual, under which its thread stacks already exceed the RAM;
    // the profile says so rather than promising a pass.
    assert_eq!(profile.measure, Measure::Virtual);
    assert!(text.contains("CHECK: today's demand is already over RAM"));
}
