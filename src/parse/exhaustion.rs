//! The kernel log's evidence that a board already ran out of memory: OOM-killer lines and
//! page allocation failures. A board whose log holds them has failed its promise whatever a
//! snapshot taken afterwards shows (the killed process's memory is gone from it).

use regex_lite::Regex;
use std::sync::OnceLock;

/// How many events are kept verbatim: the count is exact, the list is a sample, so a log
/// flooded with OOM lines costs a bounded amount of memory.
const KEPT_EVENTS: usize = 16;
/// Log lines are cut to this many characters when kept.
const KEPT_LINE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// `invoked oom-killer`, `Out of memory: Kill(ed) process`, `Killed process`.
    OomKill,
    /// `page allocation failure`: an allocation the kernel could not satisfy.
    AllocationFailure,
}

/// A process the OOM killer killed, as the log names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Victim {
    pub pid: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    pub kind: EventKind,
    /// 1-based line number in the log.
    pub line: usize,
    pub text: String,
}

/// Every exhaustion line of one log.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Exhaustion {
    /// The first events, verbatim (at most `KEPT_EVENTS`).
    pub events: Vec<Event>,
    pub oom_lines: usize,
    pub allocation_failures: usize,
    /// Killed processes, each once, in log order (at most `KEPT_EVENTS`).
    pub victims: Vec<Victim>,
}

impl Exhaustion {
    pub fn is_empty(&self) -> bool {
        self.oom_lines == 0 && self.allocation_failures == 0
    }
}

fn victim_pattern() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // "Out of memory: Kill process 1234 (name) score ...", "Out of memory: Killed process
    // 1234 (name) total-vm...", "Killed process 1234 (name) ...", "oom_reaper: reaped process".
    RE.get_or_init(|| {
        Regex::new(r"(?:Kill(?:ed)? process|reaped process) (\d+) \(([^)]*)\)").expect("valid")
    })
}

fn kind_of(line: &str) -> Option<EventKind> {
    if line.contains("invoked oom-killer")
        || line.contains("Out of memory")
        || line.contains("Killed process")
    {
        Some(EventKind::OomKill)
    } else if line.contains("page allocation failure") {
        Some(EventKind::AllocationFailure)
    } else {
        None
    }
}

/// Reads a kernel log (`dmesg` text, any timestamp prefix) for exhaustion lines.
pub fn parse_exhaustion(bytes: &[u8]) -> Exhaustion {
    let mut out = Exhaustion::default();
    for (index, raw) in bytes.split(|&c| c == b'\n').enumerate() {
        let line = String::from_utf8_lossy(raw);
        let Some(kind) = kind_of(&line) else {
            continue;
        };
        match kind {
            EventKind::OomKill => out.oom_lines += 1,
            EventKind::AllocationFailure => out.allocation_failures += 1,
        }
        if let Some(c) = victim_pattern().captures(&line) {
            let pid = c[1].parse().unwrap_or(0);
            let known = out.victims.iter().any(|v| v.pid == pid && v.name == c[2]);
            if !known && out.victims.len() < KEPT_EVENTS {
                out.victims.push(Victim {
                    pid,
                    name: c[2].to_string(),
                });
            }
        }
        if out.events.len() < KEPT_EVENTS {
            out.events.push(Event {
                kind,
                line: index + 1,
                text: line.trim().chars().take(KEPT_LINE_CHARS).collect(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_lines_name_the_victim_once() {
        let log = b"[    0.000000] Booting Linux\n\
[ 5012.1] app invoked oom-killer: gfp_mask=0x201da, order=0, oom_score_adj=0\n\
[ 5012.2] Out of memory: Kill process 412 (recorder) score 901 or sacrifice child\n\
[ 5012.3] Killed process 412 (recorder) total-vm:91232kB, anon-rss:80012kB, file-rss:4kB\n\
[ 6000.0] kworker/0:1: page allocation failure: order:3, mode:0x4020\n";
        let e = parse_exhaustion(log);
        assert_eq!(e.oom_lines, 3);
        assert_eq!(e.allocation_failures, 1);
        assert_eq!(
            e.victims,
            vec![Victim {
                pid: 412,
                name: "recorder".into()
            }]
        );
        assert_eq!(e.events[0].line, 2);
        assert_eq!(e.events[3].kind, EventKind::AllocationFailure);
    }

    #[test]
    fn a_quiet_log_has_none_and_a_flood_is_bounded() {
        assert!(parse_exhaustion(b"Memory: 1024K/2048K available\n").is_empty());
        let flood = "Killed process 7 (x) total-vm:1kB\n".repeat(10_000);
        let e = parse_exhaustion(flood.as_bytes());
        assert_eq!(e.oom_lines, 10_000);
        assert_eq!(e.events.len(), KEPT_EVENTS);
        assert_eq!(e.victims.len(), 1);
    }
}
