//! Kernel-wide memory files beyond meminfo: `/proc/vmstat` (event and page counters),
//! `/proc/zoneinfo` (per-zone page counts) and `/proc/pressure/memory` (PSI).
//!
//! Each is read where the kernel has it; a file the snapshot lacks stays `None` in the model,
//! so a counter the board never showed is unknown, not zero.

use super::lines::lines;
use super::maps::LineIssue;
use std::collections::BTreeMap;

/// `/proc/vmstat`: `name count` lines, counts in pages or events (not bytes: the unit depends
/// on the counter, so none is converted here).
pub fn parse_vmstat(bytes: &[u8]) -> (BTreeMap<String, u64>, Vec<LineIssue>) {
    let mut counters = BTreeMap::new();
    let mut issues = Vec::new();
    for (number, line) in lines(bytes) {
        let text = String::from_utf8_lossy(line);
        let mut fields = text.split_whitespace();
        let (Some(name), Some(value), None) = (fields.next(), fields.next(), fields.next()) else {
            if !text.trim().is_empty() {
                issues.push(LineIssue {
                    line: number,
                    message: "expected `name count`".into(),
                });
            }
            continue;
        };
        match value.parse::<u64>() {
            Ok(v) => {
                counters.insert(name.to_string(), v);
            }
            Err(_) => issues.push(LineIssue {
                line: number,
                message: format!("{name}: {value:?} is not a count"),
            }),
        }
    }
    (counters, issues)
}

/// What the budget needs of `/proc/zoneinfo`, summed over zones: pages the firmware handed over
/// (`present`) and the kernel's allocator manages (`managed`), whose difference is what the
/// kernel reserved at boot; and the free pages parked on per-CPU lists (the pagesets' `count`),
/// which MemFree leaves out: on a many-core machine tens of MiB that would otherwise look
/// unattributed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Zones {
    pub zones: u32,
    pub present_pages: u64,
    pub managed_pages: u64,
    pub pcp_pages: u64,
}

pub fn parse_zoneinfo(bytes: &[u8]) -> Zones {
    let mut zones = Zones::default();
    for (_, line) in lines(bytes) {
        let text = String::from_utf8_lossy(line);
        let fields: Vec<&str> = text.split_whitespace().collect();
        let sum = match fields.as_slice() {
            ["Node", _, "zone", _, ..] => {
                zones.zones += 1;
                continue;
            }
            ["present", n] => (&mut zones.present_pages, n),
            ["managed", n] => (&mut zones.managed_pages, n),
            ["count:", n] => (&mut zones.pcp_pages, n),
            _ => continue,
        };
        *sum.0 = sum.0.saturating_add(sum.1.parse().unwrap_or(0));
    }
    zones
}

/// One line of `/proc/pressure/memory`: the share of time some (or all) tasks stalled on
/// memory, averaged over 10 s, 60 s and 300 s (percent), and the total stall in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct PressureLine {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total_us: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Pressure {
    pub some: Option<PressureLine>,
    /// `full`: all non-idle tasks stalled at once.
    pub full: Option<PressureLine>,
}

pub fn parse_pressure(bytes: &[u8]) -> (Pressure, Vec<LineIssue>) {
    let mut pressure = Pressure::default();
    let mut issues = Vec::new();
    for (number, line) in lines(bytes) {
        let text = String::from_utf8_lossy(line);
        let mut fields = text.split_whitespace();
        let Some(kind) = fields.next() else { continue };
        let mut parsed = PressureLine::default();
        let mut complete = 0;
        for field in fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            // A share of time is a finite percentage: NaN or a negative value is a bad line,
            // never a figure a threshold could silently pass.
            let share = || {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
            };
            let ok = match key {
                "avg10" => share().map(|v| parsed.avg10 = v).is_some(),
                "avg60" => share().map(|v| parsed.avg60 = v).is_some(),
                "avg300" => share().map(|v| parsed.avg300 = v).is_some(),
                "total" => value.parse().map(|v| parsed.total_us = v).is_ok(),
                _ => continue,
            };
            complete += usize::from(ok);
        }
        if complete != 4 {
            issues.push(LineIssue {
                line: number,
                message: "expected `some|full avg10=N avg60=N avg300=N total=N`".into(),
            });
            continue;
        }
        match kind {
            "some" => pressure.some = Some(parsed),
            "full" => pressure.full = Some(parsed),
            other => issues.push(LineIssue {
                line: number,
                message: format!("unknown pressure line {other:?}"),
            }),
        }
    }
    (pressure, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmstat_counts_and_bad_lines() {
        let (c, issues) = parse_vmstat(b"nr_free_pages 34683\noom_kill 2\nnr_zspages x\nbroken\n");
        assert_eq!(c.get("nr_free_pages"), Some(&34683));
        assert_eq!(c.get("oom_kill"), Some(&2));
        assert_eq!(issues.iter().map(|i| i.line).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn zoneinfo_sums_zones() {
        let text = b"Node 0, zone      DMA\n  pages free     3\n        present  4000\n        managed  3900\n    nr_free_pages 3\nNode 0, zone   Normal\n        spanned  65536\n        present  65536\n        managed  63077\n  pagesets\n    cpu: 0\n              count: 49\n              high:  186\n    cpu: 1\n              count: 39\n";
        let z = parse_zoneinfo(text);
        assert_eq!(z.zones, 2);
        assert_eq!(z.present_pages, 69536);
        assert_eq!(z.managed_pages, 66977);
        assert_eq!(z.pcp_pages, 88);
    }

    #[test]
    fn pressure_some_and_full() {
        let (p, issues) = parse_pressure(
            b"some avg10=1.50 avg60=0.20 avg300=0.00 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n",
        );
        assert!(issues.is_empty());
        assert_eq!(p.some.unwrap().avg10, 1.5);
        assert_eq!(p.full.unwrap().total_us, 7);
        let (p, issues) = parse_pressure(b"some avg10=x avg60=0 avg300=0 total=1\n");
        assert_eq!(p.some, None);
        assert_eq!(issues.len(), 1);
    }
}
