//! No verdict without evidence (issue 12): INCONCLUSIVE (exit 2) with reasons and remedies,
//! `--allow-incomplete` under a banner, unknown figures never printed as 0 B, the kernel's
//! record of running out of memory failing the check, peaks, pressure, and overflowing sums
//! refused as bad input. Every expected figure comes from the fixture files themselves.

mod common;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

const KIB: u64 = 1024;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], snapshot: &Path) -> Run {
    let out = Command::cargo_bin("membudget")
        .unwrap()
        .args(args)
        .arg(snapshot)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(args: &[&str], snapshot: &Path) -> (i32, serde_json::Value) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let r = run(&all, snapshot);
    let value = serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr));
    (r.code, value)
}

fn finding<'a>(json: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} finding in {:#}", json["findings"]))
}

fn zte() -> PathBuf {
    repo("tests/fixtures/real/zte-zx279128-ont-snapshot")
}

/// The ZTE ONT capture: 5 processes, whose smaps sum to 536 kB of `Anonymous:` (and 1792 kB
/// of Rss), against meminfo AnonPages 12504 kB: most processes are missing. Against its own
/// profile (8 MiB reserve) what is known fits, so the verdict is INCONCLUSIVE; against the
/// built-in default (30 MiB reserve) the known items alone already exceed RAM, and a lower
/// bound over RAM is a certain failure, so it is OVER BUDGET, never a pass.
#[test]
fn zte_snapshot_is_inconclusive_and_budgets_under_a_banner_when_allowed() {
    let profile = repo("budgets/zte-zx279128-ont-128m.toml");
    let profile = profile.to_str().unwrap();
    let (code, j) = json(&["check", "-p", profile], &zte());
    assert_eq!(code, 2);
    assert_eq!(j["verdict"], "inconclusive");
    let coverage = finding(&j, "process_coverage");
    assert_eq!(coverage["status"], "inconclusive");
    assert_eq!(coverage["limit"], 12504 * KIB);
    let bound = coverage["actual"].as_u64().unwrap();
    assert!(
        (536 * KIB..=1792 * KIB).contains(&bound),
        "anonymous bound {bound} outside Σ Anonymous..Σ Rss"
    );
    assert!(coverage["remedy"].as_str().unwrap().contains("as root"));
    // Kernel static = 128 MiB - MemTotal 94412 kB: zoneinfo's 32768 present pages, which is
    // also what `mem=128M;` on its command line gave the kernel.
    let kernel_static = common::keyed(&j["items"], "kernel_static");
    assert_eq!(kernel_static["bytes"], (131072 - 94412) * KIB);
    assert!(kernel_static["files"]
        .as_array()
        .unwrap()
        .contains(&"proc/zoneinfo".into()));
    assert_eq!(j["ram"], 128u64 << 20);

    let (default_code, default) = json(&["check"], &zte());
    assert_eq!(default_code, 1);
    assert_eq!(default["verdict"], "over_budget");
    assert_eq!(finding(&default, "ram_fit")["status"], "fail");
    assert_eq!(default["demand_incomplete"], true);
    let text = run(&["check", "-p", profile], &zte());
    assert_eq!(text.code, 2);
    assert!(text.stdout.starts_with("INCONCLUSIVE: "), "{}", text.stdout);
    assert!(text.stdout.contains("11.66 MiB unexplained"));

    // What is known fits its profile: 17.12 MiB headroom against a 6.40 MiB minimum, so 0.
    let allowed = run(&["check", "-p", profile, "--allow-incomplete"], &zte());
    assert_eq!(allowed.code, 0, "{}", allowed.stdout);
    assert!(allowed
        .stdout
        .starts_with("INCOMPLETE EVIDENCE (--allow-incomplete)"));
    assert!(allowed.stdout.contains("WITHIN BUDGET: headroom at most"));
    for format in ["markdown", "html", "junit", "json"] {
        let r = run(
            &[
                "report",
                "-p",
                profile,
                "--allow-incomplete",
                "--format",
                format,
            ],
            &zte(),
        );
        assert!(
            r.stdout
                .contains("INCOMPLETE EVIDENCE (--allow-incomplete)"),
            "{format} lacks the banner"
        );
    }
}

/// A meminfo with MemTotal alone: Slab, KernelStack, PageTables are unknown (never "0 B
/// measured"), and so is the verdict.
#[test]
fn meminfo_with_only_memtotal_is_unknown_not_zero() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&repo("tests/hostile/ok-minimal"), dir.path());
    std::fs::write(dir.path().join("proc/meminfo"), "MemTotal: 65536 kB\n").unwrap();
    std::fs::create_dir_all(dir.path().join("proc/sys/vm")).unwrap();
    std::fs::write(dir.path().join("proc/sys/vm/min_free_kbytes"), "1024\n").unwrap();
    let (code, j) = json(&["check"], dir.path());
    assert_eq!(code, 2);
    assert_eq!(j["verdict"], "inconclusive");
    let dynamic = common::keyed(&j["items"], "kernel_dynamic");
    assert_eq!(dynamic["bytes"], serde_json::Value::Null);
    for part in dynamic["parts"].as_array().unwrap() {
        assert_eq!(part["bytes"], serde_json::Value::Null, "{part}");
    }
    assert_eq!(common::keyed(&j["items"], "min_free")["bytes"], 1024 * KIB);
    // No boot log, no mem=: kernel static is unknown too, and it matters because the default
    // profile's headroom minimum is 10 % of a RAM that leaves it out.
    let unknown = finding(&j, "unknown_items");
    assert_eq!(
        unknown["subject"],
        "unknown: kernel_static, kernel_dynamic (Slab, KernelStack, PageTables)"
    );
    let text = run(&["report"], dir.path()).stdout;
    let slab = text
        .lines()
        .find(|l| l.trim_start().starts_with("Slab"))
        .unwrap();
    assert!(slab.contains("unknown"), "{slab}");
    assert!(!slab.contains("0 B"), "{slab}");
    // Listed by the capture as missing: unknown even though a file is there.
    std::fs::write(
        dir.path().join("meta"),
        "format=1\nmissing=proc/sys/vm/min_free_kbytes\n",
    )
    .unwrap();
    let (_, j) = json(&["check"], dir.path());
    assert_eq!(
        common::keyed(&j["items"], "min_free")["bytes"],
        serde_json::Value::Null
    );
}

/// A copy of the JBL soundbar's boot log and meminfo (no process): loads, budgets what the
/// files can tell, 0 when allowed; the same with one OOM-killer episode appended fails,
/// naming the killed process.
#[test]
fn an_oom_killer_line_in_dmesg_fails_the_check_naming_the_victim() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(
        &repo("tests/fixtures/reconcile/jbl-bar91-mt8531"),
        dir.path(),
    );
    let before = run(&["check", "--allow-incomplete"], dir.path());
    assert_eq!(before.code, 0, "{}", before.stdout);
    assert!(before.stdout.contains("PASS  exhaustion"));
    let (code, j) = json(&["check"], dir.path());
    assert_eq!(code, 2, "no process in the snapshot: user memory unknown");
    assert_eq!(
        common::keyed(&j["items"], "processes")["bytes"],
        serde_json::Value::Null
    );
    // The boot line still reconciles to MemTotal 458524 kB with a gap of 0.
    assert_eq!(j["reconciliation"]["mem_total"], 458524 * KIB);
    assert_eq!(j["reconciliation"]["gap"], 0);

    let dmesg = dir.path().join("dmesg");
    let mut log = std::fs::read_to_string(&dmesg).unwrap();
    log.push_str(
        "[ 5012.100000] recorder invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0\n",
    );
    log.push_str(
        "[ 5012.300000] Out of memory: Kill process 412 (recorder) score 901 or sacrifice child\n",
    );
    log.push_str("[ 5012.300100] Killed process 412 (recorder) total-vm:91232kB, anon-rss:80012kB, file-rss:4kB\n");
    std::fs::write(&dmesg, log).unwrap();
    let after = run(&["check", "--allow-incomplete"], dir.path());
    assert_eq!(after.code, 1, "{}", after.stdout);
    assert!(after.stdout.contains("OVER BUDGET: 1 rule(s) failed"));
    assert!(
        after.stdout.contains(
            "3 OOM-killer line(s), 0 page allocation failure(s); killed: recorder (pid 412)"
        ),
        "{}",
        after.stdout
    );
    // Without --allow-incomplete the failure still stands: exhaustion is proof.
    assert_eq!(run(&["check"], dir.path()).code, 1);
}

/// vmstat `oom_kill` > 0 fails; PSI above the profile's threshold is a warning only.
#[test]
fn vmstat_oom_kill_fails_and_pressure_warns() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(
        &repo("tests/fixtures/reconcile/jbl-bar91-mt8531"),
        dir.path(),
    );
    std::fs::create_dir_all(dir.path().join("proc/pressure")).unwrap();
    std::fs::write(
        dir.path().join("proc/pressure/memory"),
        "some avg10=42.50 avg60=10.00 avg300=2.00 total=991\nfull avg10=0.30 avg60=0.10 avg300=0.00 total=17\n",
    )
    .unwrap();
    let r = run(&["check", "--allow-incomplete"], dir.path());
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("WARN  pressure"), "{}", r.stdout);
    assert!(r
        .stdout
        .contains("stalled on memory 42.50% of the last 10 s"));
    assert!(r.stdout.contains("PASS  pressure"), "full 0.30 is under 5");
    std::fs::write(
        dir.path().join("proc/vmstat"),
        "nr_free_pages 1000\noom_kill 3\n",
    )
    .unwrap();
    let (code, j) = json(&["check", "--allow-incomplete"], dir.path());
    assert_eq!(code, 1);
    let kills = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["subject"] == "vmstat oom_kill is 0")
        .unwrap();
    assert_eq!(kills["status"], "fail");
    assert_eq!(kills["actual"], 3);
}

/// A small board whose one process has held 60000 kB (VmHWM) but holds 1024 kB now: at its
/// peak the budget would not fit, which is a warning with the exact figures.
#[test]
fn peaks_that_would_not_fit_are_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("proc/1")).unwrap();
    std::fs::create_dir_all(d.join("proc/sys/vm")).unwrap();
    std::fs::write(
        d.join("proc/meminfo"),
        "MemTotal: 65536 kB\nSlab: 2048 kB\nKernelStack: 512 kB\nPageTables: 256 kB\nAnonPages: 1024 kB\n",
    )
    .unwrap();
    std::fs::write(d.join("proc/sys/vm/min_free_kbytes"), "1024\n").unwrap();
    std::fs::write(d.join("proc/mounts"), "/dev/root / squashfs ro 0 0\n").unwrap();
    // One 1 MiB heap: 1048576 bytes by virtual size.
    std::fs::write(
        d.join("proc/1/maps"),
        "00100000-00200000 rw-p 00000000 00:00 0 [heap]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("proc/1/status"),
        "Name:\trecorder\nTgid:\t1\nThreads:\t1\nVmHWM:\t   60000 kB\nVmRSS:\t    1024 kB\n",
    )
    .unwrap();
    let profile = d.join("board.toml");
    std::fs::write(&profile, "ram = \"64MiB\"\nmin_headroom = \"4MiB\"\n").unwrap();
    let p = profile.to_str().unwrap();
    let (code, j) = json(&["check", "-p", p], d);
    // demand = Slab 2048 + KernelStack 512 + PageTables 256 + heap 1024 + min_free 1024 kB.
    let demand = (2048 + 512 + 256 + 1024 + 1024) * KIB;
    assert_eq!(j["demand"], demand);
    assert_eq!(code, 0, "peaks warn, they do not fail: {:#}", j["findings"]);
    let peaks = finding(&j, "peaks");
    assert_eq!(peaks["status"], "warn");
    assert_eq!(peaks["actual"], demand + (60000 - 1024) * KIB);
    assert_eq!(peaks["limit"], (64 - 4) * 1024 * KIB);
    assert_eq!(j["accounting"]["processes"][0]["vm_hwm"], 60000 * KIB);
    let text = run(&["report", "-p", p], d).stdout;
    assert!(text.contains("peak (VmHWM)"));
    assert!(text.contains("58.59 MiB"), "VmHWM 60000 kB shown: {text}");
}

/// `measure = "rss"` with an smaps that has no `Rss:` lines: the process is counted by virtual
/// size (the fallback, recorded), never as 0 B.
#[test]
fn rss_without_rss_lines_falls_back_instead_of_counting_zero() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&repo("tests/hostile/ok-minimal"), dir.path());
    let maps = std::fs::read_to_string(dir.path().join("proc/1/maps")).unwrap();
    let smaps: String = maps
        .lines()
        .map(|l| format!("{l}\nSize: 4 kB\nPrivate_Dirty: 0 kB\n"))
        .collect();
    std::fs::write(dir.path().join("proc/1/smaps"), smaps).unwrap();
    let profile = dir.path().join("rss.toml");
    std::fs::write(&profile, "ram = \"64MiB\"\nmeasure = \"rss\"\n").unwrap();
    let (code, j) = json(
        &[
            "check",
            "--allow-incomplete",
            "-p",
            profile.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    let process = &j["accounting"]["processes"][0];
    assert_eq!(process["measure_used"], "virtual");
    assert!(process["demand"].as_u64().unwrap() > 0);
    assert_eq!(process["demand"], process["private"]["virtual"]);
    let measure = finding(&j, "measure_figures");
    assert_eq!(measure["status"], "inconclusive");
}

/// A carve-out of u64::MAX bytes with `ram = "auto"` once gave "headroom 0 B of 16 EiB",
/// exit 0: an overflow is bad input naming the profile.
#[test]
fn an_overflowing_carveout_is_bad_input_naming_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("huge.toml");
    std::fs::write(
        &profile,
        "ram = \"auto\"\n[carveouts]\nmmz = \"18446744073709551615\"\n",
    )
    .unwrap();
    let r = run(
        &["check", "-p", profile.to_str().unwrap()],
        &repo("tests/fixtures/real/innosilicon-t2-zynq-snapshot"),
    );
    assert_eq!(r.code, 2, "{}", r.stdout);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains(&format!("membudget: error: {}", profile.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("more than any board has (1 EiB at most)"),
        "{}",
        r.stderr
    );
}

/// The live check as an unprivileged user: root's processes cannot be read, so the check is
/// INCONCLUSIVE (exit 2) with the count of skipped processes and the remedy, and the JUnit
/// output carries it as an error rather than passing cases only.
#[test]
fn unprivileged_live_check_is_inconclusive_with_the_skipped_count() {
    let setpriv = common::require_tool("setpriv");
    let held = common::HeldProcess::sleep(); // root's: nobody may not read it
    let binary = assert_cmd::cargo::cargo_bin("membudget");
    let as_nobody = |format: &str| {
        std::process::Command::new(&setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&binary)
            .args(["check", "--format", format])
            .output()
            .unwrap()
    };
    // A machine whose OOM killer has already killed (vmstat `oom_kill` since boot: a shared
    // CI machine may have) fails on that evidence, which outranks the inconclusive findings.
    let oom_killed = std::fs::read_to_string("/proc/vmstat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("oom_kill "))
        .any(|n| n.trim() != "0");
    let (code, verdict, headline) = if oom_killed {
        (1, "over_budget", "OVER BUDGET: ")
    } else {
        (2, "inconclusive", "INCONCLUSIVE: ")
    };
    let out = as_nobody("json");
    assert_eq!(out.status.code(), Some(code));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verdict"], verdict);
    if oom_killed {
        assert_eq!(finding(&j, "exhaustion")["status"], "fail");
    }
    let unreadable: Vec<&serde_json::Value> = j["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["reason"] == "permission denied")
        .collect();
    assert!(unreadable.iter().any(|s| s["pid"] == held.pid()));
    let skipped = finding(&j, "skipped_processes");
    assert_eq!(skipped["status"], "inconclusive");
    assert_eq!(skipped["actual"], unreadable.len());
    assert_eq!(
        skipped["subject"],
        format!("{} process(es) skipped", unreadable.len())
    );
    assert!(skipped["remedy"].as_str().unwrap().contains("as root"));
    println!("as nobody: {} processes skipped", unreadable.len());

    let junit = String::from_utf8(as_nobody("junit").stdout).unwrap();
    assert!(junit.contains("type=\"inconclusive\""));
    assert!(!junit.contains("errors=\"0\""), "{junit}");
    let text = String::from_utf8(as_nobody("text").stdout).unwrap();
    assert!(text.starts_with(headline), "{text}");
    assert!(text.contains("processes could not be read"), "{text}");
    assert!(text.contains("Remedy: run membudget as root"), "{text}");
}

/// Without a boot log, zoneinfo's `present` pages still tell the RAM the kernel saw (the boot
/// line's total): the Zynq capture has no dmesg, and under the built-in profile (`ram =
/// "auto"`) its RAM comes out as the board's 256 MiB (65536 present pages of 4 KiB, the page
/// size being MemTotal 252308 kB / 63077 managed pages), with kernel static known.
#[test]
fn zoneinfo_present_pages_give_the_ram_the_kernel_saw() {
    let zynq = repo("tests/fixtures/real/innosilicon-t2-zynq-snapshot");
    let (_, j) = json(&["report"], &zynq);
    assert_eq!(j["ram"], 256u64 << 20);
    assert!(j["ram_note"].as_str().unwrap().contains("zoneinfo"));
    let kernel_static = common::keyed(&j["items"], "kernel_static");
    assert_eq!(kernel_static["bytes"], (262144 - 252308) * KIB);
    assert!(kernel_static["files"]
        .as_array()
        .unwrap()
        .contains(&"proc/zoneinfo".into()));
}

/// Without zoneinfo, `mem=128M;` on the ZTE's command line gives the same kernel static.
#[test]
fn mem_on_the_command_line_gives_kernel_static_without_zoneinfo() {
    let dir = tempfile::tempdir().unwrap();
    common::copy_dir(&zte(), dir.path());
    std::fs::remove_file(dir.path().join("proc/zoneinfo")).unwrap();
    let (_, j) = json(&["report"], dir.path());
    let kernel_static = common::keyed(&j["items"], "kernel_static");
    assert_eq!(kernel_static["bytes"], (131072 - 94412) * KIB);
    assert!(kernel_static["files"]
        .as_array()
        .unwrap()
        .contains(&"proc/cmdline".into()));
}
