//! JSON for pipelines: the budget (or diff) as it is, every figure in bytes, under a
//! `schema_version` so that consumers can tell when the shape changes. Documented in
//! docs/reports.md; docs/report.schema.json is the schema a test validates real output against.

use super::{ReportOptions, Reporter};
use crate::budget::Budget;
use crate::diff::Diff;
use serde::Serialize;

/// Bumped when a field is removed or changes meaning (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

pub struct JsonReporter;

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    schema_version: u32,
    /// `report`, `diff` or `trend`.
    kind: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

/// Any document for tools, under the common envelope (`schema_version`, `kind`).
pub fn to_json<T: Serialize>(kind: &'static str, body: &T) -> String {
    let envelope = Envelope {
        schema_version: SCHEMA_VERSION,
        kind,
        body,
    };
    let out = serde_json::to_string_pretty(&envelope).unwrap_or_else(|e| {
        // Plain structs of numbers and strings do not fail to serialize; should a future field
        // make it fail, say so in JSON rather than panic.
        format!("{{\"error\": \"cannot serialize the {kind}: {e}\"}}")
    });
    let mut out = super::document::json_text(out);
    out.push('\n');
    out
}

impl Reporter for JsonReporter {
    fn report(&self, b: &Budget, _: &ReportOptions) -> String {
        to_json("report", b)
    }

    fn diff(&self, d: &Diff, _: &ReportOptions) -> String {
        to_json("diff", d)
    }
}
