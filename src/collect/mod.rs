//! Collectors: every source (live `/proc`, a snapshot directory, a `.tar`/`.tar.gz`) is a
//! stream of `(snapshot-relative path, bytes)` pairs, and one [`SnapshotBuilder`] turns that
//! stream into the model. Files may come in any order (tar order is the capturer's choice), and
//! each file is parsed as it arrives and then dropped, so memory follows the model, not the input.

mod bounds;
pub mod builder;
pub mod dir;
pub mod kernel_files;
pub mod live;
pub mod manifest;
mod parallel;
pub mod smem;
pub mod tar;

pub use builder::SnapshotBuilder;

use crate::error::{Error, Result};
use crate::model::Snapshot;
use std::borrow::Cow;
use std::path::Path;

/// Anything that can hand over a snapshot's files. `Send`: the files are read on a thread of
/// their own while the calling thread builds the model (`parallel`).
pub trait Source: Send {
    /// A name for messages and provenance (`live`, `board.tar.gz`).
    fn origin(&self) -> String;

    /// Hands every file to `sink` with its snapshot-relative path (`proc/1/maps`).
    fn visit(&mut self, sink: &mut dyn Sink) -> Result<()>;
}

/// Where a source's files go: the model builder, or a capture archive being written.
pub trait Sink {
    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()>;
    /// Something the source refused or could not read, recorded rather than fatal.
    fn warn(&mut self, path: &str, message: String);
    /// A process that could not be read whole; recorded, never fatal.
    fn skip(&mut self, pid: u32, reason: String);
}

/// The largest file either snapshot reader (directory or archive) takes. No kernel file of a
/// snapshot comes near it (the smaps of a process with 50 000 mappings is about 30 MiB); a
/// bigger one is hostile or broken, and reading it would make memory follow the input.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Maps a path inside a snapshot directory or archive to the snapshot-relative form:
/// strips `./` and one wrapping directory (`capture-2024/proc/1/maps` → `proc/1/maps`).
/// Absolute paths and `..` are refused: a snapshot names nothing outside itself. Files in
/// smem's capture layout (`meminfo`, `PID/smaps`) are mapped to ours (see [`smem`]).
pub fn snapshot_path(raw: &str) -> std::result::Result<String, String> {
    let path = strip_wrapper(raw)?;
    Ok(smem::snapshot_path_of(&path).unwrap_or_else(|| path.into_owned()))
}

/// [`snapshot_path`] before smem's names are mapped: the path as the capture wrote it, which
/// is what a manifest lists. Borrowed from `raw` when it is already in that form (a capture's
/// own paths always are): a `String` per file was a tenth of the allocations of a report.
pub fn strip_wrapper(raw: &str) -> std::result::Result<Cow<'_, str>, String> {
    if raw.starts_with('/') {
        return Err("absolute path in snapshot".into());
    }
    const TOP_LEVEL: [&str; 8] = [
        "meta", "manifest", "proc", "sys", "df", "du", "dmesg", "etc",
    ];
    let is_wrapper = |first: &str, more: bool| {
        more && !TOP_LEVEL.contains(&first) && !first.bytes().all(|c| c.is_ascii_digit())
    };
    // A capture's own path has no empty part, `.` or `..`: one pass over it says so (the
    // general way below went over every path four times).
    let mut parts = raw.split('/');
    let first = parts.next().unwrap_or("");
    let mut more = false;
    let mut plain = !matches!(first, "" | "." | "..");
    for part in parts.by_ref() {
        more = true;
        if matches!(part, "" | "." | "..") {
            plain = false;
            break;
        }
    }
    if plain {
        let wrapped = is_wrapper(first, more);
        return Ok(Cow::Borrowed(if wrapped {
            &raw[first.len() + 1..]
        } else {
            raw
        }));
    }
    let parts = || raw.split('/').filter(|p| !p.is_empty() && *p != ".");
    if parts().any(|p| p == "..") {
        return Err("path with `..` in snapshot".into());
    }
    let mut all = parts();
    let Some(first) = all.next() else {
        return Ok(Cow::Borrowed(""));
    };
    let wrapped = is_wrapper(first, all.next().is_some());
    let kept = parts().skip(usize::from(wrapped));
    // Every part is a slice of `raw`: where the first kept one starts is a plain offset.
    let start = kept
        .clone()
        .next()
        .map_or(raw.len(), |p| p.as_ptr() as usize - raw.as_ptr() as usize);
    let tail = &raw[start..];
    if tail.split('/').all(|p| !p.is_empty() && p != ".") {
        return Ok(Cow::Borrowed(tail));
    }
    Ok(Cow::Owned(kept.collect::<Vec<_>>().join("/")))
}

/// Options that decide how much a live read collects.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveOptions {
    /// Read `smaps` (slower, larger) as well as `maps`.
    pub smaps: bool,
}

pub use parallel::worthwhile as second_thread_worthwhile;

/// Reads a whole snapshot from any source into the model.
pub fn collect(source: &mut dyn Source) -> Result<Snapshot> {
    if second_thread_worthwhile() {
        return parallel::collect(source);
    }
    collect_on_this_thread(source)
}

/// The one-thread path: for one-core machines, and the reference for the parallel one.
fn collect_on_this_thread(source: &mut dyn Source) -> Result<Snapshot> {
    let mut builder = SnapshotBuilder::new(source.origin());
    source.visit(&mut builder)?;
    builder.finish()
}

/// Opens what the user named: a directory, a `.tar`/`.tar.gz`, or (no path) the live system.
pub fn open(path: Option<&Path>, live: LiveOptions) -> Result<Box<dyn Source>> {
    let Some(path) = path else {
        return Ok(Box::new(live::LiveSource::new(live)));
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path.display(), &e))?;
    if meta.is_dir() {
        Ok(Box::new(dir::DirSource::new(path)))
    } else {
        Ok(Box::new(tar::TarSource::new(path)))
    }
}

/// Opens and collects a snapshot on the calling thread only: for callers that already keep
/// every core busy with one snapshot per thread (`export`), where a second thread per snapshot
/// would only add hand-over work.
pub fn load_on_this_thread(path: &Path) -> Result<Snapshot> {
    collect_on_this_thread(open(Some(path), LiveOptions::default())?.as_mut())
}

/// Convenience: open and collect in one step.
pub fn load(path: Option<&Path>, live: LiveOptions) -> Result<Snapshot> {
    collect(open(path, live)?.as_mut())
}

#[cfg(test)]
mod tests {
    use super::snapshot_path;

    #[test]
    fn wrapping_directory_is_stripped() {
        assert_eq!(snapshot_path("./cap/proc/1/maps").unwrap(), "proc/1/maps");
        assert_eq!(snapshot_path("proc/1/maps").unwrap(), "proc/1/maps");
        assert_eq!(snapshot_path("cap/meta").unwrap(), "meta");
        assert_eq!(snapshot_path("meta").unwrap(), "meta");
        assert_eq!(snapshot_path("123/smaps").unwrap(), "proc/123/smaps");
        assert_eq!(snapshot_path("smemcap/meminfo").unwrap(), "proc/meminfo");
        assert!(snapshot_path("/etc/passwd").is_err());
        assert!(snapshot_path("cap/../../etc/passwd").is_err());
    }

    /// The path is borrowed when the capture wrote it in the snapshot's form, and rebuilt
    /// part by part otherwise: both give what joining the parts gives, for every path made of
    /// these pieces (empty parts, `.`, a wrapper, digits, a trailing slash; `..` is refused).
    #[test]
    fn stripped_in_place_or_rebuilt_alike() {
        use super::strip_wrapper;
        use std::borrow::Cow;
        let joined = |raw: &str| -> String {
            let parts: Vec<&str> = raw
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".")
                .collect();
            let wrapped = parts.len() > 1
                && !["meta", "proc", "etc"].contains(&parts[0])
                && !parts[0].bytes().all(|c| c.is_ascii_digit());
            parts[usize::from(wrapped)..].join("/")
        };
        let pieces = ["", ".", "..", "cap", "proc", "12", "maps"];
        let mut tried = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for end in ["", "/"] {
                        let raw = format!("{a}/{b}/{c}{end}");
                        let raw = raw.trim_start_matches('/');
                        tried += 1;
                        if raw.split('/').any(|p| p == "..") {
                            assert!(strip_wrapper(raw).is_err(), "{raw:?}");
                            continue;
                        }
                        let stripped = strip_wrapper(raw).unwrap();
                        assert_eq!(stripped, joined(raw), "{raw:?}");
                    }
                }
            }
        }
        assert_eq!(tried, 686);
        assert!(matches!(
            strip_wrapper("cap/proc/1/maps"),
            Ok(Cow::Borrowed("proc/1/maps"))
        ));
        assert!(matches!(strip_wrapper("./proc//1/maps"), Ok(Cow::Owned(_))));
    }
}
