//! Native capture: the live system's snapshot files written to a `.tar.gz` (or `.tar`), under a
//! temporary name renamed into place only when whole.

pub mod script;
pub mod series;

use crate::collect::manifest::{manifest_text, MANIFEST};
use crate::collect::{LiveOptions, Sink, Source};
use crate::error::{Error, Result};
use crate::output::{Existing, OutputFile};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes each file as a tar entry under one top directory, as `tar -C dir -czf` of a capture
/// directory would, and last the manifest of what it wrote (capture contract 1).
struct ArchiveSink<W: Write> {
    builder: tar::Builder<W>,
    top: String,
    mtime: u64,
    warnings: Vec<String>,
    skipped: usize,
    /// Every path written, in order: the manifest's list.
    written: Vec<String>,
}

impl<W: Write> ArchiveSink<W> {
    fn append(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        let name = format!("{}/{}", self.top, path);
        self.builder
            .append_data(&mut header, &name, bytes)
            .map_err(|e| Error::msg(format!("writing {name} to the archive: {e}")))
    }

    /// Ends the capture with its manifest, which lists every file written before it.
    fn write_manifest(&mut self) -> Result<()> {
        let text = manifest_text(self.written.iter().map(String::as_str));
        self.append(MANIFEST, text.as_bytes())
    }
}

impl<W: Write> Sink for ArchiveSink<W> {
    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        if path == "meta" {
            // This capture writes a manifest; a reader then requires it (a cut archive fails).
            let mut meta = bytes.to_vec();
            meta.extend_from_slice(b"manifest=1\n");
            self.append(path, &meta)?;
        } else {
            self.append(path, bytes)?;
        }
        self.written.push(path.to_string());
        Ok(())
    }

    fn warn(&mut self, path: &str, message: String) {
        self.warnings.push(format!("{path}: {message}"));
    }

    fn skip(&mut self, _pid: u32, _reason: String) {
        self.skipped += 1;
    }
}

/// What a capture wrote.
#[derive(Debug)]
pub struct CaptureSummary {
    pub path: PathBuf,
    pub files: usize,
    pub skipped: usize,
    pub warnings: Vec<String>,
}

/// The archive's byte stream: gzip-compressed or plain, into the output file.
enum ArchiveWriter<'a> {
    Gzip(flate2::write::GzEncoder<&'a mut OutputFile>),
    Plain(&'a mut OutputFile),
}

impl ArchiveWriter<'_> {
    /// Writes what is buffered (the gzip trailer too). Dropping an encoder would write the
    /// trailer as well, but swallow the error of that last write.
    fn finish(self) -> std::io::Result<()> {
        match self {
            ArchiveWriter::Gzip(encoder) => encoder.finish().map(drop),
            ArchiveWriter::Plain(file) => file.flush(),
        }
    }
}

impl Write for ArchiveWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ArchiveWriter::Gzip(encoder) => encoder.write(buf),
            ArchiveWriter::Plain(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ArchiveWriter::Gzip(encoder) => encoder.flush(),
            ArchiveWriter::Plain(file) => file.flush(),
        }
    }
}

/// Whether the output name asks for gzip (`.tar.gz`, `.tgz`) or plain tar (`.tar`).
fn wants_gzip(path: &Path) -> Result<bool> {
    let name = path.to_string_lossy();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Ok(true)
    } else if name.ends_with(".tar") {
        Ok(false)
    } else {
        Err(Error::in_file(
            name.to_string(),
            "capture output must end in .tar.gz, .tgz or .tar",
        ))
    }
}

/// Captures `source` into the archive at `output`.
pub fn capture_to(
    source: &mut dyn Source,
    output: &Path,
    existing: Existing,
) -> Result<CaptureSummary> {
    let gzip = wants_gzip(output)?;
    let top = output
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_end_matches(".gz")
                .trim_end_matches(".tgz")
                .trim_end_matches(".tar")
                .to_string()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "capture".into());
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = OutputFile::create_with(output, existing)?;
    let named = |e: std::io::Error| Error::io(output.display(), &e);
    // The archive writes into `out` until this block ends; `out` is committed after.
    let summary = {
        let writer = if gzip {
            ArchiveWriter::Gzip(flate2::write::GzEncoder::new(
                &mut out,
                flate2::Compression::default(),
            ))
        } else {
            ArchiveWriter::Plain(&mut out)
        };
        let mut sink = ArchiveSink {
            builder: tar::Builder::new(writer),
            top,
            mtime,
            warnings: Vec::new(),
            skipped: 0,
            written: Vec::new(),
        };
        source.visit(&mut sink)?;
        sink.write_manifest()?;
        let writer = sink.builder.into_inner().map_err(named)?;
        writer.finish().map_err(named)?;
        CaptureSummary {
            path: output.to_path_buf(),
            files: sink.written.len() + 1,
            skipped: sink.skipped,
            warnings: sink.warnings,
        }
    };
    // Dropped uncommitted on any error above, the output removes its temporary.
    out.commit()?;
    Ok(summary)
}

/// Captures the live system.
pub fn capture_live(output: &Path, options: LiveOptions) -> Result<CaptureSummary> {
    capture_to(
        &mut crate::collect::live::LiveSource::new(options),
        output,
        Existing::Replace,
    )
}
