//! A snapshot directory: the capture script's output before packing, or an unpacked archive.

use super::builder::FileKind;
use super::{snapshot_path, Sink, Source};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

pub struct DirSource {
    root: PathBuf,
}

/// How deep a snapshot's files sit (`wrapper/proc/1234/smaps` is 4); deeper is not ours.
const MAX_DEPTH: usize = 6;

impl DirSource {
    pub fn new(root: &Path) -> Self {
        DirSource {
            root: root.to_path_buf(),
        }
    }

    fn walk(&self, dir: &Path, depth: usize, sink: &mut dyn Sink) -> Result<()> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir.display(), &e))?;
        let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            // Never follow links: a snapshot is plain files, and a link could point anywhere.
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let relative = path.strip_prefix(&self.root).unwrap_or(&path);
            let relative = relative.to_string_lossy().replace('\\', "/");
            if file_type.is_dir() {
                if depth < MAX_DEPTH {
                    self.walk(&path, depth + 1, sink)?;
                }
            } else if file_type.is_file() {
                let Ok(snap_path) = snapshot_path(&relative) else {
                    continue;
                };
                if FileKind::of(&snap_path).is_none() {
                    continue;
                }
                let bytes = std::fs::read(&path).map_err(|e| Error::io(path.display(), &e))?;
                sink.file(&snap_path, &bytes)?;
            } else if file_type.is_symlink() {
                sink.warn(&relative, "symbolic link in snapshot ignored".into());
            }
        }
        Ok(())
    }
}

impl Source for DirSource {
    fn origin(&self) -> String {
        self.root.display().to_string()
    }

    fn visit(&mut self, sink: &mut dyn Sink) -> Result<()> {
        self.walk(&self.root.clone(), 0, sink)
    }
}
