//! The export directory, written so that nobody ever reads half of it: every table goes into a
//! fresh temporary directory beside DIR (`.DIR.partial-XXXXXX`, created exclusively), which is
//! flushed to disk and renamed to DIR only when every table is whole. A failed or interrupted
//! run leaves DIR as it was (the temporary is removed when the run fails; a killed run leaves
//! a hidden `.partial` directory, never a DIR).

use super::rows::Rows;
use crate::error::{Error, Result};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The tables, in the order of [`Encoded::tables`]; each is the file `NAME.ndjson`.
pub const TABLES: [&str; 5] = ["snapshots", "items", "processes", "findings", "errors"];

/// One snapshot's rows as newline-delimited JSON, one buffer per table. Encoded by the worker
/// that analysed the snapshot, so the writer only copies bytes.
pub struct Encoded {
    pub tables: [Vec<u8>; 5],
    pub rows: [u64; 5],
}

fn ndjson<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for row in rows {
        serde_json::to_writer(&mut out, row)
            .map_err(|e| Error::msg(format!("cannot encode a row: {e}")))?;
        out.push(b'\n');
    }
    Ok(out)
}

impl Encoded {
    pub fn of(rows: &Rows) -> Result<Encoded> {
        Ok(Encoded {
            tables: [
                ndjson(&rows.snapshots)?,
                ndjson(&rows.items)?,
                ndjson(&rows.processes)?,
                ndjson(&rows.findings)?,
                ndjson(&rows.errors)?,
            ],
            rows: [
                rows.snapshots.len() as u64,
                rows.items.len() as u64,
                rows.processes.len() as u64,
                rows.findings.len() as u64,
                rows.errors.len() as u64,
            ],
        })
    }
}

/// The tables being written, in their temporary directory.
pub struct Output {
    temporary: tempfile::TempDir,
    target: PathBuf,
    files: Vec<(PathBuf, BufWriter<File>)>,
    /// Rows written per table, in [`TABLES`] order.
    pub rows: [u64; 5],
}

/// DIR may be new or an empty directory (rename replaces an empty directory); anything else
/// is refused before any work, so an export never deletes what it did not write.
fn check_target(target: &Path) -> Result<()> {
    match std::fs::read_dir(target).map(|mut entries| entries.next().is_none()) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::in_file(
            target.display().to_string(),
            "already exists and is not empty: remove it or name a new directory",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(target.display(), &e)),
    }
}

impl Output {
    pub fn create(target: &Path) -> Result<Output> {
        check_target(target)?;
        let name = target
            .file_name()
            .ok_or_else(|| Error::in_file(target.display().to_string(), "not a directory name"))?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let temporary = tempfile::Builder::new()
            .prefix(&format!(".{}.partial-", name.to_string_lossy()))
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .tempdir_in(parent)
            .map_err(|e| Error::io(parent.display(), &e))?;
        let mut files = Vec::new();
        for table in TABLES {
            let path = temporary.path().join(format!("{table}.ndjson"));
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::io(path.display(), &e))?;
            files.push((path, BufWriter::with_capacity(1 << 20, file)));
        }
        Ok(Output {
            temporary,
            target: target.to_path_buf(),
            files,
            rows: [0; 5],
        })
    }

    pub fn write(&mut self, encoded: &Encoded) -> Result<()> {
        for (i, (path, file)) in self.files.iter_mut().enumerate() {
            file.write_all(&encoded.tables[i])
                .map_err(|e| Error::io(path.display(), &e))?;
            self.rows[i] += encoded.rows[i];
        }
        Ok(())
    }

    /// Flushes every table to disk, then renames the directory into place.
    pub fn finish(self) -> Result<PathBuf> {
        for (path, file) in self.files {
            let file = file
                .into_inner()
                .map_err(|e| Error::io(path.display(), e.error()))?;
            file.sync_all().map_err(|e| Error::io(path.display(), &e))?;
        }
        let temporary = self.temporary.keep();
        if let Err(e) = std::fs::rename(&temporary, &self.target) {
            let _ = std::fs::remove_dir_all(&temporary);
            return Err(Error::io(self.target.display(), &e));
        }
        // The rename is durable once the parent directory is.
        if let Some(parent) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(dir) = File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_empty_target_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep.txt"), "mine").unwrap();
        let e = Output::create(&target).err().unwrap().to_string();
        assert!(e.contains("not empty"), "{e}");
        assert_eq!(std::fs::read(target.join("keep.txt")).unwrap(), b"mine");
    }

    #[test]
    fn tables_appear_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut output = Output::create(&target).unwrap();
        let rows = Rows::of_error(
            &super::super::rows::Identity {
                id: 7,
                path: "bad.tar",
                redact: false,
            },
            "broken".into(),
        );
        output.write(&Encoded::of(&rows).unwrap()).unwrap();
        assert!(!target.exists(), "DIR must not exist before finish");
        let partial: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(partial.len(), 1);
        output.finish().unwrap();
        let errors = std::fs::read_to_string(target.join("errors.ndjson")).unwrap();
        assert_eq!(
            errors,
            "{\"snapshot_id\":7,\"path\":\"bad.tar\",\"error\":\"broken\"}\n"
        );
        assert_eq!(std::fs::read(target.join("snapshots.ndjson")).unwrap(), b"");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_dropped_output_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        drop(Output::create(&target).unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
