//! Git: resolve `A..B`, `A...B` and `A`, list what changed between two
//! snapshots (with renames and the added lines of the head side), and read a
//! commit's files straight from git objects.
//!
//! The user's working tree, index and refs are never touched: a commit is
//! read from the object database and written, only where a render needs it,
//! into a temporary directory that is removed afterwards.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use git2::{DiffFindOptions, DiffOptions, ObjectType, Oid, Repository};

use crate::tree::{EntryKind, Tree, WalkEntry};

/// A git problem, for exit code 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitError(pub String);

impl std::fmt::Display for GitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(context: &str, e: git2::Error) -> GitError {
    GitError(format!("{context}: {}", e.message()))
}

/// The head side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    Commit(Oid),
    /// The working tree, uncommitted changes and untracked files included.
    WorkTree,
}

/// What `kpsa diff SPEC` compares.
#[derive(Debug, Clone)]
pub struct Revisions {
    pub base: Oid,
    pub head: Head,
    /// `A...B`: the base is the merge base of A and B.
    pub merge_base: bool,
}

/// Open the repository that holds `dir`.
pub fn open(dir: &Path) -> Result<Repository, GitError> {
    Repository::discover(dir)
        .map_err(|e| err(&format!("{} is not in a git repository", dir.display()), e))
}

/// Resolve `A..B`, `A...B` or `A` (compared with the working tree).
pub fn resolve(repo: &Repository, spec: &str) -> Result<Revisions, GitError> {
    let commit = |s: &str| -> Result<Oid, GitError> {
        let s = if s.is_empty() { "HEAD" } else { s };
        repo.revparse_single(s)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id())
            .map_err(|e| missing(repo, s, e))
    };
    if let Some((a, b)) = spec.split_once("...") {
        let (a, b) = (commit(a)?, commit(b)?);
        let base = repo.merge_base(a, b).map_err(|e| {
            let mut m = err("no merge base", e);
            if repo.is_shallow() {
                m.0.push_str(SHALLOW_HINT);
            }
            m
        })?;
        return Ok(Revisions {
            base,
            head: Head::Commit(b),
            merge_base: true,
        });
    }
    if let Some((a, b)) = spec.split_once("..") {
        return Ok(Revisions {
            base: commit(a)?,
            head: Head::Commit(commit(b)?),
            merge_base: false,
        });
    }
    Ok(Revisions {
        base: commit(spec)?,
        head: Head::WorkTree,
        merge_base: false,
    })
}

const SHALLOW_HINT: &str = "; this is a shallow clone that lacks the history: fetch it \
     (GitHub Actions: actions/checkout with `fetch-depth: 0`; GitLab CI: `GIT_DEPTH: 0`; \
     by hand: `git fetch --unshallow`)";

fn missing(repo: &Repository, rev: &str, e: git2::Error) -> GitError {
    let mut m = err(&format!("cannot resolve revision {rev:?}"), e);
    if repo.is_shallow() {
        m.0.push_str(SHALLOW_HINT);
    }
    m
}

/// One changed file; a rename has both paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub old: Option<String>,
    pub new: Option<String>,
}

/// What changed between base and head.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub files: Vec<Change>,
    /// Added or modified lines of the head side, per head path.
    pub added: HashMap<String, BTreeSet<u32>>,
}

impl Changes {
    /// Every path that changed, on either side.
    pub fn paths(&self) -> BTreeSet<&str> {
        self.files
            .iter()
            .flat_map(|c| c.old.iter().chain(c.new.iter()))
            .map(String::as_str)
            .collect()
    }

    /// Map a head path (file or directory) to its base path through renames.
    pub fn base_path(&self, head: &str) -> Option<String> {
        self.renamed(head, |c| (c.new.as_deref(), c.old.as_deref()))
    }

    /// Map a base path (file or directory) to its head path through renames.
    pub fn head_path(&self, base: &str) -> Option<String> {
        self.renamed(base, |c| (c.old.as_deref(), c.new.as_deref()))
    }

    /// `path` on the other side of the renames: `sides` gives a change's
    /// (this side, other side) paths.
    fn renamed<'c>(
        &'c self,
        path: &str,
        sides: impl Fn(&'c Change) -> (Option<&'c str>, Option<&'c str>),
    ) -> Option<String> {
        for c in &self.files {
            let (Some(from), Some(to)) = sides(c) else {
                continue;
            };
            if from == to {
                continue;
            }
            if from == path {
                return Some(to.to_string());
            }
            if let Some(suffix) = from.strip_prefix(&format!("{path}/")) {
                if let Some(prefix) = to.strip_suffix(&format!("/{suffix}")) {
                    return Some(prefix.to_string());
                }
            }
        }
        None
    }
}

/// The changes from `base` to `head`, with renames found and the head
/// side's added lines.
pub fn changes(repo: &Repository, base: Oid, head: Head) -> Result<Changes, GitError> {
    let base_tree = repo
        .find_commit(base)
        .and_then(|c| c.tree())
        .map_err(|e| err("cannot read the base commit", e))?;
    let mut opts = DiffOptions::new();
    opts.context_lines(0);
    let mut diff = match head {
        Head::Commit(h) => {
            let head_tree = repo
                .find_commit(h)
                .and_then(|c| c.tree())
                .map_err(|e| err("cannot read the head commit", e))?;
            repo.diff_tree_to_tree(Some(&base_tree), Some(&head_tree), Some(&mut opts))
        }
        Head::WorkTree => {
            opts.include_untracked(true)
                .recurse_untracked_dirs(true)
                .show_untracked_content(true);
            repo.diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut opts))
        }
    }
    .map_err(|e| err("cannot compute the diff", e))?;
    diff.find_similar(Some(
        DiffFindOptions::new().renames(true).for_untracked(true),
    ))
    .map_err(|e| err("cannot detect renames", e))?;
    let mut out = Changes::default();
    let path = |f: git2::DiffFile| f.path().map(|p| p.to_string_lossy().replace('\\', "/"));
    for delta in diff.deltas() {
        let old = (delta.status() != git2::Delta::Added
            && delta.status() != git2::Delta::Untracked)
            .then(|| path(delta.old_file()))
            .flatten();
        let new = (delta.status() != git2::Delta::Deleted)
            .then(|| path(delta.new_file()))
            .flatten();
        out.files.push(Change { old, new });
    }
    let mut added: HashMap<String, BTreeSet<u32>> = HashMap::new();
    diff.foreach(
        &mut |_, _| true,
        None,
        None,
        Some(&mut |delta, _hunk, line| {
            if line.origin() == '+' {
                if let (Some(p), Some(n)) = (delta.new_file().path(), line.new_lineno()) {
                    added
                        .entry(p.to_string_lossy().into_owned())
                        .or_default()
                        .insert(n);
                }
            }
            true
        }),
    )
    .map_err(|e| err("cannot read the diff", e))?;
    out.added = added;
    Ok(out)
}

/// Whether a tree entry's name can be written under a snapshot root as it
/// is: not `.`, `..` or `.git` (in any case), no `/`, `\\` or NUL.
fn safe_entry_name(name: &str) -> bool {
    !(name.is_empty()
        || name == "."
        || name == ".."
        || name.eq_ignore_ascii_case(".git")
        || name.contains(['/', '\\', '\0']))
}

/// A commit's files, read from git objects; written to disk (under a
/// temporary root) only by [`CommitTree::materialize`].
pub struct CommitTree {
    root: PathBuf,
    _tmp: tempfile::TempDir,
    entries: BTreeMap<PathBuf, (Oid, EntryKind)>,
    dirs: BTreeSet<PathBuf>,
    repo: Mutex<Repository>,
}

impl CommitTree {
    pub fn new(repo_dir: &Path, commit: Oid) -> Result<CommitTree, GitError> {
        let repo = Repository::open(repo_dir).map_err(|e| err("cannot open the repository", e))?;
        let tmp = crate::interrupt::temp_dir("kpsa-snapshot-")
            .map_err(|e| GitError(format!("cannot create a temporary directory: {e}")))?;
        let root = std::fs::canonicalize(tmp.path()).unwrap_or_else(|_| tmp.path().to_path_buf());
        let mut entries = BTreeMap::new();
        let mut dirs = BTreeSet::new();
        dirs.insert(root.clone());
        let mut refused: Option<String> = None;
        let max = crate::tree::max_entries();
        {
            let tree = repo
                .find_commit(commit)
                .and_then(|c| c.tree())
                .map_err(|e| err("cannot read the commit", e))?;
            tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
                if entries.len() + dirs.len() > max {
                    refused = Some(crate::tree::too_many_entries(max));
                    return git2::TreeWalkResult::Abort;
                }
                let name = match entry.name() {
                    Ok(n) if safe_entry_name(n) => n,
                    other => {
                        refused = Some(format!(
                            "the commit's tree holds an entry named {:?} in {:?}; kpsa refuses trees with \
                             `.`, `..`, `.git`, `/`, NUL or non-UTF-8 names (they could write outside the snapshot)",
                            other.map_or_else(|_| String::from_utf8_lossy(entry.name_bytes()).into_owned(), str::to_string),
                            if dir.is_empty() { "/" } else { dir }
                        ));
                        return git2::TreeWalkResult::Abort;
                    }
                };
                let path = root.join(dir).join(name);
                match entry.kind() {
                    Some(ObjectType::Tree) => {
                        dirs.insert(path);
                    }
                    Some(ObjectType::Blob) => {
                        let kind = if entry.filemode() == 0o120000 {
                            let target = repo
                                .find_blob(entry.id())
                                .map(|b| String::from_utf8_lossy(b.content()).into_owned())
                                .unwrap_or_default();
                            EntryKind::Symlink(crate::plan::normalize(
                                &path.parent().unwrap_or(&root).join(target),
                            ))
                        } else {
                            EntryKind::File
                        };
                        entries.insert(path, (entry.id(), kind));
                    }
                    _ => {}
                }
                git2::TreeWalkResult::Ok
            })
            .map_err(|e| match refused.take() {
                Some(m) => GitError(m),
                None => err("cannot walk the commit's tree", e),
            })?;
        }
        if let Some(m) = refused {
            return Err(GitError(m));
        }
        Ok(CommitTree {
            root,
            _tmp: tmp,
            entries,
            dirs,
            repo: Mutex::new(repo),
        })
    }

    /// Write the files at or below `paths` (absolute, under the root) to
    /// disk; returns how many files were written.
    pub fn materialize(&self, paths: &[PathBuf]) -> std::io::Result<usize> {
        let repo = self.repo.lock().expect("not poisoned");
        let mut written = 0;
        for (path, (oid, kind)) in &self.entries {
            if !paths.iter().any(|p| path == p || path.starts_with(p)) || path.exists() {
                continue;
            }
            if crate::plan::normalize(path) != *path || !path.starts_with(&self.root) {
                return Err(std::io::Error::other(format!(
                    "{} would be written outside the snapshot",
                    path.display()
                )));
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let content = match kind {
                EntryKind::File => repo.find_blob(*oid).map(|b| b.content().to_vec()),
                // A symlink inside the snapshot becomes a copy of its target;
                // one that leaves it is not written.
                EntryKind::Symlink(target) => match self.entries.get(target) {
                    Some((t, EntryKind::File)) if target.starts_with(&self.root) => {
                        repo.find_blob(*t).map(|b| b.content().to_vec())
                    }
                    _ => continue,
                },
                EntryKind::Dir | EntryKind::Unreadable(_) => continue,
            }
            .map_err(|e| std::io::Error::other(e.message().to_string()))?;
            std::fs::write(path, content)?;
            written += 1;
        }
        Ok(written)
    }
}

impl Tree for CommitTree {
    fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let not_found = || {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{} is not in the commit", path.display()),
            )
        };
        let (oid, kind) = self.entries.get(path).ok_or_else(not_found)?;
        let oid = match kind {
            EntryKind::Symlink(target) => match self.entries.get(target) {
                Some((t, EntryKind::File)) => *t,
                _ => return Err(not_found()),
            },
            _ => *oid,
        };
        let repo = self.repo.lock().expect("not poisoned");
        repo.find_blob(oid)
            .map(|b| b.content().to_vec())
            .map_err(|e| std::io::Error::other(e.message().to_string()))
    }

    fn is_file(&self, path: &Path) -> bool {
        match self.entries.get(path) {
            Some((_, EntryKind::File)) => true,
            Some((_, EntryKind::Symlink(t))) => {
                matches!(self.entries.get(t), Some((_, EntryKind::File)))
            }
            _ => false,
        }
    }

    fn is_dir(&self, path: &Path) -> bool {
        self.dirs.contains(path)
    }

    fn links(&self, dir: &Path) -> Vec<(PathBuf, PathBuf)> {
        self.entries
            .range(dir.to_path_buf()..)
            .take_while(|(p, _)| p.starts_with(dir))
            .filter_map(|(p, (_, k))| match k {
                EntryKind::Symlink(t) => Some((p.clone(), t.clone())),
                _ => None,
            })
            .collect()
    }

    fn walk(&self, dir: &Path) -> Vec<WalkEntry> {
        let mut out: Vec<WalkEntry> =
            self.dirs
                .iter()
                .filter(|d| d.starts_with(dir))
                .map(|d| WalkEntry {
                    path: d.clone(),
                    kind: EntryKind::Dir,
                })
                .chain(self.entries.iter().filter(|(p, _)| p.starts_with(dir)).map(
                    |(p, (_, k))| WalkEntry {
                        path: p.clone(),
                        kind: k.clone(),
                    },
                ))
                .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}
