//! `helm template` for a chart target.
//!
//! When a declared dependency is not in the chart's `charts/` (a commit's
//! snapshot usually lacks `charts/*.tgz`), the chart and its `file://`
//! dependencies are copied to a temporary directory at the same relative
//! places, `helm dependency build` runs there, and the built `charts/` is
//! cached under a key made of `Chart.yaml`, `Chart.lock` and the contents of
//! every `file://` dependency (a lock digest alone would serve a stale copy
//! of a local library chart after it changed).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::process::{Invocation, which};
use super::{Producer, RenderError, Rendered, Renderers, run_program};
use crate::plan::{Chart, HelmTarget, Target, local_dependencies, read_chart};

pub fn render(target: &Target, h: &HelmTarget, r: &Renderers) -> Result<Rendered, RenderError> {
    let fail = |command: Option<&Invocation>, m: String| RenderError {
        target: target.id.clone(),
        command: command.map(Invocation::display),
        message: m,
    };
    let program = which(&r.helm).ok_or_else(|| {
        fail(
            None,
            format!(
                "{} not found{}; install Helm (https://helm.sh/docs/intro/install/), pass --helm PATH \
                 or set KPSA_HELM",
                r.helm.display(),
                if r.helm.components().count() > 1 { "" } else { " on PATH" }
            ),
        )
    })?;
    let mut _copy: Option<tempfile::TempDir> = None;
    let mut chart_dir = h.chart.dir.clone();
    if !missing_dependencies(&h.chart).is_empty() {
        let (tmp, dir) = prepare_dependencies(&program, &h.chart, r)
            .map_err(|(cmd, m)| fail(cmd.as_ref(), m))?;
        _copy = Some(tmp);
        chart_dir = dir;
    }
    let spec = &h.spec;
    // Every value goes in `--flag=value` form and the positionals after
    // `--`, so nothing from the repository can be read as an option.
    let flag = |name: &str, value: &dyn AsRef<std::ffi::OsStr>| {
        let mut f = std::ffi::OsString::from(format!("--{name}="));
        f.push(value.as_ref());
        f
    };
    let mut args: Vec<std::ffi::OsString> = vec![
        "template".into(),
        flag("namespace", &spec.namespace.as_deref().unwrap_or("default")),
        flag(
            "kube-version",
            &spec
                .kube_version
                .as_deref()
                .unwrap_or(r.kube_version.as_str()),
        ),
    ];
    for v in &spec.values {
        args.push(flag("values", v));
    }
    for s in &spec.set {
        args.push(flag("set", s));
    }
    for s in &spec.set_string {
        args.push(flag("set-string", s));
    }
    for a in &spec.api_versions {
        args.push(flag("api-versions", a));
    }
    if spec.include_crds {
        args.push("--include-crds".into());
    }
    args.push("--".into());
    args.push(
        spec.release
            .clone()
            .unwrap_or_else(|| "release-name".into())
            .into(),
    );
    args.push(chart_dir.clone().into());
    let inv = Invocation { program, args };
    let cwd = chart_dir.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut rendered = run_program(
        target,
        &inv,
        &cwd,
        r,
        Producer::Helm {
            chart: h.chart.clone(),
        },
    );
    // Name the chart as the user knows it, not the temporary copy.
    if _copy.is_some() {
        let shown = Invocation {
            program: inv.program.clone(),
            args: inv
                .args
                .iter()
                .map(|a| {
                    if Path::new(a) == chart_dir {
                        h.chart.dir.clone().into()
                    } else {
                        a.clone()
                    }
                })
                .collect(),
        };
        match &mut rendered {
            Ok(ok) => ok.command = shown.display(),
            Err(e) => e.command = Some(shown.display()),
        }
    }
    rendered
}

/// Declared dependencies with nothing for them in `charts/`.
pub fn missing_dependencies(chart: &Chart) -> Vec<String> {
    let charts = chart.dir.join("charts");
    let present: Vec<String> = std::fs::read_dir(&charts)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    chart
        .dependencies
        .iter()
        .filter(|d| {
            !present.iter().any(|p| {
                p == &d.name
                    || (p.starts_with(&format!("{}-", d.name)) && p.ends_with(".tgz"))
                    || read_chart(&charts.join(p)).is_ok_and(|c| c.name == d.name)
            })
        })
        .map(|d| d.name.clone())
        .collect()
}

type PrepError = (Option<Invocation>, String);

/// Copy the chart and its `file://` dependencies to a temporary directory
/// and fill its `charts/` from the cache or with `helm dependency build`.
fn prepare_dependencies(
    helm: &Path,
    chart: &Chart,
    r: &Renderers,
) -> Result<(tempfile::TempDir, PathBuf), PrepError> {
    let plain = |m: String| (None, m);
    // The chart and every local dependency, transitively.
    let mut dirs = vec![chart.dir.clone()];
    let disk = crate::tree::Disk {
        root: chart.dir.clone(),
    };
    for d in local_dependencies(&disk, chart) {
        if let Err(e) = &d.chart {
            let why = if d.dir.join("Chart.yaml").is_file() {
                format!("whose Chart.yaml cannot be read: {}", e.message)
            } else {
                "which holds no Chart.yaml".to_string()
            };
            return Err(plain(format!(
                "dependency {:?} of chart {:?} points at {} (repository {:?}), {why}",
                d.dependency.name,
                d.parent,
                d.dir.display(),
                d.dependency.repository
            )));
        }
        dirs.push(d.dir);
    }
    check_downloads(chart, &dirs, r.offline).map_err(plain)?;
    let base = dirs
        .iter()
        .skip(1)
        .fold(chart.dir.clone(), |acc, d| common_ancestor(&acc, d));
    let tmp = crate::interrupt::temp_dir("kpsa-helm-")
        .map_err(|e| plain(format!("cannot create a temporary directory: {e}")))?;
    for d in &dirs {
        let rel = d.strip_prefix(&base).unwrap_or(d);
        copy_dir(d, &tmp.path().join(rel))
            .map_err(|e| plain(format!("cannot copy {}: {e}", d.display())))?;
    }
    let copy = tmp
        .path()
        .join(chart.dir.strip_prefix(&base).unwrap_or(&chart.dir));
    let key = cache_key(chart, &dirs[1..], &base);
    let cached = r.cache_dir.as_ref().map(|c| c.join("helm-deps").join(&key));
    if let Some(cached) = cached.as_ref().filter(|c| c.is_dir()) {
        if copy_dir(cached, &copy.join("charts")).is_ok() {
            return Ok((tmp, copy));
        }
    }
    let inv = Invocation {
        program: helm.to_path_buf(),
        args: vec![
            "dependency".into(),
            "build".into(),
            "--".into(),
            copy.clone().into(),
        ],
    };
    super::process::run(&inv, tmp.path(), &r.limits(true)).map_err(|e| {
        let shown = Invocation {
            program: inv.program.clone(),
            args: vec![
                "dependency".into(),
                "build".into(),
                "--".into(),
                chart.dir.clone().into(),
            ],
        };
        (
            Some(shown),
            format!(
                "the chart's dependencies ({}) are not in charts/ and `helm dependency build` in a \
                 temporary copy failed: helm {e}",
                missing_dependencies(chart).join(", ")
            ),
        )
    })?;
    if let Some(cached) = cached {
        // Fill the cache atomically: build beside it, then rename.
        if let Some(parent) = cached.parent() {
            if std::fs::create_dir_all(parent).is_ok() {
                if let Ok(staging) = tempfile::Builder::new()
                    .prefix(".staging-")
                    .tempdir_in(parent)
                {
                    if copy_dir(&copy.join("charts"), staging.path()).is_ok() {
                        let staged = staging.keep();
                        if std::fs::rename(&staged, &cached).is_err() {
                            let _ = std::fs::remove_dir_all(&staged);
                        }
                    }
                }
            }
        }
    }
    Ok((tmp, copy))
}

/// Dependencies that `helm dependency build` would download must come
/// over `https://` or `oci://` from a public address (or through a
/// repository the user configured, `@name` / `alias:name`), and none with
/// `--offline`: the repository under review must not make the CI job fetch
/// from the job's own network (a metadata service, a loopback port).
fn check_downloads(chart: &Chart, dirs: &[PathBuf], offline: bool) -> Result<(), String> {
    let mut charts = vec![chart.clone()];
    charts.extend(dirs.iter().skip(1).filter_map(|d| read_chart(d).ok()));
    for c in &charts {
        for d in &c.dependencies {
            let repo = d.repository.trim();
            if d.local_dir(&c.dir).is_some() || repo.is_empty() {
                continue;
            }
            let what = format!(
                "dependency {:?} of chart {:?} (Chart.yaml line {}) comes from {repo:?}",
                d.name, c.name, d.line
            );
            if offline {
                return Err(format!(
                    "{what}, which needs a download; --offline forbids it"
                ));
            }
            if repo.starts_with('@') || repo.starts_with("alias:") {
                continue;
            }
            let rest = repo
                .strip_prefix("https://")
                .or_else(|| repo.strip_prefix("oci://"))
                .ok_or_else(|| {
                    format!("{what}: only https:// and oci:// repositories are fetched")
                })?;
            if let Some(why) = private_host(rest) {
                return Err(format!("{what}: {why}; kpsa does not fetch from it"));
            }
        }
    }
    Ok(())
}

/// Why the host of `rest` (a URL after its scheme) is not a public
/// address: loopback, private, link-local or unspecified, written as such
/// or resolved to such.
fn private_host(rest: &str) -> Option<String> {
    use std::net::{IpAddr, ToSocketAddrs};
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host == "localhost" || host.ends_with(".localhost") {
        return Some(format!("{host:?} is this machine"));
    }
    let private = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return private(ip).then(|| format!("{host} is a loopback, private or link-local address"));
    }
    let resolved = (host.as_str(), 443).to_socket_addrs().ok()?;
    for a in resolved {
        if private(a.ip()) {
            return Some(format!(
                "{host} resolves to {}, a loopback, private or link-local address",
                a.ip()
            ));
        }
    }
    None
}

fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.as_os_str())
        .collect()
}

/// Hash of everything the built `charts/` can hold: Chart.yaml, Chart.lock,
/// what the chart already has in `charts/` (vendored by the change, copied
/// into the build) and the files of every local dependency — so one
/// branch's vendored subchart is never served to another.
fn cache_key(chart: &Chart, local: &[PathBuf], base: &Path) -> String {
    let mut h = Sha256::new();
    h.update(b"kpsa-helm-deps-v2\0");
    for name in ["Chart.yaml", "Chart.lock"] {
        h.update(name.as_bytes());
        h.update(std::fs::read(chart.dir.join(name)).unwrap_or_default());
        h.update(b"\0");
    }
    let vendored = chart.dir.join("charts");
    for d in std::iter::once(&vendored).chain(local) {
        let mut files = Vec::new();
        collect_files(d, &mut files);
        files.sort();
        for f in files {
            h.update(
                f.strip_prefix(base)
                    .unwrap_or(&f)
                    .to_string_lossy()
                    .as_bytes(),
            );
            h.update(b"\0");
            h.update(std::fs::read(&f).unwrap_or_default());
            h.update(b"\0");
        }
    }
    h.finalize()
        .iter()
        .take(20)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => collect_files(&p, out),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
}

/// Copy a directory tree (regular files and directories; symlinks and
/// `.git` are skipped).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let t = e.file_type()?;
        let dest = to.join(e.file_name());
        if t.is_dir() && e.file_name() != ".git" {
            copy_dir(&e.path(), &dest)?;
        } else if t.is_file() {
            std::fs::copy(e.path(), &dest)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::private_host;

    #[test]
    fn private_hosts_are_recognised() {
        for url in [
            "127.0.0.1/charts",
            "localhost:8080/x",
            "169.254.169.254/latest",
            "10.1.2.3/x",
            "[::1]:443/x",
            "[fd00::1]/x",
            "user:pw@192.168.1.1/x",
            "metadata.localhost/x",
        ] {
            assert!(private_host(url).is_some(), "{url}");
        }
        assert!(private_host("203.0.113.7/charts").is_none());
    }
}
