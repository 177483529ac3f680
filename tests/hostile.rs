//! Hostile input, driven through the binary: every case must end in a clear message naming the
//! file (and line where there is one), exit code 2 where the input is unusable, and never a
//! panic. The committed corpus is listed in tests/hostile/INDEX; the cases that cannot live in
//! git (archives with `..`, absolute and linked entries, non-UTF-8 names, FIFOs, a gzip bomb)
//! are built here in a temp dir.

use membudget::collect::tar::TarSource;
use membudget::collect::{collect, Sink};
use std::io::Write;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Peak resident memory of the run, from the kernel's rusage of the child.
    peak_kib: u64,
}

/// Every hostile case must stay within this (the target): memory follows the model,
/// never the input.
const PEAK_KIB: u64 = 256 << 10;

fn report(snapshot: &Path, profile: Option<&Path>) -> Outcome {
    // Hand-made cases lack most kernel files (min_free_kbytes, KernelStack...): their verdict
    // is INCONCLUSIVE by design, so they are budgeted as far as they go.
    let mut args = vec![
        "report".into(),
        "--bytes".into(),
        "--allow-incomplete".into(),
        snapshot.as_os_str().to_owned(),
    ];
    if let Some(p) = profile {
        args.push("--profile".into());
        args.push(p.as_os_str().to_owned());
    }
    run(&args)
}

/// Runs the binary under GNU time, which reports its peak RSS. Not `wait4` on our own child:
/// Linux counts the spawning process's resident set (this test's buffers) into the child's
/// `ru_maxrss` at exec, which inflated small cases to 98 MiB. time is small, so what it
/// reports is the binary's own peak.
fn run(args: &[std::ffi::OsString]) -> Outcome {
    // MEMBUDGET_HOSTILE_BIN runs the corpus against another build (an older one, to see each
    // case fail before its fix).
    let binary = std::env::var_os("MEMBUDGET_HOSTILE_BIN")
        .map_or_else(|| assert_cmd::cargo::cargo_bin("membudget"), PathBuf::from);
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "%M", "-o"])
        .arg(report.path())
        .arg(binary)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("GNU time (Debian package `time`)");
    let peak = std::fs::read_to_string(report.path()).unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        // The last line: time writes "Command exited with non-zero status N" before it.
        peak_kib: peak
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0),
    }
}

/// Checks one outcome; returns a description of what is wrong, if anything.
fn judge(case: &str, outcome: &Outcome, exit: i32, needle: &str) -> Option<String> {
    let mut wrong = Vec::new();
    println!(
        "{case}: exit {:?}, peak RSS {} KiB",
        outcome.code, outcome.peak_kib
    );
    if outcome.stderr.contains("panicked") {
        wrong.push("panicked".to_string());
    }
    if outcome.code != Some(exit) {
        wrong.push(format!("exit {:?}, expected {exit}", outcome.code));
    }
    if outcome.peak_kib == 0 || outcome.peak_kib > PEAK_KIB {
        wrong.push(format!(
            "peak RSS {} KiB, expected at most {PEAK_KIB}",
            outcome.peak_kib
        ));
    }
    for needle in needle.split(" && ") {
        let (stream, text) = match needle.split_once(':') {
            Some(("err", _)) => ("stderr", &outcome.stderr),
            Some(("out", _)) => ("stdout", &outcome.stdout),
            _ => return Some(format!("{case}: bad needle {needle:?} in INDEX")),
        };
        let wanted = &needle[4..];
        if !text.contains(wanted) {
            wrong.push(format!("{stream} lacks {wanted:?}"));
        }
    }
    if exit == 2 && !outcome.stderr.starts_with("membudget: error: ") {
        wrong.push("no `membudget: error:` line".into());
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{case}: {}\n--- stderr:\n{}--- stdout (head):\n{}",
            wrong.join("; "),
            outcome.stderr,
            outcome
                .stdout
                .lines()
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

struct IndexEntry {
    case: String,
    exit: i32,
    needle: String,
}

fn index() -> Vec<IndexEntry> {
    let text = std::fs::read_to_string(corpus().join("INDEX")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let fields: Vec<&str> = l.splitn(4, " | ").collect();
            assert_eq!(fields.len(), 4, "INDEX line {l:?} lacks fields");
            assert!(!fields[3].trim().is_empty(), "INDEX line {l:?} has no note");
            IndexEntry {
                case: fields[0].to_string(),
                exit: fields[1].parse().unwrap(),
                needle: fields[2].to_string(),
            }
        })
        .collect()
}

#[test]
fn every_committed_case_behaves_as_its_index_line_says() {
    let entries = index();
    let minimal = corpus().join("ok-minimal");
    let failures: Vec<String> = entries
        .iter()
        .filter_map(|e| {
            let path = corpus().join(&e.case);
            let outcome = if e.case.ends_with(".toml") {
                report(&minimal, Some(&path))
            } else {
                report(&path, None)
            };
            judge(&e.case, &outcome, e.exit, &e.needle)
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_corpus_is_large_and_every_case_is_indexed() {
    let entries = index();
    let listed: std::collections::BTreeSet<&str> =
        entries.iter().map(|e| e.case.as_str()).collect();
    for dir in [corpus(), corpus().join("profiles")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(corpus()).unwrap().to_owned();
            let rel = rel.to_string_lossy();
            if rel == "INDEX" || rel == "profiles" {
                continue;
            }
            assert!(
                listed.contains(&*rel),
                "{rel} is not in tests/hostile/INDEX"
            );
        }
    }
    assert!(entries.len() >= 50, "only {} cases", entries.len());
}

// ---------------------------------------------------------------------------------------------
// Generated cases.

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(corpus().join("ok-minimal").join(rel)).unwrap()
}

const MINIMAL_FILES: [&str; 6] = [
    "meta",
    "proc/meminfo",
    "proc/mounts",
    "df",
    "proc/1/status",
    "proc/1/maps",
];

enum Entry<'a> {
    File(&'a [u8], Vec<u8>),
    Link(&'a [u8], tar::EntryType, &'a str),
}

/// A tar with raw entry names: the tar crate's safe path setters refuse `..` and absolute
/// paths, which is exactly what a hostile archive holds.
fn raw_tar(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_old();
        let (name, data): (&[u8], &[u8]) = match entry {
            Entry::File(name, data) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(data.len() as u64);
                (name, data)
            }
            Entry::Link(name, kind, target) => {
                header.set_entry_type(*kind);
                header.set_size(0);
                header.set_link_name(target).unwrap();
                (name, &[])
            }
        };
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The minimal snapshot as a tar, less the files in `replaced`, plus the hostile `extra`.
fn minimal_tar_with(replaced: &[&str], extra: Vec<Entry>) -> Vec<u8> {
    let mut entries: Vec<Entry> = MINIMAL_FILES
        .iter()
        .filter(|f| !replaced.contains(f))
        .map(|f| Entry::File(f.as_bytes(), read(f)))
        .collect();
    entries.extend(extra);
    raw_tar(&entries)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn hostile_archives() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<Case> = Vec::new();

    cases.push((
        "dotdot.tar",
        minimal_tar_with(
            &[],
            vec![
                Entry::File(b"../escape/meta", b"format=1\n".to_vec()),
                Entry::File(b"cap/../../proc/meminfo", b"MemTotal: 1 kB\n".to_vec()),
            ],
        ),
        0,
        "err:dotdot.tar:../escape/meta: path with `..`",
    ));
    cases.push((
        "absolute.tar",
        minimal_tar_with(
            &["proc/meminfo"],
            vec![Entry::File(b"/proc/meminfo", read("proc/meminfo"))],
        ),
        2,
        "err:absolute.tar:/proc/meminfo: absolute path",
    ));
    let symlink = Entry::Link(b"proc/1/maps", tar::EntryType::Symlink, "/proc/self/maps");
    cases.push((
        "symlink-out.tar",
        minimal_tar_with(&["proc/1/maps"], vec![symlink]),
        0,
        "err:symlink-out.tar:proc/1/maps: not a regular file",
    ));
    let hardlink = Entry::Link(
        b"proc/meminfo",
        tar::EntryType::Link,
        "../../../proc/meminfo",
    );
    cases.push((
        "hardlink-out.tar.gz",
        gzip(&minimal_tar_with(&["proc/meminfo"], vec![hardlink])),
        2,
        "err:hardlink-out.tar.gz:proc/meminfo: not a regular file",
    ));
    cases.push((
        "duplicate.tar",
        minimal_tar_with(
            &[],
            vec![Entry::File(b"./proc/1/maps", read("proc/1/maps"))],
        ),
        2,
        "err:duplicate.tar:proc/1/maps: the snapshot holds this file twice: which copy",
    ));

    let whole = minimal_tar_with(&[], Vec::new());
    cases.push((
        "truncated.tar",
        whole[..700].to_vec(),
        2,
        "err:truncated.tar",
    ));
    let gz = gzip(&whole);
    cases.push((
        "truncated.tar.gz",
        gz[..gz.len() / 2].to_vec(),
        2,
        "err:truncated.tar.gz",
    ));
    cases.push(("empty.tar", Vec::new(), 2, "err:empty.tar: empty archive"));
    cases.push((
        "junk.tar",
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect(),
        2,
        "err:junk.tar",
    ));
    cases.push((
        "gzip-of-junk.tar.gz",
        gzip(b"this is not a tar archive at all, only text\n"),
        2,
        "err:gzip-of-junk.tar.gz",
    ));

    // An entry whose header claims 1 TiB: refused from the header, before any byte is read.
    let mut header = tar::Header::new_gnu();
    header.set_path("proc/1/smaps").unwrap();
    header.set_size(1 << 40);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut oversize = minimal_tar_with(&[], Vec::new());
    oversize.truncate(oversize.len() - 1024); // drop the end-of-archive blocks
    oversize.extend_from_slice(header.as_bytes());
    oversize.extend_from_slice(&[0u8; 4096]);
    cases.push((
        "oversize-entry.tar",
        oversize,
        2,
        "err:oversize-entry.tar:proc/1/smaps: entry of 1099511627776 bytes",
    ));

    cases.push((
        "non-utf8-entry.tar",
        minimal_tar_with(
            &[],
            vec![Entry::File(b"proc/\xff\xfe/maps", read("proc/1/maps"))],
        ),
        0,
        "out:WITHIN BUDGET",
    ));

    archive_integrity_cases(&mut cases);
    header_size_cases(&mut cases);

    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, bytes, exit, needle)| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let needle = needle.replace(name, &path.display().to_string());
            judge(name, &report(&path, None), *exit, &needle)
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

type Case = (&'static str, Vec<u8>, i32, &'static str);

/// The minimal snapshot's first `n` files as a tar without its end-of-archive marker: an
/// archive cut exactly at an entry boundary.
fn minimal_tar_cut_after(n: usize) -> Vec<u8> {
    let entries: Vec<Entry> = MINIMAL_FILES[..n]
        .iter()
        .map(|f| Entry::File(f.as_bytes(), read(f)))
        .collect();
    let mut tar = raw_tar(&entries);
    tar.truncate(tar.len() - 1024);
    tar
}

/// A capture that promises a manifest (meta `manifest=1`), with the given manifest text.
fn manifested_tar(drop: &[&str], manifest: Option<String>) -> Vec<u8> {
    let mut meta = read("meta");
    meta.extend_from_slice(b"manifest=1\n");
    let mut entries: Vec<Entry> = vec![Entry::File(b"cap/meta", meta)];
    let names: Vec<String> = MINIMAL_FILES[1..]
        .iter()
        .map(|f| format!("cap/{f}"))
        .collect();
    for (file, name) in MINIMAL_FILES[1..].iter().zip(&names) {
        if !drop.contains(file) {
            entries.push(Entry::File(name.as_bytes(), read(file)));
        }
    }
    if let Some(text) = manifest {
        entries.push(Entry::File(b"cap/manifest", text.into_bytes()));
    }
    raw_tar(&entries)
}

/// Archives that are not whole: each read as a complete, smaller snapshot before (a cut tar
/// without `proc/1/maps` said WITHIN BUDGET). Every file of the minimal snapshot is under 512
/// bytes, so each entry is one header block and one data block: entry k ends at byte 1024 k.
fn archive_integrity_cases(cases: &mut Vec<Case>) {
    let whole = minimal_tar_with(&[], Vec::new());
    let cut = minimal_tar_cut_after(5);
    let no_marker = "err:no end-of-archive marker after byte 5120: the archive was cut short";
    cases.push(("cut-at-entry-boundary.tar", cut.clone(), 2, no_marker));
    cases.push(("cut-at-entry-boundary.tar.gz", gzip(&cut), 2, no_marker));
    let second = raw_tar(&[Entry::File(b"proc/2/maps", read("proc/1/maps"))]);
    let joined_message =
        "err:data after the end-of-archive marker (at byte 7168): a second archive joined on";
    cases.push((
        "joined.tar",
        [whole.clone(), second.clone()].concat(),
        2,
        joined_message,
    ));
    cases.push((
        "joined.tar.gz",
        [gzip(&whole), gzip(&second)].concat(),
        2,
        joined_message,
    ));
    cases.push((
        "gzip-trailing-junk.tar.gz",
        [gzip(&whole), b"trailing junk, not a gzip member".to_vec()].concat(),
        2,
        "err:after the end-of-archive marker (byte 6656): invalid gzip header: trailing junk?",
    ));
    cases.push((
        "no-meta.tar",
        minimal_tar_with(&["meta"], Vec::new()),
        2,
        "err:no meta: every capture writes one",
    ));
    cases.push((
        "gzip-in-gzip.tar.gz",
        gzip(&gzip(&whole)),
        2,
        "err:a gzip file inside the gzip file (compressed twice?)",
    ));
    let listed: Vec<&str> = MINIMAL_FILES.to_vec();
    let manifest = format!(
        "format=1\nfiles={}\n{}",
        listed.len(),
        listed
            .iter()
            .map(|f| format!("file={f}\n"))
            .collect::<String>()
    );
    cases.push((
        "manifest-whole.tar",
        manifested_tar(&[], Some(manifest.clone())),
        0,
        "out:WITHIN BUDGET",
    ));
    cases.push((
        "manifest-file-missing.tar",
        manifested_tar(&["proc/1/maps"], Some(manifest)),
        2,
        "err:proc/1/maps is listed in the manifest but not in the snapshot (5 of 6 files present)",
    ));
    cases.push((
        "manifest-promised-absent.tar",
        manifested_tar(&[], None),
        2,
        "err:meta says the capture wrote a manifest (manifest=1), but there is none",
    ));
}

/// Extension headers (GNU long name, PAX) whose claimed size is refused before a byte of them
/// is read (a 1 GiB long name took 3.2 GB before), and long names that are fine.
fn header_size_cases(cases: &mut Vec<Case>) {
    let huge_header = |kind: tar::EntryType, size: u64| {
        let mut header = tar::Header::new_gnu();
        header.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        header.set_entry_type(kind);
        header.set_size(size);
        header.set_cksum();
        let mut tar = minimal_tar_with(&[], Vec::new());
        tar.truncate(tar.len() - 1024);
        tar.extend_from_slice(header.as_bytes());
        tar.extend_from_slice(&[b'a'; 1 << 16]);
        tar
    };
    cases.push((
        "long-name-1gib.tar.gz",
        gzip(&huge_header(tar::EntryType::GNULongName, 1 << 30)),
        2,
        "err:header at byte 6144: GNU long-name header of 1073741824 bytes",
    ));
    cases.push((
        "pax-3.5gib.tar",
        huge_header(tar::EntryType::XHeader, 7 << 29),
        2,
        "err:header at byte 6144: PAX header of 3758096384 bytes",
    ));
    let long = format!("{}/proc/1/maps", "w".repeat(150));
    let mut builder = tar::Builder::new(minimal_tar_cut_after(5));
    let mut header = tar::Header::new_gnu();
    header.set_size(read("proc/1/maps").len() as u64);
    header.set_mode(0o644);
    builder
        .append_data(&mut header, &long, &*read("proc/1/maps"))
        .unwrap();
    cases.push((
        "gnu-long-name.tar",
        builder.into_inner().unwrap(),
        0,
        "out:WITHIN BUDGET",
    ));
    let mut builder = tar::Builder::new(minimal_tar_cut_after(5));
    builder
        .append_pax_extensions([
            ("path", long.as_bytes()),
            ("mtime", b"1700000000".as_slice()),
        ])
        .unwrap();
    let mut header = tar::Header::new_ustar();
    header.set_path("short-name").unwrap();
    header.set_size(read("proc/1/maps").len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, &*read("proc/1/maps")).unwrap();
    cases.push((
        "pax-path.tar",
        builder.into_inner().unwrap(),
        0,
        "out:WITHIN BUDGET",
    ));
}

fn minimal_dir(root: &Path) {
    for f in MINIMAL_FILES {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, read(f)).unwrap();
    }
}

#[test]
fn snapshot_directory_links_pointing_outside_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("snap");
    minimal_dir(&root);
    std::fs::remove_file(root.join("proc/meminfo")).unwrap();
    std::os::unix::fs::symlink("/proc/meminfo", root.join("proc/meminfo")).unwrap();
    // A whole pid directory that is a link into the live /proc.
    std::os::unix::fs::symlink("/proc/self", root.join("proc/2")).unwrap();
    let outcome = report(&root, None);
    // Following the link would have produced a valid snapshot from the live system.
    let problem = judge("dir-symlinks", &outcome, 2, "err:proc/meminfo");
    assert!(problem.is_none(), "{}", problem.unwrap());
    assert!(
        outcome.stderr.contains("proc/meminfo: symbolic link"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn snapshot_directory_fifo_and_non_utf8_names_do_not_hang_or_fail() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"snap-\xff\xfe"));
    minimal_dir(&root);
    let odd = root.join("proc").join(std::ffi::OsStr::from_bytes(b"\xff"));
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("maps"), read("proc/1/maps")).unwrap();
    // A FIFO where a file belongs: reading it would block for ever.
    let fifo = root.join("proc/1/smaps");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo takes a NUL-terminated path and a mode.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
    let outcome = report(&root, None);
    let problem = judge("dir-fifo-non-utf8", &outcome, 0, "out:WITHIN BUDGET");
    assert!(problem.is_none(), "{}", problem.unwrap());
}

#[test]
fn missing_snapshot_path_is_exit_2_naming_it() {
    let outcome = report(Path::new("/nonexistent/board.tar.gz"), None);
    let problem = judge("missing", &outcome, 2, "err:/nonexistent/board.tar.gz");
    assert!(problem.is_none(), "{}", problem.unwrap());
}

/// Ignores everything: the gzip bomb must fail before the builder sees anything big.
struct Discard;
impl Sink for Discard {
    fn file(&mut self, _: &str, _: &[u8]) -> membudget::error::Result<()> {
        Ok(())
    }
    fn warn(&mut self, _: &str, _: String) {}
    fn skip(&mut self, _: u32, _: String) {}
}

#[test]
fn gzip_bomb_stops_at_the_inflate_cap() {
    // 64 MiB of zeros in one entry deflates to about 64 KiB; the cap is 1 MiB.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.tar.gz");
    let mut header = tar::Header::new_gnu();
    header.set_path("proc/1/maps").unwrap();
    let inflated: u64 = 64 << 20;
    header.set_size(inflated);
    header.set_cksum();
    let file = std::fs::File::create(&path).unwrap();
    let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    enc.write_all(header.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        enc.write_all(&zeros).unwrap();
    }
    enc.write_all(&[0u8; 1024]).unwrap(); // the end-of-archive marker: a whole archive
    enc.finish().unwrap();
    let compressed = std::fs::metadata(&path).unwrap().len();
    assert!(
        compressed < inflated / 100,
        "not a bomb: {compressed} bytes"
    );

    let cap = 1 << 20;
    let err = collect(&mut TarSource::with_inflate_cap(&path, cap)).unwrap_err();
    assert_eq!(err.file.as_deref(), Some(&*path.display().to_string()));
    assert!(err.message.contains("gzip bomb"), "{err}");
    // The same archive under the real cap is read whole, to its end (where it is found to have
    // no meta), which shows that the small cap, not something else, stopped it.
    let mut sink = Discard;
    let whole = membudget::collect::tar::visit_archive(
        "bomb",
        membudget::collect::tar::tar_reader(&path, inflated * 2).unwrap(),
        &mut sink,
    );
    let err = whole.unwrap_err();
    assert!(err.message.starts_with("no meta"), "{err}");
}

/// Found by the smaps fuzz target: smaps claiming more private than resident pages on a shared
/// mapping underflowed the shared part of RSS. The binary runs the corpus case under the default
/// (virtual) measure; here every measure is exercised.
#[test]
fn damaged_smaps_is_accounted_under_every_measure() {
    use membudget::account::{account, Measure};
    let snapshot = membudget::collect::load(
        Some(&corpus().join("smaps-private-above-rss")),
        membudget::collect::LiveOptions::default(),
    )
    .unwrap();
    for measure in [Measure::Virtual, Measure::Rss, Measure::Pss] {
        let acc = account(&snapshot, measure, None);
        assert!(acc.user_demand > 0, "{measure:?}");
    }
}

/// Memory and output follow the model, not the input: bad lines are counted past the first
/// ten of each file (a 10 MB maps of bad lines wrote 469 MB of warnings and took 1.4 GB), a
/// sparse 6 GiB smaps is refused from its size (it took 12.6 GB), and large entries of an
/// archive are not piled up between the reader and the parser. `judge` asserts the peak RSS
/// of each run (at most 256 MiB).
#[test]
fn memory_and_output_are_bounded_by_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("bad-lines");
    minimal_dir(&junk);
    let line = b"junk line\n"; // 10 bytes: 1 048 576 lines in 10 MiB
    std::fs::write(junk.join("proc/1/maps"), line.repeat(1 << 20)).unwrap();
    let outcome = report(&junk, None);
    let needle =
        "err:proc/1/maps: 1048566 more bad lines in this file, not listed (1048576 in all)";
    let problem = judge("bad-lines", &outcome, 0, needle);
    assert!(problem.is_none(), "{}", problem.unwrap());
    assert!(
        outcome.stderr.len() < 4096,
        "{} bytes of warnings",
        outcome.stderr.len()
    );

    let sparse = dir.path().join("sparse-smaps");
    minimal_dir(&sparse);
    let smaps = sparse.join("proc/1/smaps");
    std::fs::File::create(&smaps)
        .unwrap()
        .set_len(6 << 30)
        .unwrap();
    let needle = format!(
        "err:{}: file of 6442450944 bytes is larger than any file of a snapshot",
        smaps.display()
    );
    let problem = judge("sparse-smaps", &report(&sparse, None), 2, &needle);
    assert!(problem.is_none(), "{}", problem.unwrap());

    // 4 Mi bad lines in one 8 MiB entry of a .tar.gz of some 10 KB.
    let archive = dir.path().join("bad-lines.tar.gz");
    let maps = b"x\n".repeat(4 << 20);
    std::fs::write(
        &archive,
        gzip(&minimal_tar_with(
            &["proc/1/maps"],
            vec![Entry::File(b"proc/1/maps", maps)],
        )),
    )
    .unwrap();
    assert!(std::fs::metadata(&archive).unwrap().len() < 64 << 10);
    let needle =
        "err:proc/1/maps: 4194294 more bad lines in this file, not listed (4194304 in all)";
    let problem = judge("bad-lines.tar.gz", &report(&archive, None), 0, needle);
    assert!(problem.is_none(), "{}", problem.unwrap());

    // Twelve 60 MiB entries (stat files of junk, cheap to parse): 720 MiB if the reader ran
    // ahead of the parser with all of them in flight.
    let archive = dir.path().join("many-large.tar.gz");
    std::fs::write(&archive, many_large_entries(12, 60 << 20)).unwrap();
    let problem = judge(
        "many-large.tar.gz",
        &report(&archive, None),
        0,
        "out:WITHIN BUDGET",
    );
    assert!(problem.is_none(), "{}", problem.unwrap());
}

/// The minimal snapshot plus `count` entries `proc/N/stat` of `size` bytes of junk, as a
/// .tar.gz of several gzip members (one compressed block reused for every entry's data).
fn many_large_entries(count: u32, size: usize) -> Vec<u8> {
    let mut archive = gzip(&minimal_tar_cut_after(MINIMAL_FILES.len()));
    let data = gzip(&vec![b'x'; size]); // a multiple of 512: no padding
    for pid in 100..100 + count {
        let mut header = tar::Header::new_gnu();
        header.set_path(format!("proc/{pid}/stat")).unwrap();
        header.set_size(size as u64);
        header.set_mode(0o644);
        header.set_cksum();
        archive.extend(gzip(header.as_bytes()));
        archive.extend_from_slice(&data);
    }
    archive.extend(gzip(&[0; 1024]));
    archive
}
