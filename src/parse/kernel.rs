//! The kernel's own words about memory: the boot command line (`mem=`, `cma=`, `mmz=`) and the
//! boot log's `Memory: ...K/...K available (...)` line, which splits the RAM the kernel saw into
//! its image, its reservations, and what it handed to the page allocator.

use crate::size::parse_size;
use regex_lite::Regex;
use std::sync::OnceLock;

/// `/proc/cmdline`, with the memory-related parameters picked out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KernelCmdline {
    pub raw: String,
    /// Sum of every `mem=SIZE[@START]` (some boards give several ranges).
    pub mem: Option<u64>,
    pub cma: Option<u64>,
    /// HiSilicon media memory zone: `mmz=anonymous,0,0x86000000,160M` or `mmz:,27` style.
    pub mmz: Option<String>,
}

impl KernelCmdline {
    /// Every memory-related parameter in command-line order, `mem=`/`cma=`/`mmz=` included.
    pub fn memory_params(&self) -> Vec<(String, String)> {
        self.raw
            .split_whitespace()
            .filter_map(|t| t.split_once('='))
            .filter(|(k, _)| MEMORY_PARAMS.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Bytes the kernel gives back when it frees the `initrd=START,SIZE` image: ARM and arm64
    /// widen the range to whole pages at both ends before freeing (ARM 8167/1), so this is the
    /// page-rounded span. `None` without a parsable `initrd=` parameter.
    pub fn initrd_freed_bytes(&self) -> Option<u64> {
        const PAGE: u64 = 4096;
        let (_, value) = self
            .memory_params()
            .into_iter()
            .find(|(k, _)| k == "initrd")?;
        let (start, size) = value.split_once(',')?;
        let start = parse_number(start)?;
        let end = start.checked_add(parse_number(size)?)?;
        let first = start / PAGE * PAGE;
        let last = end.checked_next_multiple_of(PAGE)?;
        Some(last - first)
    }
}

/// Boot parameters that size or reserve memory.
const MEMORY_PARAMS: [&str; 13] = [
    "mem",
    "cma",
    "mmz",
    "rmem",
    "ramdisk_size",
    "initrd",
    "vmalloc",
    "drvmem",
    "memmap",
    "crashkernel",
    "rk_dma_heap_cma",
    "osmem",
    "reserve",
];

/// The size at the head of a parameter value: `128M@0x80000000`, `64M,0x...`, or `128M;` as
/// one ZTE boot loader writes it (a `;` and its own words follow on the same line).
fn leading_size(value: &str) -> Option<u64> {
    let size = value.split(['@', ',', ';']).next()?;
    parse_size(size).ok()
}

/// A kernel command-line number: decimal, or hex with `0x`; with an optional K/M/G suffix
/// (the kernel's memparse).
fn parse_number(text: &str) -> Option<u64> {
    let text = text.trim();
    let (digits, shift) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 10),
        (i, 'm' | 'M') => (&text[..i], 20),
        (i, 'g' | 'G') => (&text[..i], 30),
        _ => (text, 0),
    };
    let value = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse().ok()?,
    };
    value.checked_mul(1 << shift)
}

pub fn parse_cmdline(bytes: &[u8]) -> KernelCmdline {
    let raw = String::from_utf8_lossy(bytes)
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .to_string();
    let mut cmdline = KernelCmdline {
        raw: raw.clone(),
        ..Default::default()
    };
    for token in raw.split_whitespace() {
        let Some((key, value)) = token.split_once('=') else {
            continue;
        };
        match key {
            "mem" => {
                if let Some(size) = leading_size(value) {
                    cmdline.mem = Some(cmdline.mem.unwrap_or(0).saturating_add(size));
                }
            }
            "cma" => cmdline.cma = leading_size(value),
            "mmz" => cmdline.mmz = Some(value.to_string()),
            _ => {}
        }
    }
    cmdline
}

/// The kernel release (major, minor, patch) from `/proc/version` ("Linux version 4.4.0-xilinx
/// ...") or a uname line ("Linux 6.1.0-50-armmp ...").
pub fn parse_release(text: &str) -> Option<(u32, u32, u32)> {
    let release = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))?;
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// From 2.6.36 to 4.11 a growing-down stack VMA held a guard page at its low end, and maps
/// printed the VMA without it while `VmSize` counted it (4.12 moved the gap outside the VMA).
pub fn maps_hides_stack_guard(release: (u32, u32, u32)) -> bool {
    ((2, 6, 36)..(4, 12, 0)).contains(&release)
}

/// What the boot log says about memory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BootMemory {
    /// Memory the page allocator got at that point (the `X` of `X/Y available`).
    pub available: u64,
    /// RAM the kernel saw (the `Y`): physical RAM less `mem=` cuts and carve-outs.
    pub total: u64,
    /// The parenthesised breakdown (`kernel code`, `rwdata`, `reserved`, `cma-reserved`...).
    pub breakdown: Vec<(String, u64)>,
    /// `Freeing ... memory: NK` lines printed later (init sections, initrd) that go back to
    /// the allocator and so into MemTotal.
    pub freed: Vec<(String, u64)>,
    /// The old two-line format's `Memory: 40MB = 40MB total` figure.
    pub banks_total: Option<u64>,
    /// 1-based line of the `available` line in the log.
    pub line: usize,
    /// `... hash table entries: N (order: k, B bytes)` lines (dentry, inode cache...): tables
    /// the kernel sizes from RAM, which a what-if projection scales.
    pub hash_tables: Vec<HashTable>,
}

/// A hash table the kernel sized from RAM at boot, as its log line gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HashTable {
    /// `Dentry cache`, `Inode-cache`, `TCP established`...
    pub name: String,
    pub entries: u64,
    pub bytes: u64,
}

/// A `NAME hash table entries: N (order: k, B bytes[, linear|vmalloc])` line.
fn hash_table(line: &str) -> Option<HashTable> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"\]?\s*([A-Za-z][A-Za-z -]*?) hash table entries: (\d+) \(order: -?\d+, (\d+) bytes",
        )
        .unwrap()
    });
    let c = re.captures(line)?;
    Some(HashTable {
        name: c[1].trim().to_string(),
        entries: c[2].parse().ok()?,
        bytes: c[3].parse().ok()?,
    })
}

impl BootMemory {
    pub fn breakdown_value(&self, name: &str) -> Option<u64> {
        self.breakdown
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    pub fn freed_total(&self) -> u64 {
        self.freed
            .iter()
            .fold(0, |sum, (_, v)| sum.saturating_add(*v))
    }
}

fn regexes() -> &'static (Regex, Regex, Regex, Regex) {
    static RE: OnceLock<(Regex, Regex, Regex, Regex)> = OnceLock::new();
    RE.get_or_init(|| {
        (
            Regex::new(r"Memory: (\d+)[kK]/(\d+)[kK] available(.*)").unwrap(),
            Regex::new(r"(\d+)[kK] ([A-Za-z][A-Za-z -]*[A-Za-z])").unwrap(),
            Regex::new(r"Freeing (.*?) ?memory: (\d+)[kK]").unwrap(),
            Regex::new(r"Memory: (\d+)MB = (\d+)MB total").unwrap(),
        )
    })
}

/// A decimal kB figure of the log in bytes; `None` when it does not fit (a corrupt log).
fn kib_bytes(digits: &str) -> Option<u64> {
    digits.parse::<u64>().ok()?.checked_mul(1024)
}

/// Finds the memory lines in a boot log (dmesg, serial console transcript, kmsg with `<6>`
/// prefixes). Returns `None` when the log has no `Memory: ... available` line.
pub fn parse_boot_log(bytes: &[u8]) -> Option<BootMemory> {
    let (available_re, pair_re, freeing_re, banks_re) = regexes();
    let text = String::from_utf8_lossy(bytes);
    let mut found: Option<BootMemory> = None;
    let mut banks_total = None;
    let mut freed = Vec::new();
    let mut hash_tables = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.contains("hash table entries") {
            hash_tables.extend(hash_table(line));
        }
        if let Some(c) = banks_re.captures(line) {
            banks_total = c[2]
                .parse::<u64>()
                .ok()
                .and_then(|mb| mb.checked_mul(1 << 20));
        }
        if found.is_none() {
            if let Some(c) = available_re.captures(line) {
                let (Some(available), Some(total)) = (kib_bytes(&c[1]), kib_bytes(&c[2])) else {
                    continue;
                };
                let breakdown: Vec<(String, u64)> = pair_re
                    .captures_iter(&c[3])
                    .filter_map(|p| Some((p[2].trim().to_string(), kib_bytes(&p[1])?)))
                    .collect();
                // Kernels before 3.11 print `Memory: Xk/Yk available, Zk reserved`: Y counts
                // free pages only and the reservation comes after, so the RAM the kernel saw
                // is Y + Z (the `Memory: 36MB = 36MB total` line agrees).
                let old_format = !c[3].trim_start().starts_with('(');
                let total = match breakdown.iter().find(|(n, _)| n == "reserved") {
                    Some((_, reserved)) if old_format => total.saturating_add(*reserved),
                    _ => total,
                };
                found = Some(BootMemory {
                    available,
                    total,
                    breakdown,
                    line: index + 1,
                    ..Default::default()
                });
                continue;
            }
        }
        if found.is_some() {
            if let Some(c) = freeing_re.captures(line) {
                if let Some(bytes) = kib_bytes(&c[2]) {
                    freed.push((c[1].trim().to_string(), bytes));
                }
            }
        }
    }
    found.map(|mut m| {
        m.freed = freed;
        m.banks_total = banks_total;
        m.hash_tables = hash_tables;
        m
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_memory_params() {
        let c = parse_cmdline(b"console=ttyAMA0 mem=46M@0x0 rmem=18M@0x2e00000 cma=16M mmz=anonymous,0,0x86000000,160M\n");
        assert_eq!(c.mem, Some(46 << 20));
        assert_eq!(c.cma, Some(16 << 20));
        assert_eq!(c.mmz.as_deref(), Some("anonymous,0,0x86000000,160M"));
        let params: Vec<String> = c
            .memory_params()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            params,
            [
                "mem=46M@0x0",
                "rmem=18M@0x2e00000",
                "cma=16M",
                "mmz=anonymous,0,0x86000000,160M"
            ]
        );
        // The ZTE ONT's boot loader appends `; U-Boot ...` right after `mem=128M`.
        let zte = parse_cmdline(b"root=/dev/mtdblock10 ro mem=128M; U-Boot V6.0.20P10N2\n");
        assert_eq!(zte.mem, Some(128 << 20));
    }

    #[test]
    fn modern_memory_line() {
        let log = b"[    0.000000] Memory: 221692K/262144K available (11264K kernel code, 1700K rwdata, 3732K rodata, 2048K init, 377K bss, 24068K reserved, 16384K cma-reserved, 0K highmem)\n[    1.0] Freeing unused kernel memory: 2048K\n";
        let m = parse_boot_log(log).unwrap();
        assert_eq!(m.available, 221692 * 1024);
        assert_eq!(m.total, 262144 * 1024);
        assert_eq!(m.breakdown_value("cma-reserved"), Some(16384 * 1024));
        assert_eq!(m.breakdown_value("kernel code"), Some(11264 * 1024));
        assert_eq!(m.breakdown.len(), 8);
        assert_eq!(m.freed_total(), 2048 * 1024);
    }

    #[test]
    fn old_two_line_format() {
        let log = b"<6>Memory: 40MB = 40MB total\n<5>Memory: 36616k/36616k available, 4344k reserved, 0K highmem\nFreeing init memory: 104K\n";
        let m = parse_boot_log(log).unwrap();
        assert_eq!(m.banks_total, Some(40 << 20));
        // The old line's Y counts free pages only: the RAM seen is Y + reserved.
        assert_eq!(m.total, 40 << 20);
        assert_eq!(m.available, 36616 * 1024);
        assert_eq!(m.breakdown_value("reserved"), Some(4344 * 1024));
        assert_eq!(m.freed, vec![("init".to_string(), 104 * 1024)]);
    }

    #[test]
    fn releases() {
        assert_eq!(
            parse_release("Linux version 4.4.0-xilinx (gcc) #1 SMP"),
            Some((4, 4, 0))
        );
        assert_eq!(
            parse_release("Linux 6.1.0-50-armmp #1 SMP armv7l"),
            Some((6, 1, 0))
        );
        assert!(maps_hides_stack_guard((4, 4, 0)));
        assert!(maps_hides_stack_guard((2, 6, 36)));
        assert!(!maps_hides_stack_guard((2, 6, 18)));
        assert!(!maps_hides_stack_guard((4, 12, 0)));
        assert!(!maps_hides_stack_guard((6, 1, 0)));
    }

    #[test]
    fn initrd_is_freed_in_whole_pages() {
        let c = parse_cmdline(b"root=/dev/ram0 initrd=0x0f000000,0x002e63ae mem=512M");
        // 0x2e63ae bytes from a page boundary: 742 pages whole, one partial -> 743 pages.
        assert_eq!(c.initrd_freed_bytes(), Some(743 * 4096));
        let c = parse_cmdline(b"initrd=0x800,4K");
        assert_eq!(c.initrd_freed_bytes(), Some(8192));
        assert_eq!(parse_cmdline(b"initrd=junk").initrd_freed_bytes(), None);
        assert_eq!(
            parse_cmdline(b"initrd=0xffffffffffffffff,0x10").initrd_freed_bytes(),
            None
        );
    }

    #[test]
    fn hash_table_lines() {
        let log = b"[    0.000000] Dentry cache hash table entries: 32768 (order: 5, 131072 bytes, linear)\n\
[    0.000000] Inode-cache hash table entries: 16384 (order: 4, 65536 bytes, linear)\n\
[    0.000000] Memory: 241000K/262144K available (8192K kernel code, 1024K rwdata, 2048K rodata, 1024K init, 300K bss, 21144K reserved, 0K cma-reserved)\n";
        let boot = parse_boot_log(log).unwrap();
        assert_eq!(
            boot.hash_tables,
            vec![
                HashTable {
                    name: "Dentry cache".into(),
                    entries: 32768,
                    bytes: 131072
                },
                HashTable {
                    name: "Inode-cache".into(),
                    entries: 16384,
                    bytes: 65536
                }
            ]
        );
    }

    #[test]
    fn no_memory_line() {
        assert_eq!(parse_boot_log(b"hello\nworld\n"), None);
    }
}
