//! Reports: one format per file, all behind [`Reporter`], all reading the same [`Budget`].
//! No format computes anything: if a number is not in the budget, it is not in a report.

pub mod colours;
pub mod document;
pub mod groups;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sections;
pub mod table;
pub mod text;

use crate::budget::Budget;
use crate::diff::Diff;

/// Choices that apply to every format.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
    /// Exact byte counts instead of human sizes (text formats).
    pub exact_bytes: bool,
    /// How many processes the per-process table lists.
    pub top: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            exact_bytes: false,
            top: 15,
        }
    }
}

impl ReportOptions {
    pub fn size(&self, bytes: u64) -> String {
        if self.exact_bytes {
            bytes.to_string()
        } else {
            crate::size::human(bytes)
        }
    }

    pub fn size_signed(&self, bytes: i64) -> String {
        if self.exact_bytes {
            bytes.to_string()
        } else {
            crate::size::human_signed(bytes)
        }
    }

    /// A change, signed both ways (`+1 MiB`, `+1048576`).
    pub fn size_delta(&self, bytes: i64) -> String {
        match (self.exact_bytes, bytes > 0) {
            (true, true) => format!("+{bytes}"),
            (true, false) => bytes.to_string(),
            (false, _) => crate::size::human_delta(bytes),
        }
    }
}

pub trait Reporter {
    /// The full budget report for reviews.
    fn report(&self, budget: &Budget, options: &ReportOptions) -> String;

    /// What `check` prints: by default the same as the report.
    fn check(&self, budget: &Budget, options: &ReportOptions) -> String {
        self.report(budget, options)
    }

    /// What `diff` prints: the changes between two budgets of one board.
    fn diff(&self, diff: &Diff, options: &ReportOptions) -> String;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Markdown,
    Json,
    Junit,
    Html,
}

pub fn reporter(format: Format) -> Box<dyn Reporter> {
    match format {
        Format::Text => Box::new(text::TextReporter),
        Format::Markdown => Box::new(markdown::MarkdownReporter),
        Format::Json => Box::new(json::JsonReporter),
        Format::Junit => Box::new(junit::JunitReporter),
        Format::Html => Box::new(html::HtmlReporter),
    }
}
