//! A `.tar` or `.tar.gz` snapshot, read as a stream: nothing is extracted to disk, and each
//! entry is parsed and dropped before the next is read.

use super::builder::FileKind;
use super::{snapshot_path, Sink, Source};
use crate::error::{Error, Result};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Refuse to inflate more than this in total: a gzip bomb must end in an error, not in an
/// exhausted build machine. Real snapshots of thousands of processes stay far below it.
pub const MAX_INFLATED_BYTES: u64 = 4 << 30;
/// No kernel file of a snapshot comes near this; a bigger entry is hostile or broken.
pub const MAX_ENTRY_BYTES: u64 = 256 << 20;

pub struct TarSource {
    path: PathBuf,
    inflate_cap: u64,
}

impl TarSource {
    pub fn new(path: &Path) -> Self {
        Self::with_inflate_cap(path, MAX_INFLATED_BYTES)
    }

    /// A source that refuses to inflate more than `cap` bytes: the tests prove the bomb
    /// defence with a small cap instead of inflating gigabytes.
    pub fn with_inflate_cap(path: &Path, cap: u64) -> Self {
        TarSource {
            path: path.to_path_buf(),
            inflate_cap: cap,
        }
    }
}

/// Counts what passes through and fails once the cap is crossed.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(std::io::Error::other(format!(
                "archive inflates to more than {} bytes: refusing (gzip bomb?)",
                self.cap
            )));
        }
        Ok(n)
    }
}

/// Opens a file as a tar stream, inflating it when it starts with the gzip magic, and failing
/// once more than `cap` bytes have come out.
pub fn tar_reader(path: &Path, cap: u64) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), &e))?;
    archive_stream(BufReader::new(file), cap).map_err(|e| Error::io(path.display(), &e))
}

/// The tar stream inside `reader`: inflated when it starts with the gzip magic, capped at
/// `cap` bytes either way. Separate from the file so the fuzzer can feed bytes.
pub fn archive_stream<R: std::io::BufRead + 'static>(
    mut reader: R,
    cap: u64,
) -> std::io::Result<Box<dyn Read>> {
    let is_gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn Read> = if is_gzip {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    Ok(Box::new(Capped {
        inner,
        read: 0,
        cap,
    }))
}

impl Source for TarSource {
    fn origin(&self) -> String {
        self.path.display().to_string()
    }

    fn visit(&mut self, sink: &mut dyn Sink) -> Result<()> {
        visit_archive(
            &self.origin(),
            tar_reader(&self.path, self.inflate_cap)?,
            sink,
        )
    }
}

/// Hands every snapshot file of a tar stream to `sink`; `origin` names the archive in errors.
pub fn visit_archive(origin: &str, stream: impl Read, sink: &mut dyn Sink) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::in_file(
            origin.to_string(),
            format!("not a readable tar archive: {e}"),
        )
    };
    let mut archive = tar::Archive::new(stream);
    let mut count = 0usize;
    for entry in archive.entries().map_err(fail)? {
        let mut entry = entry.map_err(fail)?;
        count += 1;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let path = match snapshot_path(&raw) {
            Ok(p) => p,
            Err(message) => {
                sink.warn(&raw, format!("{message}: entry ignored"));
                continue;
            }
        };
        if !kind.is_file() {
            if FileKind::of(&path).is_some() {
                sink.warn(
                    &raw,
                    "not a regular file (link or device): entry ignored".into(),
                );
            }
            continue;
        }
        if FileKind::of(&path).is_none() {
            continue;
        }
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(Error::in_file(
                format!("{origin}:{raw}"),
                format!(
                    "entry of {} bytes is larger than any kernel file ({MAX_ENTRY_BYTES} at most)",
                    entry.size()
                ),
            ));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut bytes).map_err(fail)?;
        sink.file(&path, &bytes)?;
    }
    if count == 0 {
        return Err(Error::in_file(origin, "empty archive: not a snapshot"));
    }
    Ok(())
}
