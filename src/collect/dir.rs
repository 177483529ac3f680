//! A snapshot directory: the capture script's output before packing, or an unpacked archive.

use super::builder::FileKind;
use super::manifest::Inventory;
use super::{smem, strip_wrapper, Sink, Source, MAX_FILE_BYTES};
use crate::error::{Error, Result};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
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

    fn walk(
        &self,
        dir: &Path,
        depth: usize,
        inventory: &mut Inventory,
        sink: &mut dyn Sink,
    ) -> Result<()> {
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
                    self.walk(&path, depth + 1, inventory, sink)?;
                }
            } else if file_type.is_file() {
                let Ok(stripped) = strip_wrapper(&relative) else {
                    continue;
                };
                let keep = inventory.saw(&stripped);
                let snap_path = smem::snapshot_path_of(&stripped).unwrap_or(stripped.clone());
                let known = FileKind::of(&snap_path).is_some();
                if !known && !keep {
                    continue;
                }
                let Some(bytes) = read_regular(&path, &relative, sink)? else {
                    continue;
                };
                if known {
                    sink.file(&snap_path, &bytes)?;
                }
                if keep {
                    inventory.keep(&stripped, bytes);
                }
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
        let mut inventory = Inventory::default();
        self.walk(&self.root.clone(), 0, &mut inventory, sink)?;
        inventory.check(&self.origin())
    }
}

/// Reads a file that `readdir` called regular, checking again on the opened descriptor: it may
/// have been swapped for a FIFO (whose open or read would block for ever), a device or a link
/// since. Opened non-blocking and without following links; `None` (with a warning) when it is
/// no longer a regular file. Larger than [`MAX_FILE_BYTES`] is an error, read before a byte is.
fn read_regular(path: &Path, relative: &str, sink: &mut dyn Sink) -> Result<Option<Vec<u8>>> {
    let io = |e: std::io::Error| Error::io(path.display(), &e);
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            sink.warn(relative, "symbolic link in snapshot ignored".into());
            return Ok(None);
        }
        Err(e) => return Err(io(e)),
    };
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        sink.warn(
            relative,
            "not a regular file (FIFO, device or socket): ignored".into(),
        );
        return Ok(None);
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(too_large(path, metadata.len()));
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(path, bytes.len() as u64));
    }
    Ok(Some(bytes))
}

fn too_large(path: &Path, size: u64) -> Error {
    Error::in_file(
        path.display().to_string(),
        format!("file of {size} bytes is larger than any file of a snapshot ({MAX_FILE_BYTES} at most): refusing to read it"),
    )
}
