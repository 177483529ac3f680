//! The live system as a snapshot source. It hands out the very files a capture would hold
//! (including `df`/`du` texts built from statfs), so a live report and a report of a capture
//! taken at the same moment go through the same parsers and give the same numbers.

use super::kernel_files::is_zram;
use super::{LiveOptions, Sink, Source};
use crate::error::Result;
use crate::parse::mounts::{parse_mounts, Mount};
use std::ffi::CString;
use std::io::ErrorKind;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub struct LiveSource {
    options: LiveOptions,
    /// Root of the procfs/sysfs tree; `/` on a real system.
    root: std::path::PathBuf,
}

impl LiveSource {
    pub fn new(options: LiveOptions) -> Self {
        LiveSource {
            options,
            root: "/".into(),
        }
    }
}

/// Why a process file could not be read, in the words the report uses.
fn read_failure(err: &std::io::Error) -> String {
    match err.kind() {
        ErrorKind::NotFound => "vanished during capture".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        _ if err.raw_os_error() == Some(libc::ESRCH) => "vanished during capture".into(),
        _ => err.to_string(),
    }
}

fn uname() -> (String, String) {
    // SAFETY: uname fills a zeroed utsname struct; the fields are NUL-terminated C strings.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return (String::new(), String::new());
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let host = field(&u.nodename);
    let full = format!(
        "{} {} {} {}",
        field(&u.sysname),
        field(&u.release),
        field(&u.version),
        field(&u.machine)
    );
    (host, full)
}

/// The kernel log ring buffer, as `dmesg` reads it (syslog READ_ALL). `None` where we may not.
fn kernel_log() -> Option<Vec<u8>> {
    const SYSLOG_ACTION_READ_ALL: libc::c_int = 3;
    const SYSLOG_ACTION_SIZE_BUFFER: libc::c_int = 10;
    // SAFETY: klogctl with a null buffer and SIZE_BUFFER only returns a size.
    let size = unsafe { libc::klogctl(SYSLOG_ACTION_SIZE_BUFFER, std::ptr::null_mut(), 0) };
    if size <= 0 {
        return None;
    }
    let mut buf = vec![0u8; size as usize];
    // SAFETY: the buffer is `size` bytes long and klogctl writes at most that many.
    let n = unsafe { libc::klogctl(SYSLOG_ACTION_READ_ALL, buf.as_mut_ptr().cast(), size) };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(buf)
}

/// statvfs of a mount point: (size, used) in bytes, and the device it lives on.
fn statfs_usage(mount_point: &str) -> Option<(u64, u64, u64)> {
    let path = CString::new(mount_point).ok()?;
    // SAFETY: both structs are plain data filled by the kernel; the path is NUL-terminated.
    let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut vfs) } != 0 {
        return None;
    }
    // `dev()` is a u64 everywhere; `libc::stat`'s `st_dev` is a u32 on 32-bit MIPS.
    let device = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata(mount_point).ok()?);
    let frsize = vfs.f_frsize as u64;
    let size = (vfs.f_blocks as u64).saturating_mul(frsize);
    let used = (vfs.f_blocks as u64)
        .saturating_sub(vfs.f_bfree as u64)
        .saturating_mul(frsize);
    Some((size, used, device))
}

/// `du -sk` of one filesystem: allocated blocks of every file, not crossing into other mounts.
fn disk_usage(dir: &Path, device: u64) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    let mut seen_inodes = std::collections::HashSet::new();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.dev() != device {
                continue;
            }
            if meta.is_dir() {
                stack.push(entry.path());
            } else if seen_inodes.insert(meta.ino()) {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

impl LiveSource {
    fn read(&self, rel: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.root.join(rel))
    }

    /// The entries of a directory, sorted; none when the kernel does not have it.
    fn dir_names(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join(rel))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort_unstable();
        names
    }

    /// Copies a system-wide file when it exists; absence is normal (no `/proc/version` in
    /// some containers), other failures are recorded.
    /// Returns what it copied, for the caller that needs the content too.
    fn copy_global(&self, rel: &str, sink: &mut dyn Sink) -> Result<Option<Vec<u8>>> {
        match self.read(rel) {
            Ok(bytes) => {
                sink.file(rel, &bytes)?;
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => {
                sink.warn(rel, e.to_string());
                Ok(None)
            }
        }
    }

    /// Reads one process whole before handing it on, so a process that exits half-way is
    /// skipped entirely rather than recorded with half its files.
    fn visit_process(&self, pid: i32, sink: &mut dyn Sink) -> Result<Option<String>> {
        let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut wanted = vec![
            ("maps", true),
            ("status", true),
            ("cmdline", false),
            ("stat", false),
        ];
        if self.options.smaps {
            wanted.push(("smaps", false));
            wanted.push(("smaps_rollup", false));
        }
        for (name, required) in wanted {
            match self.read(&format!("proc/{pid}/{name}")) {
                Ok(bytes) => {
                    if name == "maps" && bytes.is_empty() {
                        return Ok(None); // kernel thread: no user address space
                    }
                    files.push((name, bytes));
                }
                Err(e) if required => return Ok(Some(read_failure(&e))),
                Err(_) => {}
            }
        }
        for (name, bytes) in files {
            sink.file(&format!("proc/{pid}/{name}"), &bytes)?;
        }
        Ok(None)
    }

    /// `df -k` text for the RAM-backed mounts (one line per filesystem: bind mounts of the same
    /// tmpfs are listed once), and `du -sk` text for ramfs, whose statfs says nothing.
    fn fs_usage_texts(&self, mounts: &[Mount]) -> (String, String) {
        let mut df = String::from("Filesystem 1K-blocks Used Available Use% Mounted on\n");
        let mut du = String::new();
        let mut devices = std::collections::HashSet::new();
        let mut seen_points = std::collections::HashSet::new();
        for mount in mounts.iter().rev() {
            if !mount.is_ram_backed() || !seen_points.insert(mount.mount_point.clone()) {
                continue;
            }
            let Some((size, used, dev)) = statfs_usage(&mount.mount_point) else {
                continue;
            };
            if !devices.insert(dev) {
                continue;
            }
            let kib = |b: u64| b.div_ceil(1024);
            let percent = (used * 100).checked_div(size).unwrap_or(0);
            df.push_str(&format!(
                "{} {} {} {} {}% {}\n",
                mount.source.replace(' ', "_"),
                kib(size),
                kib(used),
                kib(size.saturating_sub(used)),
                percent,
                mount.mount_point
            ));
            if mount.is_ramfs() {
                let used = disk_usage(Path::new(&mount.mount_point), dev);
                du.push_str(&format!("{}\t{}\n", kib(used), mount.mount_point));
            }
        }
        (df, du)
    }
}

impl Source for LiveSource {
    fn origin(&self) -> String {
        "live".into()
    }

    fn visit(&mut self, sink: &mut dyn Sink) -> Result<()> {
        let started = Instant::now();
        // The mounts are read once: copied, and parsed below for the df/du texts.
        let mounts = self.copy_global("proc/mounts", sink)?;
        for rel in [
            "proc/meminfo",
            "proc/cmdline",
            "proc/version",
            "proc/sys/vm/min_free_kbytes",
            "proc/vmstat",
            "proc/sysvipc/shm",
            "proc/swaps",
            "proc/pressure/memory",
            "proc/zoneinfo",
            "proc/modules",
        ] {
            self.copy_global(rel, sink)?;
        }
        let own_pid = std::process::id() as i32;
        let mut pids = match list_pids(&self.root.join("proc")) {
            Ok(pids) => pids,
            Err(e) => {
                sink.warn("proc", format!("cannot list processes: {e}"));
                Vec::new()
            }
        };
        pids.sort_unstable();
        let mut skipped = Vec::new();
        for pid in pids {
            // Our own address space is the measuring tool, not the board's workload.
            if pid == own_pid {
                continue;
            }
            if let Some(reason) = self.visit_process(pid, sink)? {
                skipped.push(pid);
                sink.skip(pid as u32, reason);
            }
        }
        for name in self.dir_names("sys/block") {
            if name.starts_with("ram") {
                self.copy_global(&format!("sys/block/{name}/size"), sink)?;
            } else if is_zram(&name) {
                self.copy_global(&format!("sys/block/{name}/disksize"), sink)?;
                self.copy_global(&format!("sys/block/{name}/mm_stat"), sink)?;
            }
        }
        for inode in self.dir_names("sys/kernel/dmabuf/buffers") {
            for file in ["size", "exporter_name"] {
                self.copy_global(&format!("sys/kernel/dmabuf/buffers/{inode}/{file}"), sink)?;
            }
        }
        let mounts = mounts.map(|b| parse_mounts(&b).0).unwrap_or_default();
        let (df, du) = self.fs_usage_texts(&mounts);
        sink.file("df", df.as_bytes())?;
        sink.file("du", du.as_bytes())?;
        if let Some(log) = kernel_log() {
            sink.file("dmesg", &log)?;
        }
        // User names for the per-user view: names and uids only, never a password field.
        if let Ok(passwd) = self.read("etc/passwd") {
            let reduced = crate::parse::passwd::reduce_passwd(&passwd);
            sink.file("etc/passwd", reduced.as_bytes())?;
        }
        let (host, uname) = uname();
        let time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let skipped: Vec<String> = skipped.iter().map(|p| p.to_string()).collect();
        // Which boot the figures belong to: trend refuses to mix boots (capture contract 4).
        let boot_id = std::fs::read_to_string(self.root.join("proc/sys/kernel/random/boot_id"))
            .map(|id| format!("boot_id={}\n", id.trim()))
            .unwrap_or_default();
        let meta = format!(
            "format={}\ntime={time:.3}\nhost={host}\nuname={uname}\n{boot_id}source=membudget {} native\nsmaps={}\nskipped={}\ncapture_seconds={:.3}\n",
            crate::parse::meta::FORMAT_VERSION,
            env!("CARGO_PKG_VERSION"),
            u8::from(self.options.smaps),
            skipped.join(","),
            started.elapsed().as_secs_f64()
        );
        sink.file("meta", meta.as_bytes())
    }
}

/// The process ids under a proc directory: its all-digit entries. (A plain directory read: the
/// `procfs` crate did the same with five more crates in a binary meant for small flash.)
fn list_pids(proc_dir: &Path) -> std::io::Result<Vec<i32>> {
    Ok(std::fs::read_dir(proc_dir)?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let name = name.to_str()?;
            name.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| name.parse::<i32>().ok())?
        })
        .collect())
}
