//! A series of native captures for leak tracking: `capture -o DIR --every 1s --count N` writes
//! `DIR/sample-0001.tar.gz`, `sample-0002.tar.gz`, ..., each a whole snapshot with its own
//! `meta` `time=` (the series convention shared with `trend`, which orders by that time).
//!
//! Ctrl-C stops the series cleanly: the handler only sets a flag, the sample being written is
//! finished (each sample is written under a temporary name and renamed when whole, so no
//! half-written archive can appear), and the samples already taken are kept.

use super::{capture_live, CaptureSummary};
use crate::collect::LiveOptions;
use crate::error::{Error, Result};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Exit code of a series stopped by Ctrl-C, as a shell reports a SIGINT-ended command.
pub const INTERRUPTED_EXIT_CODE: u8 = 130;

/// How long the wait between samples sleeps before looking at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Set by the SIGINT handler; read between samples.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_signal: libc::c_int) {
    // Only an atomic store: the one thing that is safe in a signal handler.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// The SIGINT handler for the duration of a series; the previous disposition is restored on
/// drop, so a library caller's own handling is left as it was.
struct SigintGuard {
    previous: libc::sigaction,
}

impl SigintGuard {
    fn install() -> Result<SigintGuard> {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: sigaction structs are plain data; the handler is an extern "C" fn that only
        // stores to an atomic. SA_RESTART keeps the capture's reads from failing with EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, &action, &mut previous) != 0 {
                return Err(Error::msg(format!(
                    "cannot install the Ctrl-C handler: {}",
                    std::io::Error::last_os_error()
                )));
            }
            Ok(SigintGuard { previous })
        }
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the disposition sigaction returned at install time.
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
        }
    }
}

/// Parses an interval: `500ms`, `1s`, `1.5s`, `2m`, `1h`, or a plain number of seconds.
pub fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not an interval (e.g. 500ms, 1s, 2m, 1h)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown interval unit {other:?} (ms, s, m, h)")),
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!("interval {text:?} must be more than zero"));
    }
    Ok(Duration::from_secs_f64(seconds))
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
    /// Stopped by Ctrl-C before `count` samples.
    pub interrupted: bool,
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
    let _guard = SigintGuard::install()?;
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut index = 0u32;
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Ok(SeriesSummary {
                samples,
                interrupted: true,
            });
        }
        index += 1;
        let summary = capture_live(&dir.join(sample_name(index)), plan.options)?;
        let done = plan.count.is_some_and(|count| index >= count);
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
                interrupted: false,
            });
        }
        while !INTERRUPTED.load(Ordering::SeqCst) {
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
/// (none with `quiet`), and the exit code (0 complete, 130 stopped by Ctrl-C with its samples
/// kept).
pub fn run_series(dir: &Path, plan: SeriesPlan, quiet: bool) -> Result<u8> {
    let mut stderr = std::io::stderr();
    let progress = match (quiet, stderr.is_terminal()) {
        (true, _) => Progress::Silent,
        (false, true) => Progress::Rewritten,
        (false, false) => Progress::PerSample,
    };
    let total = plan.count.map_or("?".to_string(), |c| c.to_string());
    let mut report = |index: u32, summary: &CaptureSummary, next: Option<Duration>| {
        for w in &summary.warnings {
            let _ = writeln!(stderr, "\nmembudget: warning: sample {index}: {w}");
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
    eprintln!(
        "membudget: {} {} sample(s) in {}",
        if series.interrupted {
            "interrupted: kept"
        } else {
            "wrote"
        },
        series.samples.len(),
        dir.display()
    );
    Ok(exit_code(&series))
}

/// 0 for a complete series, 130 for one stopped by Ctrl-C.
fn exit_code(series: &SeriesSummary) -> u8 {
    if series.interrupted {
        INTERRUPTED_EXIT_CODE
    } else {
        0
    }
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
}
