//! A series of native captures for leak tracking: `capture -o DIR --every 1s --count N` writes
//! `DIR/sample-0001.tar.gz`, `sample-0002.tar.gz`, ..., each a whole snapshot with its own
//! `meta` `time=` (the series convention shared with `trend`, which orders by that time).
//!
//! Ctrl-C (or SIGTERM, SIGHUP) stops the series cleanly: the signal is only recorded
//! ([`crate::signals::defer`]), the sample being written is finished (each sample is written
//! under a temporary name and renamed when whole, so no half-written archive can appear), and
//! the samples already taken are kept. A second signal ends the run at once, temporary removed.

use super::{capture_to, CaptureSummary};
use crate::collect::LiveOptions;
use crate::error::{Error, Result};
use crate::output::Existing;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the wait between samples sleeps before looking at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(100);

/// The longest interval: a sampling plan beyond a week is a typo, and the bound keeps every
/// sample's due time (`every * index`, up to 2^32 samples) far from any overflow.
const MAX_INTERVAL: Duration = Duration::from_secs(7 * 86_400);

/// Stop signals recorded rather than acted on while a series runs; back to normal on drop.
struct Deferred;

impl Deferred {
    fn start() -> Deferred {
        crate::signals::defer(true);
        Deferred
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        crate::signals::defer(false);
    }
}

/// Parses an interval: `500ms`, `1s`, `1.5s`, `2m`, `1h`, `1d`, or a plain number of seconds,
/// from 1 ms to a week. Decimal arithmetic on integers (nanoseconds), so no number a user types
/// can overflow or lose its meaning in a float.
pub fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not an interval (e.g. 500ms, 1s, 1.5s, 2m, 1h)");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_ns: u128 = match unit.trim() {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        other => return Err(format!("unknown interval unit {other:?} (ms, s, m, h, d)")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(bad());
    }
    // More digits than any interval up to a week needs are refused before they are summed.
    let digits = |s: &str| -> std::result::Result<u128, String> {
        if s.len() > 18 {
            return Err(format!("interval {text:?} is longer than a week"));
        }
        Ok(s.parse::<u128>().unwrap_or(0))
    };
    let fraction_ns = fraction
        .bytes()
        .take(18)
        .zip(1..)
        .map(|(d, place)| u128::from(d - b'0') * unit_ns / 10u128.pow(place))
        .sum::<u128>();
    let nanos = digits(whole)? * unit_ns + fraction_ns;
    if nanos > MAX_INTERVAL.as_nanos() {
        return Err(format!("interval {text:?} is longer than a week"));
    }
    if nanos < 1_000_000 {
        return Err(format!("interval {text:?} must be at least 1ms"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// What to take: one sample every `every`, `count` of them (`None`: until Ctrl-C).
#[derive(Debug, Clone, Copy)]
pub struct SeriesPlan {
    pub every: Duration,
    pub count: Option<u32>,
    pub options: LiveOptions,
}

/// The file name of the `index`-th sample (1-based).
pub fn sample_name(index: u32) -> String {
    format!("sample-{index:04}.tar.gz")
}

/// What a series wrote.
#[derive(Debug)]
pub struct SeriesSummary {
    pub samples: Vec<CaptureSummary>,
    /// The stop signal (SIGINT, SIGTERM, SIGHUP) that ended the series before `count` samples.
    pub interrupted: Option<i32>,
}

/// Refuses a directory that already holds samples: appending to an old series would mix two
/// runs (and two boots, perhaps) under one name.
fn prepare_directory(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), &e))?;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), &e))?;
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with("sample-") {
            return Err(Error::in_file(
                dir.display().to_string(),
                "already holds a series (sample-* files): choose a new directory",
            ));
        }
    }
    Ok(())
}

/// Takes the series into `dir`. `progress` is told after each sample (index, summary, time to
/// the next one). The stop flag is checked between samples and while waiting.
pub fn capture_series(
    dir: &Path,
    plan: SeriesPlan,
    progress: &mut dyn FnMut(u32, &CaptureSummary, Option<Duration>),
) -> Result<SeriesSummary> {
    prepare_directory(dir)?;
    let _deferred = Deferred::start();
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut index = 0u32;
    loop {
        if let Some(signal) = crate::signals::pending() {
            return Ok(SeriesSummary {
                samples,
                interrupted: Some(signal),
            });
        }
        index += 1;
        // The sample's name is ours: a file that appeared there since the directory was
        // checked (planted, or another series started into it) is kept and ends the series.
        let summary = capture_to(
            &mut crate::collect::live::LiveSource::new(plan.options),
            &dir.join(sample_name(index)),
            Existing::Refuse,
        )?;
        let done = plan.count.is_some_and(|count| index >= count);
        // Bounded by MAX_INTERVAL and u32 samples: at most 2^32 weeks, no overflow.
        let next_at = started + plan.every * index;
        progress(
            index,
            &summary,
            (!done).then(|| next_at.saturating_duration_since(Instant::now())),
        );
        samples.push(summary);
        if done {
            return Ok(SeriesSummary {
                samples,
                interrupted: None,
            });
        }
        while crate::signals::pending().is_none() {
            let left = next_at.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(STOP_POLL));
        }
    }
}

/// How a series shows its progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// `--quiet`: none.
    Silent,
    /// A terminal: one line, rewritten after each sample.
    Rewritten,
    /// A log (CI, a file, a pipe): one line per sample, so an hours-long series shows it lives.
    PerSample,
}

/// `membudget capture -o DIR --every ... [--count N]`: the series, its progress on stderr
/// (none with `quiet`), and the exit code (0 complete; 128 + the signal number when stopped by
/// SIGINT, SIGTERM or SIGHUP, the samples taken kept: 130 for Ctrl-C).
pub fn run_series(dir: &Path, plan: SeriesPlan, quiet: bool) -> Result<u8> {
    let mut stderr = std::io::stderr();
    let progress = match (quiet, stderr.is_terminal()) {
        (true, _) => Progress::Silent,
        (false, true) => Progress::Rewritten,
        (false, false) => Progress::PerSample,
    };
    let total = plan.count.map_or("?".to_string(), |c| c.to_string());
    let mut report = |index: u32, summary: &CaptureSummary, next: Option<Duration>| {
        if progress == Progress::Rewritten && !summary.warnings.is_empty() {
            let _ = writeln!(stderr); // off the progress line
        }
        for w in &summary.warnings {
            crate::output::message(&format!("membudget: warning: sample {index}: {w}"));
        }
        let next = next.map_or(String::new(), |d| {
            format!(", next in {:.1}s", d.as_secs_f64())
        });
        let line = format!(
            "membudget: sample {index}/{total} written ({} files, {} skipped){next}",
            summary.files, summary.skipped
        );
        let _ = match progress {
            Progress::Silent => Ok(()),
            Progress::Rewritten => write!(stderr, "\r\x1b[K{line}; Ctrl-C stops"),
            Progress::PerSample => writeln!(stderr, "{line}"),
        };
    };
    let series = capture_series(dir, plan, &mut report)?;
    if progress == Progress::Rewritten {
        let _ = writeln!(stderr);
    }
    if quiet {
        return Ok(exit_code(&series));
    }
    crate::output::message(&format!(
        "membudget: {} {} sample(s) in {}",
        if series.interrupted.is_some() {
            "interrupted: kept"
        } else {
            "wrote"
        },
        series.samples.len(),
        dir.display()
    ));
    Ok(exit_code(&series))
}

/// 0 for a complete series, 128 + the signal number for one stopped by a signal.
fn exit_code(series: &SeriesSummary) -> u8 {
    series.interrupted.map_or(0, |signal| 128 + signal as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("1s").unwrap(), Duration::from_secs(1));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_interval("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_interval("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("fast").is_err());
        assert!(parse_interval("3 days").is_err());
        assert_eq!(parse_interval("0.001").unwrap(), Duration::from_millis(1));
        assert_eq!(
            parse_interval("7d").unwrap(),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(parse_interval(".5m").unwrap(), Duration::from_secs(30));
        for absurd in [
            "100000000000000000000",
            "10000000000000000000s",
            "7.0000001d",
        ] {
            assert!(
                parse_interval(absurd).unwrap_err().contains("week"),
                "{absurd}"
            );
        }
        for bad in ["1.2.3s", ".", "0.0009s", "1e3"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sample_names_sort_in_order() {
        assert_eq!(sample_name(1), "sample-0001.tar.gz");
        assert!(sample_name(9) < sample_name(10));
    }

    #[test]
    fn a_directory_with_samples_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(sample_name(1)), b"").unwrap();
        let err = prepare_directory(dir.path()).unwrap_err();
        assert!(err.to_string().contains("already holds a series"));
    }

    #[test]
    fn a_sample_name_planted_during_the_series_ends_it_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let series = dir.path().join("series");
        let plan = SeriesPlan {
            every: Duration::from_millis(1),
            count: Some(3),
            options: LiveOptions::default(),
        };
        let planted = series.join(sample_name(2));
        let mut after_first = |index: u32, _: &CaptureSummary, _: Option<Duration>| {
            if index == 1 {
                std::fs::write(&planted, b"not ours").unwrap();
            }
        };
        let err = capture_series(&series, plan, &mut after_first).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert!(err.to_string().contains("sample-0002.tar.gz"), "{err}");
        assert_eq!(std::fs::read(&planted).unwrap(), b"not ours");
        assert!(series.join(sample_name(1)).metadata().unwrap().len() > 0);
        assert!(!series.join(sample_name(3)).exists());
    }
}
