//! The terminal report: the budget table, top processes by class, findings, warnings.

use super::document::{self, Section};
use super::sections::{self, status_word, verdict_line};
use super::{ReportOptions, Reporter};
use crate::budget::Budget;
use crate::diff::Diff;
use std::fmt::Write;

pub struct TextReporter;

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

/// A titled table in the terminal layout: a blank line, the title, the table, its notes.
fn titled(section: &Section, out: &mut String) {
    let _ = writeln!(out, "\n{}", section.title);
    out.push_str(&document::text_table(section));
    for note in &section.notes {
        let _ = writeln!(out, "{note}");
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

        let budget = sections::budget_section(b, o, "  ", false);
        out.push_str(&document::text_table(&budget));
        for note in &budget.notes {
            let _ = writeln!(out, "{note}");
        }
        titled(&sections::processes_section(b, o), &mut out);
        titled(&sections::classes_section(b, o), &mut out);
        if let Some(g) = super::groups::groups_section(b, o, "  ") {
            titled(&g, &mut out);
        }
        if let Some(r) = sections::reconciliation_section(b, o) {
            titled(&r, &mut out);
        }
        if let Some(d) = sections::dynamic_section(b, o, "  ") {
            titled(&d, &mut out);
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

    fn diff(&self, d: &Diff, o: &ReportOptions) -> String {
        document::text(&sections::diff_sections(d, o))
    }
}
