//! Run a render program: bounded in time, without credentials in its
//! environment, with its output and error text captured.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Most bytes of standard error kept for the error message.
const MAX_STDERR_BYTES: u64 = 64 * 1024;

/// A program invocation, printable as the command a person would type.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Invocation {
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| {
                let s = a.to_string_lossy();
                if s.is_empty() || s.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c))
                {
                    format!("'{}'", s.replace('\'', r"'\''"))
                } else {
                    s.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a finished program produced.
#[derive(Debug)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum RunError {
    /// The program could not be started.
    Spawn(std::io::Error),
    /// It ran longer than allowed and was killed.
    Timeout(Duration, String),
    /// It exited unsuccessfully; its standard error, and the end of its
    /// standard output (Helm prints why a dependency download failed there).
    Failed(Option<i32>, String, String),
    /// It wrote more than the limit (bytes) and was stopped.
    TooLarge(u64),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Spawn(e) => write!(f, "cannot start: {e}"),
            RunError::Timeout(d, err) => {
                write!(f, "timed out after {} s and was killed", d.as_secs_f64())?;
                if !err.trim().is_empty() {
                    write!(f, "; its error output:\n{}", err.trim_end())?;
                }
                Ok(())
            }
            RunError::Failed(code, err, out) => {
                match code {
                    Some(c) => write!(f, "exited with status {c}")?,
                    None => write!(f, "was killed by a signal")?,
                }
                if err.trim().is_empty() {
                    write!(f, " and printed no error")?;
                } else {
                    write!(f, ":\n{}", err.trim_end())?;
                }
                if !out.trim().is_empty() {
                    write!(f, "\nits standard output ended with:\n{}", out.trim_end())?;
                }
                Ok(())
            }
            RunError::TooLarge(max) => write!(
                f,
                "printed more than {max} bytes and was stopped (raise the limit with --max-render-bytes)"
            ),
        }
    }
}

/// How a render program runs: its time and output bounds and the only
/// environment it gets.
#[derive(Debug, Clone)]
pub struct Limits {
    pub timeout: Duration,
    /// Most bytes of standard output; past it the program is killed.
    pub max_output: u64,
    /// Whether the program may reach the network.
    pub network: bool,
}

/// Variables passed through to render programs as they are: everything
/// else (tokens, CI variables, cloud credentials, SSH agents, kubeconfigs)
/// is dropped. `LC_*` is passed too.
pub const PASSED_VARIABLES: [&str; 13] = [
    "PATH",
    "TMPDIR",
    "LANG",
    "LANGUAGE",
    "TZ",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// A proxy on a port nothing listens on: where network access goes when a
/// program may not reach the network.
const CLOSED_PROXY: &str = "http://127.0.0.1:9";

/// The environment of a render program: the allow-list, HOME set to
/// `home` (a private, empty directory), Helm's repository and registry
/// configuration by path (located as Helm locates them for the user), and,
/// without network, every proxy pointed at a closed port and git limited
/// to local repositories.
pub fn child_env(
    home: &Path,
    network: bool,
    var: &dyn Fn(&str) -> Option<OsString>,
    all_names: &[OsString],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = Vec::new();
    for name in PASSED_VARIABLES {
        if let Some(v) = var(name) {
            env.push((name.into(), v));
        }
    }
    for name in all_names {
        if name.to_string_lossy().starts_with("LC_") {
            if let Some(v) = var(&name.to_string_lossy()) {
                env.push((name.clone(), v));
            }
        }
    }
    env.push(("HOME".into(), home.into()));
    for (name, path) in helm_settings(var) {
        env.push((name.into(), path.into()));
    }
    if !network {
        env.retain(|(k, _)| {
            !matches!(
                k.to_str(),
                Some(
                    "HTTPS_PROXY"
                        | "https_proxy"
                        | "HTTP_PROXY"
                        | "http_proxy"
                        | "NO_PROXY"
                        | "no_proxy"
                )
            )
        });
        for name in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            env.push((name.into(), CLOSED_PROXY.into()));
        }
        env.push(("NO_PROXY".into(), "".into()));
        env.push(("GIT_ALLOW_PROTOCOL".into(), "file".into()));
    }
    env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
    env.push(("GIT_CONFIG_NOSYSTEM".into(), "1".into()));
    env
}

/// Helm's repository and registry configuration and repository cache for
/// the user running kpsa: the `HELM_*` variable when set, else where Helm
/// looks on Linux (`$XDG_CONFIG_HOME/helm`, `$XDG_CACHE_HOME/helm`, under
/// `$HOME`). Only paths that exist are passed.
fn helm_settings(var: &dyn Fn(&str) -> Option<OsString>) -> Vec<(&'static str, PathBuf)> {
    let path = |n: &str| var(n).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = path("HOME");
    let config = path("HELM_CONFIG_HOME").or_else(|| {
        path("XDG_CONFIG_HOME")
            .or_else(|| home.as_ref().map(|h| h.join(".config")))
            .map(|d| d.join("helm"))
    });
    let cache = path("HELM_CACHE_HOME").or_else(|| {
        path("XDG_CACHE_HOME")
            .or_else(|| home.as_ref().map(|h| h.join(".cache")))
            .map(|d| d.join("helm"))
    });
    let mut out = Vec::new();
    let candidates = [
        (
            "HELM_REPOSITORY_CONFIG",
            path("HELM_REPOSITORY_CONFIG")
                .or_else(|| config.as_ref().map(|c| c.join("repositories.yaml"))),
        ),
        (
            "HELM_REGISTRY_CONFIG",
            path("HELM_REGISTRY_CONFIG").or_else(|| {
                config
                    .as_ref()
                    .map(|c| c.join("registry").join("config.json"))
            }),
        ),
        (
            "HELM_REPOSITORY_CACHE",
            path("HELM_REPOSITORY_CACHE").or_else(|| cache.as_ref().map(|c| c.join("repository"))),
        ),
    ];
    for (name, p) in candidates {
        if let Some(p) = p.filter(|p| p.exists()) {
            out.push((name, p));
        }
    }
    out
}

/// Run `inv` in `cwd`, killing it (and its process group) after `timeout`.
/// The program is killed (with its process group) when it runs longer
/// than `limits.timeout` or prints more than `limits.max_output` bytes, and
/// it dies with kpsa: the kernel sends it SIGKILL when the thread that
/// started it ends (`PR_SET_PDEATHSIG`).
pub fn run(inv: &Invocation, cwd: &Path, limits: &Limits) -> Result<Output, RunError> {
    let home = crate::interrupt::temp_dir("kpsa-home-").map_err(RunError::Spawn)?;
    let names: Vec<OsString> = std::env::vars_os().map(|(k, _)| k).collect();
    let env = child_env(
        home.path(),
        limits.network,
        &|n| std::env::var_os(n),
        &names,
    );
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .current_dir(cwd)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: getpid before the fork; in the child only async-signal-safe
    // calls (pthread_sigmask, prctl, getppid, _exit) run before exec.
    let parent = unsafe { libc::getpid() };
    unsafe {
        cmd.pre_exec(move || {
            crate::interrupt::unblock_in_child()?;
            #[cfg(target_os = "linux")]
            {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
                // kpsa may have died between fork and prctl.
                if libc::getppid() != parent {
                    libc::_exit(137);
                }
            }
            let _ = parent;
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = crate::interrupt::spawn(&mut cmd).map_err(RunError::Spawn)?;
    let pid = child.id() as i32;
    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let max_output = limits.max_output;
    let over = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let over_flag = over.clone();
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = (&mut out_pipe).take(max_output + 1).read_to_end(&mut buf);
        if buf.len() as u64 > max_output {
            // Too much: stop the program now rather than read the rest.
            over_flag.store(true, std::sync::atomic::Ordering::SeqCst);
            // SAFETY: kill(2) on the process group the child leads.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            buf = Vec::new();
        }
        // Keep draining so the child never blocks on a full pipe.
        let _ = std::io::copy(&mut out_pipe, &mut std::io::sink());
        r.map(|_| buf)
    });
    let err_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut err_pipe).take(MAX_STDERR_BYTES).read_to_end(&mut buf);
        let _ = std::io::copy(&mut err_pipe, &mut std::io::sink());
        String::from_utf8_lossy(&buf).into_owned()
    });
    let mut pause = Duration::from_millis(2);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= limits.timeout => {
                // SAFETY: kill(2) with a negative pid signals the process
                // group the child leads; no memory is involved.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(25));
            }
            Err(e) => {
                crate::interrupt::finished(pid);
                return Err(RunError::Spawn(e));
            }
        }
    };
    crate::interrupt::finished(pid);
    let elapsed = start.elapsed();
    let stdout = out_thread.join().unwrap_or_else(|_| Ok(Vec::new()));
    let stderr = err_thread.join().unwrap_or_default();
    drop(home);
    if over.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(RunError::TooLarge(max_output));
    }
    let Some(status) = status else {
        return Err(RunError::Timeout(limits.timeout, stderr));
    };
    if !status.success() {
        let out = stdout.as_deref().map(output_tail).unwrap_or_default();
        return Err(RunError::Failed(status.code(), stderr, out));
    }
    let stdout = stdout.map_err(RunError::Spawn)?;
    Ok(Output {
        stdout,
        stderr,
        elapsed,
    })
}

/// The last lines of a failed program's standard output (at most 20 lines
/// and 2 KiB): enough for Helm's reason, never a whole rendered stream.
fn output_tail(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    match tail.char_indices().rev().nth(2047) {
        Some((i, _)) => format!("…{}", &tail[i..]),
        None => tail,
    }
}

/// Find a program: a path with a `/` as given, else the first match on PATH.
pub fn which(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return program.is_file().then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(ms: u64) -> Limits {
        Limits {
            timeout: Duration::from_millis(ms),
            max_output: 1 << 20,
            network: false,
        }
    }

    fn sh(script: &str) -> Invocation {
        Invocation {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
        }
    }

    #[test]
    fn captures_output_and_errors() {
        let out = run(
            &sh("echo hi; echo warn >&2"),
            Path::new("/"),
            &limits(10_000),
        )
        .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, "warn\n");
        let e = run(
            &sh("echo boom >&2; exit 4"),
            Path::new("/"),
            &limits(10_000),
        )
        .unwrap_err();
        assert!(
            matches!(&e, RunError::Failed(Some(4), s, o) if s == "boom\n" && o.is_empty()),
            "{e:?}"
        );
        // What it printed on standard output before failing is kept, its end only.
        let e = run(
            &sh("seq 1 100; echo 'Save error occurred: could not download' ; exit 1"),
            Path::new("/"),
            &limits(10_000),
        )
        .unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.ends_with("ended with:\n82\n83\n84\n85\n86\n87\n88\n89\n90\n91\n92\n93\n94\n95\n96\n97\n98\n99\n100\nSave error occurred: could not download"),
            "{shown}"
        );
    }

    #[test]
    fn kills_the_whole_group_on_timeout() {
        // The grandchild keeps stdout open; killing only the child would hang.
        let e = run(&sh("sleep 30 & sleep 30"), Path::new("/"), &limits(200)).unwrap_err();
        assert!(matches!(e, RunError::Timeout(..)), "{e:?}");
    }

    #[test]
    fn only_allowed_variables_reach_the_child() {
        let vars: std::collections::HashMap<&str, &str> = [
            ("PATH", "/usr/bin"),
            ("GITHUB_TOKEN", "canary"),
            (
                "CI_REPOSITORY_URL",
                "https://gitlab-ci-token:canary@x/y.git",
            ),
            ("DOCKER_AUTH_CONFIG", "canary"),
            ("MY_PAT", "canary"),
            ("LC_ALL", "C.UTF-8"),
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("HOME", "/root"),
        ]
        .into_iter()
        .collect();
        let names: Vec<OsString> = vars.keys().map(OsString::from).collect();
        let get = |n: &str| vars.get(n).map(OsString::from);
        let env = child_env(Path::new("/tmp/private"), true, &get, &names);
        let keys: Vec<String> = env
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        for k in ["PATH", "LC_ALL", "HTTPS_PROXY", "HOME"] {
            assert!(keys.contains(&k.to_string()), "{k} missing from {keys:?}");
        }
        assert!(
            !env.iter()
                .any(|(_, v)| v.to_string_lossy().contains("canary")),
            "{env:?}"
        );
        assert!(env.contains(&("HOME".into(), "/tmp/private".into())));
        // Without network, proxies go to a closed port and git stays local.
        let env = child_env(Path::new("/tmp/private"), false, &get, &names);
        assert!(env.contains(&("HTTPS_PROXY".into(), CLOSED_PROXY.into())));
        assert!(!env.contains(&("HTTPS_PROXY".into(), "http://proxy:3128".into())));
        assert!(env.contains(&("GIT_ALLOW_PROTOCOL".into(), "file".into())));
    }

    #[test]
    fn too_much_output_stops_the_program() {
        let e = run(&sh("yes"), Path::new("/"), &limits(20_000)).unwrap_err();
        assert!(matches!(e, RunError::TooLarge(n) if n == 1 << 20), "{e:?}");
        assert!(e.to_string().contains("--max-render-bytes"), "{e}");
    }

    #[test]
    fn display_quotes() {
        assert_eq!(sh("a b").display(), "/bin/sh -c 'a b'");
    }
}
