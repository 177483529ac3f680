//! JUnit XML for GitLab and Jenkins: one test case per budget rule (RAM fit, headroom, each
//! process and class limit, each expected process), failures carrying the numbers.

use super::{ReportOptions, Reporter};
use crate::budget::{Budget, Status};
use crate::diff::Diff;
use std::fmt::Write;

pub struct JunitReporter;

/// One test case: a failure message makes it fail, a skipped message marks a warning.
pub struct Case {
    pub class: String,
    pub name: String,
    pub failure: Option<String>,
    pub skipped: Option<String>,
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

/// `<testsuites>` holding one `<testsuite>` of `cases`, with `properties` (name, value) that
/// say what the suite ran against (which profile, and why).
pub fn suites(name: &str, properties: &[(&str, &str)], cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let name = xml_escape(name);
    let _ = writeln!(
        out,
        "<testsuites name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">",
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
    for case in cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\"",
            xml_escape(&case.class),
            xml_escape(&case.name)
        );
        match (&case.failure, &case.skipped) {
            (Some(message), _) => {
                let message = xml_escape(message);
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{message}\" type=\"budget\">{message}</failure>\n    </testcase>\n"
                );
            }
            (None, Some(message)) => {
                let _ = write!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(message)
                );
            }
            (None, None) => out.push_str("/>\n"),
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

impl Reporter for JunitReporter {
    fn report(&self, b: &Budget, _: &ReportOptions) -> String {
        let cases: Vec<Case> = b
            .findings
            .iter()
            .map(|f| {
                let numbers = match (f.actual, f.limit) {
                    (Some(actual), Some(limit)) => {
                        format!(" (actual {actual} bytes, limit {limit} bytes)")
                    }
                    _ => String::new(),
                };
                let message = format!("{}{numbers}", f.message);
                Case {
                    class: format!("membudget.{}", f.rule),
                    name: f.subject.clone(),
                    failure: (f.status == Status::Fail).then(|| message.clone()),
                    skipped: (f.status == Status::Warn).then_some(message),
                }
            })
            .collect();
        let properties = [
            ("profile", b.profile.as_str()),
            ("profile_source", b.profile_source.as_str()),
            ("profile_chosen_by", b.profile_chosen_by.as_str()),
        ];
        suites(&format!("membudget {}", b.profile), &properties, &cases)
    }

    /// One test case for the total growth (failing when `--fail-above` is exceeded) and one per
    /// process that appeared, went away or changed, which never fail on their own.
    fn diff(&self, d: &Diff, o: &ReportOptions) -> String {
        let mut cases = vec![Case {
            class: "membudget.diff".into(),
            name: "demand growth within limit".into(),
            failure: d.exceeded.then(|| super::sections::diff_verdict(d, o)),
            skipped: None,
        }];
        cases.extend(
            d.processes
                .iter()
                .filter(|p| p.change != crate::diff::Change::Unchanged)
                .map(|p| Case {
                    class: "membudget.diff.process".into(),
                    name: format!("{} {:?}: {} bytes", p.name, p.change, p.delta),
                    failure: None,
                    skipped: None,
                }),
        );
        suites(&format!("membudget diff {}", d.profile), &[], &cases)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_break_the_xml() {
        assert_eq!(
            xml_escape("a<b>&\"'\u{1}"),
            "a&lt;b&gt;&amp;&quot;&#39;\u{FFFD}"
        );
    }
}
