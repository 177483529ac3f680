//! A `.tar` or `.tar.gz` snapshot, read as a stream: nothing is extracted to disk, and each
//! entry is parsed and dropped before the next is read.

use super::builder::FileKind;
use super::manifest::{Inventory, MAX_KEPT_BYTES};
use super::{smem, strip_wrapper, Sink, Source};
use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Refuse to inflate more than this in total: a gzip bomb must end in an error, not in an
/// exhausted build machine. Real snapshots of thousands of processes stay far below it.
pub const MAX_INFLATED_BYTES: u64 = 4 << 30;
/// No kernel file of a snapshot comes near this; a bigger entry is hostile or broken. The
/// directory reader applies the same cap ([`super::MAX_FILE_BYTES`]).
pub const MAX_ENTRY_BYTES: u64 = super::MAX_FILE_BYTES;
/// A GNU long name or a PAX header holds one path and a few records; this is 16 times the
/// longest Linux path. Checked from the header, before a byte of it is read.
pub const MAX_EXTENSION_BYTES: u64 = 64 << 10;
/// Zeros a tar writer may pad with after the end-of-archive marker (GNU tar pads to its record
/// size, 10 KiB by default); more is not padding.
const MAX_TRAILING_ZEROS: u64 = 1 << 20;
const BLOCK: u64 = 512;

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

/// Counts what passes through and fails once the cap is crossed. Uncapped (`u64::MAX`), it
/// counts the bytes the tar reader takes, so the end of an archive can be told from a cut.
struct Capped<R> {
    inner: R,
    read: u64,
    cap: u64,
    /// Where skipped bytes go, allocated on the first skip and reused after (see `Seek`).
    discard: Vec<u8>,
}

impl<R> Capped<R> {
    fn new(inner: R, cap: u64) -> Self {
        Capped {
            inner,
            read: 0,
            cap,
            discard: Vec::new(),
        }
    }
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

/// Forward skips only, made by reading: the stream is not seekable. The tar crate, given a
/// reader without `Seek`, moves to every header through a 32 KiB stack buffer it zeroes for
/// each entry (even when there is nothing to skip): that memset was 18 % of all instructions
/// (docs/performance.md). Skipped bytes are still read, counted and capped, so an archive is
/// verified whole exactly as before.
impl<R: Read> Seek for Capped<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        let SeekFrom::Current(forward @ 0..) = pos else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a tar stream only skips forward",
            ));
        };
        let mut left = forward as u64;
        if left > 0 && self.discard.is_empty() {
            self.discard = vec![0; 32 << 10];
        }
        while left > 0 {
            let n = left.min(self.discard.len() as u64) as usize;
            let mut buf = std::mem::take(&mut self.discard);
            let got = self.read(&mut buf[..n]);
            self.discard = buf;
            match got? {
                0 => return Err(std::io::Error::other("unexpected EOF during skip")),
                got => left -= got as u64,
            }
        }
        Ok(self.read)
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Bytes read from an archive file per system call: with the default 8 KiB, a 500 MB tar took
/// 44,000 reads.
const READ_BUFFER: usize = 256 << 10;

/// Opens a file as a tar stream, inflating it when it starts with the gzip magic, and failing
/// once more than `cap` bytes have come out.
pub fn tar_reader(path: &Path, cap: u64) -> Result<Box<dyn Read>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path.display(), &e))?;
    archive_stream(BufReader::with_capacity(READ_BUFFER, file), cap)
        .map_err(|e| Error::io(path.display(), &e))
}

/// The tar stream inside `reader`: inflated when it starts with the gzip magic, capped at
/// `cap` bytes either way. Separate from the file so the fuzzer can feed bytes.
pub fn archive_stream<R: BufRead + 'static>(
    mut reader: R,
    cap: u64,
) -> std::io::Result<Box<dyn Read>> {
    let is_gzip = reader.fill_buf()?.starts_with(&GZIP_MAGIC);
    let inner: Box<dyn Read> = if is_gzip {
        let mut inflated = BufReader::new(flate2::read::MultiGzDecoder::new(reader));
        if inflated.fill_buf()?.starts_with(&GZIP_MAGIC) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a gzip file inside the gzip file (compressed twice?): gunzip it once, then read the result",
            ));
        }
        Box::new(inflated)
    } else {
        Box::new(reader)
    };
    Ok(Box::new(Capped::new(inner, cap)))
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

/// One walk over an archive's entries: what was found, and where the last entry ended.
struct Walk<'a> {
    origin: &'a str,
    inventory: Inventory,
    entries: usize,
    /// Offset just past the last entry's (padded) data: where the end-of-archive marker begins.
    end: u64,
    /// A file in our layout (not smem's) was seen: then `meta` is required.
    ours: bool,
    /// The name a GNU long-name or PAX `path` header gave the next entry.
    long_name: Option<Vec<u8>>,
    /// Each member's bytes, read into one buffer that grows to the largest member: a fresh
    /// `Vec` per member was zeroed by `read_to_end` before every read (2 % of instructions).
    data: Vec<u8>,
    /// Each member's name, in one buffer for the same reason (a `String` per member).
    name: String,
}

/// Reads until `buf` is full or the stream ends; how many bytes came.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl Walk<'_> {
    fn fail(&self, e: std::io::Error) -> Error {
        Error::in_file(
            self.origin.to_string(),
            format!("not a readable tar archive: {e}"),
        )
    }

    fn entry_error(&self, raw: &str, message: String) -> Error {
        Error::in_file(format!("{}:{raw}", self.origin), message)
    }

    /// Takes one raw entry: an extension header (long name, PAX) or a member.
    fn entry<R: Read>(&mut self, entry: tar::Entry<R>, sink: &mut dyn Sink) -> Result<()> {
        self.entries += 1;
        let size = entry.size();
        self.end = entry.raw_file_position() + size.div_ceil(BLOCK) * BLOCK;
        let kind = entry.header().entry_type();
        if kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions()
        {
            return self.extension(entry, kind);
        }
        let mut raw = std::mem::take(&mut self.name);
        raw.clear();
        match self.long_name.take() {
            Some(name) => raw.push_str(&String::from_utf8_lossy(&name)),
            None => raw.push_str(&String::from_utf8_lossy(&entry.path_bytes())),
        }
        let taken = self.member(entry, kind, &raw, sink);
        self.name = raw;
        taken
    }

    /// A member that is not an extension header: a snapshot file is read and handed to `sink`;
    /// every regular file is recorded in the inventory.
    fn member<R: Read>(
        &mut self,
        mut entry: tar::Entry<R>,
        kind: tar::EntryType,
        raw: &str,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let size = entry.size();
        if kind.is_dir() {
            return Ok(());
        }
        let stripped = match strip_wrapper(raw) {
            Ok(p) => p,
            Err(message) => {
                sink.warn(raw, format!("{message}: entry ignored"));
                return Ok(());
            }
        };
        let smem_path = smem::snapshot_path_of(&stripped);
        let path = smem_path.as_deref().unwrap_or(&stripped);
        let known = FileKind::of(path).is_some();
        if !kind.is_file() {
            if known {
                sink.warn(
                    raw,
                    "not a regular file (link or device): entry ignored".into(),
                );
            }
            return Ok(());
        }
        let keep = self.inventory.saw(&stripped);
        self.ours |= known && smem_path.is_none();
        if !known && !keep {
            return Ok(());
        }
        let cap = if known {
            MAX_ENTRY_BYTES
        } else {
            MAX_KEPT_BYTES
        };
        if size > cap {
            return Err(self.entry_error(
                raw,
                format!(
                    "entry of {size} bytes is larger than any file of a snapshot ({cap} at most)"
                ),
            ));
        }
        let size = size as usize;
        if self.data.len() < size {
            self.data.resize(size, 0);
        }
        let got = read_full(&mut entry, &mut self.data[..size]).map_err(|e| self.fail(e))?;
        if got != size {
            return Err(self.entry_error(
                raw,
                format!(
                    "the archive ends inside this entry ({got} of its {size} bytes): it was cut short"
                ),
            ));
        }
        let bytes = &self.data[..size];
        if known {
            sink.file(path, bytes)?;
        }
        if keep {
            self.inventory.keep(&stripped, bytes.to_vec());
        }
        Ok(())
    }

    /// A GNU long name/link or PAX header: capped from its header, then read. A PAX `size`
    /// record is refused: it would make this reader and `tar` disagree on where entries are,
    /// and no snapshot file is large enough to need one.
    fn extension<R: Read>(&mut self, mut entry: tar::Entry<R>, kind: tar::EntryType) -> Result<()> {
        let what = if kind.is_gnu_longname() || kind.is_gnu_longlink() {
            "GNU long-name"
        } else {
            "PAX"
        };
        let at = format!("header at byte {}", entry.raw_header_position());
        if entry.size() > MAX_EXTENSION_BYTES {
            return Err(self.entry_error(
                &at,
                format!(
                    "{what} header of {} bytes: no path or record is that long ({MAX_EXTENSION_BYTES} at most)",
                    entry.size()
                ),
            ));
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| self.fail(e))?;
        if kind.is_gnu_longname() {
            let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
            data.truncate(end);
            self.long_name = Some(data);
        } else if kind.is_pax_local_extensions() {
            for record in tar::PaxExtensions::new(&data) {
                let record = record.map_err(|e| self.fail(e))?;
                match record.key_bytes() {
                    b"path" => self.long_name = Some(record.value_bytes().to_vec()),
                    b"size" => {
                        return Err(self.entry_error(
                            &at,
                            "PAX size record: not written by any capture, and read differently by different tar readers".into(),
                        ))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// After the last entry: the end-of-archive marker must be there, followed by nothing but
    /// padding. An archive cut at an entry boundary, or two archives joined end to end, would
    /// otherwise read as a complete, smaller snapshot. smemcap writes no marker (its archive
    /// just stops), so an archive in smem's layout may end without one; one of ours may not.
    fn check_end<R: Read>(&self, mut stream: Capped<R>) -> Result<()> {
        let origin = self.origin;
        if !self.ours && stream.read == self.end {
            return Ok(());
        }
        if stream.read < self.end + BLOCK {
            return Err(Error::in_file(
                origin,
                format!(
                    "no end-of-archive marker after byte {}: the archive was cut short, and files after that point are missing",
                    stream.read
                ),
            ));
        }
        let marker_end = stream.read;
        let mut rest = Vec::new();
        (&mut stream)
            .take(MAX_TRAILING_ZEROS + 1)
            .read_to_end(&mut rest)
            .map_err(|e| {
                Error::in_file(
                    origin,
                    format!(
                        "after the end-of-archive marker (byte {marker_end}): {e}: trailing junk?"
                    ),
                )
            })?;
        if let Some(at) = rest.iter().position(|&c| c != 0) {
            return Err(Error::in_file(
                origin,
                format!(
                    "data after the end-of-archive marker (at byte {}): a second archive joined on, or trailing junk; only the first would be read",
                    marker_end + at as u64
                ),
            ));
        }
        if rest.len() as u64 > MAX_TRAILING_ZEROS {
            return Err(Error::in_file(
                origin,
                format!("more than {MAX_TRAILING_ZEROS} bytes of zeros after the end-of-archive marker: not tar padding"),
            ));
        }
        Ok(())
    }

    /// What the whole archive must satisfy once read: a capture in our layout has its `meta`,
    /// and its manifest (when it wrote one) matches.
    fn check_contents(&self) -> Result<()> {
        if self.long_name.is_some() {
            return Err(Error::in_file(
                self.origin,
                "the archive ends with a long-name header and no entry for it: cut short",
            ));
        }
        if self.ours && !self.inventory.has_meta() {
            return Err(Error::in_file(
                self.origin,
                "no meta: every capture writes one, so this archive is incomplete (cut short?) or not a capture",
            ));
        }
        self.inventory.check(self.origin)
    }
}

/// Hands every snapshot file of a tar stream to `sink`; `origin` names the archive in errors.
/// The archive must be whole: its end-of-archive marker present, nothing but padding after it,
/// no entry cut short, and its `meta` and manifest (contract 1) consistent with its entries.
pub fn visit_archive(origin: &str, stream: impl Read, sink: &mut dyn Sink) -> Result<()> {
    let mut archive = tar::Archive::new(Capped::new(stream, u64::MAX));
    let mut walk = Walk {
        origin,
        inventory: Inventory::default(),
        entries: 0,
        end: 0,
        ours: false,
        long_name: None,
        data: Vec::new(),
        name: String::new(),
    };
    // Raw entries: this reader applies long names itself, after capping their size.
    // With `Seek`, entries skip through `Capped`'s reused buffer instead of a zeroed one.
    for entry in archive
        .entries_with_seek()
        .map_err(|e| walk.fail(e))?
        .raw(true)
    {
        let entry = entry.map_err(|e| walk.fail(e))?;
        walk.entry(entry, sink)?;
    }
    if walk.entries == 0 {
        return Err(Error::in_file(origin, "empty archive: not a snapshot"));
    }
    walk.check_end(archive.into_inner())?;
    walk.check_contents()
}
