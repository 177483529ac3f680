//! JUnit XML for GitLab and Jenkins: one test case per budget rule (RAM fit, headroom, each
//! process and class limit, each expected process), failures carrying the numbers.

use super::{ReportOptions, Reporter};
use crate::budget::{Budget, Status};
use crate::diff::Diff;
use std::fmt::Write;

pub struct JunitReporter;

/// One test case: a failure message makes it fail, an error message marks evidence that
/// cannot carry a verdict (INCONCLUSIVE), a skipped message marks a warning. Messages are for
/// people (human sizes); exact figures go in `properties` (`actual_bytes`, `limit_bytes`...),
/// where a tool reads them without parsing prose.
pub struct Case {
    pub class: String,
    /// Stable across runs (no pid); [`suites`] makes it unique within the file.
    pub name: String,
    pub failure: Option<String>,
    pub error: Option<String>,
    pub skipped: Option<String>,
    pub properties: Vec<(&'static str, String)>,
    /// Shown by CI tools under a passing case: what changed, in words.
    pub output: Option<String>,
}

impl Case {
    pub fn new(class: impl Into<String>, name: impl Into<String>) -> Case {
        Case {
            class: class.into(),
            name: name.into(),
            failure: None,
            error: None,
            skipped: None,
            properties: Vec::new(),
            output: None,
        }
    }
}

/// Text for XML content and attributes: the HTML escapes (valid XML too), and characters
/// XML 1.0 cannot carry at all (most control characters, which a process name can hold)
/// replaced by U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let allowed: String = text
        .chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect();
    super::document::html_escape(&allowed)
}

/// Case names unique within one file: a (class, name) seen before gets ` (2)`, ` (3)`... in
/// the order of the cases, which every format keeps stable (two limits matching one process
/// give two cases).
fn unique_names(cases: &[Case]) -> Vec<String> {
    let mut seen: std::collections::HashMap<(&str, &str), usize> = Default::default();
    cases
        .iter()
        .map(|c| {
            let count = seen.entry((&c.class, &c.name)).or_default();
            *count += 1;
            match *count {
                1 => c.name.clone(),
                n => format!("{} ({n})", c.name),
            }
        })
        .collect()
}

fn case_body(case: &Case) -> String {
    let mut body = String::new();
    if !case.properties.is_empty() {
        body.push_str("      <properties>\n");
        for (name, value) in &case.properties {
            let _ = writeln!(
                body,
                "        <property name=\"{name}\" value=\"{}\"/>",
                xml_escape(value)
            );
        }
        body.push_str("      </properties>\n");
    }
    if let Some(message) = &case.failure {
        let message = xml_escape(message);
        let _ = writeln!(
            body,
            "      <failure message=\"{message}\" type=\"budget\">{message}</failure>"
        );
    } else if let Some(message) = &case.error {
        let message = xml_escape(message);
        let _ = writeln!(
            body,
            "      <error message=\"{message}\" type=\"inconclusive\">{message}</error>"
        );
    } else if let Some(message) = &case.skipped {
        let _ = writeln!(body, "      <skipped message=\"{}\"/>", xml_escape(message));
    }
    if let Some(output) = &case.output {
        let _ = writeln!(
            body,
            "      <system-out>{}</system-out>",
            xml_escape(output)
        );
    }
    body
}

/// `<testsuites>` holding one `<testsuite>` of `cases`, with `properties` (name, value) that
/// say what the suite ran against (which profile, and why).
pub fn suites(name: &str, properties: &[(&str, &str)], cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let errors = cases
        .iter()
        .filter(|c| c.failure.is_none() && c.error.is_some())
        .count();
    let skipped = cases
        .iter()
        .filter(|c| c.failure.is_none() && c.error.is_none() && c.skipped.is_some())
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml_escape(name);
    let _ = writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
        cases.len()
    );
    if !properties.is_empty() {
        out.push_str("    <properties>\n");
        for (key, value) in properties {
            let _ = writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                xml_escape(key),
                xml_escape(value)
            );
        }
        out.push_str("    </properties>\n");
    }
    for (case, unique) in cases.iter().zip(unique_names(cases)) {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(&case.class),
            xml_escape(&unique)
        );
        let body = case_body(case);
        if body.is_empty() {
            out.push_str("/>\n");
        } else {
            let _ = write!(out, ">\n{body}    </testcase>\n");
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// The `--allow-incomplete` banner as the suite's first case (skipped: it passes nothing),
/// so a CI page shows it above the rules.
fn banner_case(b: &Budget) -> Option<Case> {
    let mut case = Case::new("membudget.evidence", "incomplete evidence allowed");
    case.skipped = Some(b.banner.clone()?);
    Some(case)
}

/// A rule as a case: its message in human units (with the remedy), its figures exact in
/// properties (`actual_bytes`/`limit_bytes`, or `actual`/`limit` for counts).
fn finding_case(b: &Budget, f: &crate::budget::Finding) -> Case {
    let message = super::sections::finding_text(f, &ReportOptions::default());
    let (actual, limit) = if f.counts() {
        ("actual", "limit")
    } else {
        ("actual_bytes", "limit_bytes")
    };
    let inconclusive = f.status == Status::Inconclusive;
    let mut case = Case::new(format!("membudget.{}", f.rule), f.subject.clone());
    case.properties
        .extend(f.actual.map(|a| (actual, a.to_string())));
    case.properties
        .extend(f.limit.map(|l| (limit, l.to_string())));
    case.failure = (f.status == Status::Fail).then(|| message.clone());
    case.error = (inconclusive && !b.allow_incomplete).then(|| message.clone());
    case.skipped = (f.status == Status::Warn || inconclusive).then_some(message);
    case
}

impl Reporter for JunitReporter {
    fn report(&self, b: &Budget, _: &ReportOptions) -> String {
        let cases: Vec<Case> = banner_case(b)
            .into_iter()
            .chain(b.findings.iter().map(|f| finding_case(b, f)))
            .collect();
        let properties = [
            ("profile", b.profile.as_str()),
            ("profile_source", b.profile_source.as_str()),
            ("profile_chosen_by", b.profile_chosen_by.as_str()),
        ];
        suites(&format!("membudget {}", b.profile), &properties, &cases)
    }

    /// One test case for the total growth (failing when `--fail-above` is exceeded) and one per
    /// process that appeared, went away or changed, which never fail on their own: named by
    /// its stable name, the change in words under it and in bytes in its properties.
    fn diff(&self, d: &Diff, o: &ReportOptions) -> String {
        let mut growth = Case::new("membudget.diff", "demand growth within limit");
        growth.failure = d.exceeded.then(|| super::sections::diff_verdict(d, o));
        growth
            .properties
            .push(("delta_bytes", d.demand_delta.to_string()));
        growth
            .properties
            .extend(d.allowed_growth.map(|a| ("limit_bytes", a.to_string())));
        let mut cases = vec![growth];
        let changed: Vec<&crate::diff::ProcessDelta> = d
            .processes
            .iter()
            .filter(|p| p.change != crate::diff::Change::Unchanged)
            .collect();
        let keys: Vec<(&str, &str, u64)> = changed
            .iter()
            .map(|p| {
                let pid = p.new_pid.or(p.old_pid).unwrap_or(0);
                (p.name.as_str(), p.cmdline.as_str(), u64::from(pid))
            })
            .collect();
        let names = crate::identity::stable_names(&keys);
        cases.extend(changed.iter().zip(names).map(|(p, name)| {
            let mut case = Case::new("membudget.diff.process", name);
            case.output = Some(format!(
                "{}: {}",
                super::sections::change_word(p.change),
                crate::size::human_delta(p.delta)
            ));
            case.properties.push(("delta_bytes", p.delta.to_string()));
            case
        }));
        suites(&format!("membudget diff {}", d.profile), &[], &cases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_made_unique_in_order() {
        let cases = [
            Case::new("membudget.process_limit", "vi"),
            Case::new("membudget.expect", "vi"),
            Case::new("membudget.process_limit", "vi"),
        ];
        assert_eq!(unique_names(&cases), ["vi", "vi", "vi (2)"]);
    }

    #[test]
    fn control_characters_cannot_break_the_xml() {
        assert_eq!(
            xml_escape("a<b>&\"'\u{1}"),
            "a&lt;b&gt;&amp;&quot;&#39;\u{FFFD}"
        );
    }
}
