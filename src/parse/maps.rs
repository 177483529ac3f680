//! `/proc/PID/maps` and the header lines of `smaps`: `start-end perms offset dev inode [path]`.
//!
//! Our own byte parser rather than procfs's, because real captures break strict parsers:
//! `[anon:...]` names, `/SYSV00000000 (deleted)`, `[stack:TID]`, paths with spaces, anonymous
//! lines without the trailing space, CRLF line ends, and non-UTF-8 paths. A bad line is reported
//! with its number and skipped, so one corrupt line does not lose a whole process.

use super::lines::lines;
use std::sync::Arc;

/// Permissions of a mapping, from the 4-character field (`r-xp`, `rw-s`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub shared: bool,
}

impl Perms {
    fn parse(field: &[u8]) -> Option<Perms> {
        if field.len() != 4 {
            return None;
        }
        let flag = |i: usize, set: u8| match field[i] {
            c if c == set => Some(true),
            b'-' => Some(false),
            _ => None,
        };
        let shared = match field[3] {
            b's' => true,
            b'p' => false,
            _ => return None,
        };
        Some(Perms {
            read: flag(0, b'r')?,
            write: flag(1, b'w')?,
            exec: flag(2, b'x')?,
            shared,
        })
    }

    /// No access at all: a guard page or reserved address space, never memory.
    pub fn is_none(&self) -> bool {
        !self.read && !self.write && !self.exec
    }
}

impl std::fmt::Display for Perms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = |b: bool, ch: char| if b { ch } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            c(self.read, 'r'),
            c(self.write, 'w'),
            c(self.exec, 'x'),
            if self.shared { 's' } else { 'p' }
        )
    }
}

/// One VMA as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapLine {
    pub start: u64,
    pub end: u64,
    pub perms: Perms,
    pub offset: u64,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub inode: u64,
    /// The path or pseudo-name (`[heap]`, `[anon:foo]`), lossily decoded; `None` when absent.
    pub path: Option<Arc<str>>,
}

impl MapLine {
    pub fn size(&self) -> u64 {
        self.end - self.start
    }

    /// Not backed by a file: no inode and either no name or a bracketed pseudo-name.
    /// `/dev/zero` mappings are anonymous memory too (the classic way to get shared anon memory).
    pub fn is_anonymous(&self) -> bool {
        match &self.path {
            None => true,
            Some(p) => {
                (self.inode == 0 && p.starts_with('['))
                    || &**p == "/dev/zero"
                    || p.starts_with("/dev/zero ")
            }
        }
    }
}

impl MapLine {
    /// A "gate area": a fixed kernel page every process sees in its maps (x86-64
    /// `[vsyscall]`, 32-bit ARM `[vectors]`) that lives outside the process's memory map, so
    /// `VmSize` does not count it.
    pub fn is_gate_area(&self) -> bool {
        matches!(self.path.as_deref(), Some("[vsyscall]") | Some("[vectors]"))
    }
}

/// A line that could not be understood: kept so the report can say what was skipped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineIssue {
    pub line: usize,
    pub message: String,
}

/// The lines of one file a parser could not read: the first [`Issues::LISTED`] with their
/// message, and a count of all. A 10 MB maps of bad lines wrote 469 MB of warnings when every
/// line was kept; memory and output now follow this cap, not the input. Reads as the slice of
/// listed issues; `len` and `is_empty` count them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issues {
    listed: Vec<LineIssue>,
    count: usize,
}

impl Issues {
    pub const LISTED: usize = 10;

    pub fn push(&mut self, issue: LineIssue) {
        self.count += 1;
        if self.listed.len() < Self::LISTED {
            self.listed.push(issue);
        }
    }

    /// Every bad line, listed or not.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bad lines beyond the listed ones.
    pub fn unlisted(&self) -> usize {
        self.count - self.listed.len()
    }
}

impl From<Vec<LineIssue>> for Issues {
    fn from(all: Vec<LineIssue>) -> Issues {
        let mut issues = Issues::default();
        all.into_iter().for_each(|i| issues.push(i));
        issues
    }
}

impl std::ops::Deref for Issues {
    type Target = [LineIssue];
    fn deref(&self) -> &[LineIssue] {
        &self.listed
    }
}

/// The value of each byte as a hex digit, or `NOT_HEX`: one load a digit instead of three
/// range tests, in the field every mapping has five of.
const HEX_DIGITS: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};
const NOT_HEX: u8 = 0xff;

fn hex(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 16 {
        return None;
    }
    field.iter().try_fold(0u64, |value, &c| {
        let digit = HEX_DIGITS[usize::from(c)];
        (digit != NOT_HEX).then_some((value << 4) | u64::from(digit))
    })
}

/// A decimal inode number, as `str::parse` reads it (which also takes a leading `+`).
fn decimal(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 19 || !field.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(field).ok()?.parse().ok();
    }
    Some(field.iter().fold(0, |n, &c| n * 10 + u64::from(c - b'0')))
}

fn split_field(rest: &[u8]) -> (&[u8], &[u8]) {
    let rest = trim_start(rest);
    let end = rest
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(rest.len());
    (&rest[..end], &rest[end..])
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// True when a line looks like a maps header (`hex-hex perms ...`), as opposed to an smaps
/// `Key: value` line. Used by the smaps parser to find where each mapping starts.
pub fn looks_like_header(line: &[u8]) -> bool {
    let (first, _) = split_field(line);
    first.contains(&b'-') && !first.ends_with(b":")
}

/// Parses one maps line. The error says which field is wrong.
pub fn parse_line(line: &[u8]) -> Result<MapLine, String> {
    parse_line_with(line, &mut path_of)
}

/// [`parse_line`] with the path made by `path` from its bytes (see `parse_maps_with`).
pub fn parse_line_with(
    line: &[u8],
    path: &mut dyn FnMut(&[u8]) -> Arc<str>,
) -> Result<MapLine, String> {
    let (mut map, name) = match header_as_the_kernel_writes_it(line) {
        Some(parsed) => parsed,
        None => header_of_any_shape(line)?,
    };
    map.path = (!name.is_empty()).then(|| path(name));
    Ok(map)
}

/// A header line in the kernel's own layout (one space between fields, `start-end`, hex
/// numbers, a decimal inode), read in one pass; `None` for anything else, which
/// [`header_of_any_shape`] then reads. Whatever this takes, that gives the same result for (the
/// test `the_kernel_layout_reads_as_any_shape_does`): it only saves the field splitting, which
/// was most of the cost of a header.
fn header_as_the_kernel_writes_it(line: &[u8]) -> Option<(MapLine, &[u8])> {
    let mut at = 0;
    let start = hex_until(line, &mut at, b'-')?;
    let end = hex_until(line, &mut at, b' ')?;
    if end < start {
        return None;
    }
    let perms = Perms::parse(line.get(at..at + 4)?)?;
    if line.get(at + 4) != Some(&b' ') {
        return None;
    }
    at += 5;
    let offset = hex_until(line, &mut at, b' ')?;
    let dev_major = u32::try_from(hex_until(line, &mut at, b':')?).ok()?;
    let dev_minor = u32::try_from(hex_until(line, &mut at, b' ')?).ok()?;
    let digits = line[at..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || !matches!(line.get(at + digits), None | Some(b' ')) {
        return None;
    }
    let inode = line[at..at + digits]
        .iter()
        .fold(0, |n, &c| n * 10 + u64::from(c - b'0'));
    let name = trim_end(trim_start(&line[at + digits..]));
    let map = MapLine {
        start,
        end,
        perms,
        offset,
        dev_major,
        dev_minor,
        inode,
        path: None,
    };
    Some((map, name))
}

/// Reads 1 to 16 hex digits at `at` that end with `delimiter`, and moves past it.
#[inline(always)]
fn hex_until(line: &[u8], at: &mut usize, delimiter: u8) -> Option<u64> {
    let mut value = 0u64;
    let mut end = *at;
    loop {
        let digit = HEX_DIGITS[usize::from(*line.get(end)?)];
        if digit == NOT_HEX {
            break;
        }
        value = (value << 4) | u64::from(digit);
        end += 1;
    }
    if end == *at || end - *at > 16 || line[end] != delimiter {
        return None;
    }
    *at = end + 1;
    Some(value)
}

/// [`parse_line`] field by field, whatever the line's layout: what the one-pass reader of the
/// kernel's layout must agree with (the fuzz target `maps` compares the two).
pub fn parse_line_field_by_field(line: &[u8]) -> Result<MapLine, String> {
    let (mut map, name) = header_of_any_shape(line)?;
    map.path = (!name.is_empty()).then(|| path_of(name));
    Ok(map)
}

/// A header line with any spacing, field by field; the error says which field is wrong. The
/// path is left out: the caller makes it from the name returned.
fn header_of_any_shape(line: &[u8]) -> Result<(MapLine, &[u8]), String> {
    let (range, rest) = split_field(line);
    let dash = range
        .iter()
        .position(|&c| c == b'-')
        .ok_or("address range has no '-'")?;
    let start = hex(&range[..dash]).ok_or("bad start address")?;
    let end = hex(&range[dash + 1..]).ok_or("bad end address")?;
    if end < start {
        return Err(format!("end address {end:x} is below start {start:x}"));
    }
    let (perms, rest) = split_field(rest);
    let perms = Perms::parse(perms).ok_or("bad permissions (expected e.g. r-xp)")?;
    let (offset, rest) = split_field(rest);
    let offset = hex(offset).ok_or("bad offset")?;
    let (dev, rest) = split_field(rest);
    let colon = dev
        .iter()
        .position(|&c| c == b':')
        .ok_or("bad device (expected major:minor)")?;
    let dev_major = hex(&dev[..colon])
        .and_then(|v| u32::try_from(v).ok())
        .ok_or("bad device major")?;
    let dev_minor = hex(&dev[colon + 1..])
        .and_then(|v| u32::try_from(v).ok())
        .ok_or("bad device minor")?;
    let (inode, rest) = split_field(rest);
    let inode = decimal(inode).ok_or("bad inode")?;
    let map = MapLine {
        start,
        end,
        perms,
        offset,
        dev_major,
        dev_minor,
        inode,
        path: None,
    };
    Ok((map, trim_end(trim_start(rest))))
}

/// A path as it is when nobody shares them: its own copy, lossily decoded.
pub fn path_of(bytes: &[u8]) -> Arc<str> {
    Arc::from(String::from_utf8_lossy(bytes))
}

/// Parses a whole maps file. Bad lines come back as issues; the good ones still count.
pub fn parse_maps(bytes: &[u8]) -> (Vec<MapLine>, Issues) {
    parse_maps_with(bytes, &mut path_of)
}

/// [`parse_maps`] with the paths made by `path` from their bytes: the snapshot builder hands
/// out one shared copy per distinct path instead of a new allocation per mapping.
pub fn parse_maps_with(
    bytes: &[u8],
    path: &mut dyn FnMut(&[u8]) -> Arc<str>,
) -> (Vec<MapLine>, Issues) {
    // About 70 bytes a line (see `read_smaps`).
    let mut maps = Vec::with_capacity((bytes.len() / 70).min(4096));
    let mut issues = Issues::default();
    for (number, line) in lines(bytes) {
        match parse_line_with(line, path) {
            Ok(m) => maps.push(m),
            Err(message) => issues.push(LineIssue {
                line: number,
                message,
            }),
        }
    }
    (maps, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_backed_line() {
        let m =
            parse_line(b"00008000-000f0000 r-xp 00000000 1f:04 16         /bin/busybox").unwrap();
        assert_eq!(m.size(), 0xe8000);
        assert!(m.perms.exec && !m.perms.write && !m.perms.shared);
        assert_eq!((m.dev_major, m.dev_minor, m.inode), (0x1f, 4, 16));
        assert_eq!(m.path.as_deref(), Some("/bin/busybox"));
        assert!(!m.is_anonymous());
    }

    #[test]
    fn anonymous_with_and_without_trailing_space() {
        for line in [
            &b"b6e6f000-b6e72000 rw-p 00000000 00:00 0 "[..],
            b"b6e6f000-b6e72000 rw-p 00000000 00:00 0",
            b"b6e6f000-b6e72000 rw-p 00000000 00:00 0\r",
        ] {
            let m = parse_line(trim_end(line)).unwrap();
            assert_eq!(m.path, None);
            assert!(m.is_anonymous());
        }
    }

    #[test]
    fn odd_names_survive() {
        let m = parse_line(b"7f00-8f00 rw-s 00000000 00:04 32769 /SYSV0000abab (deleted)").unwrap();
        assert_eq!(m.path.as_deref(), Some("/SYSV0000abab (deleted)"));
        let m = parse_line(b"7f00-8f00 rw-p 00000000 00:00 0 [anon:dalvik-main space]").unwrap();
        assert_eq!(m.path.as_deref(), Some("[anon:dalvik-main space]"));
        assert!(m.is_anonymous());
        let m = parse_line(b"7f00-8f00 rw-p 00000000 08:01 12 /opt/my app/lib.so").unwrap();
        assert_eq!(m.path.as_deref(), Some("/opt/my app/lib.so"));
    }

    /// Every line the one-pass reader takes, the field-by-field one reads alike: odd spacing,
    /// odd numbers and the real captures' maps files.
    #[test]
    fn the_kernel_layout_reads_as_any_shape_does() {
        let mut lines: Vec<Vec<u8>> = [
            "00008000-000f0000 r-xp 00000000 1f:04 16         /bin/busybox",
            "b6e6f000-b6e72000 rw-p 00000000 00:00 0 ",
            "b6e6f000-b6e72000 rw-p 00000000 00:00 0",
            "7f00-8f00 rw-s 00000000 00:04 32769 /SYSV0000abab (deleted)",
            "7f00-8f00 rw-p 00000000 00:00 0 [anon:dalvik-main space]",
            "ffffffffffffffff-ffffffffffffffff rw-p 0 0:0 0",
            "1ffffffffffffffff-2 rw-p 0 0:0 0",
            "2-1 rw-p 0 00:00 0",
            "1-2 rw-p 0 100000000:00 0",
            "1-2 rw-p 0 00:ffffffff 9999999999999999999 x",
            "1-2 rw-p 0 00:00 18446744073709551615",
            "1-2 rw-p 0 00:00 +5",
            "1-2 rw-p 0 00:00 5x",
            "1-2 rw-p 0 00:00 5\t/a",
            "1-2  rw-p 0 00:00 5 /a",
            " 1-2 rw-p 0 00:00 5 /a",
            "1-2 rw-P 0 00:00 5 /a",
            "1-2 rw-p 0 00:00 5 /a b  ",
            "1-2 rw-p 0 00:00 5 \t/a",
            "1-2 rwxs 0x1 00:00 5",
            "1-2 rwxs 1 00:00",
            "1-2 rwxs 1 00:00 ",
            "A-B ---p 0 0a:0B 0 [stack]",
            "-1 rw-p 0 00:00 0",
        ]
        .iter()
        .map(|l| l.as_bytes().to_vec())
        .collect();
        for (_, bytes) in super::super::real_fixtures::files_named("maps") {
            lines.extend(bytes.split(|&c| c == b'\n').map(<[u8]>::to_vec));
        }
        let mut taken = 0;
        for line in &lines {
            if let Some(fast) = header_as_the_kernel_writes_it(line) {
                assert_eq!(Ok(fast), header_of_any_shape(line), "{line:?}");
                taken += 1;
            }
        }
        assert!(taken > 1000, "{taken} lines taken of {}", lines.len());
    }

    #[test]
    fn bad_lines_are_reported_with_numbers() {
        let (maps, issues) = parse_maps(
            b"00008000-00009000 r-xp 00000000 1f:04 16 /a\ngarbage\n9000-8000 rw-p 0 00:00 0\n",
        );
        assert_eq!(maps.len(), 1);
        assert_eq!(issues.len(), 2);
        assert_eq!(issues.unlisted(), 0);
        assert_eq!(issues[0].line, 2);
        assert_eq!(issues[1].line, 3);
        assert!(issues[1].message.contains("below start"));
    }

    #[test]
    fn overflowing_numbers_are_errors_not_panics() {
        assert!(parse_line(b"11111111111111111-2 rw-p 0 00:00 0").is_err());
        assert!(parse_line(b"1-2 rw-p 0 00:00 99999999999999999999999").is_err());
        assert!(parse_line(b"1-2 rw-p 0 fffffffff:00 0").is_err());
    }

    #[test]
    fn bad_lines_past_ten_are_counted_not_listed() {
        let junk = "not a maps line\n".repeat(25);
        let (maps, issues) = parse_maps(junk.as_bytes());
        assert!(maps.is_empty());
        assert_eq!((issues.len(), issues.unlisted()), (25, 15));
        assert_eq!(
            issues.iter().map(|i| i.line).collect::<Vec<_>>(),
            (1..=10).collect::<Vec<_>>()
        );
    }
}
