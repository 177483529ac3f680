//! Swap and zram: `/proc/swaps` and `/sys/block/zram<N>/{disksize,mm_stat}`.
//!
//! zram keeps the pages written to it compressed in RAM (zsmalloc pages that no meminfo counter
//! holds), so what it holds is memory in use: `mm_stat`'s `mem_used_total`.

use super::lines::lines;
use super::maps::LineIssue;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SwapDevice {
    pub path: String,
    pub kind: String,
    pub size: u64,
    pub used: u64,
    pub priority: i64,
}

impl SwapDevice {
    /// The zram device name (`zram0`) when this swap area is one.
    pub fn zram_name(&self) -> Option<&str> {
        self.path
            .strip_prefix("/dev/")
            .filter(|n| n.starts_with("zram"))
    }
}

/// `/proc/swaps`: a header, then `Filename Type Size Used Priority` with sizes in KiB.
pub fn parse_swaps(bytes: &[u8]) -> (Vec<SwapDevice>, Vec<LineIssue>) {
    let mut devices = Vec::new();
    let mut issues = Vec::new();
    for (number, line) in lines(bytes) {
        let text = String::from_utf8_lossy(line);
        let fields: Vec<&str> = text.split_whitespace().collect();
        if fields.is_empty() || fields[0] == "Filename" {
            continue;
        }
        let parsed = match fields.as_slice() {
            [path, kind, size, used, priority] => (|| {
                Some(SwapDevice {
                    path: path.to_string(),
                    kind: kind.to_string(),
                    size: size.parse::<u64>().ok()?.saturating_mul(1024),
                    used: used.parse::<u64>().ok()?.saturating_mul(1024),
                    priority: priority.parse().ok()?,
                })
            })(),
            _ => None,
        };
        match parsed {
            Some(d) => devices.push(d),
            None => issues.push(LineIssue {
                line: number,
                message: "expected `Filename Type Size Used Priority`".into(),
            }),
        }
    }
    (devices, issues)
}

/// `mm_stat` of one zram device (bytes, except the page counts). Kernels before 4.1 lack the
/// file; fields after `mem_used_max` came later and are optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MmStat {
    /// Uncompressed size of what was written.
    pub orig_data_size: u64,
    /// Compressed size of it.
    pub compr_data_size: u64,
    /// RAM the compressed store takes, allocator overhead included: the memory zram holds.
    pub mem_used_total: u64,
    pub mem_limit: u64,
    pub mem_used_max: u64,
    pub same_pages: Option<u64>,
}

pub fn parse_mm_stat(bytes: &[u8]) -> Result<MmStat, String> {
    let text = String::from_utf8_lossy(bytes);
    let values: Vec<u64> = text
        .split_whitespace()
        .map(|f| f.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| "expected numbers: orig_data_size compr_data_size mem_used_total ...")?;
    if values.len() < 5 {
        return Err(format!(
            "expected at least 5 numbers (orig_data_size ... mem_used_max), found {}",
            values.len()
        ));
    }
    Ok(MmStat {
        orig_data_size: values[0],
        compr_data_size: values[1],
        mem_used_total: values[2],
        mem_limit: values[3],
        mem_used_max: values[4],
        same_pages: values.get(5).copied(),
    })
}

/// A sysfs file holding one decimal number (`disksize`, a dma-buf's `size`).
pub fn parse_number(bytes: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(bytes);
    text.trim()
        .parse()
        .map_err(|_| format!("expected one number, found {:?}", text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_with_zram() {
        let (d, issues) = parse_swaps(
            b"Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/zram0                              partition\t65532\t\t1024\t\t100\n/swapfile file 1024 0 -2\nbad line\n",
        );
        assert_eq!(issues.len(), 1);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].zram_name(), Some("zram0"));
        assert_eq!(d[0].used, 1024 * 1024);
        assert_eq!(d[1].priority, -2);
        assert_eq!(d[1].zram_name(), None);
    }

    #[test]
    fn mm_stat_old_and_new() {
        let m = parse_mm_stat(b"  4096000   12345   40960        0    40960        2        0\n")
            .unwrap();
        assert_eq!(m.mem_used_total, 40960);
        assert_eq!(m.same_pages, Some(2));
        let m = parse_mm_stat(b"1 2 3 4 5").unwrap();
        assert_eq!((m.mem_used_total, m.same_pages), (3, None));
        assert!(parse_mm_stat(b"1 2 3").is_err());
        assert!(parse_mm_stat(b"1 2 x 4 5").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"268435456\n"), Ok(268435456));
        assert!(parse_number(b"").is_err());
    }
}
