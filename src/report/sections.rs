//! The content of a budget report and of a diff as [`Section`]s: every format lays these out
//! (text, Markdown, HTML) or reuses their rows, so no format builds a table of its own.

use super::document::Section;
use super::ReportOptions;
use crate::account::classify::Class;
use crate::account::dynamic::Role;
use crate::budget::{Budget, Finding, Status, Verdict};
use crate::diff::{Change, Delta, Diff};

/// The private classes, in the order of the process table's columns and the chart's
/// segments: in the budget's measure they add up to a process's private demand.
pub const PRIVATE_CLASSES: [Class; 5] = [
    Class::Heap,
    Class::Stack,
    Class::ThreadStack,
    Class::Data,
    Class::Anon,
];

pub fn share(bytes: i64, ram: u64) -> String {
    format!("{:.1}%", bytes as f64 * 100.0 / ram.max(1) as f64)
}

pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
        Status::Inconclusive => "INCONCLUSIVE",
    }
}

/// A line item's size, or "unknown" (never a 0 that was not measured).
pub fn item_size(bytes: Option<u64>, o: &ReportOptions) -> String {
    bytes.map_or("unknown".into(), |b| o.size(b))
}

/// A finding's message with its remedy, when it has one.
/// A finding's message (exact bytes under `--bytes`) and its remedy, if any.
pub fn finding_text(f: &Finding, o: &ReportOptions) -> String {
    let message = finding_message(f, o);
    match &f.remedy {
        Some(remedy) => format!("{message}. Remedy: {remedy}"),
        None => message,
    }
}

pub fn verdict_line(budget: &Budget, o: &ReportOptions) -> String {
    let bound = if budget.demand_incomplete {
        " at most"
    } else {
        ""
    };
    let figures = format!(
        "headroom{bound} {} of {} RAM (minimum {})",
        o.size_signed(budget.headroom),
        o.size(budget.ram),
        o.size(budget.min_headroom)
    );
    match budget.verdict {
        Verdict::WithinBudget => format!("WITHIN BUDGET: {figures}"),
        Verdict::OverBudget => format!(
            "OVER BUDGET: {} rule(s) failed; {figures}",
            budget.failed().count()
        ),
        Verdict::Inconclusive => {
            let reasons: Vec<String> = budget
                .inconclusive()
                .map(|f| match &f.remedy {
                    Some(remedy) => format!("{} (remedy: {remedy})", f.subject),
                    None => f.subject.clone(),
                })
                .collect();
            format!(
                "INCONCLUSIVE: the evidence cannot carry a verdict: {}; {figures} on what is known (--allow-incomplete budgets it)",
                reasons.join("; ")
            )
        }
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
            item_size(item.bytes, o),
            item_share(item.bytes, b.ram),
            source(item),
        ]);
        for part in &item.parts {
            s.rows.push(vec![
                format!("{indent}{}", part.label),
                item_size(part.bytes, o),
                item_share(part.bytes, b.ram),
                source(part),
            ]);
        }
    }
    s.rows.push(vec![
        if b.demand_incomplete {
            "total demand (known items: a lower bound)".into()
        } else {
            "total demand".into()
        },
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

fn item_share(bytes: Option<u64>, ram: u64) -> String {
    bytes.map_or("-".into(), |b| share(b as i64, ram))
}

/// A column header that names its measure, short enough for a terminal: `heap pss`,
/// `heap virt`.
pub fn measured(what: &str, measure: crate::account::Measure) -> String {
    let m = match measure {
        crate::account::Measure::Virtual => "virt",
        other => other.name(),
    };
    format!("{what} {m}")
}

/// `1 more process`, `3 more processes`.
pub fn more_processes(count: usize) -> String {
    let plural = if count == 1 { "process" } else { "processes" };
    format!("{count} more {plural} not listed (--top).")
}

/// The processes' private memory per class and the code they map, every size in the budget's
/// measure (named in each header); rss and pss of everything they map when smaps exist; the
/// measure each process was counted in, and its peak.
pub fn processes_section(b: &Budget, o: &ReportOptions) -> Option<Section> {
    if o.top == 0 {
        return None;
    }
    let m = b.measure;
    let mut headers = vec!["pid".to_string(), "name".into(), "thr".into()];
    headers.push(measured("private", m));
    headers.push("by".into());
    headers.extend(PRIVATE_CLASSES.iter().map(|c| measured(c.name(), m)));
    headers.push(measured("code", m));
    headers.push("rss".into());
    headers.push("pss".into());
    headers.push("peak (VmHWM)".into());
    let mut right = vec![true, false, true, true, false];
    right.extend(std::iter::repeat_n(true, PRIVATE_CLASSES.len() + 4));
    let total = b.accounting.processes.len();
    let title = if o.top < total {
        format!(
            "Top {} processes by private {} (of {total})",
            o.top,
            m.name()
        )
    } else {
        format!("Processes by private {} ({total})", m.name())
    };
    let mut s = Section::new(title);
    s.headers = headers;
    s.right = right;
    for p in b.accounting.processes.iter().take(o.top) {
        let mut row = vec![
            p.pid.to_string(),
            p.name.clone(),
            p.threads.to_string(),
            o.size(p.demand),
            p.measure_used.name().into(),
        ];
        row.extend(PRIVATE_CLASSES.iter().map(|c| o.size(p.in_measure(*c, m))));
        row.push(o.size(p.in_measure(Class::Code, m)));
        let total_rss = p.private.rss.zip(p.shared.rss).map(|(a, b)| a + b);
        let total_pss = p.private.pss.zip(p.shared.pss).map(|(a, b)| a + b);
        row.push(total_rss.map_or("-".into(), |v| o.size(v)));
        row.push(total_pss.map_or("-".into(), |v| o.size(v)));
        row.push(p.vm_hwm.map_or("-".into(), |v| o.size(v)));
        s.rows.push(row);
    }
    if o.top < total {
        s.notes.push(more_processes(total - o.top));
    }
    s.notes.push(format!(
        "virt = virtual size. {}: the code a process maps, shared and counted once system-wide (By class), not in its private figure. rss, pss: everything it maps.",
        measured("code", m)
    ));
    s.notes.push(format!(
        "by: the measure each process is counted in ({} wanted; fallback pss -> rss -> virtual). peak: VmHWM, the most it has held resident.",
        b.measure.name()
    ));
    Some(s)
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
    let above: Vec<&str> = b
        .accounting
        .class_totals
        .iter()
        .filter(|(c, f)| {
            c.counting() == crate::account::classify::Counting::Shared
                && f.rss.is_some_and(|rss| rss > f.virtual_size)
        })
        .map(|(c, _)| c.name())
        .collect();
    if !above.is_empty() {
        s.notes.push(format!(
            "rss above virtual ({}): virtual counts each file range once, while the pages every process relocated or wrote in it (RELRO, copy-on-write) are its own copy and count per process in rss (docs/accounting.md).",
            above.join(", ")
        ));
    }
    s
}

/// `[[variant]]`: every board variant in one table, projected from the capture.
pub fn variants_section(b: &Budget, o: &ReportOptions) -> Option<Section> {
    if b.variants.is_empty() {
        return None;
    }
    let mut s = Section::new("Board variants (what-if, projected from this capture)").table(
        &[
            "variant",
            "RAM",
            "carve-outs",
            "MemTotal",
            "demand",
            "headroom",
            "fits",
        ],
        &[false, true, true, true, true, true, false],
    );
    for v in &b.variants {
        let bound = if v.demand_incomplete { "at least " } else { "" };
        s.rows.push(vec![
            v.name.clone(),
            o.size(v.ram),
            o.size(v.carveouts),
            v.mem_total.map_or("unknown".into(), |m| o.size(m)),
            format!("{bound}{}", o.size(v.demand)),
            o.size_signed(v.headroom),
            match v.verdict {
                Verdict::WithinBudget => "fits".into(),
                Verdict::OverBudget => "does not fit".into(),
                Verdict::Inconclusive => "inconclusive (unknown items)".into(),
            },
        ]);
    }
    s.notes.push("Kernel static, MemTotal and min_free of each variant are a model's (docs/accounting.md, What-if); user space is this capture's. \"fits\" is the variant's verdict under this profile's rules, headroom minimum included; it does not change this report's verdict.".into());
    Some(s)
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
        Status::Inconclusive => 1,
        Status::Warn => 2,
        Status::Pass => 3,
    };
    let mut findings: Vec<&Finding> = b.findings.iter().collect();
    findings.sort_by_key(|f| rank(f.status));
    findings
}

/// A finding's message in the report's units: with `--bytes`, the human sizes of its actual
/// and limit figures (which the budget wrote with `size::human`) become exact byte counts.
pub fn finding_message(f: &Finding, o: &ReportOptions) -> String {
    let mut message = f.message.clone();
    if o.exact_bytes {
        for value in [f.actual, f.limit].into_iter().flatten() {
            message = message.replace(&crate::size::human_signed(value), &value.to_string());
        }
    }
    message
}

pub fn findings_section(b: &Budget, o: &ReportOptions) -> Section {
    let mut s = Section::new("Findings").table(
        &["status", "rule", "subject", "finding"],
        &[false, false, false, false],
    );
    for f in findings_in_order(b) {
        s.rows.push(vec![
            status_word(f.status).into(),
            f.rule.clone(),
            f.subject.clone(),
            finding_text(f, o),
        ]);
    }
    s
}

/// The snapshot's capture time as ISO 8601 UTC, when its meta has one.
pub fn captured(b: &Budget) -> Option<String> {
    b.meta.get("time").map(|t| crate::time::meta_time(t))
}

/// Where the RAM figure comes from, said once: `256 MiB, declared in budgets/x.toml`.
pub fn ram_line(b: &Budget, o: &ReportOptions) -> String {
    format!("RAM: {}, {}.", o.size(b.ram), b.ram_note)
}

/// The profile, its file and why it was used: `NAME (FILE; given with --profile)`.
pub fn profile_line(b: &Budget) -> String {
    if b.profile_chosen_by.is_empty() {
        format!("{} ({})", b.profile, b.profile_source)
    } else {
        format!(
            "{} ({}; {})",
            b.profile, b.profile_source, b.profile_chosen_by
        )
    }
}

/// ` (given with --profile)` after a profile's name; nothing when a library caller built the
/// profile without discovery.
pub fn chosen_by(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(" ({reason})")
    }
}

/// The heading section: what was measured against what, and the verdict.
pub fn heading_section(b: &Budget, o: &ReportOptions) -> Section {
    let mut s = Section::new(format!("membudget report: {}", b.origin));
    s.paragraphs.extend(b.banner.clone());
    s.paragraphs.push(verdict_line(b, o));
    s.paragraphs.push(format!("Profile: {}.", profile_line(b)));
    if let Some(host) = b.meta.get("host") {
        s.paragraphs.push(format!(
            "Host: {host}, captured: {}.",
            captured(b).unwrap_or_else(|| "?".into())
        ));
    }
    s.paragraphs
        .push(format!("{} Measure: {}.", ram_line(b, o), b.measure.name()));
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
    let mut out = vec![heading_section(b, o), budget_section(b, o, indent, true)];
    out.extend(detail_sections(b, o, indent));
    out.push(findings_section(b, o));
    out.extend(issue_sections(b));
    out
}

/// The tables between the budget and the findings, in the order every format shows them:
/// processes, classes, groups, variants, the two reconciliations. The terminal layout prints
/// its heading, budget and findings its own way, and these the same as every other format.
pub fn detail_sections(b: &Budget, o: &ReportOptions, indent: &str) -> Vec<Section> {
    let mut out = Vec::new();
    out.extend(processes_section(b, o));
    out.push(classes_section(b, o));
    out.extend(super::groups::groups_section(b, o, indent));
    out.extend(variants_section(b, o));
    out.extend(reconciliation_section(b, o));
    out.extend(dynamic_section(b, o, indent));
    out
}

pub fn diff_verdict(d: &Diff, o: &ReportOptions) -> String {
    let growth = format!(
        "demand {} ({} -> {}), headroom {} ({} -> {})",
        o.size_delta(d.demand_delta),
        o.size(d.old.demand),
        o.size(d.new.demand),
        o.size_delta(d.headroom_delta),
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

pub fn change_word(change: Change) -> &'static str {
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
            o.size_delta(d.delta),
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
        "Profile: {}{}, measure {}. Processes: {} -> {} ({} appeared, {} gone).",
        d.profile,
        chosen_by(&d.profile_chosen_by),
        d.measure.name(),
        d.old.processes,
        d.new.processes,
        d.appeared().count(),
        d.gone().count()
    ));
    for (which, side) in [("Old", &d.old), ("New", &d.new)] {
        summary.paragraphs.push(format!(
            "{which}: {}, host {}, captured {}.",
            side.origin,
            side.meta.get("host").map_or("?", String::as_str),
            side.meta
                .get("time")
                .map_or("?".into(), |t| crate::time::meta_time(t))
        ));
    }
    summary
        .paragraphs
        .extend(d.warnings.iter().map(|w| format!("WARNING: {w}")));
    let mut out = vec![summary];

    let mut items = delta_section("Budget items", "budget item", &d.items, o);
    items.rows.push(vec![
        "total demand".into(),
        o.size(d.old.demand),
        o.size(d.new.demand),
        o.size_delta(d.demand_delta),
    ]);
    items.rows.push(vec![
        "headroom".into(),
        o.size_signed(d.old.headroom),
        o.size_signed(d.new.headroom),
        o.size_delta(d.headroom_delta),
    ]);
    out.push(items);

    let changed: Vec<_> = d
        .processes
        .iter()
        .filter(|p| p.change != Change::Unchanged)
        .collect();
    let by_class = format!("by class ({})", d.measure.name());
    let mut processes = Section::new(format!(
        "Processes by private {}, largest change first",
        d.measure.name()
    ))
    .table(
        &[
            "name", "old pid", "new pid", "change", "old", "new", "delta", &by_class,
        ],
        &[false, true, true, false, true, true, true, false],
    );
    for p in changed.iter().take(o.top) {
        let classes: Vec<String> = p
            .classes
            .iter()
            .map(|(c, delta)| format!("{} {}", c.name(), o.size_delta(*delta)))
            .collect();
        processes.rows.push(vec![
            p.name.clone(),
            pid(p.old_pid),
            pid(p.new_pid),
            change_word(p.change).into(),
            o.size(p.old),
            o.size(p.new),
            o.size_delta(p.delta),
            classes.join(", "),
        ]);
    }
    if changed.len() > o.top {
        processes.notes.push(format!(
            "Changed: {}",
            more_processes(changed.len() - o.top)
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
