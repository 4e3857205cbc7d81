//! Ctrl-C and termination: kill the render programs kpsa started and remove
//! its temporary directories before exiting with 130.
//!
//! [`install`] blocks SIGINT, SIGTERM and SIGHUP in the calling thread
//! (before any other thread exists, so every thread inherits the mask) and
//! waits for them in a dedicated thread with `sigwait`, where cleaning up is
//! safe (no async-signal-safety limits). Render programs run in their own
//! process groups with the signals unblocked again.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

static TEMP_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static SPAWN: Mutex<()> = Mutex::new(());
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        set
    }
}

/// Start handling the signals; call first thing in `main`.
pub fn install() {
    let set = signal_set();
    // SAFETY: changes this thread's signal mask only.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    std::thread::spawn(move || {
        let mut signal: libc::c_int = 0;
        // SAFETY: sigwait reads the set and writes the signal number.
        let r = unsafe { libc::sigwait(&set, &mut signal) };
        if r != 0 {
            return;
        }
        INTERRUPTED.store(true, Ordering::SeqCst);
        cleanup();
        eprintln!("kpsa: interrupted; render programs stopped and temporary files removed");
        std::process::exit(128 + signal);
    });
}

/// Once interrupted, the work in progress must not report (its renders were
/// killed): the calling thread waits here for the exit.
pub fn check() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// Undo [`install`]'s mask in a child between fork and exec.
pub fn unblock_in_child() -> std::io::Result<()> {
    let set = signal_set();
    // SAFETY: pthread_sigmask is async-signal-safe.
    unsafe {
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
    Ok(())
}

fn cleanup() {
    // Wait for a spawn in progress; later ones see INTERRUPTED and refuse.
    let _guard = SPAWN.lock();
    for pgid in GROUPS.lock().map(|g| g.clone()).unwrap_or_default() {
        // SAFETY: kill(2) with a negative pid signals a process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    for dir in TEMP_DIRS.lock().map(|d| d.clone()).unwrap_or_default() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Remove `kpsa-*` temporary directories older than a day that this user
/// owns: left behind when a run was killed with SIGKILL (OOM, a cancelled
/// CI job), where no cleanup can run.
pub fn remove_stale() {
    use std::os::unix::fs::MetadataExt;
    let day = std::time::Duration::from_secs(24 * 3600);
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    let Ok(rd) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_name().to_string_lossy().starts_with("kpsa-") {
            continue;
        }
        let Ok(m) = std::fs::symlink_metadata(e.path()) else {
            continue;
        };
        let old = m
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|a| a > day);
        if m.is_dir() && m.uid() == uid && old {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// A temporary directory that is removed on drop, and on interruption.
pub fn temp_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    // Under the lock cleanup holds: a directory is either made before
    // cleanup (and removed by it) or refused after it.
    let _guard = SPAWN.lock();
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(std::io::Error::other("interrupted"));
    }
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    if let Ok(mut dirs) = TEMP_DIRS.lock() {
        dirs.retain(|d| d.exists());
        dirs.push(dir.path().to_path_buf());
    }
    Ok(dir)
}

/// Start a render program: `spawn` runs under a lock that interruption
/// also takes, so no program can start unseen while kpsa is cleaning up;
/// after an interruption nothing starts. Returns the child and its process
/// group, which is killed on interruption while it runs.
pub fn spawn(cmd: &mut std::process::Command) -> std::io::Result<std::process::Child> {
    let _guard = SPAWN.lock();
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(std::io::Error::other("interrupted"));
    }
    let child = cmd.spawn()?;
    if let Ok(mut g) = GROUPS.lock() {
        g.push(child.id() as i32);
    }
    Ok(child)
}

/// A render program ended: nothing left to kill.
pub fn finished(pgid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.retain(|p| *p != pgid);
    }
}
