//! Reading and parsing on two threads. A source spends its time in system calls (a directory,
//! the live `/proc`) or in inflating (`.tar.gz`), the builder in parsing; on two cores the two
//! overlap. The source runs on the calling thread and hands each file over a bounded channel
//! to the builder on a second thread, in order, so the model (and the order of its warnings)
//! is exactly what the one-thread path builds.

use super::{Sink, SnapshotBuilder, Source};
use crate::error::{Error, Result};
use crate::model::Snapshot;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Condvar, Mutex};

/// Files in flight between reader and parser. Bounded, so a fast reader cannot pile the input
/// up in memory: peak memory stays the model plus this many file texts...
const IN_FLIGHT: usize = 16;
/// ...and this many bytes of them (one file of any size may always go): 16 files at the
/// 64 MiB cap would otherwise be 1 GiB.
const IN_FLIGHT_BYTES: usize = 32 << 20;

/// The bytes handed to the parser and not yet parsed. The reader waits while they would pass
/// [`IN_FLIGHT_BYTES`]; the parser gives them back, and says when it stopped (then nobody
/// waits for it).
#[derive(Default)]
struct InFlight {
    state: Mutex<(usize, bool)>,
    changed: Condvar,
}

impl InFlight {
    fn take(&self, bytes: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !state.1 && state.0 > 0 && state.0 + bytes > IN_FLIGHT_BYTES {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0 += bytes;
    }

    fn give(&self, bytes: usize) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 -= bytes;
        self.changed.notify_all();
    }

    fn parser_stopped(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
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

enum Event {
    File(String, Vec<u8>),
    Warn(String, String),
    Skip(u32, String),
}

/// The reader's side: forwards everything to the parser thread.
struct Forward<'a> {
    to_parser: SyncSender<Event>,
    in_flight: &'a InFlight,
}

/// The parser thread ended early (it failed on a file); its own error is what gets reported.
fn parser_gone() -> Error {
    Error::msg("snapshot parser stopped")
}

impl Sink for Forward<'_> {
    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.in_flight.take(bytes.len());
        self.to_parser
            .send(Event::File(path.to_string(), bytes.to_vec()))
            .map_err(|_| parser_gone())
    }

    fn warn(&mut self, path: &str, message: String) {
        // A send fails only when the parser already failed; its error wins anyway.
        let _ = self.to_parser.send(Event::Warn(path.to_string(), message));
    }

    fn skip(&mut self, pid: u32, reason: String) {
        let _ = self.to_parser.send(Event::Skip(pid, reason));
    }
}

/// Whether a second thread can run at the same time: not on a one-core board, where the
/// hand-over would only add work.
pub fn worthwhile() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Reads `source` on this thread while a second thread parses, and builds the snapshot.
pub fn collect(source: &mut dyn Source) -> Result<Snapshot> {
    let mut builder = SnapshotBuilder::new(source.origin());
    let (to_parser, from_reader) = sync_channel(IN_FLIGHT);
    let in_flight = InFlight::default();
    let (visited, parsed) = std::thread::scope(|scope| {
        let in_flight = &in_flight;
        let parser = scope.spawn(move || -> Result<SnapshotBuilder> {
            let _stop = StopGuard(in_flight);
            for event in from_reader {
                match event {
                    Event::File(path, bytes) => {
                        builder.add_file(&path, &bytes)?;
                        in_flight.give(bytes.len());
                    }
                    Event::Warn(path, message) => Sink::warn(&mut builder, &path, message),
                    Event::Skip(pid, reason) => Sink::skip(&mut builder, pid, reason),
                }
            }
            Ok(builder)
        });
        let visited = source.visit(&mut Forward {
            to_parser,
            in_flight,
        });
        let parsed = parser
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

    /// A file that stops the parser (a newer format) stops the reader with the parser's error.
    #[test]
    fn only_reading_that_costs_gets_a_thread_of_its_own() {
        use super::super::Source;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("s.tar");
        std::fs::write(&plain, zynq_tar(2)).unwrap();
        let gzipped = dir.path().join("s.tar.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &zynq_tar(2)).unwrap();
        std::fs::write(&gzipped, gz.finish().unwrap()).unwrap();
        assert!(!TarSource::new(&plain).reading_is_costly());
        assert!(TarSource::new(&gzipped).reading_is_costly());
        assert!(DirSource::new(dir.path()).reading_is_costly());
        // Unreadable: `visit` reports it; the choice of threads does not hide it.
        assert!(TarSource::new(&dir.path().join("missing.tar")).reading_is_costly());
        // A FIFO is not opened (that would wait for a writer, then take its first bytes).
        let fifo = dir.path().join("fifo.tar");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates the node.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        assert!(TarSource::new(&fifo).reading_is_costly());
        // Whichever path each takes, the two archives give one model (their names apart).
        let from_plain = super::super::collect(&mut TarSource::new(&plain)).unwrap();
        let from_gzipped = super::super::collect(&mut TarSource::new(&gzipped)).unwrap();
        assert_eq!(
            format!("{from_plain:?}"),
            format!("{from_gzipped:?}").replace("s.tar.gz", "s.tar")
        );
    }

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
