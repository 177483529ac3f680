//! Reading and parsing on two threads. The source runs on the calling thread and hands each file
//! over a bounded channel to the builder on a second thread, in order, so the model (and the
//! order of its warnings) is exactly what the one-thread path builds.
//!
//! The work is shared by how far behind the builder is, not by a fixed split. A source that
//! spends its time in system calls (a directory, the live `/proc`) or in inflating (`.tar.gz`)
//! hands files over as bytes, and the builder parses them while the next are read. A source
//! that reads fast (a plain tar: a copy out of the page cache) fills the channel: then the
//! reading thread parses the process files itself (`ParsedProcessFile::parse`, pure) and hands
//! over the result, which the builder only has to take. Handing parsed files over also saves
//! copying their bytes.

use super::builder::{FileKind, ParsedProcessFile, ProcessFile};
use super::{Sink, SnapshotBuilder, Source};
use crate::error::{Error, Result};
use crate::model::{Interner, Snapshot};
use std::ops::Range;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Condvar, Mutex};

/// Batches in flight between reader and parser. Bounded, so a fast reader cannot pile the input
/// up in memory: peak memory stays the model plus this many batches (about 256 KiB of text
/// with the batch below; 16 batches of 256 KiB were no faster)...
const IN_FLIGHT: usize = 4;
/// ...whose file texts come to no more than this (one file of any size may always go): 16
/// batches of files at the 64 MiB cap would otherwise be 1 GiB.
const IN_FLIGHT_BYTES: usize = 32 << 20;
/// Files are handed over in batches of this many...
const BATCH_FILES: usize = 32;
/// ...or this many bytes of text: one hand-over (a channel send, often a wake-up of the other
/// thread, a system call) per file cost more than parsing a small file.
const BATCH_BYTES: usize = 64 << 10;
/// Bytes waiting for the builder past which the reading thread parses the next process file
/// itself: two batches, enough that the builder never waits for work.
const BUILDER_BEHIND: usize = 2 * BATCH_BYTES;

/// The bytes handed to the parser and not yet parsed. The reader waits while they would pass
/// [`IN_FLIGHT_BYTES`]; the parser gives them back, and says when it stopped (then nobody
/// waits for it). The parser wakes the reader only when it waits: a wake-up is a system call.
#[derive(Default)]
struct InFlight {
    state: Mutex<InFlightState>,
    changed: Condvar,
}

#[derive(Default)]
struct InFlightState {
    bytes: usize,
    parser_stopped: bool,
    reader_waits: bool,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, InFlightState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self, bytes: usize) {
        let mut state = self.lock();
        while !state.parser_stopped && state.bytes > 0 && state.bytes + bytes > IN_FLIGHT_BYTES {
            state.reader_waits = true;
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.reader_waits = false;
        state.bytes += bytes;
    }

    /// The bytes handed over and not yet parsed.
    fn waiting(&self) -> usize {
        self.lock().bytes
    }

    fn give(&self, bytes: usize) {
        let mut state = self.lock();
        state.bytes -= bytes;
        if state.reader_waits {
            self.changed.notify_all();
        }
    }

    fn parser_stopped(&self) {
        self.lock().parser_stopped = true;
        self.changed.notify_all();
    }
}

/// Marks the parser stopped however its thread ends (done, failed or panicked).
struct StopGuard<'a>(&'a InFlight);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.parser_stopped();
    }
}

/// What the reader hands over. A file's path and bytes are ranges of its batch's buffers: a
/// `String` and a `Vec` per file, allocated on one thread and freed on the other, made both
/// threads queue on the allocator's lock.
enum Event {
    File(Range<usize>, Range<usize>),
    /// A process file (of this pid) parsed on the reading thread.
    Parsed(Range<usize>, u32, ParsedProcessFile),
    Warn(String, String),
    Skip(u32, String),
}

/// Events in file order, the paths and texts they name, and the bytes of the file texts among
/// them, parsed or not: what a file parsed on the reading thread holds is about the size of its
/// text or less (a mapping of 600 bytes of smaps is 150 bytes parsed), so the text's size
/// bounds it in [`IN_FLIGHT_BYTES`] too. The builder sends each batch back emptied, and the
/// reader fills it again (see [`RECYCLED_TEXT`]).
#[derive(Default)]
struct Batch {
    events: Vec<Event>,
    paths: String,
    texts: Vec<u8>,
    text_bytes: usize,
}

/// A batch whose text buffer grew past this (a large file in it) is dropped rather than sent
/// back, so that the batches going round hold no more than a few batches' worth of memory.
const RECYCLED_TEXT: usize = 2 * BATCH_BYTES;

impl Batch {
    fn path(&mut self, path: &str) -> Range<usize> {
        let start = self.paths.len();
        self.paths.push_str(path);
        start..self.paths.len()
    }

    fn text(&mut self, bytes: &[u8]) -> Range<usize> {
        let start = self.texts.len();
        self.texts.extend_from_slice(bytes);
        start..self.texts.len()
    }

    /// The batch emptied, for the reader to fill again, or `None` when it grew too large.
    fn emptied(mut self) -> Option<Batch> {
        if self.texts.capacity() > RECYCLED_TEXT {
            return None;
        }
        self.events.clear();
        self.paths.clear();
        self.texts.clear();
        self.text_bytes = 0;
        Some(self)
    }
}

/// The reader's side: forwards everything to the parser thread, parsed or not, in batches.
struct Forward<'a> {
    to_parser: SyncSender<Batch>,
    /// Batches the builder has taken and sent back, to fill again.
    recycled: Receiver<Batch>,
    in_flight: &'a InFlight,
    batch: Batch,
    /// Bytes waiting for the builder past which this thread parses process files itself
    /// ([`BUILDER_BEHIND`]; the tests set 0 and `usize::MAX`).
    builder_behind: usize,
    /// The paths of the mappings parsed on this thread (the builder shares them again in its
    /// own interner, by their text).
    paths: Interner,
}

/// The parser thread ended early (it failed on a file); its own error is what gets reported.
fn parser_gone() -> Error {
    Error::msg("snapshot parser stopped")
}

impl Forward<'_> {
    fn push(&mut self, event: Event) -> Result<()> {
        self.batch.events.push(event);
        if self.batch.events.len() >= BATCH_FILES || self.batch.text_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Sends the batch so far (every event before the end of the visit is sent).
    fn flush(&mut self) -> Result<()> {
        if self.batch.events.is_empty() {
            return Ok(());
        }
        let empty = self.recycled.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, empty);
        self.in_flight.take(batch.text_bytes);
        self.to_parser.send(batch).map_err(|_| parser_gone())
    }

    /// A process file parsed here when the builder is behind, or `None` to hand it over.
    fn parse_here(&mut self, path: &str, bytes: &[u8]) -> Option<Event> {
        if self.in_flight.waiting() + self.batch.text_bytes < self.builder_behind {
            return None;
        }
        let Some(FileKind::Process(pid, file)) = FileKind::of(path) else {
            return None;
        };
        if !matches!(
            file,
            ProcessFile::Smaps | ProcessFile::Maps | ProcessFile::Status
        ) {
            return None;
        }
        let parsed = ParsedProcessFile::parse(file, bytes, &mut self.paths);
        Some(Event::Parsed(self.batch.path(path), pid, parsed))
    }
}

impl Sink for Forward<'_> {
    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let event = match self.parse_here(path, bytes) {
            Some(parsed) => parsed,
            None => Event::File(self.batch.path(path), self.batch.text(bytes)),
        };
        self.batch.text_bytes += bytes.len();
        self.push(event)
    }

    fn warn(&mut self, path: &str, message: String) {
        // A send fails only when the parser already failed; its error wins anyway.
        let _ = self.push(Event::Warn(path.to_string(), message));
    }

    fn skip(&mut self, pid: u32, reason: String) {
        let _ = self.push(Event::Skip(pid, reason));
    }
}

/// Whether a second thread can run at the same time: not on a one-core board, where the
/// hand-over would only add work.
pub fn worthwhile() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Takes one batch into the builder, in order, gives its text bytes back, and returns it
/// emptied (or `None`) for the reader to fill again.
fn take_batch(
    builder: &mut SnapshotBuilder,
    mut batch: Batch,
    in_flight: &InFlight,
) -> Result<Option<Batch>> {
    let Batch {
        events,
        paths,
        texts,
        text_bytes,
    } = &mut batch;
    for event in events.drain(..) {
        match event {
            Event::File(path, bytes) => builder.add_file(&paths[path], &texts[bytes])?,
            Event::Parsed(path, pid, parsed) => builder.add_parsed(&paths[path], pid, parsed)?,
            Event::Warn(path, message) => Sink::warn(builder, &path, message),
            Event::Skip(pid, reason) => Sink::skip(builder, pid, reason),
        }
    }
    in_flight.give(*text_bytes);
    Ok(batch.emptied())
}

/// Reads `source` on a second thread while this one builds the snapshot (parsing what the
/// reader did not).
pub fn collect(source: &mut dyn Source) -> Result<Snapshot> {
    collect_sharing_at(source, BUILDER_BEHIND)
}

/// The builder's loop: takes the batches in order until the reader is done, sending each back
/// emptied. The builder stays on the calling thread, so the model is made in the main malloc
/// arena, where the accounts that follow reuse what the parse freed (see `src/main.rs`).
fn build(
    mut builder: SnapshotBuilder,
    from_reader: Receiver<Batch>,
    to_reader: Sender<Batch>,
    in_flight: &InFlight,
) -> Result<SnapshotBuilder> {
    let _stop = StopGuard(in_flight);
    for batch in from_reader {
        if let Some(empty) = take_batch(&mut builder, batch, in_flight)? {
            // The reader may have finished: then the batch is simply dropped.
            let _ = to_reader.send(empty);
        }
    }
    Ok(builder)
}

/// [`collect`], with the reading thread parsing process files itself once `builder_behind`
/// bytes wait for the builder.
fn collect_sharing_at(source: &mut dyn Source, builder_behind: usize) -> Result<Snapshot> {
    let builder = SnapshotBuilder::new(source.origin());
    let (to_parser, from_reader) = sync_channel(IN_FLIGHT);
    let (to_reader, recycled) = channel();
    let in_flight = InFlight::default();
    let (visited, parsed) = std::thread::scope(|scope| {
        let in_flight = &in_flight;
        let reader = scope.spawn(move || -> Result<()> {
            let mut forward = Forward {
                to_parser,
                recycled,
                in_flight,
                batch: Batch::default(),
                builder_behind,
                paths: Interner::default(),
            };
            source.visit(&mut forward).and_then(|()| forward.flush())
        });
        // Returns (and so drops the receiver and marks the builder stopped) before the join:
        // a reader waiting to send learns that nobody takes its batches any more.
        let parsed = build(builder, from_reader, to_reader, in_flight);
        let visited = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (visited, parsed)
    });
    // A parse error is the cause when both failed (the reader then only saw the parser go).
    let builder = parsed?;
    visited?;
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::super::{collect_on_this_thread, dir::DirSource, tar::TarSource};
    use std::path::{Path, PathBuf};

    fn both_ways(root: &Path) -> (String, String) {
        let one = collect_on_this_thread(&mut DirSource::new(root));
        let two = super::collect(&mut DirSource::new(root));
        (format!("{one:?}"), format!("{two:?}"))
    }

    /// Every figure, warning and skipped pid of a real snapshot, in the same order.
    #[test]
    fn same_snapshot_as_one_thread() {
        let zynq = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/real/innosilicon-t2-zynq-snapshot");
        let (one, two) = both_ways(&zynq);
        assert!(
            one.starts_with("Ok(") && one.contains("innominer_T2"),
            "{one}"
        );
        assert_eq!(one, two);
    }

    /// The Zynq fixture's processes repeated under new pids until there are `processes`, as
    /// one tar in memory: the size of a big board, where the channel is full and the reader
    /// waits on the parser.
    fn zynq_tar(processes: usize) -> Vec<u8> {
        let zynq = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/real/innosilicon-t2-zynq-snapshot/proc");
        let mut pids: Vec<_> = std::fs::read_dir(&zynq)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.parse::<u32>().is_ok())
            .collect();
        pids.sort();
        let mut tar = tar::Builder::new(Vec::new());
        let mut add = |path: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, path, bytes).unwrap();
        };
        add("meta", b"format=1\nsmaps=1\n");
        for entry in std::fs::read_dir(&zynq).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                let name = entry.file_name().into_string().unwrap();
                add(
                    &format!("proc/{name}"),
                    &std::fs::read(entry.path()).unwrap(),
                );
            }
        }
        for n in 0..processes {
            let pid = &pids[n % pids.len()];
            let new_pid = 100_000 + n;
            for file in ["cmdline", "maps", "smaps", "statm"] {
                let bytes = std::fs::read(zynq.join(pid).join(file)).unwrap();
                add(&format!("proc/{new_pid}/{file}"), &bytes);
            }
            // Its own thread group: with the old Tgid it would be a thread of the original.
            let status = std::fs::read_to_string(zynq.join(pid).join("status")).unwrap();
            let status: String = status
                .lines()
                .map(|line| match line.split_once(':') {
                    Some((key @ ("Tgid" | "Pid"), _)) => format!("{key}:\t{new_pid}\n"),
                    _ => format!("{line}\n"),
                })
                .collect();
            add(&format!("proc/{new_pid}/status"), status.as_bytes());
        }
        tar.into_inner().unwrap()
    }

    /// Issue 18: the same model on both paths for a 2,000-process tar, not only a small dir.
    #[test]
    fn same_snapshot_as_one_thread_for_2000_processes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.tar");
        std::fs::write(&path, zynq_tar(2000)).unwrap();
        let one = collect_on_this_thread(&mut TarSource::new(&path)).unwrap();
        let two = super::collect(&mut TarSource::new(&path)).unwrap();
        assert_eq!(one.processes.len(), 2000);
        assert_eq!(format!("{one:?}"), format!("{two:?}"));
    }

    /// The work is shared by how far behind the builder is: whether the reading thread parses
    /// every process file (threshold 0), none (never behind enough) or some (the default, as
    /// timing falls), plain and compressed archives give the one-thread model.
    #[test]
    fn who_parses_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("s.tar");
        std::fs::write(&plain, zynq_tar(300)).unwrap();
        let gzipped = dir.path().join("s.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &zynq_tar(300)).unwrap();
        std::fs::write(&gzipped, gz.finish().unwrap()).unwrap();
        let one = collect_on_this_thread(&mut TarSource::new(&plain)).unwrap();
        assert_eq!(one.processes.len(), 300);
        let one = format!("{one:?}");
        for archive in [&plain, &gzipped] {
            for builder_behind in [0, super::BUILDER_BEHIND, usize::MAX] {
                let two = super::collect_sharing_at(&mut TarSource::new(archive), builder_behind);
                let two = format!("{:?}", two.unwrap()).replace("s.tar.gz", "s.tar");
                assert!(one == two, "{} at {builder_behind}", archive.display());
            }
        }
    }

    /// A refused file parsed on the reading thread (a field twice in smaps) is reported as
    /// the one-thread path reports it, with every file before it taken.
    #[test]
    fn a_refusal_parsed_on_the_reading_thread_is_the_same() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("meta"), "format=1\nsmaps=1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("proc/1")).unwrap();
        std::fs::write(dir.path().join("proc/meminfo"), "MemTotal: 1024 kB\n").unwrap();
        std::fs::write(
            dir.path().join("proc/1/smaps"),
            "1000-2000 r-xp 0 1f:04 16 /a\nRss: 4 kB\nRss: 8 kB\n",
        )
        .unwrap();
        let one = format!(
            "{:?}",
            collect_on_this_thread(&mut DirSource::new(dir.path()))
        );
        let two = super::collect_sharing_at(&mut DirSource::new(dir.path()), 0);
        assert!(one.contains("Rss given twice"), "{one}");
        assert_eq!(one, format!("{two:?}"));
    }

    /// A file that stops the parser (a newer format) stops the reader with the parser's error.
    #[test]
    fn parse_error_is_the_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("meta"), "format=99\n").unwrap();
        std::fs::create_dir_all(dir.path().join("proc/1")).unwrap();
        std::fs::write(dir.path().join("proc/meminfo"), "MemTotal: 1024 kB\n").unwrap();
        std::fs::write(
            dir.path().join("proc/1/maps"),
            "1000-2000 r-xp 0 1f:04 16 /a\n",
        )
        .unwrap();
        let (one, two) = both_ways(dir.path());
        assert!(one.starts_with("Err(") && one.contains("newer"), "{one}");
        assert_eq!(one, two);
    }
}
