//! `/proc/PID/maps` and the header lines of `smaps`: `start-end perms offset dev inode [path]`.
//!
//! Our own byte parser rather than procfs's, because real captures break strict parsers:
//! `[anon:...]` names, `/SYSV00000000 (deleted)`, `[stack:TID]`, paths with spaces, anonymous
//! lines without the trailing space, CRLF line ends, and non-UTF-8 paths. A bad line is reported
//! with its number and skipped, so one corrupt line does not lose a whole process.

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
    pub path: Option<std::sync::Arc<str>>,
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

fn hex(field: &[u8]) -> Option<u64> {
    if field.is_empty() || field.len() > 16 {
        return None;
    }
    let mut value: u64 = 0;
    for &c in field {
        let digit = (c as char).to_digit(16)? as u64;
        value = (value << 4) | digit;
    }
    Some(value)
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
    let inode: u64 = std::str::from_utf8(inode)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or("bad inode")?;
    let path = trim_end(trim_start(rest));
    let path = if path.is_empty() {
        None
    } else {
        Some(std::sync::Arc::from(String::from_utf8_lossy(path)))
    };
    Ok(MapLine {
        start,
        end,
        perms,
        offset,
        dev_major,
        dev_minor,
        inode,
        path,
    })
}

/// Splits bytes into lines, tolerating CRLF and a missing final newline. Newlines are found
/// with `memchr` (SIMD), since every byte of a snapshot passes through here.
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let text = rest?;
        match memchr::memchr(b'\n', text) {
            Some(i) => {
                rest = Some(&text[i + 1..]);
                Some(&text[..i])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
    .enumerate()
    .map(|(i, l)| (i + 1, l.strip_suffix(b"\r").unwrap_or(l)))
    .filter(|(_, l)| !l.iter().all(|c| c.is_ascii_whitespace()))
}

/// Parses a whole maps file. Bad lines come back as issues; the good ones still count.
pub fn parse_maps(bytes: &[u8]) -> (Vec<MapLine>, Issues) {
    let mut maps = Vec::new();
    let mut issues = Issues::default();
    for (number, line) in lines(bytes) {
        match parse_line(line) {
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
