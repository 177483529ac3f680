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
        entries.sort_unstable_by_key(|e| e.file_name());
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
                let smem_path = smem::snapshot_path_of(&stripped);
                let snap_path = smem_path.as_deref().unwrap_or(&stripped);
                let known = FileKind::of(snap_path).is_some();
                if !known && !keep {
                    continue;
                }
                let Some(bytes) = read_regular(&path, &relative, sink)? else {
                    continue;
                };
                if known {
                    sink.file(snap_path, &bytes)?;
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
    // The size the file has now, read in one call: reading on to see the end cost a second
    // read per file (a fifth of a snapshot directory's system calls). A file that claims no
    // size (a copy of a kernel file on a filesystem that reports none) is read to its end.
    let limit = match metadata.len() {
        0 => MAX_FILE_BYTES + 1,
        size => size,
    };
    file.take(limit).read_to_end(&mut bytes).map_err(io)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Records warnings; files are not expected here.
    #[derive(Default)]
    struct Warnings(Vec<String>);

    impl Sink for Warnings {
        fn file(&mut self, path: &str, _: &[u8]) -> Result<()> {
            panic!("no file expected, got {path}");
        }
        fn warn(&mut self, path: &str, message: String) {
            self.0.push(format!("{path}: {message}"));
        }
        fn skip(&mut self, _: u32, _: String) {}
    }

    /// `readdir` said regular file, then the file was swapped for a FIFO before `open`: the
    /// open must neither block (no writer) nor read, and the file is left out with a warning.
    /// Before, 69 of 300 runs of such a race hung.
    #[test]
    fn a_file_swapped_for_a_fifo_after_readdir_is_not_read() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("smaps");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo takes a NUL-terminated path and a mode.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
        let mut sink = Warnings::default();
        let read = read_regular(&fifo, "proc/1/smaps", &mut sink).unwrap();
        assert_eq!(read, None);
        assert_eq!(
            sink.0,
            ["proc/1/smaps: not a regular file (FIFO, device or socket): ignored"]
        );
    }

    /// Sparse files cost no disk, so a hostile directory can hold a "100 GiB" maps: refused
    /// from its size, before a byte is read (before, "out of memory" and nothing else).
    #[test]
    fn a_huge_sparse_file_is_refused_from_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let maps = dir.path().join("maps");
        std::fs::File::create(&maps)
            .unwrap()
            .set_len(100 << 30)
            .unwrap();
        let err = read_regular(&maps, "proc/1/maps", &mut Warnings::default()).unwrap_err();
        assert_eq!(err.file.as_deref(), Some(&*maps.display().to_string()));
        assert_eq!(
            err.message,
            "file of 107374182400 bytes is larger than any file of a snapshot (67108864 at most): refusing to read it"
        );
    }
}
