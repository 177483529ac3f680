//! The terminal report: the budget table, top processes by class, findings, warnings.

use super::document::{self, terminal, Section};
use super::sections::{self, finding_text, status_word, verdict_line};
use super::{ReportOptions, Reporter};
use crate::budget::Budget;
use crate::diff::Diff;
use std::fmt::Write;

pub struct TextReporter;

fn findings(budget: &Budget, o: &ReportOptions, out: &mut String) {
    let _ = writeln!(out, "\nFindings");
    for f in &budget.findings {
        let _ = writeln!(
            out,
            "  {}  {:<17} {}",
            status_word(f.status),
            terminal(&f.rule),
            terminal(&finding_text(f, o))
        );
    }
}

/// The `--allow-incomplete` banner, first of all, when there is one.
fn banner(b: &Budget) -> String {
    b.banner
        .as_ref()
        .map_or(String::new(), |banner| format!("{}\n\n", terminal(banner)))
}

/// A titled table in the terminal layout: a blank line, the title, the table, its notes.
fn titled(section: &Section, out: &mut String) {
    let _ = writeln!(out, "\n{}", terminal(&section.title));
    out.push_str(&document::text_table(section));
    for note in &section.notes {
        let _ = writeln!(out, "{}", terminal(note));
    }
}

impl Reporter for TextReporter {
    fn report(&self, b: &Budget, o: &ReportOptions) -> String {
        let mut out = banner(b);
        let _ = writeln!(out, "membudget report: {}", terminal(&b.origin));
        let _ = writeln!(out, "profile: {}", terminal(&sections::profile_line(b)));
        if let Some(host) = b.meta.get("host") {
            let _ = writeln!(
                out,
                "host: {}  captured: {}",
                terminal(host),
                terminal(&sections::captured(b).unwrap_or_else(|| "?".into()))
            );
        }
        let _ = writeln!(out, "{}", terminal(&sections::ram_line(b, o)));
        if !b.kernel_memory_params.is_empty() {
            let params: Vec<String> = b
                .kernel_memory_params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(
                out,
                "kernel memory parameters: {}",
                terminal(&params.join(" "))
            );
        }
        let _ = writeln!(out, "measure: {}\n", b.measure.name());

        let budget = sections::budget_section(b, o, "  ", false);
        out.push_str(&document::text_table(&budget));
        for note in &budget.notes {
            let _ = writeln!(out, "{}", terminal(note));
        }
        for section in sections::detail_sections(b, o, "  ") {
            titled(&section, &mut out);
        }

        findings(b, o, &mut out);
        if !b.skipped.is_empty() {
            let _ = writeln!(out, "\nSkipped processes ({})", b.skipped.len());
            for s in &b.skipped {
                let _ = writeln!(out, "  pid {}: {}", s.pid, terminal(&s.reason));
            }
        }
        if !b.warnings.is_empty() {
            let _ = writeln!(out, "\nWarnings ({})", b.warnings.len());
            for w in &b.warnings {
                let _ = writeln!(out, "  {}", terminal(&w.to_string()));
            }
        }
        let _ = writeln!(out, "\n{}", terminal(&verdict_line(b, o)));
        out
    }

    fn check(&self, b: &Budget, o: &ReportOptions) -> String {
        let mut out = banner(b);
        let _ = writeln!(out, "{}", terminal(&verdict_line(b, o)));
        let _ = writeln!(out, "profile: {}", terminal(&sections::profile_line(b)));
        findings(b, o, &mut out);
        out
    }

    fn diff(&self, d: &Diff, o: &ReportOptions) -> String {
        document::text(&sections::diff_sections(d, o))
    }
}
