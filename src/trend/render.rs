//! Trend output: text for the terminal, Markdown for a review, JSON for tools. Text and
//! Markdown are two layouts of the same sections, so they never say different things.

use super::attribution::{Attribution, BlockMethod};
use super::series::Metric;
use super::{MetricTrend, ProcessTrend, Trend, Verdict};
use crate::report::document::{self, Section};
use crate::report::{junit, Format, ReportOptions};

/// Trend output in a report format: the text, Markdown and HTML layouts of the same sections,
/// JSON for tools, JUnit (one test case per process: "does not leak") for pipelines.
pub fn render(trend: &Trend, format: Format, options: &ReportOptions) -> String {
    match format {
        Format::Text => text(trend, options),
        Format::Markdown => markdown(trend, options),
        Format::Json => json(trend),
        Format::Junit => junit(trend),
        Format::Html => html(trend, options),
    }
}

pub fn json(trend: &Trend) -> String {
    let mut out = serde_json::to_string_pretty(trend).unwrap_or_else(|e| {
        // Plain structs of numbers and strings do not fail to serialize; should a future field
        // (a map with non-string keys) make it fail, say so in JSON rather than panic.
        format!("{{\"error\": \"cannot serialize the trend: {e}\"}}")
    });
    out.push('\n');
    out
}

/// Byte rates follow the report's size choice (human or exact).
fn rate(options: &ReportOptions, per_hour: f64) -> String {
    format!("{}/h", options.size_signed(per_hour.round() as i64))
}

fn duration(seconds: f64) -> String {
    if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else if seconds < 2.0 * 3600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else if seconds < 3.0 * 86400.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1} days", seconds / 86400.0)
    }
}

fn metric_cells(f: &ReportOptions, m: &MetricTrend) -> Vec<String> {
    let (r2, steady, growth) = match &m.fit {
        Some(fit) => (
            format!("{:.2}", fit.r_squared),
            format!("{:.0}%", fit.non_decreasing_share * 100.0),
            format!(
                "{}/{} (run {})",
                fit.growth_steps, fit.steps, fit.longest_growth_run
            ),
        ),
        None => ("-".into(), "-".into(), "-".into()),
    };
    vec![
        f.size(m.first),
        f.size(m.last),
        rate(f, m.rate_per_hour),
        r2,
        steady,
        growth,
        m.verdict.label().into(),
    ]
}

const METRIC_HEADERS: [&str; 7] = [
    "first",
    "last",
    "rate",
    "R²",
    "non-decreasing",
    "growing steps",
    "verdict",
];
const METRIC_RIGHT: [bool; 7] = [true, true, true, true, true, true, false];

fn attribution_lines(f: &ReportOptions, a: &Attribution) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(block) = &a.block_size {
        let how = match block.method {
            BlockMethod::NewSegments => "the size of most new anonymous segments",
            BlockMethod::GrowthSteps => {
                "the greatest common divisor of the growth steps of a merged anonymous region"
            }
        };
        lines.push(format!(
            "Leaking block size: {}, {how}. Look for allocations of this size less malloc's 16-byte header, rounded up to pages.",
            f.size(block.bytes)
        ));
    }
    if !a.new_segments.is_empty() {
        let groups: Vec<String> = a
            .new_segments
            .iter()
            .take(5)
            .map(|g| {
                let plural = if g.count == 1 { "" } else { "s" };
                format!("{} new segment{plural} of {}", g.count, f.size(g.size))
            })
            .collect();
        lines.push(format!(
            "New anonymous segments since the first sample: {}.",
            groups.join(", ")
        ));
    }
    if let Some(g) = &a.growing_region {
        let steps: Vec<String> = g.steps.iter().take(8).map(|s| f.size(*s)).collect();
        lines.push(format!(
            "Anonymous region {:x}-{:x} grew by {} in {} step{} ({}{}); greatest common divisor {}.",
            g.start,
            g.end,
            f.size(g.growth),
            g.steps.len(),
            if g.steps.len() == 1 { "" } else { "s" },
            steps.join(", "),
            if g.steps.len() > 8 { ", ..." } else { "" },
            f.size(g.steps_gcd)
        ));
    }
    lines
}

/// A command line cut to `max` characters: enough to recognise it, not a screenful of flags.
fn shortened(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

fn process_section(f: &ReportOptions, p: &ProcessTrend) -> Section {
    let mut section = Section::new(format!(
        "{} (pid {}): {}, private memory {}",
        p.name,
        p.pid,
        p.verdict.label(),
        rate(f, p.rate_per_hour)
    ));
    if !p.cmdline.is_empty() {
        section
            .paragraphs
            .push(format!("Command: {}", shortened(&p.cmdline, 160)));
    }
    section
        .paragraphs
        .extend(attribution_lines(f, &p.attribution));
    let mut headers = vec!["class"];
    headers.extend(METRIC_HEADERS);
    let mut right = vec![false];
    right.extend(METRIC_RIGHT);
    section = section.table(&headers, &right);
    for (metric, m) in &p.metrics {
        let mut row = vec![metric.name().to_string()];
        row.extend(metric_cells(f, m));
        section.rows.push(row);
    }
    section
}

fn sections(trend: &Trend, options: &ReportOptions) -> Vec<Section> {
    let f = options;
    let t = &trend.thresholds;
    let mut out = Vec::new();

    let mut summary = Section::new("Memory trend");
    summary.paragraphs.push(format!(
        "{} samples over {}, profile {}{}.",
        trend.samples.len(),
        duration(trend.span_seconds),
        trend.profile,
        crate::report::sections::chosen_by(&trend.profile_chosen_by)
    ));
    summary.paragraphs.push(format!(
        "A leak suspect grows at least {}, over at least {} samples and {} s, with R² >= {}, at least {:.0}% of steps not shrinking and at least {} steps growing.",
        rate(f, t.min_rate_per_hour as f64),
        t.min_samples,
        t.min_span_seconds,
        t.min_fit,
        t.min_steady_share * 100.0,
        t.min_growth_steps
    ));
    let suspects: Vec<String> = trend
        .suspects()
        .map(|p| format!("{} (pid {}, {})", p.name, p.pid, rate(f, p.rate_per_hour)))
        .collect();
    summary.paragraphs.push(if suspects.is_empty() {
        "No leak suspect among the processes.".into()
    } else {
        format!("Leak suspects: {}.", suspects.join(", "))
    });
    out.push(summary);

    let mut overview = Section::new("Processes (private memory, by virtual size)").table(
        &[
            "pid", "name", "samples", "first", "last", "rate", "R²", "verdict",
        ],
        &[true, false, true, true, true, true, true, false],
    );
    for p in trend.processes.iter().take(options.top) {
        let Some(m) = p.metrics.get(&Metric::Private) else {
            continue;
        };
        let cells = metric_cells(f, m);
        overview.rows.push(vec![
            p.pid.to_string(),
            p.name.clone(),
            m.samples.to_string(),
            cells[0].clone(),
            cells[1].clone(),
            cells[2].clone(),
            cells[3].clone(),
            p.verdict.label().into(),
        ]);
    }
    if trend.processes.len() > options.top {
        overview.notes.push(format!(
            "{} more processes not listed (--top).",
            trend.processes.len() - options.top
        ));
    }
    out.push(overview);

    for p in trend
        .processes
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::LeakSuspect | Verdict::Growing))
    {
        out.push(process_section(f, p));
    }

    if !trend.restarts.is_empty() {
        let mut restarts = Section::new("Restarts").table(
            &["name", "old pid", "last seen", "new pid", "first seen"],
            &[false, true, true, true, true],
        );
        let t0 = trend.samples.first().map_or(0.0, |s| s.1);
        for r in &trend.restarts {
            restarts.rows.push(vec![
                r.name.clone(),
                r.old_pid.to_string(),
                format!("+{}", duration(r.last_seen_old - t0)),
                r.new_pid.to_string(),
                format!("+{}", duration(r.first_seen_new - t0)),
            ]);
        }
        out.push(restarts);
    }

    let mut headers = vec!["figure"];
    headers.extend(METRIC_HEADERS);
    let mut right = vec![false];
    right.extend(METRIC_RIGHT);
    let mut system = Section::new("System (meminfo, RAM filesystems)").table(&headers, &right);
    for (name, m) in &trend.system {
        let mut row = vec![name.clone()];
        row.extend(metric_cells(f, m));
        system.rows.push(row);
    }
    system.notes.push(
        "AnonPages and Shmem are context: their growth is the processes' and the RAM filesystems' above, and is not counted again.".into(),
    );
    out.push(system);

    let e = &trend.exhaustion;
    let mut exhaustion = Section::new("Time to exhaustion");
    exhaustion.paragraphs.push(format!(
        "Headroom in the last sample: {} (the profile promises at least {}).",
        f.size_signed(e.headroom),
        f.size(e.min_headroom)
    ));
    exhaustion.paragraphs.push(if e.contributors.is_empty() {
        "Nothing leaks: no projection.".into()
    } else {
        format!(
            "Summed leak rate {} ({}).",
            rate(f, e.leak_rate_per_hour),
            e.contributors.join(", ")
        )
    });
    match e.hours_to_min_headroom {
        Some(h) if h > 0.0 => exhaustion.paragraphs.push(format!(
            "The headroom falls below the promised minimum in {}.",
            duration(h * 3600.0)
        )),
        Some(_) => exhaustion
            .paragraphs
            .push("The headroom is already below the promised minimum.".into()),
        None => {}
    }
    match e.hours_to_zero {
        Some(h) if h > 0.0 => exhaustion
            .paragraphs
            .push(format!("No headroom is left in {}.", duration(h * 3600.0))),
        Some(_) => exhaustion
            .paragraphs
            .push("There is no headroom left.".into()),
        None => {}
    }
    out.push(exhaustion);
    out
}

pub fn text(trend: &Trend, options: &ReportOptions) -> String {
    document::text(&sections(trend, options))
}

pub fn markdown(trend: &Trend, options: &ReportOptions) -> String {
    document::markdown(&sections(trend, options))
}

pub fn html(trend: &Trend, options: &ReportOptions) -> String {
    let mut body: String = sections(trend, options)
        .iter()
        .map(|s| document::html_section(s, ""))
        .collect();
    let charts: String = trend
        .suspects()
        .filter_map(|p| {
            let m = p.metrics.get(&Metric::Private)?;
            let label = format!("{} (pid {}): private memory over time", p.name, p.pid);
            Some(growth_chart(&m.points, &label, options))
        })
        .collect();
    if !charts.is_empty() {
        let mut section = Section::new("Leak suspects over time");
        section
            .paragraphs
            .push("Private memory (virtual) of each suspect at every sample.".into());
        body.push_str(&document::html_section(&section, &charts));
    }
    document::html_page("membudget trend", &body)
}

/// A small inline SVG line chart of one figure over the samples: the eye sees at once whether
/// growth is steady (a leak) or a single step (an allocation that stayed).
fn growth_chart(points: &[(f64, u64)], label: &str, options: &ReportOptions) -> String {
    const WIDTH: f64 = 480.0;
    const HEIGHT: f64 = 140.0;
    const PAD: f64 = 36.0;
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return String::new();
    };
    let low = points.iter().map(|p| p.1).min().unwrap_or(0);
    let high = points.iter().map(|p| p.1).max().unwrap_or(0);
    let span_t = (last.0 - first.0).max(f64::EPSILON);
    let span_v = (high - low).max(1) as f64;
    let xy = |(t, v): (f64, u64)| {
        let x = PAD + (t - first.0) / span_t * (WIDTH - 2.0 * PAD);
        let y = HEIGHT - PAD / 2.0 - (v - low) as f64 / span_v * (HEIGHT - PAD);
        (x, y)
    };
    let line: Vec<String> = points
        .iter()
        .map(|&p| {
            let (x, y) = xy(p);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let dots: String = points
        .iter()
        .map(|&p| {
            let (x, y) = xy(p);
            format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"#c0392b\"/>")
        })
        .collect();
    format!(
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{label}\">\n<polyline points=\"{}\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\"/>{dots}\n<text x=\"2\" y=\"12\" font-size=\"11\">{}</text><text x=\"2\" y=\"{:.0}\" font-size=\"11\">{}</text>\n</svg><figcaption>{label}</figcaption></figure>\n",
        line.join(" "),
        document::html_escape(&options.size(high)),
        HEIGHT - 2.0,
        document::html_escape(&options.size(low)),
        label = document::html_escape(label),
    )
}

/// One test case per process: it passes unless the process is a leak suspect.
pub fn junit(trend: &Trend) -> String {
    let cases: Vec<junit::Case> = trend
        .processes
        .iter()
        .map(|p| junit::Case {
            class: "membudget.trend.leak".into(),
            name: format!("{} (pid {}) does not leak", p.name, p.pid),
            failure: (p.verdict == Verdict::LeakSuspect).then(|| {
                format!(
                    "{} (pid {}) is a leak suspect: private memory grows {:.0} bytes/h",
                    p.name, p.pid, p.rate_per_hour
                )
            }),
            skipped: None,
        })
        .collect();
    let properties = [
        ("profile", trend.profile.as_str()),
        ("profile_chosen_by", trend.profile_chosen_by.as_str()),
    ];
    junit::suites("membudget trend", &properties, &cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_command_lines_are_cut_on_a_character() {
        assert_eq!(shortened("sh -c true", 160), "sh -c true");
        assert_eq!(shortened("ééééé", 3), "ééé...");
    }
}
