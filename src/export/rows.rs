//! One analysed snapshot as tidy rows, one row per fact, for the tables of docs/fleet.md
//! (schema: docs/export.schema.json). Every byte figure is in bytes; a figure the snapshot does
//! not carry is `None` (null in the tables), never 0.

use crate::account::classify::Counting;
use crate::account::Figures;
use crate::budget::{Budget, Finding, LineItem, Provenance};
use crate::model::Snapshot;
use serde::Serialize;
use std::collections::BTreeMap;

/// Bumped when a column is removed or changes meaning or type (adding columns does not bump
/// it); the `export_schema` column of every `snapshots` row and docs/export.schema.json say it.
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct SnapshotRow {
    pub snapshot_id: u64,
    pub path: String,
    pub host: Option<String>,
    pub boot_id: Option<String>,
    /// Capture time, ISO 8601 UTC (`2023-11-14T22:13:20Z`).
    pub time: Option<String>,
    pub kernel: Option<String>,
    /// Every `meta` field of the snapshot (firmware, board, ...) as written by the capture.
    pub meta: BTreeMap<String, String>,
    pub ram: u64,
    pub ram_provenance: Provenance,
    pub demand: u64,
    pub headroom: i64,
    pub min_headroom: u64,
    /// `within`, `over` (and `inconclusive` where the evidence cannot carry a verdict).
    pub verdict: &'static str,
    pub measure: &'static str,
    pub profile: String,
    pub profile_source: String,
    pub processes: u64,
    pub skipped: u64,
    pub warnings: u64,
    pub export_schema: u32,
}

#[derive(Debug, Serialize)]
pub struct ItemRow {
    pub snapshot_id: u64,
    pub key: String,
    /// The item this one is a part of (a carve-out of `carveouts`...); null for top-level
    /// items, whose sum is the snapshot's demand.
    pub parent: Option<String>,
    pub label: String,
    pub bytes: Option<u64>,
    pub provenance: Provenance,
    pub files: Vec<String>,
    pub note: Option<String>,
}

/// The figures of one class of one process: `mappings`, `virtual`, and `rss`, `pss`, `uss`,
/// `swap` (null without smaps), as the report's JSON names them.
#[derive(Debug, Serialize)]
pub struct ProcessRow<'a> {
    pub snapshot_id: u64,
    pub pid: u32,
    pub name: &'a str,
    pub cmdline: &'a str,
    pub class: &'static str,
    /// `private` (summed per process), `shared` (counted once system-wide) or `not_counted`.
    pub counting: &'static str,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A finding as the report's JSON has it, with the snapshot it belongs to.
#[derive(Debug, Serialize)]
pub struct FindingRow<'a> {
    pub snapshot_id: u64,
    #[serde(flatten)]
    pub finding: &'a Finding,
}

#[derive(Debug, Serialize)]
pub struct ErrorRow {
    pub snapshot_id: u64,
    pub path: String,
    pub error: String,
}

/// Everything one snapshot contributes to the tables, borrowing from its budget.
#[derive(Debug, Default)]
pub struct Rows<'a> {
    pub snapshots: Vec<SnapshotRow>,
    pub items: Vec<ItemRow>,
    pub processes: Vec<ProcessRow<'a>>,
    pub findings: Vec<FindingRow<'a>>,
    pub errors: Vec<ErrorRow>,
}

/// What identifies one snapshot of the run, and how its rows are written.
pub struct Identity<'a> {
    pub id: u64,
    pub path: &'a str,
    /// Command lines reduced to the program name (`--redact`).
    pub redact: bool,
}

impl<'a> Rows<'a> {
    pub fn of_budget(who: &Identity, snapshot: &Snapshot, budget: &'a Budget) -> Rows<'a> {
        let mut items = Vec::new();
        for item in &budget.items {
            flatten_item(who.id, item, None, &mut items);
        }
        Rows {
            snapshots: vec![snapshot_row(who, snapshot, budget)],
            items,
            processes: process_rows(who, budget),
            findings: budget
                .findings
                .iter()
                .map(|finding| FindingRow {
                    snapshot_id: who.id,
                    finding,
                })
                .collect(),
            errors: Vec::new(),
        }
    }

    pub fn of_error(who: &Identity, error: String) -> Rows<'a> {
        Rows {
            errors: vec![ErrorRow {
                snapshot_id: who.id,
                path: who.path.to_string(),
                error,
            }],
            ..Rows::default()
        }
    }
}

/// The verdict as a word, so that a third outcome is a new value rather than a new type.
fn verdict(budget: &Budget) -> &'static str {
    match budget.verdict {
        crate::budget::Verdict::WithinBudget => "within",
        crate::budget::Verdict::OverBudget => "over",
        crate::budget::Verdict::Inconclusive => "inconclusive",
    }
}

/// The kernel release: the third word of `proc/version` (`Linux version 4.9.88 ...`), else of
/// the capture's `uname -a` (`Linux host 4.9.88 ...`).
fn kernel(snapshot: &Snapshot) -> Option<String> {
    let third = |text: &str| text.split_whitespace().nth(2).map(str::to_string);
    snapshot
        .kernel_version
        .as_deref()
        .and_then(third)
        .or_else(|| snapshot.meta.get("uname").and_then(third))
}

fn snapshot_row(who: &Identity, snapshot: &Snapshot, budget: &Budget) -> SnapshotRow {
    let meta = |key: &str| budget.meta.get(key).cloned();
    SnapshotRow {
        snapshot_id: who.id,
        path: who.path.to_string(),
        host: meta("host"),
        boot_id: meta("boot_id"),
        time: snapshot.meta.time().and_then(utc_timestamp),
        kernel: kernel(snapshot),
        meta: budget.meta.clone(),
        ram: budget.ram,
        ram_provenance: budget.ram_provenance,
        demand: budget.demand,
        headroom: budget.headroom,
        min_headroom: budget.min_headroom,
        verdict: verdict(budget),
        measure: budget.measure.name(),
        profile: budget.profile.clone(),
        profile_source: budget.profile_source.clone(),
        processes: budget.accounting.processes.len() as u64,
        skipped: budget.skipped.len() as u64,
        warnings: budget.warnings.len() as u64,
        export_schema: EXPORT_SCHEMA_VERSION,
    }
}

/// An item and its parts, depth first, each part naming its parent.
fn flatten_item(id: u64, item: &LineItem, parent: Option<&str>, out: &mut Vec<ItemRow>) {
    out.push(ItemRow {
        snapshot_id: id,
        key: item.key.clone(),
        parent: parent.map(str::to_string),
        label: item.label.clone(),
        bytes: item.bytes,
        provenance: item.provenance,
        files: item.files.clone(),
        note: item.note.clone(),
    });
    for part in &item.parts {
        flatten_item(id, part, Some(&item.key), out);
    }
}

/// The program name alone: the first word of the command line (argv[0]), arguments dropped.
fn redacted(cmdline: &str) -> &str {
    cmdline.split(' ').next().unwrap_or_default()
}

fn counting_name(counting: Counting) -> &'static str {
    match counting {
        Counting::Private => "private",
        Counting::Shared => "shared",
        Counting::NotCounted => "not_counted",
    }
}

/// One row per process and class of mapping it has.
fn process_rows<'a>(who: &Identity, budget: &'a Budget) -> Vec<ProcessRow<'a>> {
    let mut rows = Vec::new();
    for p in &budget.accounting.processes {
        let cmdline = if who.redact {
            redacted(&p.cmdline)
        } else {
            &p.cmdline
        };
        for (class, figures) in p.classes.iter() {
            rows.push(ProcessRow {
                snapshot_id: who.id,
                pid: p.pid,
                name: &p.name,
                cmdline,
                class: class.name(),
                counting: counting_name(class.counting()),
                figures,
            });
        }
    }
    rows
}

/// Unix seconds as ISO 8601 UTC, whole seconds (`2023-11-14T22:13:20Z`); `None` for a time no
/// calendar date can hold (negative, not finite, past year 9999).
pub fn utc_timestamp(unix: f64) -> Option<String> {
    if !unix.is_finite() || !(0.0..253_402_300_800.0).contains(&unix) {
        return None;
    }
    let secs = unix.floor() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        // Independent truth: `date -u -d @SECONDS`.
        assert_eq!(utc_timestamp(0.0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(
            utc_timestamp(1_700_000_000.0).unwrap(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            utc_timestamp(951_868_799.9).unwrap(),
            "2000-02-29T23:59:59Z"
        );
        assert_eq!(
            utc_timestamp(253_402_300_799.0).unwrap(),
            "9999-12-31T23:59:59Z"
        );
        assert_eq!(utc_timestamp(-1.0), None);
        assert_eq!(utc_timestamp(f64::NAN), None);
    }

    #[test]
    fn redaction_keeps_the_program_only() {
        assert_eq!(
            redacted("/usr/bin/python3 app.py --token s3cret"),
            "/usr/bin/python3"
        );
        assert_eq!(redacted(""), "");
    }
}
