//! `membudget export`: the map step of a fleet analysis. Many snapshots are analysed in
//! parallel, one per worker thread, and written as tidy tables (docs/fleet.md) that DuckDB,
//! Spark, Trino or ClickHouse read as they are. Memory is bounded by the number of workers, not
//! the number of snapshots: each worker holds one snapshot's model, and at most one finished
//! snapshot's rows per worker wait for the writer.
//!
//! A snapshot that cannot be read or measured is a row of the `errors` table, not the end of
//! the run; the exit status says whether any failed (docs/fleet.md).

mod output;
mod profile_map;
pub mod rows;

use crate::budget::evaluate;
use crate::error::{Error, Result};
use crate::profile::Profile;
use clap::Args;
use output::{Encoded, Output, TABLES};
use profile_map::ProfileMap;
use rows::{Identity, Rows};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Snapshots (.tar.gz, .tar, directories), or directories holding snapshots.
    #[arg(required = true, num_args = 1..)]
    pub snapshots: Vec<PathBuf>,
    /// Directory to write the tables to (must not exist, or be empty); written whole or not at all.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Board profile for every snapshot no --profile-map rule picks; omitted = built-in default.
    #[arg(short, long)]
    pub profile: Option<PathBuf>,
    /// TOML rules picking a profile per snapshot from its meta (host, board, firmware...).
    #[arg(long, value_name = "FILE")]
    pub profile_map: Option<PathBuf>,
    /// Keep only the program name of each command line (arguments can hold secrets).
    #[arg(long)]
    pub redact: bool,
    /// Snapshots analysed at once (default: one per core); memory grows with it.
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,
}

/// One input of the run: a snapshot path, or a named path that could not be listed (a
/// vanished file, an unreadable directory) with the reason, which becomes its `errors` row.
type Input = (PathBuf, Option<String>);

/// What every worker needs, shared read-only.
struct Plan<'a> {
    paths: &'a [Input],
    profiles: &'a ProfileMap,
    redact: bool,
}

/// Exit status: 0 when every snapshot was exported, 2 when any is in the `errors` table (its
/// rows are still written); 2 with no DIR when the run itself cannot start or finish.
pub fn run(args: &ExportArgs) -> Result<ExitCode> {
    let fallback = Profile::load_or_default(args.profile.as_deref())?;
    let profiles = match &args.profile_map {
        Some(map) => ProfileMap::load(map, fallback)?,
        None => ProfileMap::single(fallback),
    };
    let paths = inputs(&args.snapshots);
    let mut output = Output::create(&args.output)?;
    let plan = Plan {
        paths: &paths,
        profiles: &profiles,
        redact: args.redact,
    };
    let jobs = args.jobs.map_or_else(default_jobs, |n| n as usize);
    analyse_all(&plan, jobs, &mut output)?;
    let failed = output.rows[4];
    let rows = output.rows;
    let dir = output.finish()?;
    let counts: Vec<String> = TABLES
        .iter()
        .zip(rows)
        .map(|(table, n)| format!("{n} {table}"))
        .collect();
    crate::output::message(&format!(
        "membudget: wrote {} ({})",
        dir.display(),
        counts.join(", ")
    ));
    if failed > 0 {
        crate::output::message(&format!(
            "membudget: {failed} of {} snapshots failed: see {}",
            paths.len(),
            dir.join("errors.ndjson").display()
        ));
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// The snapshots the user named, directories expanded as `trend` does; a name that cannot be
/// expanded is an input that fails on its own rather than the end of the run.
fn inputs(named: &[PathBuf]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for name in named {
        match crate::trend::series::expand(std::slice::from_ref(name)) {
            Ok(paths) => inputs.extend(paths.into_iter().map(|p| (p, None))),
            Err(e) => inputs.push((name.clone(), Some(e.to_string()))),
        }
    }
    inputs
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `jobs` workers, each taking the next snapshot until none is left, while this thread
/// writes what they hand over. The hand-over channel holds at most `jobs` snapshots' rows, so
/// a slow disk holds the workers back instead of piling rows up in memory. A write error stops
/// the workers (their next hand-over fails) and is the run's error.
fn analyse_all(plan: &Plan, jobs: usize, output: &mut Output) -> Result<()> {
    let next = AtomicUsize::new(0);
    let (to_writer, from_workers) = sync_channel::<Result<Encoded>>(jobs);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(plan.paths.len()) {
            let to_writer = to_writer.clone();
            let next = &next;
            scope.spawn(move || loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= plan.paths.len() {
                    break;
                }
                if to_writer.send(analyse(plan, index)).is_err() {
                    break;
                }
            });
        }
        drop(to_writer);
        let written = from_workers
            .iter()
            .try_for_each(|encoded| output.write(&encoded?));
        drop(from_workers);
        written
    })
}

/// One snapshot's rows, or its row in `errors`: whatever goes wrong with one snapshot, a panic
/// included, stays with that snapshot.
fn analyse(plan: &Plan, index: usize) -> Result<Encoded> {
    let (path, unlisted) = &plan.paths[index];
    let shown = path.display().to_string();
    let who = Identity {
        id: index as u64,
        path: &shown,
        redact: plan.redact,
    };
    if let Some(reason) = unlisted {
        return Encoded::of(&Rows::of_error(&who, reason.clone()));
    }
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        measure(path, plan.profiles, &who)
    }));
    match attempt {
        Ok(Ok(encoded)) => Ok(encoded),
        Ok(Err(e)) => Encoded::of(&Rows::of_error(&who, e.to_string())),
        Err(_) => Encoded::of(&Rows::of_error(
            &who,
            "internal error while analysing this snapshot (a bug: please report it)".into(),
        )),
    }
}

/// Reads, measures and encodes one snapshot while its budget is at hand.
fn measure(path: &Path, profiles: &ProfileMap, who: &Identity) -> Result<Encoded> {
    let snapshot = crate::collect::load_on_this_thread(path)?;
    let profile = profiles.pick(&snapshot.meta.fields);
    let budget = evaluate(&snapshot, profile).map_err(|e| {
        Error::msg(format!(
            "{e} (profile {} picked for this snapshot)",
            profile.source
        ))
    })?;
    Encoded::of(&Rows::of_budget(who, &snapshot, &budget))
}
