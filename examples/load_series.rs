//! Benchmark driver for series work (what `trend` does before its own arithmetic): loads every
//! snapshot of a series and accounts it, one after another, keeping only the per-process
//! figures, as a trend over hundreds of samples must.
//!
//! ```text
//! cargo run --release --example load_series -- SERIES_DIR_OR_SNAPSHOT...
//! ```
//! Prints how many snapshots and processes were accounted, the summed user PSS (so the work
//! cannot be optimised away), and the wall time.

use membudget::account::{account, Measure};
use membudget::collect::{load, LiveOptions};
use std::path::PathBuf;
use std::time::Instant;

fn snapshots(args: impl Iterator<Item = String>) -> std::io::Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for arg in args {
        let path = PathBuf::from(arg);
        let is_series = path.is_dir() && !path.join("proc").is_dir() && !path.join("meta").exists();
        if is_series {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&path)?
                .filter_map(|e| Some(e.ok()?.path()))
                .collect();
            entries.sort();
            paths.extend(entries);
        } else {
            paths.push(path);
        }
    }
    Ok(paths)
}

fn main() {
    let paths = match snapshots(std::env::args().skip(1)) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            eprintln!("load_series: name a series directory or snapshots");
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("load_series: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let mut processes = 0;
    let mut pss_sum: u64 = 0;
    for path in &paths {
        let snapshot = match load(Some(path), LiveOptions::default()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("load_series: {e}");
                std::process::exit(2);
            }
        };
        let accounting = account(&snapshot, Measure::Pss, None);
        processes += accounting.processes.len();
        pss_sum += accounting.user_demand;
    }
    println!(
        "{} snapshots, {processes} processes, user demand sum {pss_sum} B, {:.3} s",
        paths.len(),
        started.elapsed().as_secs_f64()
    );
}
