//! Writes a synthetic snapshot of N processes for benchmarks, derived from real captures.
//!
//! Fleet-sized snapshots do not exist among the real fixtures (the biggest has 16 processes),
//! so this replicates the real processes of `tests/fixtures/real/*-snapshot` (maps,
//! smaps, status, cmdline) and varies each copy the way two boots of one firmware differ:
//! every user-space mapping moves by a page-aligned ASLR-like shift (maps and smaps headers
//! alike, so the files stay consistent), and the heap's resident pages grow by a few pages
//! (Rss, Pss, Private_Dirty, Referenced, Anonymous of `[heap]`, and `VmRSS` in status), never
//! beyond the heap's size. Pids are 1000, 1001, ...; a synthetic `stat` gives each a name and
//! start time, which is also what smem reads.
//!
//! ```text
//! cargo run --release --example gen_snapshot -- --processes 2000 --out /tmp/snap [--format dir|tar|tar.gz|smemcap] [--fixtures DIR]...
//! ```
//! `--series K` writes K snapshots `OUT/sample-0001.tar.gz`... instead (the series convention),
//! one minute apart, in which every heap grows by one more page per sample: a slow leak.
//!
//! `dir`, `tar` and `tar.gz` write the membudget snapshot layout (`smem -S DIR` reads the `dir`
//! form as it is, since it mirrors `/proc`); `smemcap` writes the tar layout of smem's
//! `smemcap` (`meminfo`, `version`, `<pid>/smaps`, `<pid>/cmdline`, `<pid>/stat`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// One real process to replicate.
struct Template {
    name: String,
    maps: Vec<u8>,
    smaps: Vec<u8>,
    status: Vec<u8>,
    cmdline: Vec<u8>,
    /// How far user-space mappings may move up before reaching the kernel's half.
    shift_room: u64,
}

/// Where 32-bit ARM user space ends; the fixtures' `[vectors]` page sits above it and stays.
const USER_END: u64 = 0xc000_0000;
const PAGE: u64 = 4096;

fn header_range(line: &str) -> Option<(u64, u64, &str)> {
    let (range, rest) = line.split_once(' ')?;
    let (start, end) = range.split_once('-')?;
    Some((
        u64::from_str_radix(start, 16).ok()?,
        u64::from_str_radix(end, 16).ok()?,
        rest,
    ))
}

fn load_templates(fixtures: &[PathBuf]) -> std::io::Result<Vec<Template>> {
    let mut templates = Vec::new();
    for root in fixtures {
        let mut pids: Vec<u32> = fs::read_dir(root.join("proc"))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        for pid in pids {
            let dir = root.join(format!("proc/{pid}"));
            let read = |f: &str| fs::read(dir.join(f));
            let (Ok(maps), Ok(smaps), Ok(status)) = (read("maps"), read("smaps"), read("status"))
            else {
                continue;
            };
            let text = String::from_utf8_lossy(&maps);
            let highest_user_end = text
                .lines()
                .filter_map(header_range)
                .map(|(_, end, _)| end)
                .filter(|&end| end <= USER_END)
                .max()
                .unwrap_or(USER_END);
            let name = String::from_utf8_lossy(&status)
                .lines()
                .find_map(|l| l.strip_prefix("Name:").map(|n| n.trim().to_string()))
                .unwrap_or_else(|| format!("pid{pid}"));
            templates.push(Template {
                name,
                maps,
                smaps,
                status,
                cmdline: read("cmdline").unwrap_or_default(),
                shift_room: USER_END - highest_user_end,
            });
        }
    }
    Ok(templates)
}

/// Moves user-space mapping headers up by `shift`; other lines pass through.
fn shift_line(line: &str, shift: u64, out: &mut String) {
    match header_range(line) {
        Some((start, end, rest)) if end <= USER_END => {
            out.push_str(&format!("{:08x}-{:08x} {rest}", start + shift, end + shift));
        }
        _ => out.push_str(line),
    }
    out.push('\n');
}

fn kb_field(line: &str) -> Option<(&str, u64)> {
    let (key, value) = line.split_once(':')?;
    let kb = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some((key, kb))
}

/// The copy's smaps, and how many kB its heap grew.
fn vary_smaps(smaps: &[u8], shift: u64, grow_pages: u64) -> (String, u64) {
    let text = String::from_utf8_lossy(smaps);
    let mut out = String::with_capacity(text.len() + 64);
    let mut entry: Vec<&str> = Vec::new();
    let mut grown_kb = 0;
    let mut flush = |entry: &mut Vec<&str>, out: &mut String| {
        let Some((&header, fields)) = entry.split_first() else {
            return;
        };
        shift_line(header, shift, out);
        let is_heap = header.trim_end().ends_with("[heap]");
        let size = fields
            .iter()
            .find_map(|l| kb_field(l).filter(|(k, _)| *k == "Size"));
        let rss = fields
            .iter()
            .find_map(|l| kb_field(l).filter(|(k, _)| *k == "Rss"));
        let grow = match (is_heap, size, rss) {
            (true, Some((_, size)), Some((_, rss))) => {
                (grow_pages * PAGE / 1024).min(size.saturating_sub(rss))
            }
            _ => 0,
        };
        grown_kb += grow;
        for line in fields {
            match kb_field(line) {
                Some((key, kb))
                    if grow > 0
                        && matches!(
                            key,
                            "Rss" | "Pss" | "Private_Dirty" | "Referenced" | "Anonymous"
                        ) =>
                {
                    out.push_str(&format!("{key}:{:>width$} kB\n", kb + grow, width = 16));
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        entry.clear();
    };
    for line in text.lines() {
        if header_range(line).is_some() {
            flush(&mut entry, &mut out);
        }
        entry.push(line);
    }
    flush(&mut entry, &mut out);
    (out, grown_kb)
}

fn vary_status(status: &[u8], pid: u32, grown_kb: u64) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(status).lines() {
        match line.split_once(':') {
            Some(("Pid" | "Tgid", _)) => {
                let key = line.split(':').next().unwrap_or_default();
                out.push_str(&format!("{key}:\t{pid}"));
            }
            Some(("VmRSS", _)) => {
                let kb = kb_field(line).map_or(0, |(_, kb)| kb);
                out.push_str(&format!("VmRSS:\t{:>8} kB", kb + grown_kb));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Where the generated files go.
enum Output {
    Dir(PathBuf),
    Tar(tar::Builder<Box<dyn Write>>),
}

impl Output {
    fn file(&mut self, path: &str, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Output::Dir(root) => {
                let target = root.join(path);
                fs::create_dir_all(target.parent().unwrap_or(root))?;
                fs::write(target, bytes)
            }
            Output::Tar(builder) => {
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_mtime(1_700_000_000);
                header.set_entry_type(tar::EntryType::Regular);
                builder.append_data(&mut header, path, bytes)
            }
        }
    }

    /// smem looks each pid's directory up in the tar for its owner.
    fn directory(&mut self, path: &str) -> std::io::Result<()> {
        match self {
            Output::Dir(root) => fs::create_dir_all(root.join(path)),
            Output::Tar(builder) => {
                let mut header = tar::Header::new_gnu();
                header.set_size(0);
                header.set_mode(0o755);
                header.set_mtime(1_700_000_000);
                header.set_entry_type(tar::EntryType::Directory);
                builder.append_data(&mut header, path, std::io::empty())
            }
        }
    }

    fn finish(self) -> std::io::Result<()> {
        match self {
            Output::Dir(_) => Ok(()),
            Output::Tar(builder) => builder.into_inner()?.flush(),
        }
    }
}

struct Args {
    processes: u32,
    out: PathBuf,
    format: String,
    fixtures: Vec<PathBuf>,
    series: Option<u32>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        processes: 2000,
        out: PathBuf::new(),
        format: "dir".into(),
        fixtures: Vec::new(),
        series: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--processes" => {
                args.processes = value()?.parse().map_err(|e| format!("--processes: {e}"))?
            }
            "--out" => args.out = value()?.into(),
            "--format" => args.format = value()?,
            "--fixtures" => args.fixtures.push(value()?.into()),
            "--series" => {
                args.series = Some(value()?.parse().map_err(|e| format!("--series: {e}"))?)
            }
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.out.as_os_str().is_empty() {
        return Err("--out is required".into());
    }
    if args.fixtures.is_empty() {
        // The real captures the repository carries (tests/fixtures/real, see PROVENANCE.md there).
        let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real");
        args.fixtures = vec![
            real.join("innosilicon-t2-zynq-snapshot"),
            real.join("zte-zx279128-ont-snapshot"),
        ];
    }
    Ok(args)
}

fn open_output(path: &Path, format: &str) -> Result<Output, String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    Ok(match format {
        "dir" => Output::Dir(path.to_path_buf()),
        "tar" | "tar.gz" | "smemcap" => {
            let file = fs::File::create(path).map_err(io)?;
            let writer: Box<dyn Write> = if format == "tar.gz" {
                Box::new(flate2::write::GzEncoder::new(
                    std::io::BufWriter::new(file),
                    flate2::Compression::fast(),
                ))
            } else {
                Box::new(std::io::BufWriter::new(file))
            };
            Output::Tar(tar::Builder::new(writer))
        }
        other => {
            return Err(format!(
                "unknown format {other} (dir, tar, tar.gz, smemcap)"
            ))
        }
    })
}

/// One snapshot: `time` goes to `meta`, `leak_pages` more heap pages in every process.
fn write_snapshot(
    mut out: Output,
    args: &Args,
    templates: &[Template],
    time: u64,
    leak_pages: u64,
) -> std::io::Result<()> {
    let smemcap = args.format == "smemcap";
    let base = &args.fixtures[0];
    let prefix = if smemcap { "" } else { "proc/" };
    for name in ["meminfo", "version", "mounts", "cmdline"] {
        if smemcap && !matches!(name, "meminfo" | "version") {
            continue;
        }
        if let Ok(bytes) = fs::read(base.join(format!("proc/{name}"))) {
            out.file(&format!("{prefix}{name}"), &bytes)?;
        }
    }
    if !smemcap {
        let meta = format!(
            "format=1\ntime={time}\nhost=gen-{}\nsource=gen_snapshot from {}\nsmaps=1\n",
            args.processes,
            base.display()
        );
        out.file("meta", meta.as_bytes())?;
    }
    for i in 0..args.processes {
        let template = &templates[i as usize % templates.len()];
        let pid = 1000 + i;
        let shift = (u64::from(i) * 7 * PAGE) % (template.shift_room / PAGE * PAGE + PAGE);
        let grow_pages = u64::from(i % 17) + leak_pages;
        let (smaps, grown_kb) = vary_smaps(&template.smaps, shift, grow_pages);
        let dir = format!("{prefix}{pid}");
        if smemcap {
            out.directory(&dir)?;
        } else {
            let mut maps = String::with_capacity(template.maps.len() + 64);
            for line in String::from_utf8_lossy(&template.maps).lines() {
                shift_line(line, shift, &mut maps);
            }
            out.file(&format!("{dir}/maps"), maps.as_bytes())?;
            let status = vary_status(&template.status, pid, grown_kb);
            out.file(&format!("{dir}/status"), status.as_bytes())?;
        }
        out.file(&format!("{dir}/smaps"), smaps.as_bytes())?;
        out.file(&format!("{dir}/cmdline"), &template.cmdline)?;
        let stat = format!(
            "{pid} ({}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {} 0 0\n",
            template.name,
            1000 + u64::from(i)
        );
        out.file(&format!("{dir}/stat"), stat.as_bytes())?;
    }
    out.finish()
}

fn run(args: Args) -> Result<(), String> {
    let templates = load_templates(&args.fixtures).map_err(|e| e.to_string())?;
    if templates.is_empty() {
        return Err("no process with maps, smaps and status under the fixtures".into());
    }
    let io = |e: std::io::Error| format!("{}: {e}", args.out.display());
    match args.series {
        None => {
            let out = open_output(&args.out, &args.format)?;
            write_snapshot(out, &args, &templates, 1_700_000_000, 0).map_err(io)
        }
        Some(_) if args.format == "smemcap" => {
            Err("--series writes membudget snapshots (.tar.gz), not smemcap tars".into())
        }
        Some(count) => {
            fs::create_dir_all(&args.out).map_err(io)?;
            for k in 0..count {
                let path = args.out.join(format!("sample-{:04}.tar.gz", k + 1));
                let out = open_output(&path, "tar.gz")?;
                let time = 1_700_000_000 + 60 * u64::from(k);
                write_snapshot(out, &args, &templates, time, u64::from(k)).map_err(io)?;
            }
            Ok(())
        }
    }
}

fn main() {
    if let Err(message) = parse_args().and_then(run) {
        eprintln!("gen_snapshot: {message}");
        std::process::exit(2);
    }
}
