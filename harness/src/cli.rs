//! Command-line interface: argument types and the dispatch to commands.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit codes:
  0    success (for `run`: every trial ran; what the package managers did is data)
  1    other error (I/O on the results folder, internal error)
  2    `run`: at least one trial errored (a harness or Docker problem, not data)
  3    bad input: a scenario file (reported as file:line:col) or the arguments
  4    Docker's engine cannot be reached (DOCKER_HOST is honoured), or it
       stopped answering mid-run (finished rows kept: run --resume --out DIR)
  5    building the matched images failed (missing mmdebstrap, failed build)
  130  interrupted (Ctrl-C / SIGTERM / SIGHUP); the run's containers were removed";

pub const VERIFY_EXIT_CODES: &str = "\
Exit codes (verify):
  0    every guarantee holds
  1    at least one guarantee is violated (the rows that violate it are printed)
  2    nothing violated, but a guarantee is unknown: a trial errored, a row's value
       is unknown, a file or column is missing (e.g. a crashpoints guarantee without
       --from an explore run), or verify itself failed to read or write a file
  3    bad input: a scenario file (file:line:col), --from folder or the arguments
  4    Docker's engine cannot be reached (without --from)
  5    building the matched images failed (without --from)
  130  interrupted (Ctrl-C / SIGTERM); the run's containers were removed";

/// `--version`: the crate's version and the git commit it was built from
/// (`build.rs`), e.g. `0.1.0 (3f2a…-dirty)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("MISTAKE_COST_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "mistake-cost", version = VERSION, about = "Measures what a mistake costs with apt, pip and Nix, in matched Docker containers", after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: every scenario × approach × repetition in a fresh container.
    #[command(after_help = EXIT_CODES)]
    Run(RunArgs),
    /// Crash the operation at every chosen syscall point (or a seeded, stratified sample of them) and classify each state as old, new or inconsistent.
    #[command(after_help = EXIT_CODES)]
    Explore(ExploreArgs),
    /// Show the matched images and whether they are current (`images build` builds them).
    #[command(after_help = EXIT_CODES)]
    Images {
        #[command(subcommand)]
        action: Option<ImagesAction>,
        /// On these engines (repeatable, `URL` as for `run`): `build` builds
        /// on the first and copies to the others, `list` shows each.
        /// Without it: DOCKER_HOST, else the local socket.
        #[arg(long = "engine", value_name = "URL", global = true)]
        engine: Vec<crate::docker::engines::EngineSpec>,
    },
    /// Check scenario files and print the plan (approaches, faults, reps, trials) without touching Docker.
    #[command(after_help = EXIT_CODES)]
    Validate(ValidateArgs),
    /// Print the JSON Schema of the scenario format (for editors; the copy in scenarios/ is this output).
    Schema,
    /// Remove every Docker object labelled mistake-cost.run (containers, networks, volumes).
    #[command(after_help = EXIT_CODES)]
    Clean {
        /// Sweep these engines (repeatable, `URL` as for `run`). Without
        /// it: DOCKER_HOST, else the local socket.
        #[arg(long = "engine", value_name = "URL")]
        engine: Vec<crate::docker::engines::EngineSpec>,
    },
    /// Judge the scenarios' [[guarantee]] hypotheses: run the trials (or read --from RUN_DIR), print one verdict per guarantee.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify(VerifyArgs),
    /// Compare two runs per scenario × approach × metric (medians with bootstrap CIs, shares); Markdown on stdout.
    #[command(after_help = EXIT_CODES)]
    Compare {
        /// The baseline run folder (trials.csv).
        base_run: PathBuf,
        /// The run folder compared against it.
        new_run: PathBuf,
        /// Also write the Markdown to this file (temp file + rename).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Every claim family into one results folder: trials in rounds of repetitions (each scenario × approach stops once decided), crash-only scenarios explored, then summary.md and summary.html.
    #[command(after_help = EXIT_CODES)]
    Study(StudyArgs),
    /// Print the README's findings block from a study folder (or check a file's block against it: exit 1 when it differs).
    #[command(after_help = EXIT_CODES)]
    Findings {
        /// The study folder.
        #[arg(default_value = "results/reference/study")]
        study_dir: PathBuf,
        /// Compare the block in this file (between the findings markers)
        /// with the one printed: exit 0 when equal, 1 when not.
        #[arg(long, value_name = "FILE")]
        check: Option<PathBuf>,
    },
    /// Write a study folder's summary.md and summary.html again (e.g. after the harness's wording changed).
    #[command(after_help = EXIT_CODES)]
    Summary {
        /// The study folder.
        study_dir: PathBuf,
    },
    /// Write RUN_DIR/report.md and RUN_DIR/report.html from a run's trials.csv (+ trials.jsonl, run.json).
    #[command(after_help = EXIT_CODES)]
    Report {
        /// A run folder: trials.csv, and trials.jsonl / run.json when present.
        run_dir: PathBuf,
        /// Formats to write, comma-separated: md, html.
        #[arg(long, value_delimiter = ',', default_value = "md,html")]
        format: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesAction {
    /// List the images and whether each is current.
    List,
    /// Build missing or stale images (the base with mmdebstrap, then one per family).
    Build {
        /// Rebuild even if current.
        #[arg(long)]
        force: bool,
    },
}

/// `explore --syscalls` without the option: every family.
pub const DEFAULT_SYSCALLS: &str = "@create,@write,@rename,@unlink,@link,@mkdir,@metadata,@sync";

/// `--reps` bound: the scenario file's own `reps` limit.
const MAX_REPS: i64 = crate::scenario::limits::MAX_REPS as i64;
/// `--jobs` bound: trials (containers) at the same time.
pub const MAX_JOBS: i64 = 64;
/// `explore --max-points` bound, per approach.
pub const MAX_POINTS: i64 = 10_000;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files or folders of *.toml files.
    #[arg(default_value = "scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Plan with this many repetitions (default: each scenario's `reps`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_REPS))]
    pub reps: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files or folders of *.toml files.
    #[arg(default_value = "scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Repetitions per scenario and approach (default: the scenario's `reps`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_REPS))]
    pub reps: Option<u32>,
    /// Trials run at the same time (with `--engine`: on each engine that
    /// sets no `jobs=` of its own).
    #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=MAX_JOBS))]
    pub jobs: u16,
    /// A Docker engine to run trials on, repeatable:
    /// `URL[,jobs=N][,name=NAME]`, URL `unix:///PATH`, `tcp://HOST:PORT` or
    /// `http://HOST:PORT`; `jobs` its own limit (default: `--jobs`); `name`
    /// the `engine` column's value (default: e1, e2, … in this order).
    /// Without it: DOCKER_HOST, else the local socket, named `local`.
    #[arg(long = "engine", value_name = "URL[,jobs=N][,name=NAME]")]
    pub engine: Vec<crate::docker::engines::EngineSpec>,
    /// Seed of the plan (approach order, fault points): same seed, same plan.
    #[arg(long, default_value_t = 1, value_parser = crate::vocab::parse_seed)]
    pub seed: u64,
    /// Security profile of every container of the run (the same for all
    /// approaches): `build-sandbox` lets Nix's build sandbox run
    /// (CAP_SYS_ADMIN, seccomp/AppArmor/systempaths unconfined);
    /// `default` keeps Docker's defaults and Nix builds without a sandbox.
    #[arg(long, value_enum, default_value_t = crate::docker::SecurityProfile::BuildSandbox)]
    pub security: crate::docker::SecurityProfile,
    /// Results folder (default: results/<run id>/). It must be empty or
    /// new, unless `--resume`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Finish the run recorded in `--out` (killed or interrupted): the same
    /// plan from its run.json, trials already in its trials.csv skipped,
    /// new rows appended.
    #[arg(long, requires = "out")]
    pub resume: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// One scenario file; its operation is crashed, its faults are ignored.
    pub scenario: PathBuf,
    /// Syscalls whose state-changing calls are crash points, comma-separated:
    /// strace names, or `@family` for a family's syscalls (create, write,
    /// rename, unlink, link, mkdir, metadata, sync).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = DEFAULT_SYSCALLS
    )]
    pub syscalls: Vec<String>,
    /// Points crashed per class (one process's changes of one syscall
    /// family in one region of the file system, e.g. dpkg renaming one
    /// package's files): all of a class this small, else its first point
    /// and seeded picks, one per file before a second call on a file (1:
    /// one seeded pick). Every found point
    /// is represented by its class's explored ones.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_POINTS))]
    pub per_class: u32,
    /// At most this many points per approach, chosen among the per-class
    /// picks (a share per syscall family, within it the first point and
    /// seeded picks, one per file first); classes left out are reported as not
    /// represented. Default: no cap.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_POINTS))]
    pub max_points: Option<u32>,
    /// Only these approaches (default: the scenario's).
    #[arg(long, value_delimiter = ',', value_parser = ApproachParser)]
    pub approaches: Vec<crate::approach::ApproachKind>,
    /// Seed of the point sample.
    #[arg(long, default_value_t = 1, value_parser = crate::vocab::parse_seed)]
    pub seed: u64,
    /// Security profile of every container of the run (the same for all
    /// approaches): `build-sandbox` lets Nix's build sandbox run
    /// (CAP_SYS_ADMIN, seccomp/AppArmor/systempaths unconfined);
    /// `default` keeps Docker's defaults and Nix builds without a sandbox.
    #[arg(long, value_enum, default_value_t = crate::docker::SecurityProfile::BuildSandbox)]
    pub security: crate::docker::SecurityProfile,
    /// Points crashed at the same time (with `--engine`: on each engine
    /// that sets no `jobs` of its own).
    #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=MAX_JOBS))]
    pub jobs: u16,
    /// A Docker engine to crash points on, repeatable, as for `run`:
    /// `URL[,jobs=N][,name=NAME]`. The dry runs run on the first one; the
    /// points are shared out as engines have free slots (crashpoints.csv's
    /// `engine` column). Without it: DOCKER_HOST, else the local socket.
    #[arg(long = "engine", value_name = "URL[,jobs=N][,name=NAME]")]
    pub engine: Vec<crate::docker::engines::EngineSpec>,
    /// Results folder (default: results/<run id>/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Scenario files or folders of *.toml files (default: with --from, the
    /// scenarios named in its run.json; else `scenarios`).
    pub scenarios: Vec<PathBuf>,
    /// Judge this run folder's trials.csv / crashpoints.csv instead of running
    /// trials: no Docker at all.
    #[arg(long, value_name = "RUN_DIR")]
    pub from: Option<PathBuf>,
    /// Also write the verdicts as JUnit XML (violated: <failure>, unknown: <error>).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Repetitions per scenario and approach (default: the scenario's `reps`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_REPS), conflicts_with = "from")]
    pub reps: Option<u32>,
    /// Seed of the plan.
    #[arg(long, default_value_t = 1, value_parser = crate::vocab::parse_seed, conflicts_with = "from")]
    pub seed: u64,
    /// Security profile of every container of the run (the same for all
    /// approaches): `build-sandbox` lets Nix's build sandbox run
    /// (CAP_SYS_ADMIN, seccomp/AppArmor/systempaths unconfined);
    /// `default` keeps Docker's defaults and Nix builds without a sandbox.
    #[arg(long, value_enum, default_value_t = crate::docker::SecurityProfile::BuildSandbox, conflicts_with = "from")]
    pub security: crate::docker::SecurityProfile,
    /// Trials run at the same time.
    #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=MAX_JOBS), conflicts_with = "from")]
    pub jobs: u16,
    /// A Docker engine to run trials on, repeatable:
    /// `URL[,jobs=N][,name=NAME]`, URL `unix:///PATH`, `tcp://HOST:PORT` or
    /// `http://HOST:PORT`; `jobs` its own limit (default: `--jobs`); `name`
    /// the `engine` column's value (default: e1, e2, … in this order).
    /// Without it: DOCKER_HOST, else the local socket, named `local`.
    #[arg(
        long = "engine",
        value_name = "URL[,jobs=N][,name=NAME]",
        conflicts_with = "from"
    )]
    pub engine: Vec<crate::docker::engines::EngineSpec>,
    /// Results folder of the trials run (default: results/<run id>/).
    #[arg(long, conflicts_with = "from")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StudyArgs {
    /// Scenario files or folders of *.toml files.
    #[arg(default_value = "scenarios")]
    pub scenarios: Vec<PathBuf>,
    /// Repetitions every scenario × approach runs before it may stop (at
    /// most the scenario's `reps`, which is also the most it runs).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=MAX_REPS))]
    pub min_reps: u32,
    /// Crash points per approach in each explored scenario.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=MAX_POINTS))]
    pub max_points: u32,
    /// Trials (or crash points) run at the same time.
    #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=MAX_JOBS))]
    pub jobs: u16,
    /// A Docker engine to run on, repeatable, as for `run`.
    #[arg(long = "engine", value_name = "URL[,jobs=N][,name=NAME]")]
    pub engine: Vec<crate::docker::engines::EngineSpec>,
    /// Seed of the plans and point samples.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Security profile of every container, as for `run`.
    #[arg(long, value_enum, default_value_t = crate::docker::SecurityProfile::BuildSandbox)]
    pub security: crate::docker::SecurityProfile,
    /// Results folder (default: results/study-<run id>/); must be empty or new.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Approach names as the registry has them: checked when parsed, listed
/// with their descriptions in `--help` and in the error for an unknown one.
#[derive(Debug, Clone, Copy)]
pub struct ApproachParser;

impl ApproachParser {
    fn names() -> clap::builder::PossibleValuesParser {
        let values = crate::approach::registry().into_iter().map(|k| {
            clap::builder::PossibleValue::new(k.as_str())
                .help(crate::approach::approach(k).description())
        });
        clap::builder::PossibleValuesParser::new(values)
    }
}

impl clap::builder::TypedValueParser for ApproachParser {
    type Value = crate::approach::ApproachKind;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let name = ApproachParser::names().parse_ref(cmd, arg, value)?;
        // The possible values are the registry's names, so this is found.
        name.parse()
            .map_err(|e: String| clap::Error::raw(clap::error::ErrorKind::InvalidValue, e))
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let values: Vec<_> = ApproachParser::names()
            .possible_values()
            .map(|v| v.collect())
            .unwrap_or_default();
        Some(Box::new(values.into_iter()))
    }
}
