//! Run a render program: bounded in time, without credentials in its
//! environment, with its output and error text captured.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Most bytes kpsa reads from a render program's standard output.
pub const MAX_OUTPUT_BYTES: u64 = 1024 * 1024 * 1024;
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
    /// It exited unsuccessfully; its standard error.
    Failed(Option<i32>, String),
    /// It wrote more than [`MAX_OUTPUT_BYTES`].
    TooLarge,
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
            RunError::Failed(code, err) => {
                match code {
                    Some(c) => write!(f, "exited with status {c}")?,
                    None => write!(f, "was killed by a signal")?,
                }
                if err.trim().is_empty() {
                    write!(f, " and printed no error")
                } else {
                    write!(f, ":\n{}", err.trim_end())
                }
            }
            RunError::TooLarge => write!(f, "wrote more than {MAX_OUTPUT_BYTES} bytes"),
        }
    }
}

/// Whether an environment variable may carry a credential. Those never
/// reach a render program: charts and plugins are code from the change
/// under review.
pub fn is_sensitive(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    const WORDS: [&str; 9] = [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
    ];
    const PREFIXES: [&str; 11] = [
        "GITHUB_",
        "GH_",
        "GITLAB_",
        "CI_JOB_",
        "CI_REGISTRY",
        "ACTIONS_",
        "AWS_",
        "AZURE_",
        "GOOGLE_",
        "VAULT_",
        "ARGOCD_",
    ];
    WORDS.iter().any(|w| n.contains(w))
        || PREFIXES.iter().any(|p| n.starts_with(p))
        || matches!(
            n.as_str(),
            "KUBECONFIG" | "KUSTOMIZE_PLUGIN_HOME" | "SSH_AUTH_SOCK" | "NETRC"
        )
}

/// Run `inv` in `cwd`, killing it (and its process group) after `timeout`.
pub fn run(inv: &Invocation, cwd: &Path, timeout: Duration) -> Result<Output, RunError> {
    let mut cmd = Command::new(&inv.program);
    cmd.args(&inv.args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: the closure only calls pthread_sigmask, which is
    // async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(crate::interrupt::unblock_in_child);
    }
    for (name, _) in std::env::vars_os() {
        if is_sensitive(&name.to_string_lossy()) {
            cmd.env_remove(&name);
        }
    }
    let start = Instant::now();
    let mut child = crate::interrupt::spawn(&mut cmd).map_err(RunError::Spawn)?;
    let pid = child.id() as i32;
    let mut out_pipe = child.stdout.take().expect("piped");
    let mut err_pipe = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = (&mut out_pipe)
            .take(MAX_OUTPUT_BYTES + 1)
            .read_to_end(&mut buf);
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
            Ok(None) if start.elapsed() >= timeout => {
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
    let Some(status) = status else {
        return Err(RunError::Timeout(timeout, stderr));
    };
    if !status.success() {
        return Err(RunError::Failed(status.code(), stderr));
    }
    let stdout = stdout.map_err(RunError::Spawn)?;
    if stdout.len() as u64 > MAX_OUTPUT_BYTES {
        return Err(RunError::TooLarge);
    }
    Ok(Output {
        stdout,
        stderr,
        elapsed,
    })
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
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout, b"hi\n");
        assert_eq!(out.stderr, "warn\n");
        let e = run(
            &sh("echo boom >&2; exit 4"),
            Path::new("/"),
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(
            matches!(&e, RunError::Failed(Some(4), s) if s == "boom\n"),
            "{e:?}"
        );
    }

    #[test]
    fn kills_the_whole_group_on_timeout() {
        // The grandchild keeps stdout open; killing only the child would hang.
        let e = run(
            &sh("sleep 30 & sleep 30"),
            Path::new("/"),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert!(matches!(e, RunError::Timeout(..)), "{e:?}");
    }

    #[test]
    fn credentials_are_recognised() {
        for name in [
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "CI_JOB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "my_password",
            "KUBECONFIG",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in ["PATH", "HOME", "HELM_CACHE_HOME", "XDG_CONFIG_HOME", "LANG"] {
            assert!(!is_sensitive(name), "{name}");
        }
    }

    #[test]
    fn display_quotes() {
        assert_eq!(sh("a b").display(), "/bin/sh -c 'a b'");
    }
}
