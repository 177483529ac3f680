//! Everything membudget writes goes through here: reports to standard output, files named by
//! `-o` (reports and captures), and messages to standard error. The promises (docs/security.md):
//!
//! - a failed write is an error (exit 2), never a report cut short with exit 0;
//! - a file is written under an exclusively created temporary name (random, `O_EXCL`, in the
//!   same directory, short enough for any name the directory accepts) and renamed into place
//!   only when whole; only a regular file (or nothing) is ever renamed over;
//! - an existing device, FIFO or socket (`/dev/null`) is written into directly and left what it
//!   was; a symbolic link (`/dev/stdout`) is written through, never replaced, and only when it
//!   belongs to the user running membudget or to root;
//! - a failing standard error never stops a run: messages are best effort;
//! - a closed standard output pipe ends the run quietly with status 141, as a command killed
//!   by SIGPIPE would.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The status a shell reports for a command killed by SIGPIPE (128 + 13).
pub const CLOSED_PIPE_EXIT_CODE: u8 = 141;

/// Set when standard output turned out to be a pipe nobody reads any more.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether a write to standard output found the reader gone (`| head`).
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::SeqCst)
}

/// Writes `bytes` to standard output, flushed. A closed pipe is not an error worth a message
/// (the reader chose to stop), but it is remembered so that the run does not end with 0.
pub fn to_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::SeqCst);
            Ok(())
        }
        Err(e) => Err(Error::io("standard output", &e)),
    }
}

/// One line on standard error, terminal-safe (control characters from a snapshot escaped). A
/// failing standard error (`2>/dev/full`, a closed pipe) is ignored: the report and the exit
/// code still carry the result, and there is nowhere else to complain.
pub fn message(line: &str) {
    let mut text = crate::report::document::terminal(line).into_owned();
    text.push('\n');
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// What an output may find at its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// `-o FILE`: the user named it, so a regular file there is replaced (devices, FIFOs and
    /// links are written into, as the module's promises say).
    Replace,
    /// A name membudget chose itself (a series' `sample-NNNN.tar.gz`): anything found there,
    /// at the start or planted while the file was written, is someone else's and is kept; the
    /// write fails instead.
    Refuse,
}

/// A file being written at a path named by the user.
pub struct OutputFile {
    target: PathBuf,
    kind: Kind,
    existing: Existing,
}

enum Kind {
    /// Written whole under a temporary name, renamed over the target by [`OutputFile::commit`].
    Temporary(tempfile::NamedTempFile, Registered),
    /// An existing device, FIFO or socket, or what a link leads to, written into as it is.
    Direct(File),
}

impl OutputFile {
    /// Opens the output for `target`: a temporary beside it, or the target itself when it is
    /// an existing device, FIFO, socket or link (see the module's promises). A directory is
    /// refused.
    pub fn create(target: &Path) -> Result<OutputFile> {
        OutputFile::create_with(target, Existing::Replace)
    }

    /// Opens the output for `target` as [`OutputFile::create`] does, except that with
    /// [`Existing::Refuse`] anything already at `target` (file, link, device) is an error, and
    /// the final rename never replaces what appeared there meanwhile.
    pub fn create_with(target: &Path, existing: Existing) -> Result<OutputFile> {
        let named = |e: std::io::Error| Error::io(target.display(), &e);
        let found = std::fs::symlink_metadata(target);
        if existing == Existing::Refuse && found.is_ok() {
            return Err(refused(target));
        }
        let kind = match found {
            Ok(m) if m.is_dir() => {
                return Err(Error::in_file(
                    target.display().to_string(),
                    "is a directory; name a file",
                ))
            }
            // A link (`/dev/stdout`): written through, never replaced, if it is ours or root's.
            Ok(m) if m.is_symlink() => Kind::Direct(open_through_link(target, &m)?),
            // A device, FIFO or socket (`/dev/null`): renaming over it would replace the node
            // with a regular file.
            Ok(m) if !m.is_file() => Kind::Direct(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(target)
                    .map_err(named)?,
            ),
            // Nothing there, or a regular file: a new file is renamed over the name.
            _ => {
                let (tmp, registered) = temporary_beside(target).map_err(named)?;
                Kind::Temporary(tmp, registered)
            }
        };
        Ok(OutputFile {
            target: target.to_path_buf(),
            kind,
            existing,
        })
    }

    /// Makes the output whole: flushed and synced, then renamed into place. On error the
    /// temporary is removed (dropping an uncommitted output removes it too).
    pub fn commit(self) -> Result<()> {
        let named = |e: std::io::Error| Error::io(self.target.display(), &e);
        match self.kind {
            Kind::Direct(mut file) => file.flush().map_err(named),
            // Renamed first, forgotten after (when `_registered` drops): a signal in between
            // finds a name that no longer exists, never a temporary it cannot see.
            Kind::Temporary(mut tmp, _registered) => {
                tmp.flush().map_err(named)?;
                tmp.as_file().sync_all().map_err(named)?;
                let persisted = match self.existing {
                    Existing::Replace => tmp.persist(&self.target),
                    Existing::Refuse => tmp.persist_noclobber(&self.target),
                };
                persisted.map(drop).map_err(|e| {
                    if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                        refused(&self.target)
                    } else {
                        named(e.error)
                    }
                })
            }
        }
    }
}

/// The error for a name that must be new but is taken.
fn refused(target: &Path) -> Error {
    Error::in_file(
        target.display().to_string(),
        "already exists and was not made by this run: left as it is, nothing written over it",
    )
}

/// A temporary known to the signal handler (registered by [`temporary_beside`]) for as long as
/// this lives.
struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        crate::signals::forget_temporary(&self.0);
    }
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.kind {
            Kind::Temporary(tmp, _) => tmp.write(buf),
            Kind::Direct(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.kind {
            Kind::Temporary(tmp, _) => tmp.flush(),
            Kind::Direct(file) => file.flush(),
        }
    }
}

/// Opens the file a link names, for writing, truncated; never creates one (a dangling link is
/// an error). The link must belong to us or to root: a link another user planted in a shared
/// directory (`/tmp/report.txt` -> `/etc/shadow`) is refused, as the kernel's
/// `fs.protected_symlinks` would refuse it in a sticky directory, whatever that setting is.
fn open_through_link(target: &Path, link: &std::fs::Metadata) -> Result<File> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if link.uid() != me && link.uid() != 0 {
        return Err(Error::in_file(
            target.display().to_string(),
            format!(
                "symbolic link owned by uid {}: not followed (remove it, or name its target)",
                link.uid()
            ),
        ));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(target)
        .map_err(|e| Error::io(target.display(), &e))
}

/// An exclusively created (`O_EXCL`, random name) temporary in the target's directory, so the
/// final rename stays on one filesystem, known to the signal handler from before it exists (a
/// signal between the create and a later registration would leave it behind). The name is
/// short (`.membudget-` and six random characters) whatever the target's length. Mode 0666
/// before the umask, as a plain create.
fn temporary_beside(target: &Path) -> std::io::Result<(tempfile::NamedTempFile, Registered)> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".membudget-")
        .make_in(dir, |path| {
            crate::signals::register_temporary(path);
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o666)
                .open(path);
            if created.is_err() {
                crate::signals::forget_temporary(path);
            }
            created
        })?;
    let registered = Registered(tmp.path().to_path_buf());
    Ok((tmp, registered))
}

/// Writes `content` to `path` whole or not at all (see [`OutputFile`]).
pub fn write_file(path: &Path, content: &[u8]) -> Result<()> {
    let mut out = OutputFile::create(path)?;
    out.write_all(content)
        .map_err(|e| Error::io(path.display(), &e))?;
    out.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_outputs_to_one_name_get_distinct_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r.txt");
        let a = OutputFile::create(&target).unwrap();
        let b = OutputFile::create(&target).unwrap();
        let path = |o: &OutputFile| match &o.kind {
            Kind::Temporary(t, _) => t.path().to_path_buf(),
            Kind::Direct(_) => panic!("direct"),
        };
        assert_ne!(path(&a), path(&b));
        assert!(path(&a).file_name().unwrap().len() < 20);
        drop(a);
        b.commit().unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the dropped output's temporary is gone");
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(dir.path(), b"x").unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[test]
    fn a_name_that_must_be_new_keeps_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sample-0001.tar.gz");
        std::fs::write(&target, b"theirs").unwrap();
        let err = OutputFile::create_with(&target, Existing::Refuse)
            .err()
            .expect("an existing file is refused");
        assert!(err.to_string().contains("already exists"), "{err}");
        // A link planted to elsewhere is refused too, not written through.
        let link = dir.path().join("sample-0002.tar.gz");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(OutputFile::create_with(&link, Existing::Refuse).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"theirs");
    }

    #[test]
    fn a_file_planted_while_writing_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sample-0003.tar.gz");
        let mut out = OutputFile::create_with(&target, Existing::Refuse).unwrap();
        out.write_all(b"ours").unwrap();
        std::fs::write(&target, b"planted").unwrap();
        let err = out.commit().unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&target).unwrap(), b"planted");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "the temporary is removed");
    }
}
