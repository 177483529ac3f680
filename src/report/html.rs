//! One self-contained HTML page (inline style and SVG, nothing fetched) a review can show as a
//! slide: a header saying what was measured where and when, the verdict, a bar of the RAM
//! budget, a bar chart of the top processes that shows exactly the table beside it, the
//! tables and the findings. Colours are fixed per line item and class (colours.rs).

use super::colours::{colour, OVER};
use super::document::{self, html_escape, Section};
use super::sections::{self, PRIVATE_CLASSES};
use super::{ReportOptions, Reporter};
use crate::budget::{Budget, Status};
use crate::diff::Diff;
use std::fmt::Write;

pub struct HtmlReporter;

const CHART_WIDTH: f64 = 1000.0;
const LABEL_WIDTH: f64 = 160.0;

struct Segment {
    label: String,
    bytes: u64,
    colour: &'static str,
}

/// Colour keys with their labels, two to a row; no figures (the tables carry those).
fn legend(svg: &mut String, entries: &[(String, &'static str)], top: f64) -> f64 {
    let mut y = top;
    for (i, (label, fill)) in entries.iter().enumerate() {
        let x = if i % 2 == 0 { 0.0 } else { CHART_WIDTH / 2.0 };
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{fill}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            x + 18.0,
            y + 11.0,
            html_escape(label),
        );
        if i % 2 == 1 {
            y += 18.0;
        }
    }
    if entries.len() % 2 == 1 {
        y += 18.0;
    }
    y
}

/// A vertical mark across a bar with a label under it.
fn mark(svg: &mut String, x: f64, label_y: f64, anchor: &str, label: &str, dashed: bool) {
    let dash = if dashed {
        " stroke-dasharray=\"4 3\""
    } else {
        ""
    };
    let _ = writeln!(
        svg,
        "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"#000\" stroke-width=\"2\"{dash}/>\n<text x=\"{x:.1}\" y=\"{label_y:.0}\" text-anchor=\"{anchor}\">{}</text>",
        label_y - 12.0,
        html_escape(label)
    );
}

/// The hatching of demand past the RAM.
const OVER_PATTERN: &str = "<defs><pattern id=\"over\" width=\"8\" height=\"8\" patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"8\" fill=\"#d62728\"/></pattern></defs>\n";

/// Where a RAM bar goes: its top, its left edge, and bytes per pixel.
struct BarFrame {
    y: f64,
    x0: f64,
    scale: f64,
}

/// One bar of the RAM: every line item (key, label, bytes) in its fixed colour, then the
/// headroom; demand past the RAM hatched red. Returns its segments for the legend.
fn ram_bar(
    svg: &mut String,
    at: &BarFrame,
    items: &[(&str, &str, u64)],
    ram: u64,
    headroom: i64,
    o: &ReportOptions,
) -> Vec<Segment> {
    let mut segments: Vec<Segment> = items
        .iter()
        .filter(|i| i.2 > 0)
        .map(|&(key, label, bytes)| Segment {
            label: label.to_string(),
            bytes,
            colour: colour(key),
        })
        .collect();
    if headroom > 0 {
        segments.push(Segment {
            label: "headroom".into(),
            bytes: headroom as u64,
            colour: colour("headroom"),
        });
    }
    let mut x = at.x0;
    for s in &segments {
        let width = s.bytes as f64 * at.scale;
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{}\" width=\"{width:.1}\" height=\"40\" fill=\"{}\"><title>{}: {}</title></rect>",
            at.y,
            s.colour,
            html_escape(&s.label),
            html_escape(&o.size(s.bytes))
        );
        x += width;
    }
    if headroom < 0 {
        let ram_x = at.x0 + ram as f64 * at.scale;
        let _ = writeln!(
            svg,
            "<rect x=\"{ram_x:.1}\" y=\"{}\" width=\"{:.1}\" height=\"40\" fill=\"url(#over)\" stroke=\"{OVER}\" stroke-width=\"2\"><title>headroom: {}</title></rect>",
            at.y,
            headroom.unsigned_abs() as f64 * at.scale,
            html_escape(&o.size_signed(headroom))
        );
    }
    segments
}

fn legend_entries(segments: &[Segment]) -> Vec<(String, &'static str)> {
    let mut entries: Vec<(String, &'static str)> = Vec::new();
    for s in segments {
        if !entries.iter().any(|(label, _)| *label == s.label) {
            entries.push((s.label.clone(), s.colour));
        }
    }
    entries
}

/// The RAM as one bar. A line marks the RAM, a dashed one the minimum headroom (where demand
/// may reach); demand past the RAM is hatched red.
fn budget_bar(b: &Budget, o: &ReportOptions) -> String {
    let at = BarFrame {
        y: 0.0,
        x0: 0.0,
        scale: CHART_WIDTH / b.ram.max(b.demand).max(1) as f64,
    };
    let items: Vec<(&str, &str, u64)> = b
        .items
        .iter()
        .filter_map(|i| Some((i.key.as_str(), i.label.as_str(), i.bytes?)))
        .collect();
    let mut svg = String::from(OVER_PATTERN);
    let segments = ram_bar(&mut svg, &at, &items, b.ram, b.headroom, o);
    let ram_x = b.ram as f64 * at.scale;
    mark(
        &mut svg,
        ram_x.min(CHART_WIDTH - 1.0),
        60.0,
        "end",
        &format!("RAM {}", o.size(b.ram)),
        false,
    );
    if b.min_headroom > 0 && b.min_headroom < b.ram {
        mark(
            &mut svg,
            (b.ram - b.min_headroom) as f64 * at.scale,
            76.0,
            "end",
            &format!("minimum headroom {}", o.size(b.min_headroom)),
            true,
        );
    }
    let height = legend(&mut svg, &legend_entries(&segments), 88.0);
    wrap_svg(&svg, height, "RAM budget")
}

/// The old and the new RAM bar one above the other, in the report's colours.
fn diff_bars(d: &Diff, o: &ReportOptions) -> String {
    const GUTTER: f64 = 44.0;
    let widest = [d.old.ram, d.old.demand, d.new.ram, d.new.demand]
        .into_iter()
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = (CHART_WIDTH - GUTTER) / widest as f64;
    let mut svg = String::from(OVER_PATTERN);
    let mut segments = Vec::new();
    for (row, (which, side)) in [("old", &d.old), ("new", &d.new)].into_iter().enumerate() {
        let at = BarFrame {
            y: row as f64 * 48.0,
            x0: GUTTER,
            scale,
        };
        let items: Vec<(&str, &str, u64)> = d
            .items
            .iter()
            .map(|i| {
                let bytes = if row == 0 { i.old } else { i.new };
                (i.key.as_str(), i.label.as_str(), bytes)
            })
            .collect();
        let _ = writeln!(svg, "<text x=\"0\" y=\"{:.0}\">{which}</text>", at.y + 25.0);
        segments.extend(ram_bar(&mut svg, &at, &items, side.ram, side.headroom, o));
    }
    mark(
        &mut svg,
        (GUTTER + d.new.ram as f64 * scale).min(CHART_WIDTH - 1.0),
        108.0,
        "end",
        &format!("RAM {}", o.size(d.new.ram)),
        false,
    );
    let height = legend(&mut svg, &legend_entries(&segments), 120.0);
    wrap_svg(&svg, height, "RAM budget, old and new")
}

/// The limit a profile sets on a process's private figure, from its process_limit finding
/// (`NAME (pid N) private ...`: a limit on the total is not drawn against the private bar).
fn private_limit(b: &Budget, p: &crate::account::ProcessAccount) -> Option<u64> {
    let prefix = format!("{} (pid {}) private ", p.name, p.pid);
    b.findings
        .iter()
        .filter(|f| f.rule == "process_limit" && f.status != Status::Warn)
        .filter(|f| f.message.starts_with(&prefix))
        .find_map(|f| f.limit.and_then(|l| u64::try_from(l).ok()))
}

/// The processes of the table beside it, one bar each: its private classes in the budget's
/// measure, which add up to its private figure (the label at the bar's end). Each segment
/// carries the table cell it draws (`data-row`, `data-column`); a black tick marks the
/// process's limit where the profile sets one.
fn process_bars(b: &Budget, table: &Section, o: &ReportOptions) -> String {
    let processes: Vec<_> = b.accounting.processes.iter().take(o.top).collect();
    let m = b.measure;
    let widest = processes
        .iter()
        .map(|p| p.demand.max(private_limit(b, p).unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = (CHART_WIDTH - LABEL_WIDTH - 90.0) / widest as f64;
    let column = |class: &str| {
        table
            .headers
            .iter()
            .position(|h| *h == sections::measured(class, m))
            .unwrap_or(0)
    };
    let mut svg = String::new();
    for (row, p) in processes.iter().enumerate() {
        let y = row as f64 * 22.0;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} ({})</text>",
            LABEL_WIDTH - 6.0,
            y + 13.0,
            html_escape(&p.name),
            p.pid
        );
        let mut x = LABEL_WIDTH;
        for class in PRIVATE_CLASSES {
            let bytes = p.in_measure(class, m);
            let width = bytes as f64 * scale;
            if bytes > 0 {
                let _ = writeln!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"16\" fill=\"{}\" data-row=\"{row}\" data-column=\"{}\"><title>{} {}: {}</title></rect>",
                    colour(class.name()),
                    column(class.name()),
                    html_escape(&p.name),
                    sections::measured(class.name(), m),
                    html_escape(&o.size(bytes))
                );
            }
            x += width;
        }
        let limit = private_limit(b, p);
        let limit_x = limit.map(|l| LABEL_WIDTH + l as f64 * scale);
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" data-row=\"{row}\" data-column=\"{}\">{}</text>",
            x.max(limit_x.unwrap_or(0.0)) + 6.0,
            y + 13.0,
            column("private"),
            html_escape(&o.size(p.demand))
        );
        if let (Some(limit), Some(lx)) = (limit, limit_x) {
            let _ = writeln!(
                svg,
                "<line x1=\"{lx:.1}\" y1=\"{:.1}\" x2=\"{lx:.1}\" y2=\"{:.1}\" stroke=\"#000\" stroke-width=\"3\"><title>limit {}</title></line>",
                y - 2.0,
                y + 18.0,
                html_escape(&o.size(limit))
            );
        }
    }
    let mut entries: Vec<(String, &'static str)> = PRIVATE_CLASSES
        .iter()
        .map(|c| (sections::measured(c.name(), m), colour(c.name())))
        .collect();
    entries.push(("| limit from the profile".into(), "#000"));
    let height = legend(&mut svg, &entries, processes.len() as f64 * 22.0 + 10.0);
    wrap_svg(&svg, height, "Top processes: private memory by class")
}

fn wrap_svg(content: &str, height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {CHART_WIDTH} {height:.0}\" role=\"img\" aria-label=\"{label}\">\n{content}</svg>\n"
    )
}

/// The last path component of a snapshot (`board.tar.gz`), not the whole absolute path.
pub fn snapshot_name(origin: &str) -> &str {
    let trimmed = origin.trim_end_matches('/');
    trimmed
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(origin)
}

/// The verdict banner's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Banner {
    Pass,
    Fail,
    Inconclusive,
}

impl Banner {
    pub fn of(pass: bool) -> Banner {
        if pass {
            Banner::Pass
        } else {
            Banner::Fail
        }
    }

    fn class(self) -> &'static str {
        match self {
            Banner::Pass => "pass",
            Banner::Fail => "fail",
            Banner::Inconclusive => "inconclusive",
        }
    }
}

/// The page: heading, a line of facts (when, where, against what, by which tool), the notice
/// that a verdict stands on incomplete evidence (`--allow-incomplete`), the verdict banner,
/// then the sections with their figures.
pub fn page(
    title: &str,
    facts: &[String],
    notice: Option<&str>,
    verdict: &str,
    banner: Banner,
    sections: &[(Section, String)],
) -> String {
    let mut body = format!(
        "<header>\n<h1>{}</h1>\n<p class=\"facts\">",
        html_escape(title)
    );
    let facts: Vec<String> = facts.iter().map(|f| html_escape(f)).collect();
    body.push_str(&facts.join(" &middot; "));
    body.push_str("</p>\n");
    if let Some(notice) = notice {
        let _ = writeln!(
            body,
            "<p class=\"banner\" id=\"banner\">{}</p>",
            html_escape(notice)
        );
    }
    let _ = write!(
        body,
        "<p class=\"verdict {}\" id=\"verdict\">{}</p>\n</header>\n",
        banner.class(),
        html_escape(verdict)
    );
    for (section, figure) in sections {
        body.push_str(&document::html_section(section, figure));
    }
    document::html_page(title, &body)
}

/// Who made the page: the tool and its version.
pub fn tool() -> String {
    format!("membudget {}", env!("CARGO_PKG_VERSION"))
}

fn report_facts(b: &Budget) -> Vec<String> {
    let mut facts = Vec::new();
    if let Some(time) = sections::captured(b) {
        facts.push(format!("captured {time}"));
    }
    if let Some(host) = b.meta.get("host") {
        facts.push(format!("host {host}"));
    }
    facts.push(format!("profile {}", b.profile));
    facts.push(tool());
    facts
}

impl Reporter for HtmlReporter {
    fn report(&self, b: &Budget, o: &ReportOptions) -> String {
        let mut all = sections::report_sections(b, o, "\u{2003}");
        // The heading section's verdict becomes the page's banner, its facts the header's.
        let mut heading = all.remove(0);
        // The banner and the verdict line lead the page instead.
        heading.paragraphs.drain(..=usize::from(b.banner.is_some()));
        heading.title = "Snapshot".into();
        let mut with_figures: Vec<(Section, String)> = vec![(heading, String::new())];
        for s in all {
            let figure = if s.title == "Budget" {
                budget_bar(b, o)
            } else if s.title.to_lowercase().contains("processes by private") {
                process_bars(b, &s, o)
            } else {
                String::new()
            };
            with_figures.push((s, figure));
        }
        let banner = match b.verdict {
            crate::budget::Verdict::WithinBudget => Banner::Pass,
            crate::budget::Verdict::OverBudget => Banner::Fail,
            crate::budget::Verdict::Inconclusive => Banner::Inconclusive,
        };
        page(
            &format!("membudget report: {}", snapshot_name(&b.origin)),
            &report_facts(b),
            b.banner.as_deref(),
            &sections::verdict_line(b, o),
            banner,
            &with_figures,
        )
    }

    fn diff(&self, d: &Diff, o: &ReportOptions) -> String {
        let mut all = sections::diff_sections(d, o);
        let mut heading = all.remove(0);
        heading.paragraphs.remove(0);
        heading.title = "Snapshots".into();
        let with_figures: Vec<(Section, String)> = std::iter::once(heading)
            .chain(all)
            .map(|s| {
                let figure = if s.title == "Budget items" {
                    diff_bars(d, o)
                } else {
                    String::new()
                };
                (s, figure)
            })
            .collect();
        let title = format!(
            "membudget diff: {} \u{2192} {}",
            snapshot_name(&d.old.origin),
            snapshot_name(&d.new.origin)
        );
        let facts = vec![format!("profile {}", d.profile), tool()];
        page(
            &title,
            &facts,
            None,
            &sections::diff_verdict(d, o),
            Banner::of(!d.exceeded),
            &with_figures,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_use_the_snapshot_name() {
        assert_eq!(
            snapshot_name("/home/x/captures/board.tar.gz"),
            "board.tar.gz"
        );
        assert_eq!(snapshot_name("series/sample-0001/"), "sample-0001");
        assert_eq!(snapshot_name("live"), "live");
    }
}
