//! A file tree that planning reads: the working tree on disk, or a commit
//! read straight from git objects (see [`crate::git`]), so that a commit is
//! only written to disk where a render needs it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The default of `--max-tree-entries`: most paths one snapshot may hold.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

/// Most paths (files and directories) one snapshot may hold, for git trees
/// and discovery alike: a small repository can name millions of paths by
/// reusing one tree object. Set once from `--max-tree-entries`.
pub static MAX_ENTRIES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_ENTRIES);

/// The current limit of [`MAX_ENTRIES`].
pub fn max_entries() -> usize {
    MAX_ENTRIES.load(Ordering::Relaxed)
}

/// The error text when a snapshot holds more paths than allowed.
pub fn too_many_entries(max: usize) -> String {
    format!(
        "the snapshot holds more than {max} paths; kpsa stops here (raise the limit with --max-tree-entries)"
    )
}

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link and where it points (absolute, lexically resolved).
    Symlink(PathBuf),
    /// A directory or file that could not be read, and why: an error,
    /// never a silent skip.
    Unreadable(String),
}

#[derive(Debug, Clone)]
pub struct WalkEntry {
    pub path: PathBuf,
    pub kind: EntryKind,
}

/// Read access to a tree of files. Paths are absolute, under [`Tree::root`].
pub trait Tree: Sync {
    fn root(&self) -> &Path;
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    fn is_file(&self, path: &Path) -> bool;
    fn is_dir(&self, path: &Path) -> bool;
    /// Every entry below `dir`, sorted, symlinks not followed, dotfiles
    /// included (kubectl applies them too). In a git repository: every
    /// file git tracks, plus (on disk) untracked files `.gitignore` does not
    /// exclude; `.gitignore` never hides a tracked file. Outside one: every
    /// file. `.git` itself is never walked.
    fn walk(&self, dir: &Path) -> Vec<WalkEntry>;

    /// Every symbolic link at or below `dir`, hidden ones included, with
    /// where it points (resolved as far as possible).
    fn links(&self, dir: &Path) -> Vec<(PathBuf, PathBuf)>;

    fn read_string(&self, path: &Path) -> std::io::Result<String> {
        String::from_utf8(self.read(path)?)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// Files on disk, under `root`.
#[derive(Debug, Clone)]
pub struct Disk {
    pub root: PathBuf,
}

impl Tree for Disk {
    fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn links(&self, dir: &Path) -> Vec<(PathBuf, PathBuf)> {
        fn visit(root: &Path, d: &Path, out: &mut Vec<(PathBuf, PathBuf)>) {
            let Ok(rd) = std::fs::read_dir(d) else { return };
            for e in rd.flatten() {
                let p = e.path();
                let Ok(t) = e.file_type() else { continue };
                if t.is_symlink() {
                    let target = std::fs::canonicalize(&p).unwrap_or_else(|_| {
                        let link = std::fs::read_link(&p).unwrap_or_default();
                        crate::plan::normalize(&p.parent().unwrap_or(Path::new("/")).join(link))
                    });
                    out.push((p, target));
                } else if t.is_dir() && p != root.join(".git") {
                    visit(root, &p, out);
                }
            }
        }
        let mut out = Vec::new();
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            if let Ok(t) = std::fs::canonicalize(dir) {
                out.push((dir.to_path_buf(), t));
            }
        }
        visit(&self.root, dir, &mut out);
        out
    }

    fn walk(&self, dir: &Path) -> Vec<WalkEntry> {
        let tracked = tracked_files(&self.root);
        let in_git = tracked.is_some();
        let walk = ignore::WalkBuilder::new(dir)
            .hidden(false)
            .ignore(false)
            .parents(in_git)
            .git_ignore(in_git)
            .git_exclude(in_git)
            .git_global(false)
            .require_git(false)
            .follow_links(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        let mut found: std::collections::BTreeMap<PathBuf, EntryKind> = Default::default();
        let max = max_entries();
        for entry in walk {
            if found.len() >= max {
                found.insert(
                    dir.to_path_buf(),
                    EntryKind::Unreadable(too_many_entries(max)),
                );
                break;
            }
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = error_path(&e).unwrap_or_else(|| dir.to_path_buf());
                    found.insert(path, EntryKind::Unreadable(e.to_string()));
                    continue;
                }
            };
            let Some(ft) = entry.file_type() else {
                continue;
            };
            let path = entry.into_path();
            found.insert(path.clone(), kind_of(&path, ft));
        }
        // Tracked files that .gitignore matches are still deployed.
        for rel in tracked.iter().flatten() {
            let path = self.root.join(rel);
            if !path.starts_with(dir) || found.contains_key(&path) {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue; // deleted in the working tree
            };
            for parent in path.ancestors().skip(1) {
                if !parent.starts_with(dir) || found.contains_key(parent) {
                    break;
                }
                found.insert(parent.to_path_buf(), EntryKind::Dir);
            }
            found.insert(path.clone(), kind_of(&path, meta.file_type()));
        }
        found
            .into_iter()
            .map(|(path, kind)| WalkEntry { path, kind })
            .collect()
    }
}

/// What a walked path is.
fn kind_of(path: &Path, ft: std::fs::FileType) -> EntryKind {
    if ft.is_symlink() {
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| {
            let link = std::fs::read_link(path).unwrap_or_default();
            crate::plan::normalize(&path.parent().unwrap_or(Path::new("/")).join(link))
        });
        EntryKind::Symlink(target)
    } else if ft.is_dir() {
        EntryKind::Dir
    } else {
        EntryKind::File
    }
}

/// The path an ignore-walk error is about.
fn error_path(e: &ignore::Error) -> Option<PathBuf> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// The files git tracks in the repository at `root` (relative paths), or
/// None when `root` is not a git work tree.
fn tracked_files(root: &Path) -> Option<Vec<PathBuf>> {
    if !root.join(".git").exists() {
        return None;
    }
    let repo = git2::Repository::open(root).ok()?;
    let index = repo.index().ok()?;
    Some(
        index
            .iter()
            .map(|e| PathBuf::from(String::from_utf8_lossy(&e.path).into_owned()))
            .collect(),
    )
}
