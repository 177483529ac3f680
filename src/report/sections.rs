//! The content of a budget report and of a diff as [`Section`]s: every format lays these out
//! (text, Markdown, HTML) or reuses their rows, so no format builds a table of its own.

use super::document::Section;
use super::ReportOptions;
use crate::account::classify::Class;
use crate::account::dynamic::Role;
use crate::budget::{Budget, Finding, Status};
use crate::diff::{Change, Delta, Diff};

/// Classes shown as columns of the process table, in order.
pub const PROCESS_COLUMNS: [Class; 6] = [
    Class::Heap,
    Class::Stack,
    Class::ThreadStack,
    Class::Data,
    Class::Anon,
    Class::Code,
];

pub fn share(bytes: i64, ram: u64) -> String {
    format!("{:.1}%", bytes as f64 * 100.0 / ram.max(1) as f64)
}

pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
    }
}

pub fn verdict_line(budget: &Budget, o: &ReportOptions) -> String {
    let figures = format!(
        "headroom {} of {} RAM (minimum {})",
        o.size_signed(budget.headroom),
        o.size(budget.ram),
        o.size(budget.min_headroom)
    );
    if budget.within_budget {
        format!("WITHIN BUDGET: {figures}")
    } else {
        format!(
            "OVER BUDGET: {} rule(s) failed; {figures}",
            budget.failed().count()
        )
    }
}

/// The budget table: every line item with its parts indented by `indent`, then the total
/// demand and the headroom. `detailed_source` adds the files behind each figure.
pub fn budget_section(
    b: &Budget,
    o: &ReportOptions,
    indent: &str,
    detailed_source: bool,
) -> Section {
    let mut s = Section::new("Budget").table(
        &["budget item", "size", "share", "source"],
        &[false, true, true, false],
    );
    let source = |item: &crate::budget::LineItem| {
        let provenance = format!("{:?}", item.provenance).to_lowercase();
        if detailed_source && !item.files.is_empty() {
            format!("{provenance}: {}", item.files.join(", "))
        } else {
            provenance
        }
    };
    for item in &b.items {
        s.rows.push(vec![
            item.label.clone(),
            o.size(item.bytes),
            share(item.bytes as i64, b.ram),
            source(item),
        ]);
        for part in &item.parts {
            s.rows.push(vec![
                format!("{indent}{}", part.label),
                o.size(part.bytes),
                share(part.bytes as i64, b.ram),
                source(part),
            ]);
        }
    }
    s.rows.push(vec![
        "total demand".into(),
        o.size(b.demand),
        share(b.demand as i64, b.ram),
        String::new(),
    ]);
    s.rows.push(vec![
        "headroom".into(),
        o.size_signed(b.headroom),
        share(b.headroom, b.ram),
        "derived".into(),
    ]);
    for item in b.items.iter().filter(|i| i.note.is_some()) {
        s.notes.push(format!(
            "note ({}): {}",
            item.key,
            item.note.as_deref().unwrap_or("")
        ));
    }
    if b.device_mapped > 0 {
        s.notes.push(format!(
            "device/carve-out memory mapped by processes (not counted as RAM): {}",
            o.size(b.device_mapped)
        ));
    }
    s
}

pub fn processes_section(b: &Budget, o: &ReportOptions) -> Section {
    let mut headers = vec!["pid", "name", "thr", "private"];
    headers.extend(PROCESS_COLUMNS.iter().map(|c| c.name()));
    headers.push("rss");
    headers.push("pss");
    let mut right = vec![true, false, true, true];
    right.extend(std::iter::repeat_n(true, PROCESS_COLUMNS.len() + 2));
    let mut s = Section::new(format!(
        "Top processes by private {} (of {})",
        b.measure.name(),
        b.accounting.processes.len()
    ))
    .table(&headers, &right);
    for p in b.accounting.processes.iter().take(o.top) {
        let mut row = vec![
            p.pid.to_string(),
            p.name.clone(),
            p.threads.to_string(),
            o.size(p.demand),
        ];
        row.extend(
            PROCESS_COLUMNS
                .iter()
                .map(|c| o.size(p.class(*c).virtual_size)),
        );
        let total_rss = p.private.rss.zip(p.shared.rss).map(|(a, b)| a + b);
        let total_pss = p.private.pss.zip(p.shared.pss).map(|(a, b)| a + b);
        row.push(total_rss.map_or("-".into(), |v| o.size(v)));
        row.push(total_pss.map_or("-".into(), |v| o.size(v)));
        s.rows.push(row);
    }
    s
}

pub fn classes_section(b: &Budget, o: &ReportOptions) -> Section {
    let mut s = Section::new("By class (system-wide, shared counted once)").table(
        &["class", "virtual", "rss", "pss", "mappings"],
        &[false, true, true, true, true],
    );
    for (class, f) in &b.accounting.class_totals {
        s.rows.push(vec![
            class.name().into(),
            o.size(f.virtual_size),
            f.rss.map_or("-".into(), |v| o.size(v)),
            f.pss.map_or("-".into(), |v| o.size(v)),
            f.mappings.to_string(),
        ]);
    }
    s
}

pub fn reconciliation_section(b: &Budget, o: &ReportOptions) -> Option<Section> {
    let r = b.reconciliation.as_ref()?;
    let mut s = Section::new("Reconciliation (RAM -> boot line -> MemTotal)")
        .table(&["step", "size"], &[false, true]);
    for (label, bytes) in &r.rows {
        s.rows.push(vec![label.clone(), o.size_signed(*bytes)]);
    }
    s.rows.push(vec![
        "expected MemTotal".into(),
        o.size(r.expected_mem_total),
    ]);
    s.rows.push(vec!["MemTotal".into(), o.size(r.mem_total)]);
    s.rows.push(vec![
        format!("gap{}", if r.flagged { " (FLAGGED)" } else { "" }),
        o.size_signed(r.gap),
    ]);
    Some(s)
}

/// The dynamic reconciliation: MemTotal = free + reclaimable + rows in use + unattributed,
/// with Shmem's parts under its row and what the kernel says about the unattributed rest.
pub fn dynamic_section(b: &Budget, o: &ReportOptions, indent: &str) -> Option<Section> {
    let d = b.dynamic.as_ref()?;
    let mut s = Section::new("Dynamic reconciliation (MemTotal -> free, cache, in use)").table(
        &["memory", "size", "share", "counts as", "source"],
        &[false, true, true, false, false],
    );
    let mut row = |label: String, bytes: i64, counts: String, source: &str| {
        s.rows.push(vec![
            label,
            o.size_signed(bytes),
            share(bytes, d.mem_total),
            counts,
            source.to_string(),
        ]);
    };
    for r in &d.rows {
        let counts = match (r.role, &r.line_item) {
            (Role::Free, _) => "free".to_string(),
            (Role::Reclaimable, _) => "reclaimable".to_string(),
            (Role::InUse, Some(item)) => format!("in use: {item}"),
            (Role::InUse, None) => "in use".to_string(),
        };
        row(r.label.clone(), signed(r.bytes), counts, &r.source);
        if r.key == "Shmem" {
            for (label, bytes, source) in shmem_parts(b) {
                row(
                    format!("{indent}{label}"),
                    signed(bytes),
                    String::new(),
                    source,
                );
            }
        }
    }
    let flag = if d.flagged { " (FLAGGED)" } else { "" };
    row(
        format!("unattributed{flag}"),
        d.unattributed,
        "in use: unattributed".into(),
        "MemTotal - the rows above",
    );
    for p in &d.counted {
        row(
            format!("{indent}{}", p.label),
            signed(p.bytes),
            String::new(),
            &p.source,
        );
    }
    row(
        format!("{indent}explained by no counter"),
        d.unexplained,
        String::new(),
        "derived",
    );
    for h in &d.hints {
        row(
            format!("{indent}may explain: {}", h.label),
            signed(h.bytes),
            String::new(),
            &h.source,
        );
    }
    row(
        "MemTotal".into(),
        signed(d.mem_total),
        String::new(),
        "meminfo MemTotal",
    );
    s.notes.push(format!(
        "unattributed memory explained by no counter is flagged above {} (3% of MemTotal, at least 1 MiB)",
        o.size(d.tolerance)
    ));
    s.notes.extend(d.notes.iter().cloned());
    Some(s)
}

fn signed(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}

/// Shmem's parts as the budget counts them, each once.
fn shmem_parts(b: &Budget) -> Vec<(String, u64, &'static str)> {
    let sh = &b.shmem;
    let mut parts = vec![
        ("files on tmpfs".to_string(), sh.tmpfs_files, "df, du"),
        (
            format!(
                "shared anonymous memory ({})",
                if sh.shared_anon_resident {
                    "resident"
                } else {
                    "virtual, an upper bound"
                }
            ),
            sh.shared_anon,
            "proc/<pid>/maps, smaps",
        ),
    ];
    for object in &sh.objects {
        parts.push((
            format!("{}: {}", object.kind.name(), object.name),
            object.resident.unwrap_or(object.virtual_size),
            "proc/<pid>/maps, proc/sysvipc/shm",
        ));
    }
    parts.push(("rest".into(), sh.remainder.unwrap_or(0), "derived"));
    if sh.ramfs_files > 0 {
        parts.push(("(not Shmem) files on ramfs".into(), sh.ramfs_files, "du"));
    }
    parts
}

/// Findings failed first, then warnings, then passes; each group in the budget's order.
pub fn findings_in_order(b: &Budget) -> Vec<&Finding> {
    let rank = |s: Status| match s {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Pass => 2,
    };
    let mut findings: Vec<&Finding> = b.findings.iter().collect();
    findings.sort_by_key(|f| rank(f.status));
    findings
}

pub fn findings_section(b: &Budget) -> Section {
    let mut s = Section::new("Findings").table(
        &["status", "rule", "subject", "finding"],
        &[false, false, false, false],
    );
    for f in findings_in_order(b) {
        s.rows.push(vec![
            status_word(f.status).into(),
            f.rule.clone(),
            f.subject.clone(),
            f.message.clone(),
        ]);
    }
    s
}

/// The heading section: what was measured against what, and the verdict.
pub fn heading_section(b: &Budget, o: &ReportOptions) -> Section {
    let mut s = Section::new(format!("membudget report: {}", b.origin));
    s.paragraphs.push(verdict_line(b, o));
    s.paragraphs
        .push(format!("Profile: {} ({}).", b.profile, b.profile_source));
    if let Some(host) = b.meta.get("host") {
        s.paragraphs.push(format!(
            "Host: {host}, captured: {}.",
            b.meta.get("time").map_or("?", |t| t.as_str())
        ));
    }
    s.paragraphs.push(format!(
        "RAM: {} ({}: {}). Measure: {}.",
        o.size(b.ram),
        format!("{:?}", b.ram_provenance).to_lowercase(),
        b.ram_note,
        b.measure.name()
    ));
    s
}

/// Skipped processes and warnings, when there are any.
pub fn issue_sections(b: &Budget) -> Vec<Section> {
    let mut out = Vec::new();
    if !b.skipped.is_empty() {
        let mut s = Section::new(format!("Skipped processes ({})", b.skipped.len()));
        s.paragraphs = b
            .skipped
            .iter()
            .map(|k| format!("pid {}: {}", k.pid, k.reason))
            .collect();
        out.push(s);
    }
    if !b.warnings.is_empty() {
        let mut s = Section::new(format!("Warnings ({})", b.warnings.len()));
        s.paragraphs = b.warnings.iter().map(|w| w.to_string()).collect();
        out.push(s);
    }
    out
}

/// The whole report as sections (Markdown and HTML lay these out).
pub fn report_sections(b: &Budget, o: &ReportOptions, indent: &str) -> Vec<Section> {
    let mut out = vec![
        heading_section(b, o),
        budget_section(b, o, indent, true),
        processes_section(b, o),
        classes_section(b, o),
    ];
    out.extend(super::groups::groups_section(b, o, indent));
    out.extend(reconciliation_section(b, o));
    out.extend(dynamic_section(b, o, indent));
    out.push(findings_section(b));
    out.extend(issue_sections(b));
    out
}

pub fn diff_verdict(d: &Diff, o: &ReportOptions) -> String {
    let growth = format!(
        "demand {} ({} -> {}), headroom {} ({} -> {})",
        o.size_signed(d.demand_delta),
        o.size(d.old.demand),
        o.size(d.new.demand),
        o.size_signed(d.headroom_delta),
        o.size_signed(d.old.headroom),
        o.size_signed(d.new.headroom)
    );
    match d.allowed_growth {
        Some(allowed) if d.exceeded => {
            format!(
                "GROWTH ABOVE LIMIT: {growth}; allowed growth {}",
                o.size(allowed)
            )
        }
        Some(allowed) => format!(
            "GROWTH WITHIN LIMIT: {growth}; allowed growth {}",
            o.size(allowed)
        ),
        None => format!("CHANGE: {growth}"),
    }
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Changed => "changed",
        Change::Unchanged => "unchanged",
        Change::Appeared => "appeared",
        Change::Gone => "gone",
    }
}

fn pid(p: Option<u32>) -> String {
    p.map_or("-".into(), |p| p.to_string())
}

/// A table of figures on both sides: label, old, new, delta.
fn delta_section(title: &str, what: &str, deltas: &[Delta], o: &ReportOptions) -> Section {
    let mut s =
        Section::new(title).table(&[what, "old", "new", "delta"], &[false, true, true, true]);
    for d in deltas {
        s.rows.push(vec![
            d.label.clone(),
            o.size(d.old),
            o.size(d.new),
            o.size_signed(d.delta),
        ]);
    }
    s
}

/// The diff as sections: summary, budget items, processes (largest change first), classes.
pub fn diff_sections(d: &Diff, o: &ReportOptions) -> Vec<Section> {
    let mut summary = Section::new(format!(
        "membudget diff: {} -> {}",
        d.old.origin, d.new.origin
    ));
    summary.paragraphs.push(diff_verdict(d, o));
    summary.paragraphs.push(format!(
        "Profile: {}, measure {}. Processes: {} -> {} ({} appeared, {} gone).",
        d.profile,
        d.measure.name(),
        d.old.processes,
        d.new.processes,
        d.appeared().count(),
        d.gone().count()
    ));
    let mut out = vec![summary];

    let mut items = delta_section("Budget items", "budget item", &d.items, o);
    items.rows.push(vec![
        "total demand".into(),
        o.size(d.old.demand),
        o.size(d.new.demand),
        o.size_signed(d.demand_delta),
    ]);
    items.rows.push(vec![
        "headroom".into(),
        o.size_signed(d.old.headroom),
        o.size_signed(d.new.headroom),
        o.size_signed(d.headroom_delta),
    ]);
    out.push(items);

    let changed: Vec<_> = d
        .processes
        .iter()
        .filter(|p| p.change != Change::Unchanged)
        .collect();
    let mut processes = Section::new(format!(
        "Processes by private {}, largest change first",
        d.measure.name()
    ))
    .table(
        &[
            "name", "old pid", "new pid", "change", "old", "new", "delta", "by class",
        ],
        &[false, true, true, false, true, true, true, false],
    );
    for p in changed.iter().take(o.top) {
        let classes: Vec<String> = p
            .classes
            .iter()
            .map(|(c, delta)| format!("{} {}", c.name(), o.size_signed(*delta)))
            .collect();
        processes.rows.push(vec![
            p.name.clone(),
            pid(p.old_pid),
            pid(p.new_pid),
            change_word(p.change).into(),
            o.size(p.old),
            o.size(p.new),
            o.size_signed(p.delta),
            classes.join(", "),
        ]);
    }
    if changed.len() > o.top {
        processes.notes.push(format!(
            "{} more changed processes not listed (--top).",
            changed.len() - o.top
        ));
    }
    processes.notes.push(format!(
        "{} processes unchanged.",
        d.processes.len() - changed.len()
    ));
    out.push(processes);

    out.push(delta_section(
        "Classes (system-wide virtual, shared counted once)",
        "class",
        &d.classes,
        o,
    ));
    out
}
