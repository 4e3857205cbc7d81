//! The command line: `kpsa scan`, `kpsa checks`, `kpsa explain`.
//!
//! Exit codes: 0 nothing at or above the gate, 1 findings at or above the
//! gate, 2 usage or configuration error, 3 some input could not be read or
//! parsed (the findings from the rest are still printed). When several
//! apply: 2 > 3 > 1 > 0.

mod argocd;
mod cluster;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::compare;
use crate::config::{self, Config, HelmSpec};
use crate::pipeline::{self, Progress, absolute};
use crate::plan::{self, Plan, Source, Target, relative, repo_root};
use crate::policy::registry::{self, CHECKS};
use crate::policy::{Tier, VersionSpec};
use crate::render::Renderers;
use crate::report::{self, RunInfo};
use crate::scan::{STDIN_NAME, ScanOptions, ScanResult};

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
    /// Render and evaluate what the repository deploys: charts, kustomizations and manifests.
    Scan(ScanArgs),
    /// Render two revisions and report only what the change introduces, on the line that introduced it.
    Diff(DiffArgs),
    /// List the targets `scan` would render, and why each is one.
    Targets(TargetsArgs),
    /// Record today's findings in an accepted-findings file (for `scan --accepted`).
    Accept(AcceptArgs),
    /// Render any format from a saved JSON report (`--format json` of `scan` or `diff`),
    /// without the repository: the report is checked against its schema first.
    Report(ReportArgs),
    /// Join the JSON reports of the shards of one run (`--shard I/N`) into the report one
    /// unsharded run would have written, in any format.
    Merge(MergeArgs),
    /// Publish a saved `kpsa diff --format json` report to a pull request.
    #[command(subcommand)]
    Publish(PublishTarget),
    /// Argo CD: the config-management plugin's commands.
    #[command(subcommand)]
    Argocd(argocd::ArgocdCommand),
    /// The live cluster: what its Pod Security Admission would do with some manifests.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
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
    /// Where to look: a directory (its charts, kustomizations and manifests are
    /// discovered), a chart or kustomization directory, files, or `-` (stdin).
    /// Default: the targets of .kpsa.yaml, else discovery at the repository root.
    paths: Vec<String>,
    /// Read PATHs as plain manifests only (every *.yaml / *.yml below), render nothing.
    #[arg(long)]
    manifests: bool,
    /// An accepted-findings file (`kpsa accept --write`): report only findings not in it,
    /// and list its entries that no longer occur.
    #[arg(long, value_name = "FILE")]
    accepted: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    helm: HelmArgs,
    #[command(flatten)]
    eval: EvalArgs,
}

/// How to evaluate and report; shared by `scan` and `diff`.
#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// Which checks run: baseline, restricted (includes baseline) or hardened (includes both).
    #[arg(long, value_enum)]
    level: Option<LevelArg>,
    /// The target cluster's Kubernetes version: `latest` or `v1.0` … `v1.37` (newer versions evaluate as the newest policy known).
    #[arg(long, value_parser = parse_version)]
    kubernetes_version: Option<VersionSpec>,
    /// Fail (exit 1) on findings of this tier or a more severe one; `never` never fails on findings.
    /// In `diff`, only new findings count.
    #[arg(long, value_enum)]
    fail_on: Option<FailOn>,
    /// Worker threads for rendering, parsing and evaluation (default: all cores; at most 4 × the cores).
    #[arg(long, value_parser = parse_jobs)]
    jobs: Option<usize>,
    /// No progress on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Print render and evaluation times on standard error.
    #[arg(long)]
    timings: bool,
    /// Evaluate only shard I of N (`2/4`): the targets whose id hashes to it; merge
    /// the shards' JSON reports with `kpsa merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<crate::shard::Shard>,
    /// A PodSecurityConfiguration (bare, or in an AdmissionConfiguration): cluster
    /// defaults for unlabelled namespaces, and namespace / runtimeClass exemptions.
    #[arg(long, value_name = "FILE")]
    admission_config: Option<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

/// Where reports go and how they look; shared by `scan`, `diff` and `report`.
#[derive(clap::Args, Debug)]
struct OutputArgs {
    /// Output format; repeat it, each followed by its own --output FILE, to write
    /// several reports from one run (one format may go to standard output). Default: text.
    #[arg(long, value_enum, action = clap::ArgAction::Append)]
    format: Vec<Format>,
    /// Write the report of the --format before it to FILE instead of standard output.
    #[arg(long, value_name = "FILE", action = clap::ArgAction::Append)]
    output: Vec<PathBuf>,
    /// Use your own Markdown template: NAME=PATH, NAME is `summary` or `comment`
    /// (see docs/templates.md).
    #[arg(long, value_name = "NAME=PATH")]
    template: Vec<String>,
    /// Link file:line in Markdown to BASE/path#Lline (for example
    /// https://github.com/OWNER/REPO/blob/SHA).
    #[arg(long, value_name = "BASE")]
    link_base: Option<String>,
    /// SARIF category: `runs[0].automationDetails.id` is `kpsa/CATEGORY/`.
    #[arg(long, value_name = "CATEGORY", default_value = "pod-security")]
    sarif_category: String,
    /// Colour in text output: auto (a terminal without NO_COLOR), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorArg,
    /// List suppressed and accepted findings in the text report too.
    #[arg(long)]
    show_suppressed: bool,
}

#[derive(clap::Args, Debug)]
struct MergeArgs {
    /// The shards' JSON reports, one per shard.
    #[arg(required = true, value_name = "REPORT")]
    reports: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// The saved JSON report; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(clap::Subcommand, Debug)]
enum PublishTarget {
    /// Inline review comments on the lines the pull request adds (with suggested
    /// fixes), one sticky summary comment, replies to earlier threads whose finding
    /// is gone; optionally a commit status and a SARIF upload. Exit: the report's
    /// gate; 2 for an invalid report or one not for the pull request's head (nothing
    /// posted); 3 when GitHub fails after retries.
    Github(PublishGithubArgs),
    /// One discussion per new finding on the line the merge request adds (with a
    /// suggestion), one sticky summary note, replies to earlier discussions whose
    /// finding is gone (then resolved). Exit: the report's gate; 2 for an invalid
    /// report, one not for the merge request's newest version, or no usable token
    /// (nothing posted); 3 when GitLab fails after retries.
    Gitlab(PublishGitlabArgs),
}

#[derive(clap::Args, Debug)]
struct PublishGitlabArgs {
    /// The `kpsa diff --format json` report (`-`: standard input). It is checked
    /// against its schema and the merge request's newest diff version first.
    #[arg(long, value_name = "FILE")]
    report: PathBuf,
    /// The API v4 URL (default: $CI_API_V4_URL, else https://gitlab.com/api/v4).
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// The project id or GROUP/NAME (default: $CI_MERGE_REQUEST_PROJECT_ID, else
    /// $CI_PROJECT_ID).
    #[arg(long)]
    project: Option<String>,
    /// The merge request IID (default: $CI_MERGE_REQUEST_IID).
    #[arg(long, value_name = "IID")]
    mr: Option<u64>,
    /// The head commit you expect (default: $CI_MERGE_REQUEST_SOURCE_BRANCH_SHA when
    /// set, else $CI_COMMIT_SHA).
    #[arg(long, value_name = "SHA")]
    head_sha: Option<String>,
    /// The environment variable that holds the token (`api` scope; CI_JOB_TOKEN
    /// cannot post notes; a token is never a flag value).
    #[arg(long, value_name = "NAME", default_value = "KPSA_GITLAB_TOKEN")]
    token_env: String,
    /// Where findings go: review (discussions and the summary) or summary.
    #[arg(long, value_enum, default_value = "review")]
    comment: GitlabCommentArg,
    /// Most new discussions per run, most severe first; the rest go to the summary.
    #[arg(long, default_value_t = 30)]
    max_comments: usize,
    /// Read what is needed, and print each write as one JSON line instead of sending it.
    #[arg(long)]
    dry_run: bool,
    /// The label that approves the suppressions the change adds, when added by a
    /// project member with the Developer role or higher.
    #[arg(long, value_name = "LABEL", default_value = "kpsa-approved")]
    approval_label: String,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum GitlabCommentArg {
    Review,
    Summary,
}

#[derive(clap::Args, Debug)]
struct PublishGithubArgs {
    /// The `kpsa diff --format json` report (`-`: standard input). It is checked
    /// against its schema and the pull request's head commit before anything is posted.
    #[arg(long, value_name = "FILE")]
    report: PathBuf,
    /// OWNER/NAME (default: $GITHUB_REPOSITORY).
    #[arg(long)]
    repo: Option<String>,
    /// The pull request number (default: from the Actions event; for workflow_run,
    /// the open pull request whose head is the run's head commit).
    #[arg(long)]
    pr: Option<u64>,
    /// The head commit you expect the report and the pull request to have.
    #[arg(long, value_name = "SHA")]
    head_sha: Option<String>,
    /// The REST API URL (default: $GITHUB_API_URL, else https://api.github.com;
    /// GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// The GraphQL URL (default: $GITHUB_GRAPHQL_URL, else derived from the API URL;
    /// GitHub Enterprise Server: https://HOST/api/graphql).
    #[arg(long, value_name = "URL")]
    graphql_url: Option<String>,
    /// The environment variable that holds the token (a token is never a flag value).
    #[arg(long, value_name = "NAME", default_value = "GITHUB_TOKEN")]
    token_env: String,
    /// Where findings go: review (inline comments and the summary), summary, off.
    #[arg(long, value_enum, default_value = "review")]
    comment: CommentArg,
    /// Most new inline comments per run, most severe first; the rest go to the summary.
    #[arg(long, default_value_t = 30)]
    max_comments: usize,
    /// Post the gate as commit status `kpsa` on the head commit (for branch protection).
    #[arg(long)]
    status: bool,
    /// Read what is needed, and print each write as one JSON line instead of sending it.
    #[arg(long)]
    dry_run: bool,
    /// Upload this SARIF file through the code-scanning API (for CI systems other than
    /// Actions, where github/codeql-action/upload-sarif does it).
    #[arg(long, value_name = "FILE")]
    upload_sarif: Option<PathBuf>,
    /// The ref of the SARIF upload (default: refs/pull/N/head).
    #[arg(long, value_name = "REF")]
    sarif_ref: Option<String>,
    /// The label that approves the suppressions the change adds, when applied by a
    /// user with write permission.
    #[arg(long, value_name = "LABEL", default_value = "kpsa-approved")]
    approval_label: String,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum CommentArg {
    Review,
    Summary,
    Off,
}

#[derive(clap::Args, Debug)]
struct AcceptArgs {
    /// The accepted-findings file to write (reasons already in it are kept).
    #[arg(long, value_name = "FILE")]
    write: PathBuf,
    /// The reason recorded for new entries (required: an entry without a
    /// reason accepts nothing).
    #[arg(long, value_parser = non_blank)]
    reason: String,
    #[command(flatten)]
    scan: ScanArgs,
}

#[derive(clap::Args, Debug)]
struct DiffArgs {
    /// `A..B` compares A with B; `A...B` compares merge-base(A, B) with B (what a pull
    /// request shows); `A` compares A with the working tree, uncommitted changes included.
    /// Branches, tags, SHAs and `HEAD~2` forms work.
    revisions: String,
    /// Whose configuration decides the verdict: the base's (default: the change under
    /// review cannot lower its own gate; its policy changes are listed as needing review)
    /// or the head's (for trusted runs, such as a push to the default branch).
    #[arg(long, value_enum, default_value = "base")]
    config_from: ConfigFrom,
    /// Let suppressions that the change itself adds (`kpsa.io/ignore` annotations)
    /// suppress. Only for a job definition the change cannot alter, deciding from
    /// something its author cannot set (an approval label); see docs/security.md.
    #[arg(long)]
    allow_new_suppressions: bool,
    /// Also render unchanged targets on the head side and report every current
    /// finding (status `unchanged` for the old ones).
    #[arg(long)]
    include_unchanged: bool,
    /// Render every target on both sides, changed or not.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    eval: EvalArgs,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ConfigFrom {
    Head,
    Base,
}

/// Options shared by `scan`, `diff` and `targets`.
#[derive(clap::Args, Debug)]
struct CommonArgs {
    /// The config file (default: .kpsa.yaml found from the working directory up to the repository root).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The helm program (default: $KPSA_HELM, else `helm` on PATH). Never read from the repository.
    #[arg(long, value_name = "PATH")]
    helm: Option<PathBuf>,
    /// The kustomize program (`kustomize build`), or a kubectl (`kubectl kustomize`);
    /// default: $KPSA_KUSTOMIZE, else kustomize on PATH, else kubectl. Never read from the repository.
    #[arg(long, value_name = "PATH")]
    kustomize: Option<PathBuf>,
    /// Seconds one render may take before it is killed (default 120, at most 3600).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    render_timeout: Option<u64>,
    /// Most bytes one render may print before it is stopped (default 64 MiB).
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    max_render_bytes: Option<u64>,
    /// Most paths one snapshot (a commit's tree, or discovery on disk) may hold (default 1,000,000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_tree_entries: Option<u64>,
    /// Let Kustomize fetch remote resources (git and HTTP URLs); refused by default.
    #[arg(long)]
    allow_remote_resources: bool,
    /// Forbid every network access by the render programs (no Helm dependency downloads).
    #[arg(long)]
    offline: bool,
}

/// Release settings for a chart given as PATH (they apply to that one chart).
#[derive(clap::Args, Debug)]
struct HelmArgs {
    /// Values files, in order; later files win.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// `--set` entries, as helm takes them.
    #[arg(long, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// `--set-string` entries, as helm takes them.
    #[arg(long, value_name = "KEY=VALUE")]
    set_string: Vec<String>,
    /// Release name (default: the chart's name).
    #[arg(long)]
    release: Option<String>,
    /// Release namespace (default: `default`).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// The version Helm's `.Capabilities.KubeVersion` reports (default: `--kubernetes-version` as `v1.N.0`).
    #[arg(long)]
    kube_version: Option<String>,
    /// API versions for `.Capabilities.APIVersions`.
    #[arg(long, value_name = "GROUP/VERSION")]
    api_versions: Vec<String>,
    /// Render the chart's CRDs too.
    #[arg(long)]
    include_crds: bool,
}

impl HelmArgs {
    fn given(&self) -> bool {
        !self.values.is_empty()
            || !self.set.is_empty()
            || !self.set_string.is_empty()
            || self.release.is_some()
            || self.namespace.is_some()
            || self.kube_version.is_some()
            || !self.api_versions.is_empty()
            || self.include_crds
    }
}

#[derive(clap::Args, Debug)]
struct TargetsArgs {
    /// Where to discover (default: the configured targets, else the repository root).
    paths: Vec<String>,
    /// Read PATHs as plain manifests only.
    #[arg(long)]
    manifests: bool,
    #[command(flatten)]
    common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: ListFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    Text,
    Json,
}

fn non_blank(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(s.to_string())
    }
}

fn parse_jobs(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    let max = config::max_jobs();
    if n == 0 || n > max {
        return Err(format!("must be between 1 and {max} (4 × the cores)"));
    }
    Ok(n)
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
    /// Only findings the namespace's enforce level would refuse.
    Enforced,
    Never,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    /// SARIF 2.1.0 for code scanning.
    Sarif,
    /// A pull-request summary (templates/summary.md.hbs).
    Markdown,
    /// GitLab Code Quality.
    Codequality,
    /// JUnit XML.
    Junit,
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
    use clap::{CommandFactory, FromArgMatches};
    let parsed = Cli::command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let dests = match matches.subcommand() {
        Some(("scan" | "diff" | "report" | "merge", sub)) => match destinations(sub) {
            Ok(d) => d,
            Err(m) => {
                eprintln!("kpsa: {m}");
                return EXIT_USAGE;
            }
        },
        _ => Vec::new(),
    };
    match &cli.command {
        Command::Scan(a) | Command::Accept(AcceptArgs { scan: a, .. }) => apply_limits(&a.common),
        Command::Diff(a) => apply_limits(&a.common),
        Command::Targets(a) => apply_limits(&a.common),
        Command::Report(_)
        | Command::Merge(_)
        | Command::Publish(_)
        | Command::Argocd(_)
        | Command::Cluster(_)
        | Command::Checks
        | Command::Explain { .. } => {}
    }
    match cli.command {
        Command::Scan(args) => run_scan(args, dests),
        Command::Targets(args) => run_targets(args),
        Command::Accept(args) => run_accept(args),
        Command::Diff(args) => run_diff(args, dests),
        Command::Report(args) => run_report(args, dests),
        Command::Merge(args) => run_merge(args, dests),
        Command::Publish(PublishTarget::Github(args)) => run_publish_github(args),
        Command::Publish(PublishTarget::Gitlab(args)) => run_publish_gitlab(args),
        Command::Argocd(cmd) => argocd::run(cmd),
        Command::Cluster(cmd) => cluster::run(cmd),
        Command::Checks => {
            print!("{}", crate::docs::list());
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

/// Where each report goes: a file, or standard output (None).
type Destinations = Vec<(Format, Option<PathBuf>)>;

/// Pair each `--output` with the `--format` before it.
fn destinations(m: &clap::ArgMatches) -> Result<Destinations, String> {
    let formats: Vec<(usize, Format)> =
        match (m.indices_of("format"), m.get_many::<Format>("format")) {
            (Some(i), Some(v)) => i.zip(v.copied()).collect(),
            _ => Vec::new(),
        };
    let outputs: Vec<(usize, PathBuf)> =
        match (m.indices_of("output"), m.get_many::<PathBuf>("output")) {
            (Some(i), Some(v)) => i.zip(v.cloned()).collect(),
            _ => Vec::new(),
        };
    let mut dests: Vec<(usize, Format, Option<PathBuf>)> =
        formats.into_iter().map(|(i, f)| (i, f, None)).collect();
    if dests.is_empty() {
        dests.push((0, Format::Text, None));
    }
    for (at, path) in outputs {
        let slot = dests
            .iter_mut()
            .filter(|(i, _, p)| *i < at && p.is_none())
            .max_by_key(|(i, _, _)| *i)
            .filter(|(i, _, _)| *i > 0);
        match slot {
            Some(d) => d.2 = Some(path),
            None => {
                return Err(format!(
                    "--output {} needs a --format before it (for example --format sarif --output {})",
                    path.display(),
                    path.display()
                ));
            }
        }
    }
    let to_stdout = dests.iter().filter(|d| d.2.is_none()).count();
    if to_stdout > 1 {
        return Err(
            "only one --format can write to standard output; give the others --output FILE".into(),
        );
    }
    Ok(dests.into_iter().map(|(_, f, p)| (f, p)).collect())
}

/// Render each report once and write it to its destination.
/// Why a report could not be written.
enum ReportFailure {
    /// A usage problem (a template), exit 2.
    Usage(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for ReportFailure {
    fn from(e: std::io::Error) -> Self {
        ReportFailure::Io(e)
    }
}

/// Render each report once, streaming it to its destination.
fn write_reports(
    dests: &Destinations,
    mut render: impl FnMut(Format, &mut dyn std::io::Write) -> Result<(), ReportFailure>,
) -> Result<(), i32> {
    for (format, path) in dests {
        crate::interrupt::check();
        let result = match path {
            None => {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                render(*format, &mut out).and_then(|_| Ok(std::io::Write::flush(&mut out)?))
            }
            Some(p) => match std::fs::File::create(p) {
                Ok(f) => {
                    let mut out = std::io::BufWriter::new(f);
                    render(*format, &mut out).and_then(|_| Ok(std::io::Write::flush(&mut out)?))
                }
                Err(e) => Err(ReportFailure::Io(e)),
            },
        };
        match result {
            Ok(()) => {}
            Err(ReportFailure::Usage(m)) => {
                if let Some(p) = path {
                    let _ = std::fs::remove_file(p);
                }
                eprintln!("kpsa: {m}");
                return Err(EXIT_USAGE);
            }
            Err(ReportFailure::Io(e))
                if path.is_none() && e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(ReportFailure::Io(e)) => {
                let what = path
                    .as_ref()
                    .map_or("the report".to_string(), |p| p.display().to_string());
                eprintln!("kpsa: cannot write {what}: {e}");
                return Err(EXIT_INPUT);
            }
        }
    }
    Ok(())
}

/// `--template NAME=PATH` pairs.
/// The `--template` paths, as given.
fn template_paths(e: &OutputArgs) -> Vec<PathBuf> {
    e.template
        .iter()
        .filter_map(|t| t.split_once('=').map(|(_, p)| PathBuf::from(p)))
        .collect()
}

fn templates(
    e: &OutputArgs,
    files: &compare::FlagFiles,
) -> Result<report::markdown::Templates, String> {
    let pairs = e
        .template
        .iter()
        .map(|t| {
            t.split_once('=')
                .map(|(n, p)| {
                    let p = PathBuf::from(p);
                    (n.to_string(), files.get(&p).cloned().unwrap_or(p))
                })
                .ok_or_else(|| {
                    format!("--template {t:?}: expected NAME=PATH, e.g. summary=ci/summary.md.hbs")
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    report::markdown::Templates::new(&pairs)
}

/// Settings after flags, then the config, then defaults.
struct Setup {
    root: PathBuf,
    config: Option<Config>,
}

fn setup(common: &CommonArgs, paths: &[String]) -> Result<Setup, i32> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let first = paths
        .iter()
        .find(|p| *p != "-")
        .map(|p| absolute(Path::new(p)));
    let root = first
        .as_deref()
        .and_then(|p| {
            repo_root(if p.is_dir() {
                p
            } else {
                p.parent().unwrap_or(p)
            })
        })
        .or_else(|| repo_root(&cwd))
        .unwrap_or_else(|| std::fs::canonicalize(&cwd).unwrap_or(cwd.clone()));
    let file = match &common.config {
        Some(f) => Some(f.clone()),
        None => config::find(
            &std::fs::canonicalize(&cwd).unwrap_or(cwd.clone()),
            repo_root(&cwd).as_deref(),
        ),
    };
    let config = match file {
        Some(f) => match config::load(f.as_path()).and_then(|c| {
            // A config inside the repository is the repository's: its paths
            // must stay there. One named on the command line from outside
            // is the caller's own.
            let real = std::fs::canonicalize(&f).unwrap_or_else(|_| absolute(&f));
            if real.starts_with(&root) {
                config::confine(&c, &root)?;
            }
            Ok(c)
        }) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("kpsa: error in the config: {e}");
                return Err(EXIT_USAGE);
            }
        },
        None => None,
    };
    Ok(Setup { root, config })
}

fn make_plan(
    s: &Setup,
    paths: &[String],
    manifests: bool,
    helm: Option<&HelmArgs>,
) -> Result<Plan, String> {
    let root = &s.root;
    let tree = crate::tree::Disk { root: root.clone() };
    let mut plan = Plan::default();
    let id = |p: &Path| relative(root, p);
    if paths.is_empty() {
        if manifests {
            plan.targets.push(manifests_target(id(root), root.clone()));
        } else if let Some(c) = s.config.as_ref().filter(|c| !c.targets.is_empty()) {
            plan = plan::from_config(&tree, &c.targets, &c.file);
        } else {
            plan = plan::discover(&tree, root);
        }
    }
    for p in paths {
        if p == "-" {
            plan.targets.push(Target {
                id: STDIN_NAME.into(),
                source: Source::Stdin,
                reason: "standard input".into(),
                inputs: Vec::new(),
            });
            continue;
        }
        let abs = absolute(Path::new(p));
        if manifests || abs.is_file() || !abs.exists() {
            plan.targets.push(manifests_target(id(&abs), abs));
        } else if abs.join("Chart.yaml").is_file() {
            let name = plan::read_chart(&abs).map(|c| c.name).unwrap_or_default();
            let mut spec = HelmSpec {
                chart: abs.clone(),
                release: Some(plan::release_name(&name)),
                ..HelmSpec::default()
            };
            if let Some(h) = helm {
                spec.values = h.values.iter().map(|v| absolute(v)).collect();
                spec.set = h.set.clone();
                spec.set_string = h.set_string.clone();
                spec.release = h.release.clone().or(spec.release);
                spec.namespace = h.namespace.clone();
                spec.kube_version = h.kube_version.clone();
                spec.api_versions = h.api_versions.clone();
                spec.include_crds = h.include_crds;
            }
            match plan::helm_target(
                &tree,
                None,
                spec,
                "chart directory given on the command line".into(),
            ) {
                Ok(t) => plan.targets.push(t),
                Err(e) => plan.errors.push(e),
            }
        } else if plan::kustomization_file(&abs).is_some() {
            match plan::kustomize_target(
                &tree,
                None,
                abs,
                "kustomization given on the command line".into(),
            ) {
                Ok(t) => plan.targets.push(t),
                Err(e) => plan.errors.push(e),
            }
        } else {
            let found = plan::discover(&tree, &abs);
            plan.targets.extend(found.targets);
            plan.errors.extend(found.errors);
        }
    }
    if let Some(h) = helm {
        if let Some(why) = h.release.as_deref().and_then(config::release_name_error) {
            return Err(format!(
                "--release {:?} is not a valid Helm release name: {why}",
                h.release.as_deref().unwrap_or_default()
            ));
        }
        if let Some(why) = h.namespace.as_deref().and_then(config::dns1123_label_error) {
            return Err(format!(
                "--namespace {:?} is not a valid namespace: {why}",
                h.namespace.as_deref().unwrap_or_default()
            ));
        }
    }
    if helm.is_some_and(HelmArgs::given)
        && !(paths.len() == 1
            && plan.targets.len() == 1
            && matches!(plan.targets[0].source, Source::Helm(_)))
    {
        return Err("-f/--values, --set, --set-string, --release, --namespace, --kube-version, --api-versions and \
                    --include-crds apply to one chart directory given as PATH; for several releases, name \
                    them as targets in .kpsa.yaml"
            .into());
    }
    Ok(plan)
}

/// A planned target the configuration gets wrong (a glob that matches
/// nothing) is a configuration error: exit 2, with the config's line.
fn config_errors(plan: &Plan) -> Result<(), i32> {
    let errors: Vec<&plan::PlanError> = plan.errors.iter().filter(|e| e.config).collect();
    if errors.is_empty() {
        return Ok(());
    }
    for e in errors {
        let at = match e.line {
            Some(l) => format!("{}:{l}", e.path),
            None => e.path.clone(),
        };
        eprintln!(
            "{}",
            report::escape::log(&format!("kpsa: error in the config: {at}: {}", e.message))
        );
    }
    Err(EXIT_USAGE)
}

fn manifests_target(id: String, path: PathBuf) -> Target {
    Target {
        id,
        inputs: vec![path.clone()],
        source: Source::Manifests { files: vec![path] },
        reason: "given as plain manifests".into(),
    }
}

/// Apply the limits that are process-wide (`--max-tree-entries`).
fn apply_limits(common: &CommonArgs) {
    if let Some(n) = common.max_tree_entries {
        crate::tree::MAX_ENTRIES.store(
            usize::try_from(n).unwrap_or(usize::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// A program named by the environment (`KPSA_HELM`, `KPSA_KUSTOMIZE`).
fn program_from_env(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The programs and bounds of rendering: programs come only from flags,
/// the environment or PATH, never from the repository (docs/security.md).
fn renderers(
    common: &CommonArgs,
    config: Option<&Config>,
    version: crate::policy::Version,
) -> Renderers {
    Renderers {
        helm: common
            .helm
            .clone()
            .or_else(|| program_from_env("KPSA_HELM"))
            .unwrap_or_else(|| PathBuf::from("helm")),
        kustomize: common
            .kustomize
            .clone()
            .or_else(|| program_from_env("KPSA_KUSTOMIZE")),
        max_output_bytes: common
            .max_render_bytes
            .unwrap_or(crate::render::DEFAULT_MAX_RENDER_BYTES),
        allow_remote: common.allow_remote_resources,
        offline: common.offline,
        timeout: common
            .render_timeout
            .map(Duration::from_secs)
            .or_else(|| config.and_then(|c| c.render_timeout))
            .unwrap_or(Duration::from_secs(120)),
        cache_dir: crate::render::default_cache_dir(),
        kube_version: format!("{version}.0"),
        origin_annotations: true,
    }
}

fn run_targets(args: TargetsArgs) -> i32 {
    let s = match setup(&args.common, &args.paths) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let plan = match make_plan(&s, &args.paths, args.manifests, None) {
        Ok(p) => p,
        Err(m) => {
            eprintln!("kpsa: {m}");
            return EXIT_USAGE;
        }
    };
    if let Err(code) = config_errors(&plan) {
        return code;
    }
    let esc = |s: &str| report::escape::log(s).into_owned();
    let out = if args.format == ListFormat::Json {
        let targets: Vec<serde_json::Value> = plan
            .targets
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id,
                    "kind": t.kind(),
                    "reason": t.reason,
                    "inputs": t.inputs.iter().map(|i| relative(&s.root, i)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let errors: Vec<serde_json::Value> = plan
            .errors
            .iter()
            .map(|e| serde_json::json!({"path": e.path, "line": e.line, "message": e.message}))
            .collect();
        let mut text = serde_json::to_string_pretty(
            &serde_json::json!({"targets": targets, "errors": errors}),
        )
        .expect("JSON values serialize");
        text.push('\n');
        text
    } else {
        let mut text = String::new();
        for t in &plan.targets {
            text.push_str(&format!("{:<10} {}\n", t.kind(), esc(&t.id)));
            text.push_str(&format!(
                "           {}; {} input path(s)\n",
                esc(&t.reason),
                t.inputs.len()
            ));
        }
        for e in &plan.errors {
            match e.line {
                Some(l) => eprintln!(
                    "kpsa: error: {}",
                    esc(&format!("{}:{l}: {}", e.path, e.message))
                ),
                None => eprintln!(
                    "kpsa: error: {}",
                    esc(&format!("{}: {}", e.path, e.message))
                ),
            }
        }
        text.push_str(&format!("{} target(s)\n", plan.targets.len()));
        text
    };
    // A reader that stops early (`| head`) is not an error.
    let mut stdout = std::io::stdout().lock();
    match std::io::Write::write_all(&mut stdout, out.as_bytes())
        .and_then(|_| std::io::Write::flush(&mut stdout))
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            eprintln!("kpsa: cannot write the target list: {e}");
            return EXIT_INPUT;
        }
    }
    if plan.errors.is_empty() {
        EXIT_OK
    } else {
        EXIT_INPUT
    }
}

/// Evaluation settings after flags, then the config, then defaults.
struct Resolved {
    /// Warnings so far (printed, and carried into the reports).
    warnings: Vec<String>,
    /// Every target planned, and those evaluated (`--shard` keeps its own).
    planned: Vec<String>,
    evaluated: Vec<String>,
    show_suppressed: bool,
    opts: ScanOptions,
    renderers: Renderers,
    fail_on: Option<Tier>,
    gate_enforced: bool,
    version: crate::policy::Version,
    label: String,
    progress: Progress,
    color: bool,
}

fn resolve(
    e: &EvalArgs,
    common: &CommonArgs,
    config: Option<&Config>,
    files: &compare::FlagFiles,
) -> Result<Resolved, String> {
    let mut run_warnings: Vec<String> = version_warning(e, config).into_iter().collect();
    let spec = e
        .kubernetes_version
        .or_else(|| config.and_then(|c| c.kubernetes_version))
        .unwrap_or(VersionSpec::Latest);
    let version = spec.resolve();
    let label = match spec {
        VersionSpec::Latest => "latest".to_string(),
        VersionSpec::Exact(_) => version.to_string(),
    };
    let level = e
        .level
        .map(tier)
        .or_else(|| config.and_then(|c| c.level))
        .unwrap_or(Tier::Hardened);
    let gate_enforced = matches!(e.fail_on, Some(FailOn::Enforced))
        || (e.fail_on.is_none() && config.is_some_and(|c| c.fail_on_enforced));
    let fail_on = match e.fail_on {
        Some(FailOn::Baseline) => Some(Tier::Baseline),
        Some(FailOn::Restricted) => Some(Tier::Restricted),
        Some(FailOn::Hardened) => Some(Tier::Hardened),
        Some(FailOn::Never | FailOn::Enforced) => None,
        None if gate_enforced => None,
        None => config
            .and_then(|c| c.fail_on)
            .unwrap_or(Some(Tier::Restricted)),
    };
    let mut opts = ScanOptions::new(level, version, label.clone());
    if let Some(c) = config {
        opts.kinds.extend(c.pod_templates.iter().cloned());
        opts.exemptions = c.exemptions.clone();
        opts.exemptions_source = c.file.file_name().map_or_else(
            || c.file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
    }
    // Admission context: namespaces from the config, cluster defaults and
    // exemptions from a PodSecurityConfiguration; rendered Namespaces are
    // added during the scan.
    let mut ctx = crate::admission::Context::new(version);
    if let Some(c) = config {
        for (ns, (labels, line)) in &c.namespaces {
            let source = format!("namespaces.{ns} in {}:{line}", opts.exemptions_source);
            ctx.labels.insert(ns.clone(), (labels.clone(), source));
        }
    }
    let admission_config = e
        .admission_config
        .clone()
        .map(|f| files.get(&f).cloned().unwrap_or(f))
        .or_else(|| config.and_then(|c| c.admission_config.clone()));
    if let Some(file) = admission_config {
        let (defaults, exemptions, warnings) = crate::admission::load_config(&file)
            .map_err(|err| format!("error in the admission configuration: {err}"))?;
        run_warnings.extend(warnings);
        ctx.defaults = defaults;
        ctx.exemptions = exemptions;
        ctx.has_defaults = true;
    }
    opts.admission = Some(std::sync::Arc::new(ctx));
    let color = use_color(e.out.color);
    for w in &run_warnings {
        eprintln!("{}", report::escape::log(&format!("kpsa: warning: {w}")));
    }
    Ok(Resolved {
        warnings: run_warnings,
        planned: Vec::new(),
        evaluated: Vec::new(),
        opts,
        renderers: renderers(common, config, version),
        fail_on,
        gate_enforced,
        version,
        label,
        progress: Progress::detect(e.quiet),
        color,
        show_suppressed: e.out.show_suppressed,
    })
}

/// `--color`: auto is a terminal without `NO_COLOR`.
fn use_color(arg: ColorArg) -> bool {
    match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

fn version_warning(e: &EvalArgs, config: Option<&Config>) -> Option<String> {
    let spec = e
        .kubernetes_version
        .or_else(|| config.and_then(|c| c.kubernetes_version));
    match spec {
        Some(VersionSpec::Exact(v)) => v.beyond_newest(),
        _ => None,
    }
}

/// A digest of every setting that decides the verdict: level, version,
/// gate, pod-template kinds, exemptions, namespace labels, admission
/// defaults and exemptions, and the render bounds and flags in `extra`.
/// Reports made with different settings have different digests.
fn settings_digest(r: &Resolved, extra: &[(&str, String)]) -> String {
    use sha2::{Digest, Sha256};
    let o = &r.opts;
    let mut text = format!(
        "kpsa-settings-v1\nlevel={}\nversion={}\ngate={:?}/{}\nkinds={:?}\nexemptions={:?}\n",
        o.tier.as_str(),
        r.label,
        r.fail_on,
        r.gate_enforced,
        o.kinds,
        o.exemptions
    );
    if let Some(ctx) = &o.admission {
        let labels: std::collections::BTreeMap<_, _> =
            ctx.labels.iter().map(|(k, (l, _))| (k, l)).collect();
        text.push_str(&format!(
            "namespaces={labels:?}\ndefaults={:?}/{}\nadmission-exemptions={:?}\n",
            ctx.defaults, ctx.has_defaults, ctx.exemptions
        ));
    }
    text.push_str(&format!(
        "max-render-bytes={}\nremote={}\noffline={}\nmax-tree-entries={}\n",
        r.renderers.max_output_bytes,
        r.renderers.allow_remote,
        r.renderers.offline,
        crate::tree::max_entries()
    ));
    for (k, v) in extra {
        text.push_str(&format!("{k}={v}\n"));
    }
    let hash = Sha256::digest(text.as_bytes());
    format!(
        "sha256:{}",
        hash.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn thread_pool(e: &EvalArgs, config: Option<&Config>) -> Result<rayon::ThreadPool, i32> {
    let jobs = e.jobs.or_else(|| config.and_then(|c| c.jobs)).unwrap_or(0);
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|err| {
            eprintln!("kpsa: cannot start worker threads: {err}");
            EXIT_USAGE
        })
}

fn print_timings(t: &pipeline::Timings) {
    let (own, children) = cpu_times();
    eprintln!(
        "kpsa: timings: wall {:.3} s; {} render(s), {:.3} s of render wall time; CPU: kpsa {:.3} s, render programs {:.3} s",
        t.wall.as_secs_f64(),
        t.rendered,
        t.render_wall.as_secs_f64(),
        own.as_secs_f64(),
        children.as_secs_f64()
    );
}

/// Plan, render and evaluate what `scan` (and `accept`) look at.
fn scan_snapshot(args: &ScanArgs) -> Result<(Setup, Resolved, ScanResult), i32> {
    let s = setup(&args.common, &args.paths)?;
    let config = s.config.as_ref();
    let mut r = resolve(&args.eval, &args.common, config, &Default::default()).map_err(|m| {
        eprintln!("kpsa: {m}");
        EXIT_USAGE
    })?;
    let mut plan = make_plan(&s, &args.paths, args.manifests, Some(&args.helm)).map_err(|m| {
        eprintln!("kpsa: {m}");
        EXIT_USAGE
    })?;
    config_errors(&plan)?;
    // Nothing to scan is never a silent pass: a usage error when paths were
    // named, a warning for discovery (a shard may have no targets).
    if plan.targets.is_empty() && plan.errors.is_empty() {
        if args.paths.is_empty() {
            let w = format!(
                "nothing to scan under {}: no chart, kustomization or YAML file",
                s.root.display()
            );
            eprintln!("kpsa: warning: {w}");
            r.warnings.push(w);
        } else {
            eprintln!(
                "kpsa: nothing to scan in {}: no chart, kustomization or YAML file",
                args.paths.join(", ")
            );
            return Err(EXIT_USAGE);
        }
    }
    // A shard keeps its own targets (one with none is normal).
    r.planned = plan.targets.iter().map(|t| t.id.clone()).collect();
    if let Some(shard) = args.eval.shard {
        plan.targets.retain(|t| shard.holds(&t.id));
    }
    r.evaluated = plan.targets.iter().map(|t| t.id.clone()).collect();
    let pool = thread_pool(&args.eval, config)?;
    let snapshot = pool.install(|| {
        pipeline::run(
            &s.root,
            &plan.targets,
            &plan.errors,
            &r.opts,
            &r.renderers,
            r.progress,
        )
    });
    if args.eval.timings {
        print_timings(&snapshot.timings);
    }
    Ok((s, r, snapshot.result))
}

fn run_accept(args: AcceptArgs) -> i32 {
    let (_, _, result) = match scan_snapshot(&args.scan) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if !result.errors.is_empty() {
        for e in &result.errors {
            eprintln!("kpsa: error: {}: {}", e.path, e.message);
        }
        eprintln!(
            "kpsa: {} not written: the scan is incomplete",
            args.write.display()
        );
        return EXIT_INPUT;
    }
    let previous = if args.write.exists() {
        match crate::accepted::load(&args.write) {
            Ok(f) => Some(f),
            Err(m) => {
                eprintln!("kpsa: {m}");
                return EXIT_USAGE;
            }
        }
    } else {
        None
    };
    let file = crate::accepted::build(&result.findings, previous.as_ref(), &args.reason);
    if let Err(e) = std::fs::write(&args.write, crate::accepted::render(&file)) {
        eprintln!("kpsa: cannot write {}: {e}", args.write.display());
        return EXIT_INPUT;
    }
    eprintln!(
        "kpsa: {} finding(s) accepted in {}",
        file.findings.len(),
        args.write.display()
    );
    EXIT_OK
}

fn run_scan(args: ScanArgs, dests: Destinations) -> i32 {
    let (s, r, mut result) = match scan_snapshot(&args) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Some(path) = &args.accepted {
        if let Err(m) = apply_accepted(&mut result, path) {
            eprintln!("kpsa: {m}");
            return EXIT_USAGE;
        }
    }
    let run = RunInfo {
        settings_digest: settings_digest(&r, &[]),
        shard: args.eval.shard,
        planned: r.planned.clone(),
        evaluated: r.evaluated.clone(),
        warnings: r.warnings.clone(),
        saved_lines: Default::default(),
        command: "scan",
        kubernetes_version: r.version,
        version_label: r.label,
        level: r.opts.tier,
        fail_on: r.fail_on,
        gate_enforced: r.gate_enforced,
        root: s.root.clone(),
        show_suppressed: r.show_suppressed,
    };
    emit_scan(&result, &run, &args.eval.out, &dests, r.color)
}

/// `--accepted FILE`: mark the findings the file accepts.
fn apply_accepted(result: &mut ScanResult, path: &Path) -> Result<(), String> {
    let file = crate::accepted::load(path)?;
    result.accepted = Some(crate::accepted::apply(
        &mut result.findings,
        &file,
        &path.display().to_string(),
    ));
    Ok(())
}

fn run_diff(args: DiffArgs, dests: Destinations) -> i32 {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let req = compare::Request {
        spec: args.revisions.clone(),
        cwd,
        config: args.common.config.clone(),
        config_from_base: args.config_from == ConfigFrom::Base,
        allow_new_suppressions: args.allow_new_suppressions,
        shard: args.eval.shard,
        flag_files: args
            .eval
            .admission_config
            .iter()
            .cloned()
            .chain(template_paths(&args.eval.out))
            .collect(),
        // Code Quality holds every current finding: render every head target.
        include_unchanged: args.include_unchanged
            || dests.iter().any(|(f, _)| *f == Format::Codequality),
        all: args.all,
    };
    let resolved = std::cell::RefCell::new(None);
    let settings = |config: Option<&Config>, files: &compare::FlagFiles| {
        let r = resolve(&args.eval, &args.common, config, files)?;
        let jobs = args
            .eval
            .jobs
            .or_else(|| config.and_then(|c| c.jobs))
            .unwrap_or(0);
        let out = (r.opts.clone(), r.renderers.clone(), r.progress, jobs);
        *resolved.borrow_mut() = Some(r);
        Ok(out)
    };
    let outcome = match compare::run(&req, &settings) {
        Ok(o) => o,
        Err(compare::Failure::Git(e)) => {
            eprintln!("kpsa: git: {e}");
            return EXIT_INPUT;
        }
        Err(compare::Failure::Config(e)) => {
            eprintln!("kpsa: error in the config: {e}");
            return EXIT_USAGE;
        }
        Err(compare::Failure::Settings(m)) => {
            eprintln!("kpsa: {m}");
            return EXIT_USAGE;
        }
    };
    let Some(r) = resolved.into_inner() else {
        return EXIT_USAGE;
    };
    if args.eval.timings {
        print_timings(&outcome.timings);
    }
    let run = RunInfo {
        settings_digest: settings_digest(
            &r,
            &[
                ("config-from", format!("{:?}", args.config_from)),
                (
                    "allow-new-suppressions",
                    args.allow_new_suppressions.to_string(),
                ),
            ],
        ),
        shard: args.eval.shard,
        planned: outcome.planned.clone(),
        evaluated: outcome.evaluated.clone(),
        warnings: r.warnings.clone(),
        saved_lines: Default::default(),
        command: "diff",
        kubernetes_version: r.version,
        version_label: r.label,
        level: r.opts.tier,
        fail_on: r.fail_on,
        gate_enforced: r.gate_enforced,
        root: outcome.head_root.clone(),
        show_suppressed: r.show_suppressed,
    };
    for w in &outcome.warnings {
        eprintln!("{}", report::escape::log(&format!("kpsa: warning: {w}")));
    }
    let mut outcome = outcome;
    outcome.include_unchanged = args.include_unchanged;
    emit_diff(&outcome, &run, &args.eval.out, &dests, r.color)
}

/// `kpsa report`: a saved report in the formats asked for; the exit code is
/// the saved run's (3 with errors, 1 at or above its gate, else 0).
fn run_report(args: ReportArgs, dests: Destinations) -> i32 {
    let name = args.input.display().to_string();
    match read_saved(&args.input) {
        Ok(saved) => write_saved(saved, &name, &args.out, &dests),
        Err(m) => {
            eprintln!("{}", report::escape::log(&format!("kpsa: {m}")));
            EXIT_USAGE
        }
    }
}

/// Read one saved report (`-`: standard input), checked against its schema.
fn read_saved(path: &Path) -> Result<report::saved::Saved, String> {
    let name = path.display().to_string();
    let text = if path.as_os_str() == "-" {
        let mut t = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut t).map(|_| t)
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| format!("cannot read {name}: {e}"))?;
    report::saved::load(&text, &name)
}

/// `kpsa publish github`: the report's gate, 2 for a bad report or
/// context (nothing posted), 3 when GitHub fails.
fn run_publish_github(a: PublishGithubArgs) -> i32 {
    use crate::publish::github::{self, CommentMode};
    let opts = github::Options {
        report: a.report,
        flags: github::context::Flags {
            repo: a.repo,
            pr: a.pr,
            api_url: a.api_url,
            graphql_url: a.graphql_url,
        },
        head_sha: a.head_sha,
        token_env: a.token_env,
        max_comments: a.max_comments,
        comment: match a.comment {
            CommentArg::Review => CommentMode::Review,
            CommentArg::Summary => CommentMode::Summary,
            CommentArg::Off => CommentMode::Off,
        },
        status: a.status,
        dry_run: a.dry_run,
        upload_sarif: a.upload_sarif,
        sarif_ref: a.sarif_ref,
        approval_label: a.approval_label,
    };
    let env = |k: &str| std::env::var(k).ok();
    match github::publish(&opts, &env) {
        Ok(p) => {
            eprintln!(
                "kpsa: pull request #{}: {} inline comments, {} findings in the summary only, {} replies{}; \
                 API requests: {} reads, {} writes, {} retries",
                p.pull,
                p.inline,
                p.summary_only,
                p.replies,
                if p.fallback {
                    ", annotations (the token may not write)"
                } else {
                    ""
                },
                p.calls.reads,
                p.calls.writes,
                p.calls.retries
            );
            p.exit
        }
        Err(f) => publish_failure(f, "GitHub"),
    }
}

/// `kpsa publish gitlab`: the report's gate, 2 for a bad report, context
/// or token (nothing posted), 3 when GitLab fails.
fn run_publish_gitlab(a: PublishGitlabArgs) -> i32 {
    use crate::publish::gitlab;
    let opts = gitlab::Options {
        report: a.report,
        flags: gitlab::context::Flags {
            api_url: a.api_url,
            project: a.project,
            mr: a.mr,
            head_sha: a.head_sha,
        },
        token_env: a.token_env,
        max_comments: a.max_comments,
        inline: matches!(a.comment, GitlabCommentArg::Review),
        dry_run: a.dry_run,
        approval_label: a.approval_label,
    };
    let env = |k: &str| std::env::var(k).ok();
    match gitlab::publish(&opts, &env) {
        Ok(p) => {
            eprintln!(
                "kpsa: merge request !{}: {} discussions, {} findings in the summary only, {} replies; \
                 API requests: {} reads, {} writes, {} retries",
                p.mr,
                p.inline,
                p.summary_only,
                p.replies,
                p.calls.reads,
                p.calls.writes,
                p.calls.retries
            );
            p.exit
        }
        Err(f) => publish_failure(f, "GitLab"),
    }
}

/// A publication that stopped: 2 when nothing was posted (bad report,
/// context or token), 3 when the platform failed after retries.
fn publish_failure(f: crate::publish::Failure, platform: &str) -> i32 {
    use crate::publish::Failure;
    match f {
        Failure::Usage(m) => {
            eprintln!("{}", report::escape::log(&format!("kpsa: {m}")));
            EXIT_USAGE
        }
        Failure::Api(m) => {
            eprintln!("{}", report::escape::log(&format!("kpsa: {platform}: {m}")));
            EXIT_INPUT
        }
    }
}

/// `kpsa merge`: the shards joined, written like `kpsa report`; the exit
/// code is recomputed for the whole.
fn run_merge(args: MergeArgs, dests: Destinations) -> i32 {
    let mut reports = Vec::new();
    for p in &args.reports {
        match read_saved(p) {
            Ok(s) => reports.push((p.display().to_string(), s)),
            Err(m) => {
                eprintln!("{}", report::escape::log(&format!("kpsa: {m}")));
                return EXIT_USAGE;
            }
        }
    }
    let merged = match report::merge::merge(reports) {
        Ok(m) => m,
        Err(m) => {
            eprintln!(
                "{}",
                report::escape::log(&format!("kpsa: cannot merge: {m}"))
            );
            return EXIT_USAGE;
        }
    };
    if merged.plan.targets.is_empty() && merged.errors.is_empty() {
        eprintln!(
            "kpsa: warning: nothing to scan in any shard: no chart, kustomization or YAML file"
        );
    }
    write_saved(merged, "the merged report", &args.out, &dests)
}

/// Write a saved (or merged) report in the formats asked for; the exit
/// code is the run's (3 with errors, 1 at or above its gate, else 0).
fn write_saved(
    saved: report::saved::Saved,
    name: &str,
    out_args: &OutputArgs,
    dests: &Destinations,
) -> i32 {
    let run = match saved.run_info(out_args.show_suppressed) {
        Ok(r) => r,
        Err(m) => {
            eprintln!("kpsa: {name}: {m}");
            return EXIT_USAGE;
        }
    };
    let color = use_color(out_args.color);
    if run.command == "scan" {
        emit_scan(&saved.into_scan(), &run, out_args, dests, color)
    } else {
        let outcome = saved.into_outcome();
        if !outcome.include_unchanged && dests.iter().any(|(f, _)| *f == Format::Codequality) {
            eprintln!(
                "kpsa: warning: {name} was saved without --include-unchanged: Code Quality holds every \
                 current finding, and this report only those of the targets the change touched"
            );
        }
        emit_diff(&outcome, &run, out_args, dests, color)
    }
}

/// Write a scan's reports and errors; its exit code (3 with errors, 1 at
/// or above the gate, else 0).
fn emit_scan(
    result: &ScanResult,
    run: &RunInfo,
    out_args: &OutputArgs,
    dests: &Destinations,
    color: bool,
) -> i32 {
    let view = report::View::scan(result, run);
    let written = write_reports(dests, |format, out| {
        render(
            format,
            out_args,
            &Default::default(),
            &view,
            out,
            |out| match format {
                Format::Text => out.write_all(report::text::render(result, run, color).as_bytes()),
                _ => report::json::write(result, run, out),
            },
        )
    });
    if let Err(code) = written {
        return code;
    }
    errors_to_stderr(&result.errors, dests);
    if !result.errors.is_empty() {
        EXIT_INPUT
    } else if report::gated(result, run) > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// Write a diff's reports and errors (templates read where the flag files
/// say); its exit code.
fn emit_diff(
    outcome: &compare::Outcome,
    run: &RunInfo,
    out_args: &OutputArgs,
    dests: &Destinations,
    color: bool,
) -> i32 {
    let view = report::View::diff(outcome, run, outcome.include_unchanged);
    let written = write_reports(dests, |format, out| {
        render(
            format,
            out_args,
            &outcome.flag_files,
            &view,
            out,
            |out| match format {
                Format::Text => {
                    out.write_all(report::text::render_diff(outcome, run, color).as_bytes())
                }
                _ => report::json::write_diff(outcome, run, out),
            },
        )
    });
    if let Err(code) = written {
        return code;
    }
    errors_to_stderr(&outcome.errors, dests);
    report::diff_exit(outcome, run)
}

/// Errors reach the CI log whatever the formats: when no text report goes
/// to standard output, each error is printed on standard error (escaped
/// like the text report), also with `--quiet`, which hides progress only.
fn errors_to_stderr(errors: &[crate::scan::InputError], dests: &Destinations) {
    if errors.is_empty() || dests.iter().any(|(f, p)| *f == Format::Text && p.is_none()) {
        return;
    }
    for e in errors {
        let at = match (e.line, e.column) {
            (Some(l), Some(c)) => format!("{}:{l}:{c}", e.path),
            (Some(l), None) => format!("{}:{l}", e.path),
            _ => e.path.clone(),
        };
        eprintln!(
            "{}",
            report::escape::log(&format!("kpsa: error: {at}: {}", e.message))
        );
    }
}

/// Render one format: text and JSON by the command's own renderer
/// Render one format into `out`: text and JSON by the command's own
/// renderer (`own`), the others from the view. `files` maps flag files
/// to where they are read (`kpsa diff`: the base commit's copies).
fn render(
    format: Format,
    e: &OutputArgs,
    files: &compare::FlagFiles,
    view: &report::View,
    out: &mut dyn std::io::Write,
    own: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), ReportFailure> {
    let text = match format {
        Format::Text | Format::Json => return Ok(own(out)?),
        Format::Sarif => {
            let (text, warnings) = report::sarif::render(view, &e.sarif_category);
            for w in warnings {
                eprintln!("kpsa: warning: {w}");
            }
            text
        }
        Format::Markdown => {
            let t = templates(e, files).map_err(ReportFailure::Usage)?;
            report::markdown::summary(view, &t, e.link_base.as_deref())
                .map_err(ReportFailure::Usage)?
        }
        Format::Codequality => report::codequality::render(view),
        Format::Junit => report::junit::render(view),
    };
    Ok(out.write_all(text.as_bytes())?)
}

/// CPU time (user + system) of kpsa itself and of the programs it ran.
fn cpu_times() -> (Duration, Duration) {
    let get = |who| {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    (get(libc::RUSAGE_SELF), get(libc::RUSAGE_CHILDREN))
}
