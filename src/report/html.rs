//! One self-contained HTML page (inline style and SVG, nothing fetched): a stacked bar of the
//! RAM budget, a bar chart of the top processes split by class, the tables and the findings.

use super::document::{self, html_escape, Section};
use super::sections::{self, PROCESS_COLUMNS};
use super::{ReportOptions, Reporter};
use crate::budget::Budget;
use crate::diff::Diff;
use std::fmt::Write;

pub struct HtmlReporter;

/// Colours of the chart segments, in turn.
const PALETTE: [&str; 10] = [
    "#8c564b", "#7f7f7f", "#bcbd22", "#1f77b4", "#9467bd", "#17becf", "#e377c2", "#ff7f0e",
    "#2ca02c", "#d62728",
];
const CHART_WIDTH: f64 = 1000.0;
const LABEL_WIDTH: f64 = 160.0;

struct Segment {
    label: String,
    bytes: u64,
    colour: &'static str,
}

fn legend(svg: &mut String, segments: &[Segment], top: f64, o: &ReportOptions) -> f64 {
    let mut y = top;
    for (i, s) in segments.iter().enumerate() {
        let x = if i % 2 == 0 { 0.0 } else { CHART_WIDTH / 2.0 };
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}: {}</text>",
            y,
            s.colour,
            x + 18.0,
            y + 11.0,
            html_escape(&s.label),
            html_escape(&o.size(s.bytes))
        );
        if i % 2 == 1 {
            y += 18.0;
        }
    }
    if segments.len() % 2 == 1 {
        y += 18.0;
    }
    y
}

/// The RAM as one bar: every budget item, then the headroom; a negative headroom shows as the
/// part of the demand beyond the RAM line.
fn budget_bar(b: &Budget, o: &ReportOptions) -> String {
    let mut segments: Vec<Segment> = b
        .items
        .iter()
        .filter_map(|i| Some((i, i.bytes.filter(|b| *b > 0)?)))
        .enumerate()
        .map(|(n, (i, bytes))| Segment {
            label: i.label.clone(),
            bytes,
            colour: PALETTE[n % (PALETTE.len() - 2)],
        })
        .collect();
    if b.headroom > 0 {
        segments.push(Segment {
            label: "headroom".into(),
            bytes: b.headroom as u64,
            colour: PALETTE[8],
        });
    }
    let scale = CHART_WIDTH / b.ram.max(b.demand).max(1) as f64;
    let mut svg = String::new();
    let mut x = 0.0;
    for s in &segments {
        let width = s.bytes as f64 * scale;
        let _ = writeln!(
            svg,
            "<rect x=\"{x:.1}\" y=\"0\" width=\"{width:.1}\" height=\"40\" fill=\"{}\"><title>{}: {}</title></rect>",
            s.colour,
            html_escape(&s.label),
            html_escape(&o.size(s.bytes))
        );
        x += width;
    }
    let ram_x = b.ram as f64 * scale;
    let _ = writeln!(
        svg,
        "<line x1=\"{ram_x:.1}\" y1=\"0\" x2=\"{ram_x:.1}\" y2=\"48\" stroke=\"#000\" stroke-width=\"2\"/>"
    );
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"60\" text-anchor=\"end\">RAM {}</text>",
        ram_x.min(CHART_WIDTH - 1.0),
        html_escape(&o.size(b.ram))
    );
    let height = legend(&mut svg, &segments, 72.0, o);
    wrap_svg(&svg, height, "RAM budget")
}

/// The top processes, one bar each, split into the classes of the process table.
fn process_bars(b: &Budget, o: &ReportOptions) -> String {
    let processes: Vec<_> = b.accounting.processes.iter().take(o.top).collect();
    let total = |p: &crate::account::ProcessAccount| -> u64 {
        PROCESS_COLUMNS
            .iter()
            .map(|c| p.class(*c).virtual_size)
            .sum()
    };
    let widest = processes.iter().map(|p| total(p)).max().unwrap_or(0).max(1);
    let scale = (CHART_WIDTH - LABEL_WIDTH - 90.0) / widest as f64;
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
        for (n, class) in PROCESS_COLUMNS.iter().enumerate() {
            let bytes = p.class(*class).virtual_size;
            let width = bytes as f64 * scale;
            if bytes > 0 {
                let _ = writeln!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"16\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                    PALETTE[n + 3],
                    html_escape(&p.name),
                    class.name(),
                    html_escape(&o.size(bytes))
                );
            }
            x += width;
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 6.0,
            y + 13.0,
            html_escape(&o.size(total(p)))
        );
    }
    let classes: Vec<Segment> = PROCESS_COLUMNS
        .iter()
        .enumerate()
        .map(|(n, c)| Segment {
            label: c.name().into(),
            bytes: processes.iter().map(|p| p.class(*c).virtual_size).sum(),
            colour: PALETTE[n + 3],
        })
        .collect();
    let height = legend(&mut svg, &classes, processes.len() as f64 * 22.0 + 10.0, o);
    wrap_svg(&svg, height, "Top processes by class")
}

fn wrap_svg(content: &str, height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {CHART_WIDTH} {height:.0}\" role=\"img\" aria-label=\"{label}\">\n{content}</svg>\n"
    )
}

/// The page: heading, the banner when a verdict stands on incomplete evidence, the verdict
/// (styled `pass`, `fail` or `inconclusive`), then the sections.
fn page(
    title: &str,
    banner: Option<&str>,
    verdict: (&str, &str),
    sections: &[(Section, String)],
) -> String {
    let mut body = format!("<h1>{}</h1>\n", html_escape(title));
    if let Some(banner) = banner {
        body.push_str(&format!(
            "<p class=\"banner\" id=\"banner\">{}</p>\n",
            html_escape(banner)
        ));
    }
    body.push_str(&format!(
        "<p class=\"verdict {}\" id=\"verdict\">{}</p>\n",
        verdict.0,
        html_escape(verdict.1)
    ));
    for (section, figure) in sections {
        body.push_str(&document::html_section(section, figure));
    }
    document::html_page(title, &body)
}

impl Reporter for HtmlReporter {
    fn report(&self, b: &Budget, o: &ReportOptions) -> String {
        let mut all = sections::report_sections(b, o, "\u{2003}");
        // The heading section's title and verdict become the page's heading.
        let mut heading = all.remove(0);
        let title = std::mem::take(&mut heading.title);
        // The banner and the verdict line lead the page instead.
        heading.paragraphs.drain(..=usize::from(b.banner.is_some()));
        heading.title = "Snapshot".into();
        let mut with_figures: Vec<(Section, String)> = vec![(heading, String::new())];
        for s in all {
            let figure = if s.title == "Budget" {
                budget_bar(b, o)
            } else if s.title.starts_with("Top processes") {
                process_bars(b, o)
            } else {
                String::new()
            };
            with_figures.push((s, figure));
        }
        let class = match b.verdict {
            crate::budget::Verdict::WithinBudget => "pass",
            crate::budget::Verdict::OverBudget => "fail",
            crate::budget::Verdict::Inconclusive => "inconclusive",
        };
        page(
            &title,
            b.banner.as_deref(),
            (class, &sections::verdict_line(b, o)),
            &with_figures,
        )
    }

    fn diff(&self, d: &Diff, o: &ReportOptions) -> String {
        let mut all = sections::diff_sections(d, o);
        let mut heading = all.remove(0);
        let title = std::mem::take(&mut heading.title);
        heading.paragraphs.remove(0);
        heading.title = "Snapshots".into();
        let with_figures: Vec<(Section, String)> = std::iter::once(heading)
            .chain(all)
            .map(|s| (s, String::new()))
            .collect();
        page(
            &title,
            None,
            (
                if d.exceeded { "fail" } else { "pass" },
                &sections::diff_verdict(d, o),
            ),
            &with_figures,
        )
    }
}
