//! One snapshot through the pipeline: render the targets (in parallel,
//! bounded), read plain manifests, evaluate everything, and move each
//! finding to its source file and line.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::plan::{PlanError, Source, Target, relative};
use crate::render::{self, Producer, RenderError, Renderers};
use crate::scan::{Input, InputError, RenderedInput, STDIN_NAME, ScanOptions, ScanResult, scan};

/// How progress is shown on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub style: ProgressStyle,
    /// Which side of a diff is rendering (`base`, `head`).
    pub side: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStyle {
    /// A bar that redraws itself (a terminal).
    Bar,
    /// One line per rendered target (CI logs).
    Lines,
    Quiet,
}

impl Progress {
    pub fn detect(quiet: bool) -> Self {
        let style = if quiet {
            ProgressStyle::Quiet
        } else if std::io::stderr().is_terminal() {
            ProgressStyle::Bar
        } else {
            ProgressStyle::Lines
        };
        Progress { style, side: None }
    }

    pub fn side(self, side: &'static str) -> Self {
        Progress {
            side: Some(side),
            ..self
        }
    }
}

/// Time spent, for `--timings` and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub rendered: usize,
    /// Sum of the render programs' wall times.
    pub render_wall: Duration,
    pub wall: Duration,
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub result: ScanResult,
    pub timings: Timings,
}

/// Run the targets of a plan: render, then evaluate.
pub fn run(
    root: &Path,
    targets: &[Target],
    plan_errors: &[PlanError],
    scan_opts: &ScanOptions,
    renderers: &Renderers,
    progress: Progress,
) -> Snapshot {
    evaluate(
        root,
        render_all(targets, plan_errors, renderers, progress, root),
        scan_opts,
    )
}

/// What rendering a plan produced: the inputs to evaluate, how each
/// rendered stream was made, and the errors so far.
pub struct Rendered {
    inputs: Vec<Input>,
    producers: HashMap<String, Producer>,
    errors: Vec<InputError>,
    timings: Timings,
    start: Instant,
}

impl Rendered {
    /// The rendered streams, in target order (plain manifests are read
    /// from disk, not here).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().filter_map(|i| match i {
            Input::Rendered(r) => Some(r.text.as_str()),
            _ => None,
        })
    }
}

/// Render the Helm and Kustomize targets of a plan, in parallel.
pub fn render_all(
    targets: &[Target],
    plan_errors: &[PlanError],
    renderers: &Renderers,
    progress: Progress,
    root: &Path,
) -> Rendered {
    let start = Instant::now();
    let to_render: Vec<&Target> = targets
        .iter()
        .filter(|t| matches!(t.source, Source::Helm(_) | Source::Kustomize { .. }))
        .collect();
    let done = AtomicUsize::new(0);
    let stderr = Mutex::new(());
    let total = to_render.len();
    // A terminal gets a bar that redraws itself (indicatif); a log gets lines.
    let bar = (progress.style == ProgressStyle::Bar && total > 0).then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg}")
                .expect("a valid template")
                .progress_chars("#> "),
        );
        bar
    });
    let rendered: Vec<(String, Result<render::Rendered, RenderError>)> = to_render
        .par_iter()
        .map(|t| {
            let r = render::render(t, renderers);
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            let _guard = stderr.lock();
            let mut err = std::io::stderr().lock();
            let side = progress.side.map(|s| format!("{s}: ")).unwrap_or_default();
            match progress.style {
                ProgressStyle::Bar => {
                    if let Some(bar) = &bar {
                        // Target ids come from the repository: no control characters.
                        bar.set_message(
                            crate::report::escape::log(&format!("{side}{}", t.id)).into_owned(),
                        );
                        bar.inc(1);
                    }
                }
                ProgressStyle::Lines => {
                    let _ = match &r {
                        Ok(ok) => writeln!(
                            err,
                            "kpsa: [{n}/{total}] {side}rendered {} ({}, {:.2} s)",
                            t.id,
                            t.kind(),
                            ok.elapsed.as_secs_f64()
                        ),
                        Err(_) => writeln!(
                            err,
                            "kpsa: [{n}/{total}] {side}failed to render {} ({})",
                            t.id,
                            t.kind()
                        ),
                    };
                }
                ProgressStyle::Quiet => {}
            }
            (t.id.clone(), r)
        })
        .collect();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    crate::interrupt::check();
    let mut timings = Timings::default();
    let mut inputs = Vec::new();
    let mut producers: HashMap<String, Producer> = HashMap::new();
    let mut errors: Vec<InputError> = plan_errors
        .iter()
        .map(|e| InputError {
            path: e.path.clone(),
            line: e.line,
            column: None,
            message: e.message.clone(),
            target: None,
            rendered: None,
        })
        .collect();
    let mut rendered = rendered.into_iter();
    for t in targets {
        match &t.source {
            Source::Manifests { files } => inputs.extend(files.iter().map(|f| Input::Path {
                path: f.clone(),
                target: Some(t.id.clone()),
            })),
            Source::Stdin => inputs.push(Input::Stdin),
            Source::Helm(_) | Source::Kustomize { .. } => {
                let Some((_, r)) = rendered.next() else {
                    continue;
                };
                match r {
                    Ok(ok) => {
                        timings.rendered += 1;
                        timings.render_wall += ok.elapsed;
                        let kustomize = matches!(ok.producer, Producer::Kustomize { .. });
                        inputs.push(Input::Rendered(RenderedInput {
                            target: t.id.clone(),
                            name: format!(
                                "{} ({} output)",
                                t.id,
                                if kustomize {
                                    "kustomize"
                                } else {
                                    "helm template"
                                }
                            ),
                            text: ok.text,
                            kustomize,
                            namespace: match &t.source {
                                Source::Helm(h) => Some(
                                    h.spec.namespace.clone().unwrap_or_else(|| "default".into()),
                                ),
                                _ => None,
                            },
                        }));
                        producers.insert(t.id.clone(), ok.producer);
                    }
                    Err(e) => {
                        let mut err = render_error(e);
                        if let Source::Helm(h) = &t.source {
                            if let Some(loc) =
                                crate::provenance::helm_error_location(&h.chart, &err.message, root)
                            {
                                err.path = loc.path;
                                err.line = Some(loc.line);
                                err.column = Some(loc.column);
                            }
                        }
                        errors.push(err);
                    }
                }
            }
        }
    }
    Rendered {
        inputs,
        producers,
        errors,
        timings,
        start,
    }
}

/// Evaluate what was rendered and map every location to the repository.
pub fn evaluate(root: &Path, rendered: Rendered, scan_opts: &ScanOptions) -> Snapshot {
    let Rendered {
        inputs,
        producers,
        mut errors,
        mut timings,
        start,
    } = rendered;
    let mut result = scan(&inputs, scan_opts);
    crate::provenance::locate(
        &mut result.findings,
        &mut result.workloads,
        &producers,
        root,
    );
    crate::provenance::locate_errors(&mut result.errors, &producers, root);
    // Paths of plain files as the repository names them.
    let rel = |p: &mut String| {
        if p != STDIN_NAME && Path::new(p.as_str()).is_absolute() {
            *p = relative(root, Path::new(p.as_str()));
        }
    };
    result
        .findings
        .iter_mut()
        .for_each(|f| rel(&mut f.location.path));
    result
        .workloads
        .iter_mut()
        .for_each(|w| rel(&mut w.location.path));
    result.errors.iter_mut().for_each(|e| rel(&mut e.path));
    errors.append(&mut result.errors);
    result.errors = errors;
    timings.wall = start.elapsed();
    Snapshot { result, timings }
}

fn render_error(e: RenderError) -> InputError {
    let mut message = format!("target {} failed to render", e.target);
    if let Some(c) = &e.command {
        message.push_str(&format!("\n  command: {c}"));
    }
    message.push_str(&format!("\n  {}", e.message.replace('\n', "\n  ")));
    InputError {
        path: e.target.clone(),
        line: None,
        column: None,
        message,
        target: Some(e.target),
        rendered: None,
    }
}

/// Absolute form of a path given on the command line.
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        crate::plan::normalize(p)
    } else {
        crate::plan::normalize(&std::env::current_dir().unwrap_or_default().join(p))
    }
}
