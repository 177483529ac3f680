//! Whether the evidence can carry a verdict, and the evidence that settles one by itself.
//!
//! INCONCLUSIVE findings (docs/accounting.md, "Verdicts"): processes the snapshot could not
//! read, processes that miss the kernel's AnonPages by more than the tolerance, processes
//! counted by another measure than the profile's, line items the snapshot cannot tell.
//! FAIL: the kernel's own record of running out of memory (OOM-killer and allocation-failure
//! lines, vmstat `oom_kill`). WARN: memory pressure above the profile's threshold, and peaks
//! (VmHWM) that would not fit if they came together.

use crate::account::{Accounting, Measure, ProcessAccount};
use crate::budget::{signed, Finding, LineItem, Status};
use crate::model::{Snapshot, SKIPPED_BY_CAPTURE};
use crate::profile::Profile;
use crate::size::human;

/// The processes' anonymous memory may fall short of meminfo `AnonPages` by this much before
/// the snapshot is taken to miss processes: 10 % of AnonPages, at least 1 MiB. Why: AnonPages
/// is read at one instant and the processes one after another, so allocations and exits in
/// between open a gap with nothing missing. The largest gap measured with every process
/// present was 5.1 % (a build machine under load, issue 5); a quiet board closes within
/// 72 kB (the Zynq fixture). Twice the worst, with a floor of one malloc arena's growth, is
/// still far below a missing process on the boards seen (the ZTE ONT misses 94 %).
pub fn anon_tolerance(anon_pages: u64) -> u64 {
    (anon_pages / 10).max(1 << 20)
}

/// An upper bound on a process's anonymous pages: with smaps, the resident private classes
/// plus the private pages of its shared mappings (copy-on-write RELRO and data); with maps
/// alone, the private classes' virtual size. Shared anonymous memory is shmem, not AnonPages.
fn anon_bound(p: &ProcessAccount) -> u64 {
    match p.private.rss {
        Some(rss) => rss.saturating_add(p.shared.uss.unwrap_or(0)),
        None => p.private.virtual_size,
    }
}

/// Skips that may leave memory uncounted: a process that vanished mid-read holds none.
fn uncounted_skips(snapshot: &Snapshot) -> usize {
    snapshot
        .skipped
        .iter()
        .filter(|s| !s.reason.starts_with("vanished"))
        .count()
}

/// Skipped processes. A capture's meta lists skipped pids without saying why (vanished or
/// unreadable; the busybox script skips its own short-lived commands this way): when every
/// skip is of that kind and the processes read explain AnonPages within the tolerance
/// (`covered`), the skipped ones held no more than the tolerance, and the finding is a
/// warning. A known unreadable process (permission denied, no maps) is always inconclusive.
fn skipped_finding(snapshot: &Snapshot, covered: bool) -> Option<Finding> {
    let count = uncounted_skips(snapshot);
    if count == 0 {
        return None;
    }
    let ambiguous_only = snapshot
        .skipped
        .iter()
        .all(|s| s.reason == SKIPPED_BY_CAPTURE || s.reason.starts_with("vanished"));
    let status = if ambiguous_only && covered {
        Status::Warn
    } else {
        Status::Inconclusive
    };
    let read = snapshot.processes.len();
    let remedy = if snapshot.origin == "live" {
        "run membudget as root (or with CAP_SYS_PTRACE) so that every process can be read"
    } else {
        "capture again as root; the snapshot's meta and the Skipped section list the pids"
    };
    Some(
        Finding::new(
            "skipped_processes",
            format!("{count} process(es) skipped"),
            status,
            format!("{count} of {} processes could not be read: their memory is not in the user-process line", count + read),
        )
        .figures(count as i64, 0)
        .remedy(remedy),
    )
}

/// The processes must explain AnonPages within the tolerance, else some are missing from the
/// snapshot (a capture of a few pids, a damaged archive).
///
/// Without any process the user-process line is unknown, which says it already.
fn coverage_finding(snapshot: &Snapshot, accounting: &Accounting) -> Option<Finding> {
    if accounting.processes.is_empty() {
        return None;
    }
    let anon_pages = snapshot.meminfo.get("AnonPages")?;
    let bound = accounting
        .processes
        .iter()
        .map(anon_bound)
        .fold(0u64, u64::saturating_add);
    let tolerance = anon_tolerance(anon_pages);
    let short = anon_pages.saturating_sub(bound);
    let subject = "processes explain meminfo AnonPages";
    let message = format!(
        "{} processes hold at most {} of anonymous memory; AnonPages is {}: {} unexplained (tolerance {})",
        accounting.processes.len(),
        human(bound),
        human(anon_pages),
        human(short),
        human(tolerance)
    );
    let finding = if short > tolerance {
        Finding::new("process_coverage", subject, Status::Inconclusive, message)
            .remedy("capture every process (all of /proc/<pid>), as root")
    } else {
        Finding::new("process_coverage", subject, Status::Pass, message)
    };
    Some(finding.figures(bound as i64, anon_pages as i64))
}

fn measure_finding(measure: Measure, accounting: &Accounting) -> Option<Finding> {
    let fallen: Vec<&ProcessAccount> = accounting
        .processes
        .iter()
        .filter(|p| p.measure_used != measure)
        .collect();
    let first = fallen.first()?;
    let names: Vec<String> = fallen
        .iter()
        .take(5)
        .map(|p| format!("{} ({}) by {}", p.name, p.pid, p.measure_used.name()))
        .collect();
    let more = fallen.len().saturating_sub(names.len());
    let remedy = match (measure, first.has_smaps) {
        (_, false) => "capture with --smaps (or use measure = \"virtual\", the ceiling)",
        (Measure::Pss, true) => {
            "this kernel's smaps has no Pss (before 2.6.25): use measure = \"rss\" or \"virtual\""
        }
        _ => "capture smaps whole (Rss lines), or use measure = \"virtual\"",
    };
    Some(
        Finding::new(
            "measure_figures",
            format!(
                "{} process(es) lack {} figures",
                fallen.len(),
                measure.name()
            ),
            Status::Inconclusive,
            format!(
                "counted by a fallback measure: {}{}",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        )
        .figures(fallen.len() as i64, 0)
        .remedy(remedy),
    )
}

fn unknown_finding(unknown: &[&LineItem]) -> Option<Finding> {
    if unknown.is_empty() {
        return None;
    }
    let labels: Vec<String> = unknown
        .iter()
        .map(|i| {
            let missing: Vec<&str> = i
                .parts
                .iter()
                .filter(|p| p.bytes.is_none())
                .map(|p| p.label.as_str())
                .collect();
            if missing.is_empty() {
                i.key.clone()
            } else {
                format!("{} ({})", i.key, missing.join(", "))
            }
        })
        .collect();
    let files: Vec<&str> = unknown
        .iter()
        .flat_map(|i| i.files.iter().map(String::as_str))
        .collect();
    Some(
        Finding::new(
            "unknown_items",
            format!("unknown: {}", labels.join(", ")),
            Status::Inconclusive,
            format!(
                "the snapshot cannot tell {} line item(s): demand is a lower bound",
                unknown.len()
            ),
        )
        .remedy(format!("capture {}", files.join(", "))),
    )
}

fn log_finding(snapshot: &Snapshot) -> Option<Finding> {
    let e = snapshot.exhaustion.as_ref()?;
    let subject = "kernel log shows no out-of-memory";
    if e.is_empty() {
        return Some(Finding::new(
            "exhaustion",
            subject,
            Status::Pass,
            "no OOM-killer or page allocation failure line in dmesg".into(),
        ));
    }
    let victims: Vec<String> = e
        .victims
        .iter()
        .map(|v| format!("{} (pid {})", v.name, v.pid))
        .collect();
    let killed = if victims.is_empty() {
        String::new()
    } else {
        format!("; killed: {}", victims.join(", "))
    };
    let first = e
        .events
        .first()
        .map(|ev| format!("; first at dmesg line {}: {}", ev.line, ev.text))
        .unwrap_or_default();
    Some(
        Finding::new(
            "exhaustion",
            subject,
            Status::Fail,
            format!(
                "the board ran out of memory: {} OOM-killer line(s), {} page allocation failure(s){killed}{first}",
                e.oom_lines, e.allocation_failures
            ),
        )
        .figures((e.oom_lines + e.allocation_failures) as i64, 0),
    )
}

fn vmstat_finding(snapshot: &Snapshot) -> Option<Finding> {
    let kills = *snapshot.kernel_files.vmstat.as_ref()?.get("oom_kill")?;
    let status = if kills > 0 {
        Status::Fail
    } else {
        Status::Pass
    };
    Some(
        Finding::new(
            "exhaustion",
            "vmstat oom_kill is 0",
            status,
            format!("the OOM killer killed {kills} process(es) since boot (proc/vmstat oom_kill)"),
        )
        .figures(signed(kills), 0),
    )
}

fn pressure_findings(snapshot: &Snapshot, profile: &Profile) -> Vec<Finding> {
    let Some(pressure) = snapshot.kernel_files.pressure else {
        return Vec::new();
    };
    let limits = &profile.pressure;
    [
        ("some", pressure.some.map(|l| l.avg10), limits.some_avg10),
        ("full", pressure.full.map(|l| l.avg10), limits.full_avg10),
    ]
    .into_iter()
    .filter_map(|(which, value, limit)| {
        let (value, limit) = (value?, limit?);
        Some(Finding::new(
            "pressure",
            format!("memory pressure {which} avg10 at most {limit}%"),
            if value > limit { Status::Warn } else { Status::Pass },
            format!(
                "{which} tasks stalled on memory {value:.2}% of the last 10 s (proc/pressure/memory), threshold {limit}%"
            ),
        ))
    })
    .collect()
}

/// Peaks: each process's VmHWM above its VmRSS now is memory it has held and may hold again.
/// If every process stood at its peak at once, would demand still leave the minimum headroom?
/// A warning, not a failure: peaks of different processes need not coincide (and VmHWM counts
/// shared pages in each process); that the board really ran out shows in the kernel log.
fn peaks_finding(accounting: &Accounting, demand: u64, fit_limit: u64) -> Option<Finding> {
    let with_peak: Vec<(u64, u64)> = accounting
        .processes
        .iter()
        .filter_map(|p| Some((p.vm_hwm?, p.vm_rss?)))
        .collect();
    if with_peak.is_empty() {
        return None;
    }
    let excess = with_peak
        .iter()
        .map(|(hwm, rss)| hwm.saturating_sub(*rss))
        .fold(0u64, u64::saturating_add);
    let at_peaks = demand.saturating_add(excess);
    let fits = at_peaks <= fit_limit;
    Some(
        Finding::new(
            "peaks",
            "demand with every process at its peak (VmHWM) keeps the headroom",
            if fits { Status::Pass } else { Status::Warn },
            format!(
                "{} processes have been {} above their resident size now; at their peaks together demand would be {} of {} allowed",
                with_peak.len(),
                human(excess),
                human(at_peaks),
                human(fit_limit)
            ),
        )
        .figures(signed(at_peaks), signed(fit_limit)),
    )
}

/// Every evidence finding. `fit_limit` is RAM minus the minimum headroom.
pub fn findings(
    snapshot: &Snapshot,
    profile: &Profile,
    accounting: &Accounting,
    unknown: &[&LineItem],
    demand: u64,
    fit_limit: u64,
) -> Vec<Finding> {
    let coverage = coverage_finding(snapshot, accounting);
    let covered = coverage.as_ref().is_some_and(|c| c.status == Status::Pass);
    let mut out: Vec<Finding> = [
        skipped_finding(snapshot, covered),
        coverage,
        measure_finding(profile.measure, accounting),
        unknown_finding(unknown),
        log_finding(snapshot),
        vmstat_finding(snapshot),
        peaks_finding(accounting, demand, fit_limit),
    ]
    .into_iter()
    .flatten()
    .collect();
    out.extend(pressure_findings(snapshot, profile));
    out
}
