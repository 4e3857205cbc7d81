//! The command line: `kpsa scan`, `kpsa checks`, `kpsa explain`.
//!
//! Exit codes: 0 nothing at or above the gate, 1 findings at or above the
//! gate, 2 usage or configuration error, 3 some input could not be read or
//! parsed (the findings from the rest are still printed). When several
//! apply: 2 > 3 > 1 > 0.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::policy::registry::{self, CHECKS};
use crate::policy::{Tier, VersionSpec};
use crate::report::{self, RunInfo};
use crate::scan::{Input, ScanOptions, scan};

pub const EXIT_OK: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_INPUT: i32 = 3;

#[derive(Parser, Debug)]
#[command(name = "kpsa", version, about = "Pod Security Standards for the manifests a repository deploys", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Evaluate manifest files, directories (every *.yaml / *.yml below) or `-` (stdin).
    Scan(ScanArgs),
    /// List every check with its tier, severity and policy versions.
    Checks,
    /// Explain a check: what it looks at, why it matters, a failing example and the fix.
    Explain {
        /// A check id, as in `kpsa checks` (e.g. `privileged`).
        check: String,
    },
}

#[derive(clap::Args, Debug)]
struct ScanArgs {
    /// Files, directories or `-`; default: the current directory.
    paths: Vec<String>,
    /// Which checks run: baseline, restricted (includes baseline) or hardened (includes both).
    #[arg(long, value_enum, default_value = "hardened")]
    level: LevelArg,
    /// The target cluster's Kubernetes version: `latest` or `v1.0` … `v1.37` (newer versions evaluate as the newest policy known).
    #[arg(long, default_value = "latest", value_parser = parse_version)]
    kubernetes_version: VersionSpec,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Fail (exit 1) on findings of this tier or a more severe one; `never` never fails on findings.
    #[arg(long, value_enum, default_value = "restricted")]
    fail_on: FailOn,
    /// Worker threads for parsing and evaluation (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Colour in text output: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorArg,
}

fn parse_version(s: &str) -> Result<VersionSpec, String> {
    s.parse()
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum LevelArg {
    Baseline,
    Restricted,
    Hardened,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum FailOn {
    Baseline,
    Restricted,
    Hardened,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

fn tier(level: LevelArg) -> Tier {
    match level {
        LevelArg::Baseline => Tier::Baseline,
        LevelArg::Restricted => Tier::Restricted,
        LevelArg::Hardened => Tier::Hardened,
    }
}

/// Run kpsa with these arguments; returns the exit code.
pub fn run(args: impl IntoIterator<Item = String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::Scan(args) => run_scan(args),
        Command::Checks => {
            for c in CHECKS {
                println!(
                    "{:<30} {:<10} {:<6}  {}",
                    c.id,
                    c.tier.as_str(),
                    c.tier.severity().as_str(),
                    c.doc.summary
                );
            }
            EXIT_OK
        }
        Command::Explain { check } => match registry::find(&check) {
            Some(c) => {
                print!("{}", crate::docs::explain(c));
                EXIT_OK
            }
            None => {
                let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
                eprintln!(
                    "kpsa: unknown check {check:?}; known checks: {}",
                    ids.join(", ")
                );
                EXIT_USAGE
            }
        },
    }
}

fn run_scan(args: ScanArgs) -> i32 {
    let version = args.kubernetes_version.resolve();
    if let VersionSpec::Exact(v) = args.kubernetes_version {
        if v != version {
            eprintln!(
                "kpsa: warning: kpsa knows Pod Security policies up to {version}; evaluating {v} as {version}"
            );
        }
    }
    let label = match args.kubernetes_version {
        VersionSpec::Latest => "latest".to_string(),
        VersionSpec::Exact(_) => version.to_string(),
    };
    let opts = ScanOptions::new(tier(args.level), version, label.clone());
    let inputs: Vec<Input> = if args.paths.is_empty() {
        vec![Input::Path(PathBuf::from("."))]
    } else {
        args.paths
            .iter()
            .map(|p| {
                if p == "-" {
                    Input::Stdin
                } else {
                    Input::Path(PathBuf::from(p))
                }
            })
            .collect()
    };
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(args.jobs.unwrap_or(0))
        .build()
    {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("kpsa: cannot start worker threads: {e}");
            return EXIT_USAGE;
        }
    };
    let result = pool.install(|| scan(&inputs, &opts));
    let fail_on = match args.fail_on {
        FailOn::Baseline => Some(Tier::Baseline),
        FailOn::Restricted => Some(Tier::Restricted),
        FailOn::Hardened => Some(Tier::Hardened),
        FailOn::Never => None,
    };
    let run = RunInfo {
        command: "scan",
        kubernetes_version: version,
        version_label: label,
        level: opts.tier,
        fail_on,
    };
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = match args.format {
        Format::Text => std::io::Write::write_all(
            &mut out,
            report::text::render(&result, &run, color).as_bytes(),
        ),
        Format::Json => report::json::write(&result, &run, &mut out),
    };
    if let Err(e) = written.and_then(|_| std::io::Write::flush(&mut out)) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("kpsa: cannot write the report: {e}");
            return EXIT_INPUT;
        }
    }
    if !result.errors.is_empty() {
        EXIT_INPUT
    } else if report::gated(&result, fail_on) > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}
