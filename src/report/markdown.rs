//! Markdown for a merge-request comment: verdict first, then the budget table, the top
//! processes by class, the findings (failures first); stable order, no timestamps of now.

use super::document;
use super::sections;
use super::{ReportOptions, Reporter};
use crate::budget::Budget;
use crate::diff::Diff;

pub struct MarkdownReporter;

impl Reporter for MarkdownReporter {
    fn report(&self, b: &Budget, o: &ReportOptions) -> String {
        // Markdown collapses leading spaces in a cell, so parts are marked with an arrow.
        document::markdown(&sections::report_sections(b, o, "↳ "))
    }

    fn diff(&self, d: &Diff, o: &ReportOptions) -> String {
        document::markdown(&sections::diff_sections(d, o))
    }
}
