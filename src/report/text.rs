//! The terminal report: the budget table, top processes by class, findings, warnings.

use super::table::Table;
use super::{ReportOptions, Reporter};
use crate::account::classify::Class;
use crate::budget::{Budget, Status};
use std::fmt::Write;

pub struct TextReporter;

/// Classes shown as columns of the process table, in order.
pub const PROCESS_COLUMNS: [Class; 6] = [
    Class::Heap,
    Class::Stack,
    Class::ThreadStack,
    Class::Data,
    Class::Anon,
    Class::Code,
];

fn share(bytes: i64, ram: u64) -> String {
    format!("{:.1}%", bytes as f64 * 100.0 / ram.max(1) as f64)
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Warn => "WARN",
    }
}

pub fn verdict_line(budget: &Budget, o: &ReportOptions) -> String {
    let failed = budget.failed().count();
    if budget.within_budget {
        format!(
            "WITHIN BUDGET: headroom {} of {} RAM (minimum {})",
            o.size_signed(budget.headroom),
            o.size(budget.ram),
            o.size(budget.min_headroom)
        )
    } else {
        format!(
            "OVER BUDGET: {failed} rule(s) failed; headroom {} of {} RAM (minimum {})",
            o.size_signed(budget.headroom),
            o.size(budget.ram),
            o.size(budget.min_headroom)
        )
    }
}

fn findings(budget: &Budget, out: &mut String) {
    let _ = writeln!(out, "\nFindings");
    for f in &budget.findings {
        let _ = writeln!(
            out,
            "  {}  {:<14} {}",
            status_word(f.status),
            f.rule,
            f.message
        );
    }
}

impl Reporter for TextReporter {
    fn report(&self, b: &Budget, o: &ReportOptions) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "membudget report: {}", b.origin);
        let _ = writeln!(out, "profile: {} ({})", b.profile, b.profile_source);
        if let Some(host) = b.meta.get("host") {
            let _ = writeln!(
                out,
                "host: {host}  captured: {}",
                b.meta.get("time").map_or("?", |s| s.as_str())
            );
        }
        let _ = writeln!(
            out,
            "RAM: {} ({:?}: {})",
            o.size(b.ram),
            b.ram_provenance,
            b.ram_note
        );
        if !b.kernel_memory_params.is_empty() {
            let params: Vec<String> = b
                .kernel_memory_params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(out, "kernel memory parameters: {}", params.join(" "));
        }
        let _ = writeln!(out, "measure: {}\n", b.measure.name());

        let mut t = Table::new(
            &["budget item", "size", "share", "source"],
            &[false, true, true, false],
        );
        for item in &b.items {
            t.row(vec![
                item.label.clone(),
                o.size(item.bytes),
                share(item.bytes as i64, b.ram),
                format!("{:?}", item.provenance).to_lowercase(),
            ]);
            for part in &item.parts {
                t.row(vec![
                    format!("  {}", part.label),
                    o.size(part.bytes),
                    share(part.bytes as i64, b.ram),
                    format!("{:?}", part.provenance).to_lowercase(),
                ]);
            }
        }
        t.row(vec![
            "total demand".into(),
            o.size(b.demand),
            share(b.demand as i64, b.ram),
            String::new(),
        ]);
        t.row(vec![
            "headroom".into(),
            o.size_signed(b.headroom),
            share(b.headroom, b.ram),
            "derived".into(),
        ]);
        out.push_str(&t.render());
        for item in b.items.iter().filter(|i| i.note.is_some()) {
            let _ = writeln!(
                out,
                "note ({}): {}",
                item.key,
                item.note.as_deref().unwrap_or("")
            );
        }
        if b.device_mapped > 0 {
            let _ = writeln!(
                out,
                "device/carve-out memory mapped by processes (not counted as RAM): {}",
                o.size(b.device_mapped)
            );
        }

        let _ = writeln!(
            out,
            "\nTop processes by private {} (of {})",
            b.measure.name(),
            b.accounting.processes.len()
        );
        let mut headers = vec!["pid", "name", "thr", "private"];
        headers.extend(PROCESS_COLUMNS.iter().map(|c| c.name()));
        headers.push("rss");
        headers.push("pss");
        let mut right = vec![true, false, true, true];
        right.extend(std::iter::repeat_n(true, PROCESS_COLUMNS.len() + 2));
        let mut t = Table::new(&headers, &right);
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
            t.row(row);
        }
        out.push_str(&t.render());

        let _ = writeln!(out, "\nBy class (system-wide, shared counted once)");
        let mut t = Table::new(
            &["class", "virtual", "rss", "pss", "mappings"],
            &[false, true, true, true, true],
        );
        for (class, f) in &b.accounting.class_totals {
            t.row(vec![
                class.name().into(),
                o.size(f.virtual_size),
                f.rss.map_or("-".into(), |v| o.size(v)),
                f.pss.map_or("-".into(), |v| o.size(v)),
                f.mappings.to_string(),
            ]);
        }
        out.push_str(&t.render());

        if let Some(r) = &b.reconciliation {
            let _ = writeln!(out, "\nReconciliation (RAM -> boot line -> MemTotal)");
            let mut t = Table::new(&["step", "size"], &[false, true]);
            for (label, bytes) in &r.rows {
                t.row(vec![label.clone(), o.size_signed(*bytes)]);
            }
            t.row(vec![
                "expected MemTotal".into(),
                o.size(r.expected_mem_total),
            ]);
            t.row(vec!["MemTotal".into(), o.size(r.mem_total)]);
            t.row(vec![
                format!("gap{}", if r.flagged { " (FLAGGED)" } else { "" }),
                o.size_signed(r.gap),
            ]);
            out.push_str(&t.render());
        }

        findings(b, &mut out);
        if !b.skipped.is_empty() {
            let _ = writeln!(out, "\nSkipped processes ({})", b.skipped.len());
            for s in &b.skipped {
                let _ = writeln!(out, "  pid {}: {}", s.pid, s.reason);
            }
        }
        if !b.warnings.is_empty() {
            let _ = writeln!(out, "\nWarnings ({})", b.warnings.len());
            for w in &b.warnings {
                let _ = writeln!(out, "  {w}");
            }
        }
        let _ = writeln!(out, "\n{}", verdict_line(b, o));
        out
    }

    fn check(&self, b: &Budget, o: &ReportOptions) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", verdict_line(b, o));
        findings(b, &mut out);
        out
    }
}
