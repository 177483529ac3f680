//! The command line: parse, run the pipeline (collect → account → budget → report), map the
//! outcome to the exit code (0 within budget, 1 over, 2 bad input).

use crate::budget::{evaluate, Budget};
use crate::collect::{load, LiveOptions};
use crate::error::Result;
use crate::profile::Profile;
use crate::report::{reporter, write_atomically, Format, ReportOptions};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "membudget",
    version,
    about = "Does everything an embedded Linux board runs fit in its RAM, with the promised margin? Who is over?",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the budget breakdown, top processes by class, and findings.
    #[command(
        after_help = "Examples:\n  membudget report                                   # this machine, built-in default profile\n  membudget report board.tar.gz --profile budgets/zynq-256m.toml\n  membudget report capture-dir/ --bytes --top 30"
    )]
    Report(ReportArgs),
    /// Print the verdict; exit 0 within budget, 1 over budget, 2 on bad input.
    #[command(
        after_help = "Examples:\n  membudget check board.tar.gz --profile budgets/hi3518ev300-64m.toml && echo fits\n  membudget check                                    # this machine, built-in default profile"
    )]
    Check(ReportArgs),
    /// Write a snapshot of this machine to a .tar.gz (or .tar), atomically.
    #[command(
        after_help = "Examples:\n  membudget capture -o board.tar.gz\n  membudget capture -o board.tar.gz --smaps         # include smaps (RSS/PSS figures)\n  membudget capture -o leak-run --every 10s --count 60   # series: leak-run/sample-0001.tar.gz ..."
    )]
    Capture(CaptureArgs),
    /// Print the busybox capture script, for boards that cannot run membudget itself.
    #[command(
        after_help = "Examples:\n  membudget capture-script > membudget-capture.sh    # copy it to the board, then there:\n  sh membudget-capture.sh -o /tmp/board.tar.gz --smaps"
    )]
    CaptureScript,
    /// Find leaks over a series of snapshots: growth rates, suspects, time to exhaustion.
    #[command(
        after_help = "Examples:\n  membudget trend series/                            # a directory of sample-NNNN.tar.gz\n  membudget trend a.tar.gz b.tar.gz c.tar.gz d.tar.gz --profile budgets/board.toml\n  membudget trend series/ --format markdown -o leaks.md --fail-on-leak\n\nExit status: 0, or 1 with --fail-on-leak when a leak suspect is found; 2 on bad input."
    )]
    Trend(TrendArgs),
    /// What changed between two snapshots (e.g. two releases): per process, per class, total.
    #[command(
        after_help = "Examples:\n  membudget diff release-1.2.tar.gz release-1.3.tar.gz -p budgets/board.toml\n  membudget diff old.tar.gz new.tar.gz --fail-above 2MiB --format markdown -o diff.md\n  membudget diff old.tar.gz new.tar.gz --fail-above 5%   # of the old demand\n\nExit status: 0, or 1 when demand grew more than --fail-above; 2 on bad input."
    )]
    Diff(DiffArgs),
    /// Board profiles: write a starting one from a known-good snapshot.
    #[command(subcommand)]
    Profile(ProfileCommand),
}

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Write a starting profile (TOML, with comments on where each number came from) to stdout.
    #[command(
        after_help = "Examples:\n  membudget profile new board.tar.gz > budgets/board.toml\n  membudget profile new board.tar.gz --margin 20% -o budgets/board.toml\n\nThe profile passes `check` on this snapshot; a later one that grew past the margin fails.\nSee docs/first-budget.md."
    )]
    New(ProfileNewArgs),
}

#[derive(Args, Debug)]
pub struct ProfileNewArgs {
    /// A snapshot of the board in a known-good state (directory or .tar/.tar.gz).
    pub snapshot: PathBuf,
    /// Growth allowed over today's figures in the limits and the headroom.
    #[arg(long, value_name = "PCT", default_value = "10%", value_parser = crate::profile_new::parse_margin)]
    pub margin: f64,
    /// Write the profile to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Snapshot directory or .tar/.tar.gz; omitted = the live system.
    pub snapshot: Option<PathBuf>,
    /// Board profile (TOML); omitted = the built-in default (RAM from the machine).
    #[arg(short, long)]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Live runs: read smaps too (RSS/PSS columns); implied by a profile measure of rss or pss.
    #[arg(long)]
    pub smaps: bool,
    /// Also group the processes: by program name, by mapped file (library) or by user;
    /// the largest --top groups by the profile's measure.
    #[arg(long, value_enum, value_name = "GROUPING")]
    pub by: Option<crate::account::groups::GroupBy>,
    /// With --by: list each group's processes and their part of it.
    #[arg(long, requires = "by")]
    pub members: bool,
}

/// How every report-printing command writes its output.
#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Exact byte counts instead of human sizes.
    #[arg(long)]
    pub bytes: bool,
    /// How many processes to list (leak suspects are always detailed).
    #[arg(long, default_value_t = 15)]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the output to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl OutputArgs {
    fn options(&self) -> ReportOptions {
        ReportOptions {
            exact_bytes: self.bytes,
            top: self.top,
        }
    }

    fn emit(&self, text: &str) -> Result<()> {
        emit(text, &self.output)
    }
}

#[derive(Args, Debug)]
pub struct CaptureArgs {
    /// Output archive: NAME.tar.gz, NAME.tgz or NAME.tar (a directory with --every).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Include each process's smaps (bigger capture; enables RSS/PSS figures).
    #[arg(long)]
    pub smaps: bool,
    /// Take a series into the directory OUTPUT: one sample-NNNN.tar.gz every DURATION (500ms, 1s, 2m).
    #[arg(long, value_name = "DURATION", value_parser = crate::capture::series::parse_interval)]
    pub every: Option<std::time::Duration>,
    /// How many samples the series takes (omitted: until Ctrl-C).
    #[arg(long, value_name = "N", requires = "every", value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
}

#[derive(Args, Debug)]
pub struct TrendArgs {
    /// Snapshots (.tar.gz, .tar, directories), or directories holding a series; ordered by
    /// their `meta` capture time.
    #[arg(required = true, num_args = 1..)]
    pub snapshots: Vec<PathBuf>,
    /// Board profile (TOML): its `[leak]` thresholds and headroom; omitted = built-in default.
    #[arg(short, long)]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Exit 1 when a leak suspect is found.
    #[arg(long)]
    pub fail_on_leak: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The older snapshot (directory, .tar or .tar.gz).
    pub old: PathBuf,
    /// The newer snapshot.
    pub new: PathBuf,
    /// Board profile (TOML) both snapshots are measured against; omitted = built-in default.
    #[arg(short, long)]
    pub profile: Option<PathBuf>,
    /// Exit 1 when total demand grew by more than SIZE (1MiB) or a percentage of the old demand (5%).
    #[arg(long, value_name = "SIZE|PCT", value_parser = crate::diff::GrowthLimit::parse)]
    pub fail_above: Option<crate::diff::GrowthLimit>,
    #[command(flatten)]
    pub out: OutputArgs,
}

fn build_budget(args: &ReportArgs) -> Result<Budget> {
    let profile = Profile::load_or_default(args.profile.as_deref())?;
    let live = LiveOptions {
        smaps: args.smaps || profile.measure != crate::account::Measure::Virtual,
    };
    let snapshot = load(args.snapshot.as_deref(), live)?;
    let mut budget = evaluate(&snapshot, &profile)?;
    if let Some(by) = args.by {
        let options = crate::account::groups::GroupOptions {
            by,
            members: args.members,
            top: args.out.top,
            measure: profile.measure,
            thread_stack_size: profile.thread_stack_size.map(|s| s.0),
        };
        budget.groups = Some(crate::account::groups::group(&snapshot, &options));
    }
    announce_problems(&budget);
    Ok(budget)
}

/// Skipped input goes to stderr as well as into the report, so a CI log shows which file of a
/// snapshot was damaged even when the report itself is written to a file.
fn announce_problems(budget: &Budget) {
    for w in &budget.warnings {
        eprintln!("membudget: warning: {w}");
    }
    for s in &budget.skipped {
        eprintln!("membudget: skipped pid {}: {}", s.pid, s.reason);
    }
}

fn emit(text: &str, output: &Option<PathBuf>) -> Result<()> {
    match output {
        Some(path) => write_atomically(path, text.as_bytes()),
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = stdout.write_all(text.as_bytes());
            Ok(())
        }
    }
}

fn run_command(command: Command) -> Result<ExitCode> {
    match command {
        Command::Report(args) => {
            let budget = build_budget(&args)?;
            args.out
                .emit(&reporter(args.out.format).report(&budget, &args.out.options()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(args) => {
            let budget = build_budget(&args)?;
            args.out
                .emit(&reporter(args.out.format).check(&budget, &args.out.options()))?;
            Ok(if budget.within_budget {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Diff(args) => {
            let profile = Profile::load_or_default(args.profile.as_deref())?;
            let live = LiveOptions { smaps: false };
            let old = evaluate(&load(Some(&args.old), live)?, &profile)?;
            let new = evaluate(&load(Some(&args.new), live)?, &profile)?;
            let diff = crate::diff::compare(&old, &new, args.fail_above)?;
            args.out
                .emit(&reporter(args.out.format).diff(&diff, &args.out.options()))?;
            Ok(if diff.exceeded {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Profile(ProfileCommand::New(args)) => {
            let snapshot = load(Some(&args.snapshot), LiveOptions::default())?;
            emit(
                &crate::profile_new::new_profile(&snapshot, args.margin)?,
                &args.output,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CaptureScript => {
            emit(crate::capture::script::CAPTURE_SCRIPT, &None)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Capture(args) => {
            if let Some(every) = args.every {
                let plan = crate::capture::series::SeriesPlan {
                    every,
                    count: args.count,
                    options: LiveOptions { smaps: args.smaps },
                };
                return Ok(ExitCode::from(crate::capture::series::run_series(
                    &args.output,
                    plan,
                )?));
            }
            let summary =
                crate::capture::capture_live(&args.output, LiveOptions { smaps: args.smaps })?;
            for w in &summary.warnings {
                eprintln!("membudget: warning: {w}");
            }
            eprintln!(
                "membudget: wrote {} ({} files, {} processes skipped)",
                summary.path.display(),
                summary.files,
                summary.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Trend(args) => {
            let profile = Profile::load_or_default(args.profile.as_deref())?;
            let trend = crate::trend::analyze(&args.snapshots, &profile)?;
            args.out.emit(&crate::trend::render::render(
                &trend,
                args.out.format,
                &args.out.options(),
            ))?;
            Ok(if args.fail_on_leak && trend.has_suspect() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

/// Entry point: every error a user can cause ends here with its message and exit code 2.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match run_command(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("membudget: error: {e}");
            ExitCode::from(2)
        }
    }
}
