//! Assembles the model from snapshot files, in whatever order they arrive.

use super::bounds::{check, Totals};
use super::kernel_files::KernelFile;
use crate::error::{Error, Result};
use crate::model::{
    FsUsage, Interner, Mapping, Mappings, Packer, Process, Ramdisk, Skipped, Snapshot, Warning,
};
use crate::parse::df::{parse_df, parse_du, DfEntry};
use crate::parse::exhaustion::parse_exhaustion;
use crate::parse::kernel::{parse_boot_log, parse_cmdline};
use crate::parse::kv::first_duplicate_key;
use crate::parse::maps::{parse_maps_with, Issues, LineIssue, MapLine};
use crate::parse::meminfo::parse_meminfo;
use crate::parse::meta::parse_meta;
use crate::parse::mounts::parse_mounts;
use crate::parse::smaps::{parse_smaps_with, ParsedSmaps, SmapsEntry, SmapsFields};
use crate::parse::stat::{parse_stat, Stat};
use crate::parse::status::{parse_status, Status};
use std::collections::BTreeMap;

/// The files of the snapshot format, by their snapshot-relative path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileKind {
    Meta,
    Meminfo,
    Mounts,
    KernelCmdline,
    KernelVersion,
    MinFreeKbytes,
    RamdiskSize(String),
    Df,
    Du,
    Dmesg,
    Passwd,
    Kernel(KernelFile),
    Process(u32, ProcessFile),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProcessFile {
    Maps,
    Smaps,
    SmapsRollup,
    Status,
    Cmdline,
    Stat,
}

impl ProcessFile {
    const ALL: [ProcessFile; 6] = [
        ProcessFile::Maps,
        ProcessFile::Smaps,
        ProcessFile::SmapsRollup,
        ProcessFile::Status,
        ProcessFile::Cmdline,
        ProcessFile::Stat,
    ];

    fn name(self) -> &'static str {
        match self {
            ProcessFile::Maps => "maps",
            ProcessFile::Smaps => "smaps",
            ProcessFile::SmapsRollup => "smaps_rollup",
            ProcessFile::Status => "status",
            ProcessFile::Cmdline => "cmdline",
            ProcessFile::Stat => "stat",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl FileKind {
    /// What a snapshot-relative path holds, or `None` for a file the format does not define.
    pub fn of(path: &str) -> Option<FileKind> {
        // On the stack: this runs for every file, up to three times. No file of the format is
        // deeper than `sys/kernel/dmabuf/buffers/INODE/size`.
        const DEEPEST: usize = 6;
        let mut parts = [""; DEEPEST];
        let mut depth = 0;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            *parts.get_mut(depth)? = part;
            depth += 1;
        }
        Some(match &parts[..depth] {
            ["meta"] => FileKind::Meta,
            ["proc", "meminfo"] => FileKind::Meminfo,
            ["proc", "mounts"] => FileKind::Mounts,
            ["proc", "cmdline"] => FileKind::KernelCmdline,
            ["proc", "version"] => FileKind::KernelVersion,
            ["proc", "sys", "vm", "min_free_kbytes"] => FileKind::MinFreeKbytes,
            ["sys", "block", name, "size"] if name.starts_with("ram") => {
                FileKind::RamdiskSize(name.to_string())
            }
            ["df"] => FileKind::Df,
            ["du"] => FileKind::Du,
            ["dmesg"] => FileKind::Dmesg,
            ["etc", "passwd"] => FileKind::Passwd,
            ["proc", pid, file] if !pid.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()) => {
                let pid = pid.parse().ok()?;
                let file = ProcessFile::ALL.into_iter().find(|f| f.name() == *file)?;
                FileKind::Process(pid, file)
            }
            other => FileKind::Kernel(KernelFile::of(other)?),
        })
    }
}

/// Whether `path` is `proc/PID/FILE` as the format writes it (the pid in plain decimal), told
/// without building that text for each of a snapshot's files.
fn is_canonical(path: &str, pid: u32, file: ProcessFile) -> bool {
    let digits = path
        .strip_prefix("proc/")
        .and_then(|rest| rest.strip_suffix(file.name()))
        .and_then(|rest| rest.strip_suffix('/'));
    digits.is_some_and(|d| {
        d.bytes().all(|c| c.is_ascii_digit())
            && (d == "0" || !d.starts_with('0'))
            && d.parse() == Ok(pid)
    })
}

/// What we have seen of one pid so far.
#[derive(Default)]
struct PartialProcess {
    mappings: PartialMappings,
    /// Lines of maps/smaps that did not parse: with no good line left, the process is
    /// unreadable rather than a kernel thread.
    bad_lines: usize,
    /// Boxed: present on kernels from 4.14 only, and a fleet snapshot holds every pid's partial
    /// process until its last file.
    rollup: Option<Box<SmapsFields>>,
    status: Option<Status>,
    cmdline: Option<String>,
    stat: Option<Stat>,
    /// Which of its files were taken (`ProcessFile::bit`), to refuse a second copy.
    files: u8,
}

/// A pid's mappings as its `maps` and `smaps` come in. Every pid waits here until the last file
/// of the snapshot (archives come in any order), so whatever waits is packed, and the two files
/// are joined as soon as both are in.
#[derive(Default)]
enum PartialMappings {
    #[default]
    Neither,
    /// `maps` alone: no smaps figures (yet).
    Maps(Mappings),
    /// `smaps` alone (smem's captures never have more): its headers stand for the maps.
    Smaps(Mappings),
    Joined(Mappings),
}

/// A process file parsed, before the builder takes it. Parsing is pure and needs no state of
/// the builder but a path interner, so it may run on another thread (`collect::parallel`);
/// taking is in file order, on the builder's.
#[derive(Debug)]
pub enum ParsedProcessFile {
    Maps(Vec<MapLine>, Issues),
    Smaps(ParsedSmaps),
    SmapsRollup(ParsedSmaps),
    /// `Err`: a key given twice, which refuses the snapshot.
    Status(std::result::Result<Status, LineIssue>),
    Cmdline(String),
    Stat(Stat),
}

impl ParsedProcessFile {
    /// Parses one process file, sharing its mapping paths through `paths`.
    pub fn parse(file: ProcessFile, bytes: &[u8], paths: &mut Interner) -> ParsedProcessFile {
        let mut path = |bytes: &[u8]| paths.intern_bytes(bytes);
        match file {
            ProcessFile::Maps => {
                let (maps, issues) = parse_maps_with(bytes, &mut path);
                ParsedProcessFile::Maps(maps, issues)
            }
            ProcessFile::Smaps => ParsedProcessFile::Smaps(parse_smaps_with(bytes, &mut path)),
            ProcessFile::SmapsRollup => {
                ParsedProcessFile::SmapsRollup(parse_smaps_with(bytes, &mut path))
            }
            ProcessFile::Status => ParsedProcessFile::Status(match first_duplicate_key(bytes) {
                Some((line, message)) => Err(LineIssue { line, message }),
                None => Ok(parse_status(bytes)),
            }),
            ProcessFile::Cmdline => ParsedProcessFile::Cmdline(cmdline_text(bytes)),
            ProcessFile::Stat => ParsedProcessFile::Stat(parse_stat(bytes)),
        }
    }

    fn file(&self) -> ProcessFile {
        match self {
            ParsedProcessFile::Maps(..) => ProcessFile::Maps,
            ParsedProcessFile::Smaps(_) => ProcessFile::Smaps,
            ParsedProcessFile::SmapsRollup(_) => ProcessFile::SmapsRollup,
            ParsedProcessFile::Status(_) => ProcessFile::Status,
            ParsedProcessFile::Cmdline(_) => ProcessFile::Cmdline,
            ParsedProcessFile::Stat(_) => ProcessFile::Stat,
        }
    }
}

/// Pairs each maps line with the smaps entry of the same start address; maps is the authority
/// on which mappings exist. An smaps entry pairs once; of two with one start, the later wins.
fn join(
    maps: impl ExactSizeIterator<Item = MapLine>,
    smaps: impl Iterator<Item = (u64, SmapsFields)>,
    interner: &mut Interner,
) -> Mappings {
    // Sorted by start, later entries first so that dedup keeps them. In the kernel's order
    // (ascending, every start new) there is nothing to sort or drop: turning the entries around
    // for the sort and back in it moved each of them twice.
    let mut by_start: Vec<(u64, Option<SmapsFields>)> =
        smaps.map(|(start, fields)| (start, Some(fields))).collect();
    if !by_start.windows(2).all(|pair| pair[0].0 < pair[1].0) {
        by_start.reverse();
        by_start.sort_by_key(|(start, _)| *start);
        by_start.dedup_by_key(|(start, _)| *start);
    }
    let mut packer = Packer::with_capacity(interner, maps.len());
    for map in maps {
        let smaps = by_start
            .binary_search_by_key(&map.start, |(start, _)| *start)
            .ok()
            .and_then(|i| by_start[i].1.take());
        packer.push(&Mapping { map, smaps });
    }
    packer.finish()
}

/// The largest MemTotal believed (1 EiB), far above any machine and far enough below
/// `u64::MAX` that sums with it (RAM = MemTotal + carve-outs) cannot overflow.
const MAX_MEM_TOTAL: u64 = 1 << 60;

/// The most warnings a snapshot lists; the rest are counted in one last warning.
pub const MAX_WARNINGS: usize = 200;

pub struct SnapshotBuilder {
    snapshot: Snapshot,
    saw_meminfo: bool,
    saw_anything: bool,
    processes: BTreeMap<u32, PartialProcess>,
    /// Every file taken so far, by what it is: a second `proc/1/maps` (say as `proc/01/maps`)
    /// leaves the board's true copy unknowable. Process files are marked in their
    /// `PartialProcess` instead (a fleet snapshot has 100k of them), and listed here only when
    /// they came under another name than their canonical `proc/PID/FILE`.
    seen: BTreeMap<FileKind, String>,
    df: Option<Vec<DfEntry>>,
    du: Option<Vec<(String, u64)>>,
    paths: Interner,
    /// Warnings past [`MAX_WARNINGS`], counted only.
    unlisted_warnings: usize,
    /// Every mapping's figures summed so far: a sum past 4 EiB refuses the snapshot.
    totals: Totals,
    /// The last `maps` taken, still unpacked, while its pid has no smaps yet: the smaps usually
    /// comes next, and joining the parsed lines straight away saves packing them twice.
    unpacked_maps: Option<(u32, Vec<MapLine>)>,
}

/// The longest command line kept, in bytes: reports show a line of it, diff and trend match
/// processes by it. A command line may be megabytes (up to ARG_MAX), and a snapshot holds
/// every process's until the end; past this, the rest is cut and marked `…`.
const MAX_CMDLINE_BYTES: usize = 4096;

fn cmdline_text(bytes: &[u8]) -> String {
    let cut = bytes.len() > MAX_CMDLINE_BYTES;
    let bytes = &bytes[..bytes.len().min(MAX_CMDLINE_BYTES)];
    let mut parts: Vec<String> = bytes
        .split(|&c| c == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if cut {
        parts.push("…".into());
    }
    parts.join(" ")
}

impl crate::collect::Sink for SnapshotBuilder {
    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        self.add_file(path, bytes)
    }

    fn warn(&mut self, path: &str, message: String) {
        SnapshotBuilder::warn(self, path, message)
    }

    fn skip(&mut self, pid: u32, reason: String) {
        self.snapshot.skipped.push(Skipped { pid, reason });
    }
}

impl SnapshotBuilder {
    pub fn new(origin: String) -> Self {
        SnapshotBuilder {
            snapshot: Snapshot {
                origin,
                ..Default::default()
            },
            saw_meminfo: false,
            saw_anything: false,
            processes: BTreeMap::new(),
            seen: BTreeMap::new(),
            df: None,
            du: None,
            paths: Interner::default(),
            totals: Totals::default(),
            unlisted_warnings: 0,
            unpacked_maps: None,
        }
    }

    fn display(&self, path: &str) -> String {
        format!("{}:{}", self.snapshot.origin, path)
    }

    /// Records a file's bad lines: those the parser listed, and one line for the rest.
    fn record_issues(&mut self, path: &str, issues: impl Into<Issues>) {
        let issues = issues.into();
        if issues.is_empty() {
            return; // and no name to make: a format per file was 1 % of reading a snapshot
        }
        let file = self.display(path);
        for issue in issues.iter() {
            self.push_warning(Warning {
                file: file.clone(),
                line: Some(issue.line),
                message: issue.message.clone(),
            });
        }
        if issues.unlisted() > 0 {
            let more = format!(
                "{} more bad lines in this file, not listed ({} in all)",
                issues.unlisted(),
                issues.len()
            );
            self.warn(path, more);
        }
    }

    fn warn(&mut self, path: &str, message: impl Into<String>) {
        let file = self.display(path);
        self.push_warning(Warning {
            file,
            line: None,
            message: message.into(),
        });
    }

    /// Keeps the first [`MAX_WARNINGS`] warnings and counts the rest, so that a snapshot of
    /// many broken files cannot make the warnings outgrow the model.
    fn push_warning(&mut self, warning: Warning) {
        if self.snapshot.warnings.len() < MAX_WARNINGS {
            self.snapshot.warnings.push(warning);
        } else {
            self.unlisted_warnings += 1;
        }
    }

    /// Takes one file of the snapshot. Paths the snapshot format does not define are ignored
    /// (captures may carry extras such as `cpuinfo`); a file that makes the snapshot unusable
    /// (a `meta` of a newer format) is an error.
    pub fn add_file(&mut self, path: &str, bytes: &[u8]) -> Result<()> {
        let Some(kind) = FileKind::of(path) else {
            return Ok(());
        };
        self.admit(path, &kind)?;
        match kind {
            FileKind::Meta => {
                self.snapshot.meta = parse_meta(bytes)
                    .map_err(|(line, msg)| Error::at(self.display(path), line, None, msg))?;
            }
            FileKind::Meminfo => {
                self.refuse_duplicate_keys(path, bytes)?;
                let (meminfo, issues) = parse_meminfo(bytes);
                self.record_issues(path, issues);
                self.snapshot.meminfo = meminfo;
                self.saw_meminfo = true;
            }
            FileKind::Mounts => {
                let (mounts, issues) = parse_mounts(bytes);
                self.record_issues(path, issues);
                self.snapshot.mounts = mounts;
            }
            FileKind::KernelCmdline => self.snapshot.kernel_cmdline = Some(parse_cmdline(bytes)),
            FileKind::KernelVersion => {
                self.snapshot.kernel_version =
                    Some(String::from_utf8_lossy(bytes).trim().to_string())
            }
            FileKind::MinFreeKbytes => match String::from_utf8_lossy(bytes).trim().parse::<u64>() {
                Ok(kb) => self.snapshot.min_free = kb.checked_mul(1024),
                Err(_) => self.warn(path, "not a number of kB"),
            },
            FileKind::RamdiskSize(name) => {
                match String::from_utf8_lossy(bytes).trim().parse::<u64>() {
                    Ok(sectors) => {
                        let size = sectors.checked_mul(512).ok_or_else(|| {
                            Error::in_file(
                                self.display(path),
                                format!("{sectors} sectors of 512 bytes overflow: no ramdisk is that large"),
                            )
                        })?;
                        self.snapshot.ramdisks.push(Ramdisk { name, size })
                    }
                    Err(_) => self.warn(path, "not a number of 512-byte sectors"),
                }
            }
            FileKind::Df => {
                let (entries, issues) = parse_df(bytes);
                self.record_issues(path, issues);
                self.refuse_conflicts(
                    path,
                    entries.iter().map(|e| {
                        (
                            &e.mount_point,
                            format!("size {} B, used {} B", e.size, e.used),
                        )
                    }),
                )?;
                self.df = Some(entries);
            }
            FileKind::Du => {
                let (entries, issues) = parse_du(bytes);
                self.record_issues(path, issues);
                self.refuse_conflicts(
                    path,
                    entries.iter().map(|(m, used)| (m, format!("{used} B"))),
                )?;
                self.du = Some(entries);
            }
            FileKind::Dmesg => {
                self.snapshot.boot_memory = parse_boot_log(bytes);
                self.snapshot.exhaustion = Some(parse_exhaustion(bytes));
            }
            FileKind::Passwd => {
                let (users, bad) = crate::parse::passwd::parse_passwd(bytes);
                self.snapshot.users = users;
                for line in bad {
                    self.snapshot.warnings.push(Warning {
                        file: self.display(path),
                        line: Some(line),
                        message: "not a passwd line (name:uid or name:x:uid:...): skipped".into(),
                    });
                }
            }
            FileKind::Kernel(file) => {
                let issues = file.take(bytes, &mut self.snapshot.kernel_files);
                self.record_issues(path, issues);
            }
            FileKind::Process(pid, file) => self.add_process_file(pid, path, file, bytes)?,
        }
        Ok(())
    }

    /// Marks a file of the snapshot format as seen, refusing a second copy of it.
    fn admit(&mut self, path: &str, kind: &FileKind) -> Result<()> {
        // User names alone are no picture of a board's memory: a directory holding only
        // `etc/passwd` is still "not a snapshot".
        self.saw_anything |= *kind != FileKind::Passwd;
        if let Some(first) = self.first_copy(kind, path) {
            let also = if first == path {
                String::new()
            } else {
                format!(" (also as {first})")
            };
            return Err(Error::in_file(
                self.display(path),
                format!("the snapshot holds this file twice{also}: which copy is the board's is unknowable"),
            ));
        }
        Ok(())
    }

    /// A mount point listed twice in `df`/`du` with different figures is refused: which one is
    /// the board's is unknowable (the same figures twice, as df prints a stacked mount, are fine).
    fn refuse_conflicts<'a>(
        &self,
        path: &str,
        entries: impl Iterator<Item = (&'a String, String)>,
    ) -> Result<()> {
        let mut seen: BTreeMap<&String, String> = BTreeMap::new();
        for (mount, figures) in entries {
            match seen.get(mount) {
                Some(first) if *first != figures => {
                    return Err(Error::in_file(
                        self.display(path),
                        format!("{mount} is listed twice with different figures ({first}, then {figures}): which is the board's is unknowable"),
                    ))
                }
                Some(_) => {}
                None => {
                    seen.insert(mount, figures);
                }
            }
        }
        Ok(())
    }

    /// A `Key: value` file with a key twice is refused (see [`first_duplicate_key`]).
    fn refuse_duplicate_keys(&self, path: &str, bytes: &[u8]) -> Result<()> {
        match first_duplicate_key(bytes) {
            Some((line, message)) => Err(Error::at(self.display(path), line, None, message)),
            None => Ok(()),
        }
    }

    /// Marks `kind` as taken; if it already was, the path its first copy came under.
    fn first_copy(&mut self, kind: &FileKind, path: &str) -> Option<String> {
        let FileKind::Process(pid, file) = *kind else {
            return self.seen.insert(kind.clone(), path.to_string());
        };
        let entry = self.processes.entry(pid).or_default();
        if entry.files & file.bit() != 0 {
            let canonical = || format!("proc/{pid}/{}", file.name());
            return Some(self.seen.get(kind).cloned().unwrap_or_else(canonical));
        }
        entry.files |= file.bit();
        if !is_canonical(path, pid, file) {
            self.seen.insert(kind.clone(), path.to_string());
        }
        None
    }

    fn take_maps(&mut self, pid: u32, maps: Vec<MapLine>) {
        self.pack_unpacked_maps();
        let entry = self.processes.entry(pid).or_default();
        match std::mem::take(&mut entry.mappings) {
            PartialMappings::Smaps(smaps) => {
                entry.mappings = PartialMappings::Joined(join(
                    maps.into_iter(),
                    smaps.iter().filter_map(|m| Some((m.map.start, m.smaps?))),
                    &mut self.paths,
                ));
            }
            // A second maps of a pid never comes this far (`first_copy`).
            other => {
                entry.mappings = other;
                self.unpacked_maps = Some((pid, maps));
            }
        }
    }

    fn take_smaps(&mut self, pid: u32, smaps: Vec<SmapsEntry>) {
        let unpacked = match self.unpacked_maps.take() {
            Some((of, maps)) if of == pid => Some(maps),
            other => {
                self.unpacked_maps = other;
                None
            }
        };
        let entry = self.processes.entry(pid).or_default();
        let fields = smaps.iter().map(|e| (e.map.start, e.fields));
        entry.mappings = match (unpacked, std::mem::take(&mut entry.mappings)) {
            (Some(maps), _) => {
                PartialMappings::Joined(join(maps.into_iter(), fields, &mut self.paths))
            }
            (None, PartialMappings::Maps(maps)) => {
                PartialMappings::Joined(join(maps.iter().map(|m| m.map), fields, &mut self.paths))
            }
            (None, _) => PartialMappings::Smaps(Mappings::pack(
                smaps.into_iter().map(|e| Mapping {
                    map: e.map,
                    smaps: Some(e.fields),
                }),
                &mut self.paths,
            )),
        };
    }

    /// Packs the maps waiting in `unpacked_maps` into their pid's partial process.
    fn pack_unpacked_maps(&mut self) {
        if let Some((pid, maps)) = self.unpacked_maps.take() {
            let entry = self.processes.entry(pid).or_default();
            entry.mappings = PartialMappings::Maps(Mappings::pack(
                maps.into_iter().map(|map| Mapping { map, smaps: None }),
                &mut self.paths,
            ));
        }
    }

    /// Takes one file of a process. A field given twice (smaps, status) refuses the snapshot.
    fn add_process_file(
        &mut self,
        pid: u32,
        path: &str,
        file: ProcessFile,
        bytes: &[u8],
    ) -> Result<()> {
        let parsed = ParsedProcessFile::parse(file, bytes, &mut self.paths);
        self.take_process_file(pid, path, parsed)
    }

    /// Takes a process file of `pid` that was parsed elsewhere ([`ParsedProcessFile::parse`],
    /// on the reading thread of `collect::parallel`), exactly as [`SnapshotBuilder::add_file`]
    /// takes its bytes: in the same place of the file order, with the same checks.
    pub fn add_parsed(&mut self, path: &str, pid: u32, parsed: ParsedProcessFile) -> Result<()> {
        self.admit(path, &FileKind::Process(pid, parsed.file()))?;
        self.take_process_file(pid, path, parsed)
    }

    fn take_process_file(&mut self, pid: u32, path: &str, parsed: ParsedProcessFile) -> Result<()> {
        // Named only when refused: a format per file was 4% of reading a snapshot.
        let origin = &self.snapshot.origin;
        let refuse = |i: LineIssue| Error::at(format!("{origin}:{path}"), i.line, None, i.message);
        let issues = {
            let entry = self.processes.entry(pid).or_default();
            match parsed {
                ParsedProcessFile::Maps(maps, issues) => {
                    entry.bad_lines += issues.len();
                    self.take_maps(pid, maps);
                    issues
                }
                ParsedProcessFile::Smaps(smaps) => {
                    let (smaps, issues) = smaps.map_err(refuse)?;
                    entry.bad_lines += issues.len();
                    self.take_smaps(pid, smaps);
                    issues
                }
                ParsedProcessFile::SmapsRollup(rollup) => {
                    let (rollup, issues) = rollup.map_err(refuse)?;
                    entry.rollup = rollup.first().map(|e| Box::new(e.fields));
                    issues
                }
                ParsedProcessFile::Status(status) => {
                    entry.status = Some(status.map_err(refuse)?);
                    Issues::default()
                }
                ParsedProcessFile::Cmdline(cmdline) => {
                    entry.cmdline = Some(cmdline);
                    Issues::default()
                }
                ParsedProcessFile::Stat(stat) => {
                    entry.stat = Some(stat);
                    Issues::default()
                }
            }
        };
        self.record_issues(path, issues);
        Ok(())
    }

    /// The problems met so far, for an error that ends the run: the entry that was refused is
    /// often why a required file is missing (`/proc/meminfo` as an absolute path).
    fn warnings_so_far(&self) -> String {
        let all = &self.snapshot.warnings;
        if all.is_empty() {
            return String::new();
        }
        let shown: Vec<String> = all.iter().take(5).map(|w| w.to_string()).collect();
        let more = all.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        format!("; ignored on the way: {}{more}", shown.join("; "))
    }

    /// Joins the per-pid pieces, attaches tmpfs usage, and checks the snapshot is usable.
    pub fn finish(mut self) -> Result<Snapshot> {
        if !self.saw_anything {
            return Err(Error::in_file(
                self.snapshot.origin.clone(),
                format!(
                    "not a snapshot: none of the expected files (meta, proc/meminfo, proc/<pid>/maps...) found{}",
                    self.warnings_so_far()
                ),
            ));
        }
        if !self.saw_meminfo {
            return Err(Error::in_file(
                self.display("proc/meminfo"),
                format!(
                    "missing: a snapshot needs proc/meminfo (MemTotal is the base of the budget){}",
                    self.warnings_so_far()
                ),
            ));
        }
        match self.snapshot.meminfo.get("MemTotal") {
            None => {
                return Err(Error::in_file(
                    self.display("proc/meminfo"),
                    "has no (readable) MemTotal line",
                ))
            }
            Some(0) => {
                return Err(Error::in_file(
                    self.display("proc/meminfo"),
                    "MemTotal is 0: no running kernel reports that",
                ))
            }
            Some(total) if total > MAX_MEM_TOTAL => {
                return Err(Error::in_file(
                    self.display("proc/meminfo"),
                    format!("MemTotal of {total} bytes is more than any machine has (1 EiB at most): with `ram = \"auto\"` it would be the board's RAM, and every sum with it would overflow"),
                ))
            }
            Some(_) => {}
        }
        self.pack_unpacked_maps();
        let processes = std::mem::take(&mut self.processes);
        // At most one process per pid: no growth, and no doubled capacity held to the end.
        self.snapshot.processes.reserve_exact(processes.len());
        for (pid, partial) in processes {
            self.finish_process(pid, partial)?;
        }
        for pid in self.snapshot.meta.skipped() {
            if !self.snapshot.skipped.iter().any(|s| s.pid == pid) {
                self.snapshot.skipped.push(Skipped {
                    pid,
                    reason: crate::model::SKIPPED_BY_CAPTURE.into(),
                });
            }
        }
        if self.snapshot.mounts.is_empty() {
            self.warn(
                "proc/mounts",
                "missing (smem captures have none): files on tmpfs/ramfs are recognised by path only (/dev/shm, memfd:, SYSV)",
            );
        }
        self.attach_fs_usage();
        self.snapshot
            .ramdisks
            .sort_unstable_by(|a, b| a.name.cmp(&b.name));
        if self.unlisted_warnings > 0 {
            self.snapshot.warnings.push(Warning {
                file: self.snapshot.origin.clone(),
                line: None,
                message: format!(
                    "{} more warnings, not listed (only the first {MAX_WARNINGS} are)",
                    self.unlisted_warnings
                ),
            });
        }
        Ok(self.snapshot)
    }

    /// Turns what was gathered of one pid into a process (or a skipped pid, or nothing for a
    /// kernel thread). Mappings that cannot be summed refuse the snapshot (see [`bounds`]).
    fn finish_process(&mut self, pid: u32, partial: PartialProcess) -> Result<()> {
        // smem's captures have no status: stat (or the command line) names the process then.
        let status = partial.status.unwrap_or_else(|| {
            let stat = partial.stat.clone().unwrap_or_default();
            Status {
                name: stat.name.or_else(|| {
                    let argv0 = partial.cmdline.as_deref()?.split(' ').next()?;
                    Some(argv0.rsplit('/').next()?.to_string()).filter(|n| !n.is_empty())
                }),
                threads: stat.threads,
                vm_size: stat.vm_size,
                ..Status::default()
            }
        });
        if status.tgid.is_some_and(|tgid| tgid != pid) {
            // A thread's directory: its address space is its thread group's, read once there.
            return Ok(());
        }
        let (mappings, file) = match partial.mappings {
            PartialMappings::Maps(mappings) | PartialMappings::Joined(mappings) => {
                (mappings, "maps")
            }
            PartialMappings::Smaps(mappings) => (mappings, "smaps"),
            PartialMappings::Neither => {
                self.snapshot.skipped.push(Skipped {
                    pid,
                    reason: format!("no maps or smaps file under proc/{pid}"),
                });
                return Ok(());
            }
        };
        if mappings.is_empty() {
            if partial.bad_lines > 0 {
                self.snapshot.skipped.push(Skipped {
                    pid,
                    reason: format!("no readable line in the maps/smaps under proc/{pid}"),
                });
            }
            // Kernel threads have no user address space: not a user process.
            return Ok(());
        }
        let mappings = self.check_mappings(pid, file, mappings)?;
        self.snapshot.processes.push(Process {
            pid,
            name: status.name.unwrap_or_else(|| format!("pid{pid}")),
            cmdline: partial.cmdline.unwrap_or_default(),
            threads: status.threads.unwrap_or(1),
            vm_size: status.vm_size,
            vm_rss: status.vm_rss,
            vm_hwm: status.vm_hwm,
            uid: status.uid,
            start_time: partial.stat.and_then(|s| s.start_time),
            mappings,
            rollup: partial.rollup.map(|rollup| *rollup),
        });
        Ok(())
    }

    /// Resolves overlapping mappings of a process (warning that it did), and refuses a
    /// snapshot whose mappings sum past [`bounds::MAX_TOTAL`]; `file` is the maps (or smaps)
    /// they came from.
    fn check_mappings(&mut self, pid: u32, file: &str, mappings: Mappings) -> Result<Mappings> {
        let path = || format!("proc/{pid}/{file}");
        let (resolved, passed) = check(mappings, &mut self.paths, &mut self.totals);
        if let Some((a, b, dropped)) = resolved.dropped {
            self.warn(
                &path(),
                format!("mappings {a} and {b} overlap (the process changed while it was read, or the file is damaged): {dropped} mapping(s) overlapping a later-listed one left out, so no memory counts twice"),
            );
        }
        match passed {
            Some(measure) => Err(Error::in_file(
                self.display(&path()),
                format!("with this process, the mappings' {measure} over all processes passes 4 EiB: no board has that (a mapping over the whole address space?), and sums this large overflow"),
            )),
            None => Ok(resolved.mappings),
        }
    }

    fn attach_fs_usage(&mut self) {
        let df = self.df.take().unwrap_or_default();
        let du = self.du.take().unwrap_or_default();
        let mut seen = std::collections::BTreeSet::new();
        // The last mount at a mount point hides the earlier ones.
        let mounts: Vec<_> = self
            .snapshot
            .mounts
            .iter()
            .rev()
            .filter(|m| m.is_ram_backed() && seen.insert(m.mount_point.clone()))
            .cloned()
            .collect();
        for mount in mounts.into_iter().rev() {
            let df_entry = df.iter().find(|e| e.mount_point == mount.mount_point);
            let du_entry = du.iter().find(|(p, _)| *p == mount.mount_point);
            let usage = match (mount.is_ramfs(), df_entry, du_entry) {
                (true, _, Some((_, used))) | (false, None, Some((_, used))) => Some(FsUsage {
                    mount_point: mount.mount_point.clone(),
                    fs_type: mount.fs_type.clone(),
                    size: df_entry.map_or(0, |e| e.size),
                    used: *used,
                    method: "du".into(),
                }),
                (false, Some(e), _) => Some(FsUsage {
                    mount_point: mount.mount_point.clone(),
                    fs_type: mount.fs_type.clone(),
                    size: e.size,
                    used: e.used,
                    method: "df".into(),
                }),
                _ => None,
            };
            match usage {
                Some(u) => self.snapshot.fs_usage.push(u),
                None => {
                    self.snapshot
                        .unmeasured_mounts
                        .push(mount.mount_point.clone());
                    let what = if mount.is_ramfs() { "du" } else { "df" };
                    self.warn(
                        what,
                        format!(
                            "no usage recorded for {} {} (its usage is estimated from meminfo Shmem)",
                            mount.fs_type, mount.mount_point
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// smaps entries pair with the maps line of their start whatever their order, and of two
    /// with one start the later wins; an entry with no maps line is dropped.
    #[test]
    fn join_pairs_by_start_in_any_order() {
        let line = |start: u64| MapLine {
            start,
            end: start + 0x1000,
            ..crate::parse::maps::parse_maps(b"1000-2000 r--p 0 00:00 0\n").0[0].clone()
        };
        let fields = |rss: u64| SmapsFields {
            rss: Some(rss),
            ..SmapsFields::default()
        };
        let rss_of = |smaps: &[(u64, u64)]| -> Vec<Option<u64>> {
            let maps = [line(0x1000), line(0x3000), line(0x5000)];
            let smaps = smaps.iter().map(|&(start, rss)| (start, fields(rss)));
            let joined = join(maps.into_iter(), smaps, &mut Interner::default());
            joined.iter().map(|m| m.smaps.and_then(|s| s.rss)).collect()
        };
        let kernel_order = rss_of(&[(0x1000, 4), (0x3000, 8), (0x5000, 12)]);
        assert_eq!(kernel_order, [Some(4), Some(8), Some(12)]);
        assert_eq!(
            rss_of(&[(0x5000, 12), (0x1000, 4), (0x3000, 8)]),
            kernel_order
        );
        let twice = rss_of(&[(0x1000, 4), (0x3000, 8), (0x3000, 16), (0x9000, 1)]);
        assert_eq!(twice, [Some(4), Some(16), None]);
        assert_eq!(
            rss_of(&[(0x3000, 16), (0x1000, 4), (0x3000, 8)]),
            [Some(4), Some(8), None]
        );
    }

    #[test]
    fn order_does_not_matter() {
        let mut b = SnapshotBuilder::new("t".into());
        b.add_file("proc/5/status", b"Name:\tx\nTgid:\t5\nThreads:\t2\n")
            .unwrap();
        b.add_file("proc/5/maps", b"1000-3000 rw-p 00000000 00:00 0 [heap]\n")
            .unwrap();
        b.add_file("proc/meminfo", b"MemTotal: 1024 kB\n").unwrap();
        let s = b.finish().unwrap();
        assert_eq!(s.processes.len(), 1);
        assert_eq!(s.processes[0].threads, 2);
    }

    #[test]
    fn missing_meminfo_is_an_error_naming_it() {
        let mut b = SnapshotBuilder::new("snap".into());
        b.add_file("proc/5/maps", b"").unwrap();
        let err = b.finish().unwrap_err();
        assert_eq!(err.file.as_deref(), Some("snap:proc/meminfo"));
    }

    /// Every order the files of a real board can come in gives the same model: maps right
    /// before smaps (joined unpacked), smaps first, all maps before all smaps (packed, then
    /// joined), and a maps still waiting unpacked at the end.
    #[test]
    fn any_file_order_gives_the_same_model() {
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
            .join("tests/fixtures/real/innosilicon-t2-zynq-snapshot");
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let rel = path
                        .strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    files.push((rel, std::fs::read(&path).unwrap()));
                }
            }
        }
        let build = |files: &[(String, Vec<u8>)]| {
            let mut b = SnapshotBuilder::new("zynq".into());
            for (path, bytes) in files {
                b.add_file(path, bytes).unwrap();
            }
            format!("{:?}", b.finish().unwrap())
        };
        files.sort();
        let sorted = build(&files);
        assert!(sorted.contains("innominer_T2"));
        let smaps_last = |(path, _): &(String, Vec<u8>)| path.ends_with("/smaps");
        let mut orders = Vec::new();
        let mut reversed = files.clone();
        reversed.reverse();
        orders.push(reversed);
        let mut maps_first = files.clone();
        maps_first.sort_by_key(smaps_last);
        orders.push(maps_first);
        let mut maps_last = files.clone();
        maps_last.sort_by_key(|f| !smaps_last(f));
        orders.push(maps_last);
        for order in orders {
            assert_eq!(build(&order), sorted);
        }
    }

    /// A command line of megabytes is kept to its first 4 KiB, marked as cut.
    #[test]
    fn canonical_paths_are_told_apart() {
        use super::{is_canonical, ProcessFile};
        assert!(is_canonical("proc/12/maps", 12, ProcessFile::Maps));
        assert!(is_canonical("proc/0/smaps", 0, ProcessFile::Smaps));
        assert!(!is_canonical("proc/012/maps", 12, ProcessFile::Maps));
        assert!(!is_canonical("proc/+12/maps", 12, ProcessFile::Maps));
        assert!(!is_canonical("proc//12/maps", 12, ProcessFile::Maps));
        assert!(!is_canonical("proc/12/smaps", 12, ProcessFile::Maps));
        assert!(!is_canonical("proc/13/maps", 12, ProcessFile::Maps));
        assert!(!is_canonical("./proc/12/maps", 12, ProcessFile::Maps));
    }

    #[test]
    fn long_command_lines_are_cut() {
        assert_eq!(
            cmdline_text(b"/bin/sh\0-c\0echo hi\0"),
            "/bin/sh -c echo hi"
        );
        let long = [b"prog\0".as_slice(), &[b'a'; 3 << 20]].concat();
        let text = cmdline_text(&long);
        assert_eq!(text.len(), 4096 + " …".len());
        assert!(
            text.starts_with("prog aaa") && text.ends_with("a …"),
            "{}",
            &text[..20]
        );
    }
}
