//! A file tree that planning reads: the working tree on disk, or a commit
//! read straight from git objects (see [`crate::git`]), so that a commit is
//! only written to disk where a render needs it.

use std::path::{Path, PathBuf};

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link and where it points (absolute, lexically resolved).
    Symlink(PathBuf),
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
    /// Every entry below `dir`, sorted, hidden entries skipped, symlinks not
    /// followed; on disk, what `.gitignore` excludes is skipped too.
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
        let mut out = Vec::new();
        let walk = ignore::WalkBuilder::new(dir)
            .hidden(true)
            .git_ignore(true)
            .git_exclude(true)
            .git_global(false)
            .require_git(false)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .build();
        for entry in walk.flatten() {
            let Some(ft) = entry.file_type() else {
                continue;
            };
            let path = entry.into_path();
            let kind = if ft.is_symlink() {
                let target = std::fs::canonicalize(&path).unwrap_or_else(|_| {
                    let link = std::fs::read_link(&path).unwrap_or_default();
                    crate::plan::normalize(&path.parent().unwrap_or(Path::new("/")).join(link))
                });
                EntryKind::Symlink(target)
            } else if ft.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            out.push(WalkEntry { path, kind });
        }
        out
    }
}
