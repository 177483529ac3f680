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
//! `--fleet N [--hosts H] [--leak-name NAME] [--leak-kib K]` writes N snapshots of H devices
//! into the directory OUT for `membudget export` (see `write_fleet`): devices alternate between
//! the fixtures' boards, go through three firmware versions, and on the newest one process
//! NAME's heap is K KiB bigger (defaults: 6 hosts, innominer_T2, 8192 KiB).
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

/// Moves user-space mapping headers up by `shift`, and the `[heap]`'s end by `heap_extra`
/// bytes more (a leak); other lines pass through.
fn shift_line(line: &str, shift: u64, heap_extra: u64, out: &mut String) {
    match header_range(line) {
        Some((start, end, rest)) if end <= USER_END => {
            let extra = if is_heap(line) { heap_extra } else { 0 };
            out.push_str(&format!(
                "{:08x}-{:08x} {rest}",
                start + shift,
                end + shift + extra
            ));
        }
        _ => out.push_str(line),
    }
    out.push('\n');
}

fn is_heap(header: &str) -> bool {
    header.trim_end().ends_with("[heap]")
}

fn kb_field(line: &str) -> Option<(&str, u64)> {
    let (key, value) = line.split_once(':')?;
    let kb = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some((key, kb))
}

/// The copy's smaps, and how many kB its heap grew: `grow_pages` more resident pages within
/// the heap's size, and `leak_pages` more heap, resident (the heap's end moves up).
fn vary_smaps(smaps: &[u8], shift: u64, grow_pages: u64, leak_pages: u64) -> (String, u64) {
    let text = String::from_utf8_lossy(smaps);
    let mut out = String::with_capacity(text.len() + 64);
    let mut entry: Vec<&str> = Vec::new();
    let mut grown_kb = 0;
    let mut flush = |entry: &mut Vec<&str>, out: &mut String| {
        let Some((&header, fields)) = entry.split_first() else {
            return;
        };
        let is_heap = is_heap(header);
        let leak_kb = if is_heap { leak_pages * PAGE / 1024 } else { 0 };
        shift_line(header, shift, leak_kb * 1024, out);
        let size = fields
            .iter()
            .find_map(|l| kb_field(l).filter(|(k, _)| *k == "Size"));
        let rss = fields
            .iter()
            .find_map(|l| kb_field(l).filter(|(k, _)| *k == "Rss"));
        let grow = match (is_heap, size, rss) {
            (true, Some((_, size)), Some((_, rss))) => {
                (grow_pages * PAGE / 1024).min(size.saturating_sub(rss)) + leak_kb
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
                Some(("Size", kb)) if leak_kb > 0 => {
                    out.push_str(&format!("Size:{:>15} kB\n", kb + leak_kb));
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

/// The copy's status: its pid, `VmRSS` up by `grown_kb`, `VmSize` by `leak_kb`.
fn vary_status(status: &[u8], pid: u32, grown_kb: u64, leak_kb: u64) -> String {
    let mut out = String::new();
    for line in String::from_utf8_lossy(status).lines() {
        match line.split_once(':') {
            Some(("Pid" | "Tgid", _)) => {
                let key = line.split(':').next().unwrap_or_default();
                out.push_str(&format!("{key}:\t{pid}"));
            }
            Some((key @ ("VmRSS" | "VmSize"), _)) => {
                let kb = kb_field(line).map_or(0, |(_, kb)| kb);
                let more = if key == "VmRSS" { grown_kb } else { leak_kb };
                out.push_str(&format!("{key}:\t{:>8} kB", kb + more));
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
    fleet: Option<u32>,
    hosts: u32,
    leak_name: String,
    leak_kib: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        processes: 2000,
        out: PathBuf::new(),
        format: "dir".into(),
        fixtures: Vec::new(),
        series: None,
        fleet: None,
        hosts: 6,
        leak_name: "innominer_T2".into(),
        leak_kib: 8192,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |text: String| text.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
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
            "--fleet" => args.fleet = Some(value()?.parse().map_err(|e| format!("--fleet: {e}"))?),
            "--hosts" => args.hosts = value()?.parse().map_err(|e| format!("--hosts: {e}"))?,
            "--leak-name" => args.leak_name = value()?,
            "--leak-kib" => args.leak_kib = number(value()?)?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.out.as_os_str().is_empty() {
        return Err("--out is required".into());
    }
    if args.hosts == 0 {
        return Err("--hosts must be at least 1".into());
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

/// What varies between the snapshots one run writes.
struct Spec<'a> {
    /// The capture the board-wide files (meminfo, mounts...) come from.
    base: &'a Path,
    processes: u32,
    time: u64,
    /// More heap pages, resident, in every process (a series' slow leak).
    grow_pages: u64,
    /// The process of this name leaks this many pages more heap (its `[heap]` grows).
    leak: Option<(&'a str, u64)>,
    /// Further `meta` lines (host, board, firmware...).
    meta: String,
}

fn write_snapshot(
    mut out: Output,
    smemcap: bool,
    templates: &[Template],
    spec: &Spec,
) -> std::io::Result<()> {
    let prefix = if smemcap { "" } else { "proc/" };
    for name in ["meminfo", "version", "mounts", "cmdline"] {
        if smemcap && !matches!(name, "meminfo" | "version") {
            continue;
        }
        if let Ok(bytes) = fs::read(spec.base.join(format!("proc/{name}"))) {
            out.file(&format!("{prefix}{name}"), &bytes)?;
        }
    }
    if !smemcap {
        let meta = format!(
            "format=1\ntime={}\nsource=gen_snapshot from {}\nsmaps=1\n{}",
            spec.time,
            spec.base.display(),
            spec.meta
        );
        out.file("meta", meta.as_bytes())?;
    }
    for i in 0..spec.processes {
        let template = &templates[i as usize % templates.len()];
        let pid = 1000 + i;
        let shift = (u64::from(i) * 7 * PAGE) % (template.shift_room / PAGE * PAGE + PAGE);
        let grow_pages = u64::from(i % 17) + spec.grow_pages;
        let leak_pages = match spec.leak {
            Some((name, pages)) if name == template.name => pages,
            _ => 0,
        };
        let (smaps, grown_kb) = vary_smaps(&template.smaps, shift, grow_pages, leak_pages);
        let dir = format!("{prefix}{pid}");
        if smemcap {
            out.directory(&dir)?;
        } else {
            let mut maps = String::with_capacity(template.maps.len() + 64);
            for line in String::from_utf8_lossy(&template.maps).lines() {
                shift_line(line, shift, leak_pages * PAGE, &mut maps);
            }
            out.file(&format!("{dir}/maps"), maps.as_bytes())?;
            let status = vary_status(&template.status, pid, grown_kb, leak_pages * PAGE / 1024);
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

/// Firmware versions of a fleet, oldest first: host h's k-th snapshot runs the k-th (mod 3).
const FIRMWARES: [&str; 3] = ["1.0", "1.1", "1.2"];

/// `--fleet N`: N snapshots `OUT/<host>-<firmware>.tar.gz` of `--hosts` devices, which take
/// turns between the fixtures' boards (the board model is in `meta` as `board=`, named after
/// the fixture), every device going through the firmware versions in turn, an hour apart. Each
/// device runs `--processes` plus its own index of the board's processes, so demand differs
/// between devices; on the newest firmware, the `--leak-name` process's heap is `--leak-kib`
/// bigger: a leak of one firmware on the boards that run that process.
fn write_fleet(args: &Args, count: u32) -> Result<(), String> {
    let io = |e: std::io::Error| format!("{}: {e}", args.out.display());
    let boards = args
        .fixtures
        .iter()
        .map(|f| load_templates(std::slice::from_ref(f)).map(|t| (f, t)))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| e.to_string())?;
    fs::create_dir_all(&args.out).map_err(io)?;
    for k in 0..count {
        let host = k % args.hosts;
        let round = k / args.hosts;
        let (fixture, templates) = &boards[host as usize % boards.len()];
        let board = fixture
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .trim_end_matches("-snapshot")
                    .to_string()
            })
            .unwrap_or_default();
        let firmware = FIRMWARES[round as usize % FIRMWARES.len()];
        let newest = firmware == FIRMWARES[FIRMWARES.len() - 1];
        let spec = Spec {
            base: fixture,
            processes: args.processes + host,
            time: 1_700_000_000 + 3600 * u64::from(round) + u64::from(host),
            grow_pages: 0,
            leak: newest.then_some((args.leak_name.as_str(), args.leak_kib * 1024 / PAGE)),
            meta: format!(
                "host=dev-{host:03}\nboot_id=00000000-0000-0000-{host:04x}-{round:012x}\nboard={board}\nfirmware={firmware}\n"
            ),
        };
        let path = args
            .out
            .join(format!("dev-{host:03}-{round:04}-fw{firmware}.tar.gz"));
        let out = open_output(&path, "tar.gz")?;
        write_snapshot(out, false, templates, &spec).map_err(io)?;
    }
    Ok(())
}

fn run(args: Args) -> Result<(), String> {
    if let Some(count) = args.fleet {
        return write_fleet(&args, count);
    }
    let templates = load_templates(&args.fixtures).map_err(|e| e.to_string())?;
    if templates.is_empty() {
        return Err("no process with maps, smaps and status under the fixtures".into());
    }
    let io = |e: std::io::Error| format!("{}: {e}", args.out.display());
    let smemcap = args.format == "smemcap";
    let spec = |time: u64, grow_pages: u64| Spec {
        base: &args.fixtures[0],
        processes: args.processes,
        time,
        grow_pages,
        leak: None,
        meta: format!("host=gen-{}\n", args.processes),
    };
    match args.series {
        None => {
            let out = open_output(&args.out, &args.format)?;
            write_snapshot(out, smemcap, &templates, &spec(1_700_000_000, 0)).map_err(io)
        }
        Some(_) if smemcap => {
            Err("--series writes membudget snapshots (.tar.gz), not smemcap tars".into())
        }
        Some(count) => {
            fs::create_dir_all(&args.out).map_err(io)?;
            for k in 0..count {
                let path = args.out.join(format!("sample-{:04}.tar.gz", k + 1));
                let out = open_output(&path, "tar.gz")?;
                let time = 1_700_000_000 + 60 * u64::from(k);
                write_snapshot(out, false, &templates, &spec(time, u64::from(k))).map_err(io)?;
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
