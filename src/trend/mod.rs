//! Leak detection over a series of snapshots (the seed article's last section, docs/leaks.md):
//! per process and per class, how fast memory grows and how steadily; which allocation size
//! is leaking; what fills at system level; and when the board's headroom runs out.

pub mod attribution;
pub mod render;
pub mod series;
pub mod stats;

use crate::budget::evaluate;
use crate::error::{Error, Result};
use crate::profile::{LeakSettings, Profile};
use attribution::{attribute, Attribution};
use serde::Serialize;
use series::{load_series, Metric, ProcessSample, Sample, KERNEL_FIELDS};
use stats::{fit, Fit};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The leak thresholds in force: the profile's `[leak]` table over the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub min_rate_per_hour: u64,
    pub min_samples: u32,
    pub min_span_seconds: u64,
    pub min_fit: f64,
    pub min_steady_share: f64,
    pub min_growth_steps: u32,
}

impl Default for Thresholds {
    /// 1 MiB/h eats a 64 MiB board's typical 6 MiB headroom in under a week; four samples and
    /// three growing steps keep one allocation between two samples from looking like a leak.
    fn default() -> Self {
        Thresholds {
            min_rate_per_hour: 1 << 20,
            min_samples: 4,
            min_span_seconds: 1,
            min_fit: 0.8,
            min_steady_share: 0.9,
            min_growth_steps: 3,
        }
    }
}

impl Thresholds {
    pub fn from_settings(leak: &LeakSettings, source: &str) -> Result<Thresholds> {
        let d = Thresholds::default();
        let share = |name: &str, value: Option<f64>, default: f64| match value {
            Some(v) if !(0.0..=1.0).contains(&v) => Err(Error::in_file(
                source,
                format!("[leak] {name} = {v}: expected a share between 0 and 1"),
            )),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let min_samples = leak.min_samples.unwrap_or(d.min_samples);
        if min_samples < 2 {
            return Err(Error::in_file(
                source,
                format!("[leak] min_samples = {min_samples}: a trend needs at least 2 samples"),
            ));
        }
        Ok(Thresholds {
            min_rate_per_hour: leak.min_rate_per_hour.map_or(d.min_rate_per_hour, |s| s.0),
            min_samples,
            min_span_seconds: leak.min_span_seconds.unwrap_or(d.min_span_seconds),
            min_fit: share("min_fit", leak.min_fit, d.min_fit)?,
            min_steady_share: share(
                "min_steady_share",
                leak.min_steady_share,
                d.min_steady_share,
            )?,
            min_growth_steps: leak.min_growth_steps.unwrap_or(d.min_growth_steps),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Too few samples or too short a span to tell.
    TooShort,
    Stable,
    /// Grows faster than the threshold, but not steadily enough to call it a leak.
    Growing,
    /// Grows faster than the threshold, steadily: what a leak looks like.
    LeakSuspect,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::TooShort => "too short",
            Verdict::Stable => "stable",
            Verdict::Growing => "growing",
            Verdict::LeakSuspect => "LEAK SUSPECT",
        }
    }
}

/// How one figure moved over the samples that have it.
#[derive(Debug, Clone, Serialize)]
pub struct MetricTrend {
    pub samples: usize,
    pub span_seconds: f64,
    pub first: u64,
    pub last: u64,
    /// Theil–Sen slope in bytes per hour (0 when the series is too short for any slope).
    pub rate_per_hour: f64,
    pub fit: Option<Fit>,
    pub verdict: Verdict,
    /// The samples themselves (seconds since the epoch, bytes), for charts.
    #[serde(skip)]
    pub points: Vec<(f64, u64)>,
}

impl MetricTrend {
    pub fn of(points: &[(f64, u64)], thresholds: &Thresholds) -> Option<MetricTrend> {
        let (first, last) = (points.first()?, points.last()?);
        let fitted = fit(points);
        let rate_per_hour = fitted.map_or(0.0, |f| f.slope_per_second * 3600.0);
        let span_seconds = last.0 - first.0;
        let verdict = match fitted {
            None => Verdict::TooShort,
            Some(_)
                if points.len() < thresholds.min_samples as usize
                    || span_seconds < thresholds.min_span_seconds as f64 =>
            {
                Verdict::TooShort
            }
            // A figure smaller at the end than at the start did not grow, whatever the
            // median slope of its pairs says (a spike in the middle, a drop at the end).
            Some(_) if rate_per_hour < thresholds.min_rate_per_hour as f64 || last.1 <= first.1 => {
                Verdict::Stable
            }
            Some(f)
                if f.r_squared >= thresholds.min_fit
                    && f.non_decreasing_share >= thresholds.min_steady_share
                    && f.growth_steps >= thresholds.min_growth_steps as usize =>
            {
                Verdict::LeakSuspect
            }
            Some(_) => Verdict::Growing,
        };
        Some(MetricTrend {
            samples: points.len(),
            span_seconds,
            first: first.1,
            last: last.1,
            rate_per_hour,
            fit: fitted,
            verdict,
            points: points.to_vec(),
        })
    }
}

/// One process (one pid and start time) across the samples where it was present.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessTrend {
    pub pid: u32,
    pub start_time: Option<u64>,
    pub name: String,
    pub cmdline: String,
    pub first_seen: f64,
    pub last_seen: f64,
    pub metrics: BTreeMap<Metric, MetricTrend>,
    /// The most severe verdict of any of its metrics.
    pub verdict: Verdict,
    /// Growth rate of its private memory (virtual), bytes per hour.
    pub rate_per_hour: f64,
    pub attribution: Attribution,
}

/// The same pid with a new start time (or, without start times, a new name): the process was
/// restarted (or the pid reused), and its figures start a new series.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    pub name: String,
    pub old_pid: u32,
    pub old_start_time: Option<u64>,
    pub last_seen_old: f64,
    pub new_pid: u32,
    pub new_start_time: Option<u64>,
    pub first_seen_new: f64,
}

/// When the headroom runs out at the summed rate of everything that leaks.
#[derive(Debug, Clone, Serialize)]
pub struct Exhaustion {
    /// From the budget of the last sample.
    pub headroom: i64,
    pub min_headroom: u64,
    /// Σ rates of leak suspects (process private memory, RAM filesystems, kernel memory).
    pub leak_rate_per_hour: f64,
    pub contributors: Vec<String>,
    /// Hours until the headroom falls below the profile's minimum (0 if it already has).
    pub hours_to_min_headroom: Option<f64>,
    /// Hours until there is no headroom at all.
    pub hours_to_zero: Option<f64>,
}

/// The answer for the whole series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Long enough to judge, and nothing leaks.
    NoSuspect,
    LeakSuspect,
    /// Fewer samples or a shorter span than the thresholds ask: no verdict either way (a
    /// process may be growing fast; a short series cannot tell a leak from a warm-up).
    Inconclusive,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trend {
    pub profile: String,
    pub outcome: Outcome,
    /// Why this profile was used (see `Profile::discover`).
    pub profile_chosen_by: String,
    pub thresholds: Thresholds,
    /// Snapshot paths in capture order, with their times.
    pub samples: Vec<(String, f64)>,
    pub span_seconds: f64,
    /// Processes, leak suspects first, then by private growth rate.
    pub processes: Vec<ProcessTrend>,
    pub restarts: Vec<Restart>,
    /// meminfo fields (`meminfo:Slab`) and RAM filesystems (`fs:/tmp`).
    pub system: BTreeMap<String, MetricTrend>,
    pub exhaustion: Exhaustion,
}

impl Trend {
    /// Processes whose private memory was larger in their last sample than in their first.
    pub fn grown(&self) -> impl Iterator<Item = (&ProcessTrend, i64)> {
        self.processes.iter().filter_map(|p| {
            let m = p.metrics.get(&Metric::Private)?;
            (m.last > m.first).then(|| (p, m.last as i64 - m.first as i64))
        })
    }

    pub fn suspects(&self) -> impl Iterator<Item = &ProcessTrend> {
        self.processes
            .iter()
            .filter(|p| p.verdict == Verdict::LeakSuspect)
    }

    /// Whether anything that leaks on its own (a process, a RAM filesystem, a kernel figure)
    /// is a leak suspect. AnonPages and Shmem are context: their growth is some process's or
    /// some filesystem's.
    pub fn has_suspect(&self) -> bool {
        self.suspects().next().is_some()
            || self
                .system
                .iter()
                .any(|(name, m)| leaks_on_its_own(name) && m.verdict == Verdict::LeakSuspect)
    }
}

/// A system figure whose growth no process or filesystem figure already shows.
pub(crate) fn leaks_on_its_own(system_figure: &str) -> bool {
    system_figure.starts_with("fs:")
        || system_figure
            .strip_prefix("meminfo:")
            .is_some_and(|field| KERNEL_FIELDS.contains(&field))
}

/// Identity of a process across samples: pid and start time; without start times (captures
/// lacking `stat`), pid and name.
type ProcessKey = (u32, Option<u64>, String);

fn key_of(p: &ProcessSample) -> ProcessKey {
    let name = if p.start_time.is_some() {
        String::new()
    } else {
        p.name.to_string()
    };
    (p.pid, p.start_time, name)
}

fn process_trends(samples: &[Sample], thresholds: &Thresholds) -> Vec<ProcessTrend> {
    let mut by_key: BTreeMap<ProcessKey, Vec<(f64, &ProcessSample)>> = BTreeMap::new();
    for sample in samples {
        for p in &sample.processes {
            by_key.entry(key_of(p)).or_default().push((sample.time, p));
        }
    }
    let mut trends: Vec<ProcessTrend> = by_key
        .into_values()
        .map(|seen| {
            let metrics: BTreeMap<Metric, MetricTrend> = Metric::ALL
                .iter()
                .filter_map(|&metric| {
                    let points: Vec<(f64, u64)> = seen
                        .iter()
                        .filter_map(|(t, p)| p.metrics.get(metric).map(|v| (*t, v)))
                        .collect();
                    MetricTrend::of(&points, thresholds).map(|m| (metric, m))
                })
                .collect();
            let verdict = metrics
                .values()
                .map(|m| m.verdict)
                .max()
                .unwrap_or(Verdict::TooShort);
            let rate_per_hour = metrics
                .get(&Metric::Private)
                .map_or(0.0, |m| m.rate_per_hour);
            let (first, last) = (seen[0], seen[seen.len() - 1]);
            let regions: Vec<&[series::Region]> =
                seen.iter().map(|(_, p)| &p.anon_regions[..]).collect();
            ProcessTrend {
                pid: last.1.pid,
                start_time: last.1.start_time,
                name: last.1.name.to_string(),
                cmdline: last.1.cmdline.to_string(),
                first_seen: first.0,
                last_seen: last.0,
                metrics,
                verdict,
                rate_per_hour,
                attribution: attribute(&regions),
            }
        })
        .collect();
    trends.sort_by(|a, b| {
        b.verdict
            .cmp(&a.verdict)
            .then(b.rate_per_hour.total_cmp(&a.rate_per_hour))
            .then(a.pid.cmp(&b.pid))
    });
    trends
}

/// A series that ended before the last sample, followed by one of the same name that began
/// after it ended, with the same pid (new start time) or the same command line (new pid).
fn restarts(processes: &[ProcessTrend]) -> Vec<Restart> {
    let mut out = Vec::new();
    for old in processes {
        let successor = processes
            .iter()
            .filter(|new| {
                new.first_seen > old.last_seen
                    && new.name == old.name
                    && (new.pid == old.pid || new.cmdline == old.cmdline)
            })
            .min_by(|a, b| a.first_seen.total_cmp(&b.first_seen));
        if let Some(new) = successor {
            out.push(Restart {
                name: new.name.clone(),
                old_pid: old.pid,
                old_start_time: old.start_time,
                last_seen_old: old.last_seen,
                new_pid: new.pid,
                new_start_time: new.start_time,
                first_seen_new: new.first_seen,
            });
        }
    }
    out.sort_by(|a, b| a.first_seen_new.total_cmp(&b.first_seen_new));
    out
}

fn system_trends(samples: &[Sample], thresholds: &Thresholds) -> BTreeMap<String, MetricTrend> {
    let mut points: BTreeMap<String, Vec<(f64, u64)>> = BTreeMap::new();
    for sample in samples {
        for (field, value) in &sample.meminfo {
            points
                .entry(format!("meminfo:{field}"))
                .or_default()
                .push((sample.time, *value));
        }
        for (mount, used) in &sample.ram_fs {
            points
                .entry(format!("fs:{mount}"))
                .or_default()
                .push((sample.time, *used));
        }
    }
    points
        .into_iter()
        .filter_map(|(name, pts)| MetricTrend::of(&pts, thresholds).map(|m| (name, m)))
        .collect()
}

/// Sums what leaks without counting a byte twice: process private memory, RAM filesystems,
/// and only the kernel figures no process or filesystem already holds (AnonPages is the
/// processes' anon memory, Shmem the tmpfs files).
fn exhaustion(
    processes: &[ProcessTrend],
    system: &BTreeMap<String, MetricTrend>,
    headroom: i64,
    min_headroom: u64,
) -> Exhaustion {
    let mut rate = 0.0;
    let mut contributors = Vec::new();
    for p in processes
        .iter()
        .filter(|p| p.verdict == Verdict::LeakSuspect)
    {
        if p.rate_per_hour > 0.0 {
            rate += p.rate_per_hour;
            contributors.push(format!("{} (pid {})", p.name, p.pid));
        }
    }
    for (name, m) in system {
        if leaks_on_its_own(name) && m.verdict == Verdict::LeakSuspect {
            rate += m.rate_per_hour;
            contributors.push(name.clone());
        }
    }
    let hours = |target: i64| {
        if headroom <= target {
            Some(0.0)
        } else if rate > 0.0 {
            Some((headroom - target) as f64 / rate)
        } else {
            None
        }
    };
    Exhaustion {
        headroom,
        min_headroom,
        leak_rate_per_hour: rate,
        contributors,
        hours_to_min_headroom: hours(min_headroom as i64),
        hours_to_zero: hours(0),
    }
}

/// Loads the series, orders it by capture time, and analyses it against the profile.
pub fn analyze(paths: &[PathBuf], profile: &Profile) -> Result<Trend> {
    let thresholds = Thresholds::from_settings(&profile.leak, &profile.source)?;
    let thread_stack_size = profile.thread_stack_size.map(|s| s.0);
    let series = load_series(paths, thread_stack_size)?;
    let budget = evaluate(&series.last, profile)?;
    let samples = &series.samples;
    let processes = process_trends(samples, &thresholds);
    let system = system_trends(samples, &thresholds);
    let exhaustion = exhaustion(&processes, &system, budget.headroom, budget.min_headroom);
    let span_seconds = samples[samples.len() - 1].time - samples[0].time;
    let too_short = samples.len() < thresholds.min_samples as usize
        || span_seconds < thresholds.min_span_seconds as f64;
    let mut trend = Trend {
        profile: profile.display_name(),
        outcome: Outcome::NoSuspect,
        profile_chosen_by: profile.chosen_by.clone(),
        thresholds,
        samples: samples.iter().map(|s| (s.origin.clone(), s.time)).collect(),
        span_seconds,
        restarts: restarts(&processes),
        processes,
        system,
        exhaustion,
    };
    trend.outcome = if trend.has_suspect() {
        Outcome::LeakSuspect
    } else if too_short {
        Outcome::Inconclusive
    } else {
        Outcome::NoSuspect
    };
    Ok(trend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u64, step: u64, dt: f64) -> Vec<(f64, u64)> {
        (0..n).map(|k| (k as f64 * dt, 1000 + k * step)).collect()
    }

    #[test]
    fn verdicts_follow_the_thresholds() {
        let t = Thresholds::default();
        // 64 KiB per hour-long step: 64 KiB/h, under the 1 MiB/h default.
        let slow = MetricTrend::of(&line(5, 64 << 10, 3600.0), &t).unwrap();
        assert_eq!(slow.rate_per_hour, 65536.0);
        assert_eq!(slow.verdict, Verdict::Stable);
        let fast = MetricTrend::of(&line(5, 2 << 20, 3600.0), &t).unwrap();
        assert_eq!(fast.verdict, Verdict::LeakSuspect);
        // Too few samples for the default of 4.
        let short = MetricTrend::of(&line(3, 2 << 20, 3600.0), &t).unwrap();
        assert_eq!(short.verdict, Verdict::TooShort);
        // Fast but back and forth: growing, not a leak.
        let zigzag = [
            (0.0, 0),
            (3600.0, 8 << 20),
            (7200.0, 2 << 20),
            (10800.0, 12 << 20),
            (14400.0, 6 << 20),
        ];
        let m = MetricTrend::of(&zigzag, &t).unwrap();
        assert!(m.rate_per_hour > (1 << 20) as f64);
        assert_eq!(m.verdict, Verdict::Growing);
    }

    #[test]
    fn a_figure_smaller_at_the_end_does_not_grow() {
        // PageTables as one board showed it: climbing fast for a while, then back below its
        // start. The median pairwise slope is positive; the figure did not grow.
        let mib = 1u64 << 20;
        let points: Vec<(f64, u64)> = [3.46, 4.0, 5.5, 7.0, 8.5, 2.70]
            .iter()
            .enumerate()
            .map(|(k, v)| (k as f64 * 600.0, (v * mib as f64) as u64))
            .collect();
        let m = MetricTrend::of(&points, &Thresholds::default()).unwrap();
        assert!(m.rate_per_hour > (1 << 20) as f64, "{}", m.rate_per_hour);
        assert!(m.last < m.first);
        assert_eq!(m.verdict, Verdict::Stable);
    }

    #[test]
    fn settings_are_checked() {
        let bad = LeakSettings {
            min_fit: Some(1.5),
            ..LeakSettings::default()
        };
        let err = Thresholds::from_settings(&bad, "p.toml").unwrap_err();
        assert_eq!(err.file.as_deref(), Some("p.toml"));
        assert!(err.message.contains("min_fit"), "{}", err.message);
    }

    #[test]
    fn exhaustion_at_summed_rates() {
        let t = Thresholds::default();
        let mut system = BTreeMap::new();
        system.insert(
            "fs:/tmp".to_string(),
            MetricTrend::of(&line(5, 1 << 20, 3600.0), &t).unwrap(),
        );
        // AnonPages overlaps the processes: never added.
        system.insert(
            "meminfo:AnonPages".to_string(),
            MetricTrend::of(&line(5, 5 << 20, 3600.0), &t).unwrap(),
        );
        system.insert(
            "meminfo:SUnreclaim".to_string(),
            MetricTrend::of(&line(5, 3 << 20, 3600.0), &t).unwrap(),
        );
        let e = exhaustion(&[], &system, 40 << 20, 8 << 20);
        assert_eq!(e.leak_rate_per_hour, (4 << 20) as f64);
        assert_eq!(e.hours_to_min_headroom, Some(8.0));
        assert_eq!(e.hours_to_zero, Some(10.0));
        assert_eq!(e.contributors, vec!["fs:/tmp", "meminfo:SUnreclaim"]);
        let none = exhaustion(&[], &BTreeMap::new(), 4 << 20, 8 << 20);
        assert_eq!(none.hours_to_min_headroom, Some(0.0));
        assert_eq!(none.hours_to_zero, None);
    }
}
