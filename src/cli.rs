//! The command line: parse, run the pipeline (collect → account → budget → report), map the
//! outcome to the exit code (0 within budget, 1 over, 2 bad input).

use crate::budget::{evaluate, Budget, Verdict};
use crate::collect::{load, LiveOptions};
use crate::error::Result;
use crate::output::message;
use crate::profile::Profile;
use crate::report::{reporter, Format, ReportOptions};
use clap::{Args, CommandFactory, Parser, Subcommand};
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
    /// Quiet: stderr carries only errors and warnings found nowhere else. Left out: progress
    /// lines, capture's "wrote ..." summary, and the stderr copies of warnings and skipped
    /// processes that the report itself lists.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the budget breakdown, top processes by class, and findings (exits 0 even when
    /// over budget: `check` is the gate).
    #[command(
        after_help = "Examples:\n  membudget report                                   # this machine, built-in default profile\n  membudget report board.tar.gz --profile budgets/zynq-256m.toml\n  membudget report capture-dir/ --bytes --top 30\n\nExit status: 0 whenever the report was written, over budget or not; 2 on bad input.\nTo gate a pipeline on the verdict use `membudget check` (exit 1 over budget), which takes the same\narguments and formats: `membudget check board.tar.gz -p board.toml --format junit -o budget.xml`."
    )]
    Report(ReportArgs),
    /// Print the verdict; exit 0 within budget, 1 over budget, 2 inconclusive or bad input.
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
        after_help = "Examples:\n  membudget trend series/                            # a directory of sample-NNNN.tar.gz\n  membudget trend a.tar.gz b.tar.gz c.tar.gz d.tar.gz --profile budgets/board.toml\n  membudget trend series/ --format markdown -o leaks.md --fail-on-leak\n\nExit status: 0; with --fail-on-leak, 1 when a leak suspect is found and 2 when the series is too short to judge (INCONCLUSIVE); 2 on bad input."
    )]
    Trend(TrendArgs),
    /// What changed between two snapshots (e.g. two releases): per process, per class, total.
    #[command(
        after_help = "Examples:\n  membudget diff release-1.2.tar.gz release-1.3.tar.gz -p budgets/board.toml\n  membudget diff old.tar.gz new.tar.gz --fail-above 2MiB --format markdown -o diff.md\n  membudget diff old.tar.gz new.tar.gz --fail-above 5%   # of the old demand\n\nExit status: 0, or 1 when demand grew more than --fail-above; 2 on bad input."
    )]
    Diff(DiffArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  membudget completions bash > ~/.local/share/bash-completion/completions/membudget\n  membudget completions zsh > ~/.zfunc/_membudget\n  membudget completions fish > ~/.config/fish/completions/membudget.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), for `man`.
    #[command(
        after_help = "Examples:\n  membudget man > membudget.1 && man ./membudget.1\n  membudget man | gzip > /usr/local/share/man/man1/membudget.1.gz"
    )]
    Man,
    /// Analyse many snapshots in parallel into tidy tables (NDJSON) for DuckDB, Spark...
    #[command(
        after_help = "Examples:\n  membudget export fleet/ -o tables -p budgets/board.toml\n  membudget export uploads/*.tar.gz -o tables --profile-map boards.toml --redact\n\nExit status: 0, or 2 when any snapshot failed (its reason is a row of errors.ndjson) or the run could not start; see docs/fleet.md."
    )]
    Export(crate::export::ExportArgs),
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
    /// Board profile (TOML); omitted = $MEMBUDGET_PROFILE, else ./membudget.toml, else the
    /// built-in default (RAM from the machine).
    #[arg(short, long)]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Live runs: read smaps too (RSS/PSS columns); implied by a profile measure of rss or pss.
    #[arg(long)]
    pub smaps: bool,
    /// Reach a verdict on incomplete evidence (skipped processes, missing figures): budget
    /// what is there, under a banner saying so. Without it such a check is INCONCLUSIVE (exit 2).
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Also group the processes: by program name, by mapped file (library) or by user;
    /// the largest --top groups by the profile's measure.
    #[arg(long, value_enum, value_name = "GROUPING")]
    pub by: Option<crate::account::groups::GroupBy>,
    /// With --by: list each group's processes and their part of it.
    #[arg(long, requires = "by")]
    pub members: bool,
    /// What-if: project the capture to a board with SIZE of RAM (e.g. 128MiB; the profile's
    /// carve-outs stay). Kernel static, MemTotal and min_free are modelled, user space is
    /// carried over; docs/accounting.md gives the model and its error.
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub ram: Option<u64>,
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
    /// Write the output to FILE (atomically; a device or FIFO is written into) instead of
    /// standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Hide command-line arguments (passwords, tokens, paths), keeping the program name, in
    /// every format; `redact = true` in the profile does the same.
    #[arg(long)]
    pub redact: bool,
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

    /// Whether this run hides command-line arguments.
    fn redacts(&self, profile: &Profile) -> bool {
        self.redact || profile.redact
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
    /// Take a series into the directory OUTPUT: one sample-NNNN.tar.gz every DURATION (500ms, 1s, 2m; 1ms to 7d).
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
    /// Board profile (TOML): its `[leak]` thresholds and headroom; omitted = found as for
    /// `report`.
    #[arg(short, long)]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Exit 1 when a leak suspect is found, 2 when the series is too short to judge.
    #[arg(long)]
    pub fail_on_leak: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The older snapshot (directory, .tar or .tar.gz).
    pub old: PathBuf,
    /// The newer snapshot.
    pub new: PathBuf,
    /// Board profile (TOML) both snapshots are measured against; omitted = found as for
    /// `report`.
    #[arg(short, long)]
    pub profile: Option<PathBuf>,
    /// Exit 1 when total demand grew by more than SIZE (1MiB) or a percentage of the old demand (5%).
    #[arg(long, value_name = "SIZE|PCT", value_parser = crate::diff::GrowthLimit::parse)]
    pub fail_above: Option<crate::diff::GrowthLimit>,
    #[command(flatten)]
    pub out: OutputArgs,
}

fn build_budget(args: &ReportArgs, quiet: bool) -> Result<Budget> {
    let mut profile = Profile::discover(args.profile.as_deref())?;
    if let Some(ram) = args.ram {
        profile.what_if_ram = Some(crate::profile::Size(ram));
    }
    let live = LiveOptions {
        smaps: args.smaps || profile.measure != crate::account::Measure::Virtual,
    };
    let snapshot = load(args.snapshot.as_deref(), live)?;
    let mut budget = evaluate(&snapshot, &profile)?;
    if args.allow_incomplete {
        budget.allow_incomplete();
    }
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
    if args.out.redacts(&profile) {
        crate::redact::budget(&mut budget);
    }
    // On a terminal the report itself lists them: printing them on stderr too would show
    // every warning twice on one screen; --quiet leaves them to the report.
    if !quiet
        && (args.out.output.is_some() || !std::io::IsTerminal::is_terminal(&std::io::stdout()))
    {
        announce_problems(&budget);
    }
    end_with_the_process(snapshot);
    Ok(budget)
}

/// Leaves `model` to be freed with the process, which ends right after the report: freeing a
/// fleet snapshot's model one allocation at a time (21,000 processes' mappings, names and
/// accounts) took 15-20 ms that nobody waits for. Only for what a command holds once; a
/// command that reads many snapshots (trend, export) frees each as it goes.
fn end_with_the_process<T>(model: T) {
    std::mem::forget(model);
}

/// Skipped input goes to stderr when the report is not on the terminal (written to a file, or
/// piped), so a CI log shows which file of a snapshot was damaged.
fn announce_problems(budget: &Budget) {
    for w in &budget.warnings {
        message(&format!("membudget: warning: {w}"));
    }
    for s in &budget.skipped {
        message(&format!("membudget: skipped pid {}: {}", s.pid, s.reason));
    }
}

fn emit(text: &str, output: &Option<PathBuf>) -> Result<()> {
    match output {
        Some(path) => crate::output::write_file(path, text.as_bytes()),
        None => crate::output::to_stdout(text.as_bytes()),
    }
}

fn run_command(command: Command, quiet: bool) -> Result<ExitCode> {
    match command {
        Command::Report(args) => {
            let budget = build_budget(&args, quiet)?;
            args.out
                .emit(&reporter(args.out.format).report(&budget, &args.out.options()))?;
            end_with_the_process(budget);
            Ok(ExitCode::SUCCESS)
        }
        Command::Check(args) => {
            let budget = build_budget(&args, quiet)?;
            args.out
                .emit(&reporter(args.out.format).check(&budget, &args.out.options()))?;
            let code = match budget.verdict {
                Verdict::WithinBudget => ExitCode::SUCCESS,
                Verdict::OverBudget => ExitCode::from(1),
                Verdict::Inconclusive => ExitCode::from(2),
            };
            end_with_the_process(budget);
            Ok(code)
        }
        Command::Diff(args) => {
            let profile = Profile::discover(args.profile.as_deref())?;
            let live = LiveOptions { smaps: false };
            let old = evaluate(&load(Some(&args.old), live)?, &profile)?;
            let new = evaluate(&load(Some(&args.new), live)?, &profile)?;
            let mut diff = crate::diff::compare(&old, &new, args.fail_above)?;
            if args.out.redacts(&profile) {
                crate::redact::diff(&mut diff);
            }
            args.out
                .emit(&reporter(args.out.format).diff(&diff, &args.out.options()))?;
            Ok(if diff.exceeded {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Export(args) => crate::export::run(&args),
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
                    quiet,
                )?));
            }
            let summary =
                crate::capture::capture_live(&args.output, LiveOptions { smaps: args.smaps })?;
            for w in &summary.warnings {
                message(&format!("membudget: warning: {w}"));
            }
            if !quiet {
                message(&format!(
                    "membudget: wrote {} ({} files, {} processes skipped)",
                    summary.path.display(),
                    summary.files,
                    summary.skipped
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Trend(args) => {
            let profile = Profile::discover(args.profile.as_deref())?;
            let mut trend = crate::trend::analyze(&args.snapshots, &profile)?;
            if args.out.redacts(&profile) {
                crate::redact::trend(&mut trend);
            }
            args.out.emit(&crate::trend::render::render(
                &trend,
                args.out.format,
                &args.out.options(),
            ))?;
            Ok(match (args.fail_on_leak, trend.outcome) {
                (true, crate::trend::Outcome::LeakSuspect) => ExitCode::from(1),
                (true, crate::trend::Outcome::Inconclusive) => ExitCode::from(2),
                _ => ExitCode::SUCCESS,
            })
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "membudget", &mut script);
            emit(&String::from_utf8_lossy(&script), &None)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| {
                    crate::error::Error::msg(format!("cannot render the man page: {e}"))
                })?;
            emit(&String::from_utf8_lossy(&page), &None)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Parses the command line. Help and version text go through [`emit`] like any output, so
/// `--help > /dev/full` fails as a report would; usage errors are exit 2 with clap's message.
fn parse() -> std::result::Result<Cli, ExitCode> {
    let err = match Cli::try_parse() {
        Ok(cli) => return Ok(cli),
        Err(err) => err,
    };
    let text = err.render().to_string();
    if !err.use_stderr() {
        return Err(match emit(&text, &None) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        });
    }
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), text.as_bytes());
    Err(ExitCode::from(2))
}

fn fail(e: &crate::error::Error) -> ExitCode {
    message(&format!("membudget: error: {e}"));
    ExitCode::from(2)
}

/// Entry point: every error a user can cause ends here with its message and exit code 2; a
/// reader that closed the output pipe early, with 141 (see [`crate::output`]).
pub fn run() -> ExitCode {
    crate::signals::install();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let code = run_command(cli.command, cli.quiet).unwrap_or_else(|e| fail(&e));
    if crate::output::stdout_closed() {
        ExitCode::from(crate::output::CLOSED_PIPE_EXIT_CODE)
    } else {
        code
    }
}
