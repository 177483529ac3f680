//! Trend output: text for the terminal, Markdown for a review, JSON for tools. Text and
//! Markdown are two layouts of the same sections, so they never say different things.

use super::attribution::{Attribution, BlockMethod};
use super::series::Metric;
use super::{MetricTrend, Outcome, ProcessTrend, Trend, Verdict};
use crate::report::document::{self, Section};
use crate::report::html::Banner;
use crate::report::{junit, Format, ReportOptions};
use std::fmt::Write;

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

/// The trend for tools, under the same envelope as the report and the diff (docs/trend.schema.json).
pub fn json(trend: &Trend) -> String {
    crate::report::json::to_json("trend", trend)
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
    // The fitted slope and the net change can disagree in sign: say both.
    let net = m.last as i64 - m.first as i64;
    let fitted = if (m.rate_per_hour > 0.0 && net <= 0) || (m.rate_per_hour < 0.0 && net >= 0) {
        format!("{} (net {})", rate(f, m.rate_per_hour), f.size_delta(net))
    } else {
        rate(f, m.rate_per_hour)
    };
    vec![
        f.size(m.first),
        f.size(m.last),
        fitted,
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
        lines.push(match block.bytes {
            Some(bytes) => format!(
                "Leaking block size: {}, {how}. Look for allocations of this size less malloc's 16-byte header, rounded up to pages.",
                f.size(bytes)
            ),
            None => format!(
                "Leaking block size: at most {} (every step was equal; sample at another interval to pin it down), {how}.",
                f.size(block.at_most)
            ),
        });
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
    let time = |s: Option<&(String, f64)>| {
        s.and_then(|s| crate::time::iso8601(s.1))
            .unwrap_or_else(|| "?".into())
    };
    summary.paragraphs.push(format!(
        "{} samples over {} ({} to {}), profile {}{}.",
        trend.samples.len(),
        duration(trend.span_seconds),
        time(trend.samples.first()),
        time(trend.samples.last()),
        trend.profile,
        crate::report::sections::chosen_by(&trend.profile_chosen_by)
    ));
    // Second, where the HTML page takes it for its banner.
    summary.paragraphs.push(verdict_line(trend, f));
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
        overview.notes.push(crate::report::sections::more_processes(
            trend.processes.len() - options.top,
        ));
    }
    if options.top > 0 {
        out.push(overview);
    }

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
        let when = |t: f64| {
            format!(
                "{} (+{})",
                crate::time::iso8601(t).unwrap_or_else(|| "?".into()),
                duration(t - t0)
            )
        };
        for r in &trend.restarts {
            restarts.rows.push(vec![
                r.name.clone(),
                r.old_pid.to_string(),
                when(r.last_seen_old),
                r.new_pid.to_string(),
                when(r.first_seen_new),
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

/// The verdict for the whole series, first thing a reader sees: a short series is
/// INCONCLUSIVE (never a clean bill), naming what grew meanwhile.
pub fn verdict_line(trend: &Trend, f: &ReportOptions) -> String {
    let t = &trend.thresholds;
    match trend.outcome {
        Outcome::LeakSuspect => format!(
            "LEAK SUSPECT: {} process(es) and {} system figure(s) grow steadily.",
            trend.suspects().count(),
            trend
                .system
                .iter()
                .filter(
                    |(name, m)| super::leaks_on_its_own(name) && m.verdict == Verdict::LeakSuspect
                )
                .count()
        ),
        Outcome::NoSuspect => "NO LEAK SUSPECT: nothing grows steadily above the threshold.".into(),
        Outcome::Inconclusive => {
            let grown: Vec<String> = trend
                .grown()
                .take(10)
                .map(|(p, growth)| format!("{} (pid {}, {})", p.name, p.pid, f.size_delta(growth)))
                .collect();
            format!(
                "INCONCLUSIVE: {} samples over {} is too short to judge (the thresholds ask for at least {} samples over {} s). {}",
                trend.samples.len(),
                duration(trend.span_seconds),
                t.min_samples,
                t.min_span_seconds,
                if grown.is_empty() {
                    "No process grew meanwhile.".to_string()
                } else {
                    format!("Grew meanwhile: {}.", grown.join(", "))
                }
            )
        }
    }
}

pub fn text(trend: &Trend, options: &ReportOptions) -> String {
    document::text(&sections(trend, options))
}

pub fn markdown(trend: &Trend, options: &ReportOptions) -> String {
    document::markdown(&sections(trend, options))
}

/// The trend as a review page: the verdict banner, then a chart per process that grows
/// (leak suspects and growing ones) with time on x, size on y, the fitted rate and the line
/// where the headroom would be used up, then the tables.
pub fn html(trend: &Trend, options: &ReportOptions) -> String {
    let mut all = sections(trend, options);
    let mut summary = all.remove(0);
    let verdict = summary.paragraphs.remove(1);
    let charts: String = trend
        .processes
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::LeakSuspect | Verdict::Growing))
        .take(6)
        .filter_map(|p| {
            let m = p.metrics.get(&Metric::Private)?;
            let label = format!(
                "{} (pid {}): private memory (virtual), {}",
                p.name,
                p.pid,
                p.verdict.label()
            );
            Some(growth_chart(m, &label, &trend.exhaustion, options))
        })
        .collect();
    let mut with_figures = vec![(summary, charts)];
    with_figures.extend(all.into_iter().map(|s| (s, String::new())));
    let t = |i: usize| {
        trend
            .samples
            .get(i)
            .and_then(|s| crate::time::iso8601(s.1))
            .unwrap_or_else(|| "?".into())
    };
    let facts = vec![
        format!(
            "{} samples, {} to {}",
            trend.samples.len(),
            t(0),
            t(trend.samples.len().saturating_sub(1))
        ),
        format!("profile {}", trend.profile),
        crate::report::html::tool(),
    ];
    crate::report::html::page(
        "membudget trend",
        &facts,
        None,
        &verdict,
        match trend.outcome {
            Outcome::NoSuspect => Banner::Pass,
            Outcome::LeakSuspect => Banner::Fail,
            Outcome::Inconclusive => Banner::Inconclusive,
        },
        &with_figures,
    )
}

/// The chart's frame: pixel positions of times and sizes.
struct Frame {
    t0: f64,
    span_t: f64,
    low: f64,
    span_v: f64,
}

impl Frame {
    const WIDTH: f64 = 1000.0;
    const HEIGHT: f64 = 240.0;
    const LEFT: f64 = 90.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 24.0;
    const BOTTOM: f64 = 40.0;

    fn x(&self, t: f64) -> f64 {
        Self::LEFT + (t - self.t0) / self.span_t * (Self::WIDTH - Self::LEFT - Self::RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        Self::HEIGHT
            - Self::BOTTOM
            - (v - self.low) / self.span_v * (Self::HEIGHT - Self::TOP - Self::BOTTOM)
    }

    /// Both axes with three labelled ticks each: ISO 8601 UTC times, sizes.
    fn axes(&self, options: &ReportOptions) -> String {
        let (left, bottom) = (Self::LEFT, Self::HEIGHT - Self::BOTTOM);
        let mut svg = format!(
            "<line x1=\"{left}\" y1=\"{}\" x2=\"{left}\" y2=\"{bottom}\" stroke=\"#888\"/><line x1=\"{left}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"#888\"/>\n",
            Self::TOP,
            Self::WIDTH - Self::RIGHT,
        );
        for (k, anchor) in ["start", "middle", "end"].iter().enumerate() {
            let share = k as f64 / 2.0;
            let t = self.t0 + share * self.span_t;
            let _ = writeln!(
                svg,
                "<text class=\"time\" x=\"{:.1}\" y=\"{:.0}\" text-anchor=\"{anchor}\">{}</text>",
                self.x(t),
                bottom + 16.0,
                crate::time::iso8601(t).unwrap_or_default()
            );
            let v = self.low + share * self.span_v;
            let _ = writeln!(
                svg,
                "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left - 6.0,
                self.y(v) + 4.0,
                document::html_escape(&options.size(v.round() as u64))
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">time (UTC)</text>",
            (left + Self::WIDTH - Self::RIGHT) / 2.0,
            Self::HEIGHT - 4.0
        );
        svg
    }
}

/// One process's figure over time: the samples as dots joined by a line, the fitted
/// (Theil–Sen) line dashed with its rate, and, when it fits on the chart, the level at which
/// this growth alone would have used the headroom down to the profile's minimum.
fn growth_chart(
    m: &MetricTrend,
    label: &str,
    e: &super::Exhaustion,
    options: &ReportOptions,
) -> String {
    let points = &m.points;
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return String::new();
    };
    let low = points.iter().map(|p| p.1).min().unwrap_or(0);
    let high = points.iter().map(|p| p.1).max().unwrap_or(0);
    // The level this process may reach before the headroom falls to the minimum; drawn when
    // it is near enough not to flatten the samples into a line.
    let ceiling = u64::try_from(e.headroom.saturating_sub(e.min_headroom as i64))
        .ok()
        .map(|room| last.1.saturating_add(room))
        .filter(|&c| c > high && c - low <= 4 * (high - low).max(1));
    let frame = Frame {
        t0: first.0,
        span_t: (last.0 - first.0).max(f64::EPSILON),
        low: low as f64,
        span_v: (ceiling.unwrap_or(high) - low).max(1) as f64,
    };
    let mut svg = frame.axes(options);
    let right = Frame::WIDTH - Frame::RIGHT;
    if let Some(c) = ceiling {
        let y = frame.y(c as f64);
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{y:.1}\" x2=\"{right}\" y2=\"{y:.1}\" stroke=\"#d62728\" stroke-width=\"2\"/><text x=\"{right}\" y=\"{:.1}\" text-anchor=\"end\" style=\"fill:#d62728\">headroom used up to the minimum at {}</text>",
            Frame::LEFT,
            y - 4.0,
            document::html_escape(&options.size(c))
        );
    }
    if let Some(fit) = &m.fit {
        let at = |t: f64| fit.intercept + fit.slope_per_second * (t - first.0);
        let _ = writeln!(
            svg,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/><text x=\"{:.0}\" y=\"{}\">fitted: {}</text>",
            frame.x(first.0),
            frame.y(at(first.0)),
            frame.x(last.0),
            frame.y(at(last.0)),
            Frame::LEFT + 8.0,
            Frame::TOP,
            document::html_escape(&rate(options, m.rate_per_hour))
        );
    }
    let line: Vec<String> = points
        .iter()
        .map(|&(t, v)| format!("{:.1},{:.1}", frame.x(t), frame.y(v as f64)))
        .collect();
    let _ = writeln!(
        svg,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>",
        line.join(" ")
    );
    for &(t, v) in points {
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#1f77b4\"><title>{}: {}</title></circle>",
            frame.x(t),
            frame.y(v as f64),
            crate::time::iso8601(t).unwrap_or_default(),
            document::html_escape(&options.size(v))
        );
    }
    format!(
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{label}\">\n{svg}</svg><figcaption>{label}</figcaption></figure>\n",
        Frame::WIDTH,
        Frame::HEIGHT,
        Frame::WIDTH,
        Frame::HEIGHT,
        label = document::html_escape(label),
    )
}

/// One test case per process: it passes unless the process is a leak suspect. Named by the
/// process's stable name (restarts and same-named processes ranked, never a pid); the rate
/// in human units in the message, in bytes per hour in a property.
pub fn junit(trend: &Trend) -> String {
    let keys: Vec<(&str, &str, u64)> = trend
        .processes
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.cmdline.as_str(),
                p.first_seen.max(0.0) as u64,
            )
        })
        .collect();
    let names = crate::identity::stable_names(&keys);
    let human = ReportOptions::default();
    let mut series = junit::Case::new("membudget.trend", "series long enough to judge");
    series.failure = (trend.outcome == Outcome::Inconclusive).then(|| verdict_line(trend, &human));
    let mut cases = vec![series];
    cases.extend(trend.processes.iter().zip(names).map(|(p, name)| {
        let mut case = junit::Case::new("membudget.trend.leak", format!("{name} does not leak"));
        case.properties
            .push(("rate_bytes_per_hour", format!("{:.0}", p.rate_per_hour)));
        case.failure = (p.verdict == Verdict::LeakSuspect).then(|| {
            format!(
                "{} (pid {}) is a leak suspect: private memory grows {}",
                p.name,
                p.pid,
                rate(&human, p.rate_per_hour)
            )
        });
        case.skipped = (p.verdict == Verdict::TooShort)
            .then(|| format!("{} (pid {}) was seen too briefly to judge", p.name, p.pid));
        case
    }));
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
    fn a_rate_against_the_net_change_says_both() {
        let m = MetricTrend {
            samples: 6,
            span_seconds: 3000.0,
            first: 3_628_000,
            last: 2_831_000,
            rate_per_hour: 29_486_000.0,
            fit: None,
            verdict: Verdict::Stable,
            points: Vec::new(),
        };
        let cells = metric_cells(&ReportOptions::default(), &m);
        assert_eq!(cells[2], "28.12 MiB/h (net -778.32 KiB)");
    }

    #[test]
    fn long_command_lines_are_cut_on_a_character() {
        assert_eq!(shortened("sh -c true", 160), "sh -c true");
        assert_eq!(shortened("ééééé", 3), "ééé...");
    }
}
