//! `/proc/PID/smaps` and `smaps_rollup`: a maps header line followed by `Key: N kB` fields.
//!
//! Old kernels (2.6.18, seen on a Hikvision DM365) have no `Pss`, `Anonymous` or `Swap` fields,
//! so those are optional: a report must say "no PSS" rather than print zero. `Rss` is optional
//! too: every kernel prints it, but a damaged or hand-trimmed capture may not, and a missing
//! figure must never count as 0 B resident.

use super::kv::{key_end, split_key_rest, trim_value, value_bytes};
use super::lines::lines;
use super::maps::{looks_like_header, parse_line_with, path_of, Issues, LineIssue, MapLine};
use std::sync::Arc;

/// The per-mapping figures of smaps, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SmapsFields {
    pub size: u64,
    pub rss: Option<u64>,
    pub pss: Option<u64>,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub anonymous: Option<u64>,
    pub swap: Option<u64>,
}

impl SmapsFields {
    /// Unique set size: pages no other process maps.
    pub fn uss(&self) -> u64 {
        self.private_clean + self.private_dirty
    }

    pub fn add(&mut self, other: &SmapsFields) {
        fn add_opt(a: &mut Option<u64>, b: Option<u64>) {
            *a = match (*a, b) {
                (Some(x), Some(y)) => Some(x + y),
                (x, y) => x.or(y),
            };
        }
        self.size += other.size;
        add_opt(&mut self.rss, other.rss);
        self.shared_clean += other.shared_clean;
        self.shared_dirty += other.shared_dirty;
        self.private_clean += other.private_clean;
        self.private_dirty += other.private_dirty;
        add_opt(&mut self.pss, other.pss);
        add_opt(&mut self.anonymous, other.anonymous);
        add_opt(&mut self.swap, other.swap);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmapsEntry {
    pub map: MapLine,
    pub fields: SmapsFields,
}

/// What smaps gives: its entries and the lines it skipped, or (`Err`) a field given twice in
/// one mapping, which leaves the mapping's true figure unknowable and refuses the file.
pub type ParsedSmaps = Result<(Vec<SmapsEntry>, Issues), LineIssue>;

/// Parses smaps or smaps_rollup. Unknown fields (VmFlags, THPeligible, ProtectionKey...) are
/// ignored; a malformed header or a field line before any header is an issue.
pub fn parse_smaps(bytes: &[u8]) -> ParsedSmaps {
    parse_smaps_with(bytes, &mut path_of)
}

/// [`parse_smaps`] with the mapping paths made by `path` from their bytes: the snapshot builder
/// hands out one shared copy per distinct path instead of a new allocation per mapping.
pub fn parse_smaps_with(bytes: &[u8], path: &mut dyn FnMut(&[u8]) -> Arc<str>) -> ParsedSmaps {
    // Kernel files are ASCII: then every line may take the fast path (`SmapsReader::field_line`).
    read_smaps(bytes, bytes.is_ascii(), path)
}

/// [`parse_smaps`] with every line through the general reader: what the fast path for field
/// lines must agree with (the fuzz target `smaps` compares the two on every ASCII input).
pub fn parse_smaps_generally(bytes: &[u8]) -> ParsedSmaps {
    read_smaps(bytes, false, &mut path_of)
}

/// The parse, with the fast path for field lines allowed or not (a test compares the two).
fn read_smaps(bytes: &[u8], fast: bool, path: &mut dyn FnMut(&[u8]) -> Arc<str>) -> ParsedSmaps {
    let mut reader = SmapsReader {
        // About 600 bytes a mapping on current kernels: the vector grows once or not at all
        // (its doublings were 3% of a report, copying). Capped, so that a big file of
        // something else reserves little.
        entries: Vec::with_capacity((bytes.len() / 600).min(4096)),
        ..SmapsReader::default()
    };
    for (number, line) in lines(bytes) {
        if !(fast && reader.field_line(number, line)?) {
            reader.any_line(number, line, path)?;
        }
    }
    Ok((reader.entries, reader.issues))
}

#[derive(Default)]
struct SmapsReader {
    entries: Vec<SmapsEntry>,
    issues: Issues,
    /// The fields of the current mapping already taken, one bit each (see `field`).
    taken: u16,
    /// After a bad header, its field lines belong to nothing: skip them quietly.
    in_bad_entry: bool,
    /// The kernel's field lines as the general reader took them, by their first 16 bytes: see
    /// [`SmapsReader::known_field_line`].
    learned: Vec<Learned>,
    /// Where in `learned` the next field line is expected: the kernel writes every mapping's
    /// fields in the same order.
    next_learned: usize,
}

/// A field line's first 16 bytes (`Rss:` and its padding), and the bit of the figure it sets
/// (see `field_bit`; 0 for a field that is not read, `Referenced` or `KernelPageSize`;
/// [`GENERAL`] for a key too long for the 16 bytes, `Private_Hugetlb:`, which only keeps
/// the line's place in the order).
struct Learned {
    key: u128,
    bit: u16,
}

/// The `bit` of a learned key whose lines the general reader takes.
const GENERAL: u16 = u16::MAX;

/// Field keys learned per file at most: a kernel writes about 25.
const MOST_LEARNED: usize = 32;

/// The kernel's field line: the key, its colon and spaces in 16 bytes, the figure
/// right-aligned in 8, then ` kB` (`SEQ_PUT_DEC` in fs/proc/task_mmu.c). Its first 16 bytes
/// and the 8 of the figure; `None` for any other shape.
#[inline(always)]
fn kernel_shaped(line: &[u8]) -> Option<(u128, u64)> {
    let line: &[u8; 27] = line.try_into().ok()?;
    if line[24..] != *b" kB" {
        return None;
    }
    let key = u128::from_le_bytes(line[..16].try_into().ok()?);
    let figure = u64::from_le_bytes(line[16..24].try_into().ok()?);
    Some((key, figure))
}

/// Eight bytes read as a number right-aligned in spaces (`     108`), eight at a time: at
/// least one digit, and nothing but spaces before them. `None` for anything else.
#[inline(always)]
fn right_aligned_digits(field: u64) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Little-endian: the first byte is the lowest. The leading spaces end at the first byte
    // that is not one; there must be such a byte.
    let spaces = (field ^ (ONES * b' ' as u64)).trailing_zeros() as usize / 8;
    if spaces == 8 {
        return None;
    }
    // The spaces become zeros ('0' is a space plus 0x10), then every byte must be a digit.
    let padding = (1u64 << (spaces * 8)) - 1;
    let digits = field.wrapping_add((ONES * 0x10) & padding);
    let values = digits.wrapping_sub(ONES * b'0' as u64);
    let not_digit = (values | values.wrapping_add(ONES * (0x80 - 10))) & (ONES * 0x80);
    if digits & (ONES * 0x80) != 0 || not_digit != 0 {
        return None;
    }
    // Pairs, then fours, then all eight (the first byte is the most significant digit).
    let pairs = (values * 10 + (values >> 8)) & 0x00ff_00ff_00ff_00ff;
    let fours = (pairs * 100 + (pairs >> 16)) & 0x0000_ffff_0000_ffff;
    Some((fours * 10_000 + (fours >> 32)) & 0xffff_ffff)
}

impl SmapsReader {
    /// The common field line of an ASCII file, `Key:` then a space or tab, recognised with one
    /// pass over the key and taken as [`SmapsReader::any_line`] takes it. Returns whether it
    /// was taken; anything else is left to `any_line`, which gives the same result for every
    /// line this one takes (the test `the_fast_path_agrees_with_the_general_one`).
    fn field_line(&mut self, number: usize, line: &[u8]) -> Result<bool, LineIssue> {
        if self.known_field_line(line) {
            return Ok(true);
        }
        let colon = key_end(line);
        if colon == 0 || line.get(colon) != Some(&b':') {
            return Ok(false);
        }
        let rest = &line[colon + 1..];
        if !matches!(rest.first(), None | Some(b' ' | b'\t')) {
            return Ok(false); // `Key:value-x` may be a header: `any_line` decides
        }
        // SAFETY: the caller checked the whole file is ASCII, which is UTF-8.
        let (key, rest) = unsafe {
            (
                std::str::from_utf8_unchecked(&line[..colon]),
                std::str::from_utf8_unchecked(rest),
            )
        };
        self.field(number, key, rest)?;
        self.learn(line, colon);
        Ok(true)
    }

    /// A field line whose first 16 bytes the general reader already took in this file, with
    /// its figure in the kernel's shape: taken as that reader takes it, for a compare of 16
    /// bytes and eight digits instead of finding the key and matching it (a field line cost
    /// about 150 instructions). Whether a line is a field, and which, depends only on its key,
    /// its colon and what follows the colon, all inside those 16 bytes (`learn` makes sure),
    /// and the figure is read as `kib_value` reads it. Returns whether it took the line;
    /// anything else (a field twice, no mapping yet) is left to the general reader, which
    /// says what is wrong.
    #[inline(always)]
    fn known_field_line(&mut self, line: &[u8]) -> bool {
        let Some((key, figure)) = kernel_shaped(line) else {
            return false;
        };
        let at = match self.learned.get(self.next_learned) {
            Some(learned) if learned.key == key => self.next_learned,
            // Past the last key learned: most likely a key still to learn (the file's first
            // mapping), which only the general reader can take.
            None => return false,
            Some(_) => match self.learned.iter().position(|l| l.key == key) {
                Some(at) => at,
                None => return false,
            },
        };
        let bit = self.learned[at].bit;
        self.next_learned = at + 1;
        if bit == GENERAL {
            return false;
        }
        if self.in_bad_entry {
            return true;
        }
        let Some(entry) = self.entries.last_mut() else {
            return false;
        };
        if bit != 0 {
            let Some(kib) = right_aligned_digits(figure) else {
                return false;
            };
            if self.taken & bit != 0 {
                return false;
            }
            self.taken |= bit;
            *field_target(&mut entry.fields, bit) = kib * 1024;
        }
        true
    }

    /// Remembers a field line the general reader took, when it is in the kernel's shape: as a
    /// key the fast path takes when its colon and the spaces after it lie inside its first 16
    /// bytes, else as one it leaves to the general reader.
    fn learn(&mut self, line: &[u8], colon: usize) {
        let Some((key, _)) = kernel_shaped(line) else {
            return;
        };
        if self.learned.len() >= MOST_LEARNED || self.learned.iter().any(|l| l.key == key) {
            return;
        }
        let padded = colon < 15 && line[colon + 1..16].iter().all(|&c| c == b' ');
        // SAFETY: the caller checked the whole file is ASCII, which is UTF-8.
        let name = unsafe { std::str::from_utf8_unchecked(&line[..colon]) };
        let bit = match padded {
            true => field_bit(name).unwrap_or(0),
            false => GENERAL,
        };
        self.learned.push(Learned { key, bit });
        self.next_learned = self.learned.len();
    }

    /// Any line, read as a mapping header or a `Key: value` field line.
    fn any_line(
        &mut self,
        number: usize,
        line: &[u8],
        path: &mut dyn FnMut(&[u8]) -> Arc<str>,
    ) -> Result<(), LineIssue> {
        if looks_like_header(line) {
            match parse_line_with(line, path) {
                Ok(map) => {
                    self.entries.push(SmapsEntry {
                        map,
                        fields: SmapsFields::default(),
                    });
                    self.in_bad_entry = false;
                    self.taken = 0;
                    self.next_learned = 0;
                }
                Err(message) => {
                    self.issues.push(LineIssue {
                        line: number,
                        message,
                    });
                    self.in_bad_entry = true;
                }
            }
            return Ok(());
        }
        let Some((key, rest)) = split_key_rest(line) else {
            self.issues.push(LineIssue {
                line: number,
                message: "neither a mapping header nor a `Key: value` line".into(),
            });
            return Ok(());
        };
        self.field(number, key, rest)
    }

    /// Takes a `Key: value` line (`rest` untrimmed) into the current mapping. Inlined into the
    /// fast path: a call per field line cost 2 % of a report.
    #[inline(always)]
    fn field(&mut self, number: usize, key: &str, rest: &str) -> Result<(), LineIssue> {
        if self.in_bad_entry {
            return Ok(());
        }
        let Some(entry) = self.entries.last_mut() else {
            self.issues.push(LineIssue {
                line: number,
                message: format!("field {key} before any mapping header"),
            });
            return Ok(());
        };
        let Some((bit, target)) = field(&mut entry.fields, key) else {
            return Ok(());
        };
        if self.taken & bit != 0 {
            return Err(twice(number, key));
        }
        self.taken |= bit;
        // The kernel's own shape first: `value_bytes` of the trimmed value reads it alike, at
        // several times the cost (18 % more instructions in a whole report).
        match kib_value(rest.as_bytes()).or_else(|| value_bytes(trim_value(rest))) {
            Some(v) => *target = v,
            None => self.issues.push(LineIssue {
                line: number,
                message: format!("{key}: value {:?} is not a size in kB", trim_value(rest)),
            }),
        }
        Ok(())
    }
}

/// The bytes of `N kB` after spaces, as the kernel pads it (`Rss:   252 kB`); `None` for any
/// other shape, which `value_bytes` then reads.
fn kib_value(rest: &[u8]) -> Option<u64> {
    let mut at = 0;
    while rest.get(at..at + 8) == Some(b"        ") {
        at += 8;
    }
    while rest.get(at) == Some(&b' ') {
        at += 1;
    }
    let digits = rest.strip_suffix(b" kB")?.get(at..)?;
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut number = 0u64;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        number = number * 10 + u64::from(c - b'0');
    }
    number.checked_mul(1024)
}

fn twice(line: usize, key: &str) -> LineIssue {
    LineIssue {
        line,
        message: format!(
            "{key} given twice for one mapping: which value is the kernel's is unknowable"
        ),
    }
}

/// The figure a field line sets, and a bit that stands for the field.
fn field<'a>(fields: &'a mut SmapsFields, key: &str) -> Option<(u16, &'a mut u64)> {
    let bit = field_bit(key)?;
    Some((bit, field_target(fields, bit)))
}

/// The bit that stands for a field read, or `None` for a field that is not read.
fn field_bit(key: &str) -> Option<u16> {
    Some(match key {
        "Size" => 1,
        "Rss" => 1 << 1,
        "Shared_Clean" => 1 << 2,
        "Shared_Dirty" => 1 << 3,
        "Private_Clean" => 1 << 4,
        "Private_Dirty" => 1 << 5,
        "Pss" => 1 << 6,
        "Anonymous" => 1 << 7,
        "Swap" => 1 << 8,
        _ => return None,
    })
}

/// The figure that the field of `bit` (from `field_bit`) sets.
#[inline(always)]
fn field_target(fields: &mut SmapsFields, bit: u16) -> &mut u64 {
    match bit {
        1 => &mut fields.size,
        2 => fields.rss.get_or_insert(0),
        4 => &mut fields.shared_clean,
        8 => &mut fields.shared_dirty,
        16 => &mut fields.private_clean,
        32 => &mut fields.private_dirty,
        64 => fields.pss.get_or_insert(0),
        128 => fields.anonymous.get_or_insert(0),
        _ => fields.swap.get_or_insert(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_entries_with_fields() {
        let text = b"00008000-000f0000 r-xp 00000000 1f:04 16 /bin/busybox\nSize: 928 kB\nRss: 384 kB\nPss: 41 kB\nShared_Clean: 384 kB\nVmFlags: rd ex mr mw me dw\n000f1000-00112000 rw-p 00000000 00:00 0 [heap]\nSize: 132 kB\nRss: 8 kB\nPrivate_Dirty: 8 kB\nAnonymous: 8 kB\n";
        let (e, issues) = parse_smaps(text).unwrap();
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].fields.pss, Some(41 * 1024));
        assert_eq!(e[0].fields.shared_clean, 384 * 1024);
        assert_eq!(e[1].fields.uss(), 8 * 1024);
        assert_eq!(e[1].fields.anonymous, Some(8 * 1024));
        assert_eq!(e[1].fields.pss, None);
    }

    /// Odd field lines (non-ASCII or unusual whitespace, bad values, keys with `-` or spaces)
    /// keep the meaning they had before the ASCII fast paths of `kv`.
    #[test]
    fn odd_field_lines_keep_their_meaning() {
        let text = "00008000-000f0000 r-xp 00000000 1f:04 16 /bin/busybox\nSize:\u{a0}928 kB\nRss:\t 8 kB \nPss: 4 MB\nSwap:\nShared_Clean:\u{b}12 kB\nPrivate-Dirty: 4 kB\nKey:value-x\nAnon ymous: 4 kB\n";
        let (e, issues) = parse_smaps(text.as_bytes()).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].fields.size, 928 * 1024);
        assert_eq!(e[0].fields.rss, Some(8 * 1024));
        assert_eq!(e[0].fields.shared_clean, 12 * 1024);
        let lines: Vec<(usize, &str)> = issues
            .iter()
            .map(|i| (i.line, i.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (4, "Pss: value \"4 MB\" is not a size in kB"),
                (5, "Swap: value \"\" is not a size in kB"),
                (8, "bad start address"),
                (9, "neither a mapping header nor a `Key: value` line"),
            ]
        );
    }

    /// The eight-at-a-time reading of a right-aligned figure against a byte-by-byte one, for
    /// every field of these bytes (390,625 of them) and the bytes either side of the digits.
    #[test]
    fn right_aligned_digits_read_as_one_at_a_time() {
        let by_bytes = |field: &[u8; 8]| -> Option<u64> {
            let digits = field.iter().skip_while(|&&c| c == b' ');
            let mut figure = None;
            for &c in digits {
                if !c.is_ascii_digit() {
                    return None;
                }
                figure = Some(figure.unwrap_or(0) * 10 + u64::from(c - b'0'));
            }
            figure
        };
        let check = |field: [u8; 8]| {
            let fast = right_aligned_digits(u64::from_le_bytes(field));
            assert_eq!(
                fast,
                by_bytes(&field),
                "{:?}",
                String::from_utf8_lossy(&field)
            );
        };
        let alphabet = [b' ', b'0', b'7', b'9', b'x'];
        for n in 0..alphabet.len().pow(8) {
            let mut field = [0u8; 8];
            let mut rest = n;
            for byte in &mut field {
                *byte = alphabet[rest % alphabet.len()];
                rest /= alphabet.len();
            }
            check(field);
        }
        for odd in [
            b'/', b':', 0x1f, 0x2f, 0x3a, 0x7f, 0x80, 0xb0, 0xff, 0x00, b'\t',
        ] {
            for at in 0..8 {
                let mut field = *b"  123456";
                field[at] = odd;
                check(field);
                let mut field = *b"99999999";
                field[at] = odd;
                check(field);
            }
        }
        check(*b"99999999");
        check(*b"       0");
        check(*b"        ");
    }

    /// Field lines of every odd shape an ASCII file can hold, each put after a good header,
    /// after a bad one, before any, and twice: the fast path must take them as the general one
    /// does, and so must it for the real captures' smaps files.
    #[test]
    fn the_fast_path_agrees_with_the_general_one() {
        let odd = [
            "Size:                928 kB",
            "Rss: 4 kB",
            "Rss:\t 8 kB ",
            "Rss:\x0b8 kB",
            "Rss:",
            "Rss: ",
            "Rss:  kB",
            "Rss: 4 MB",
            "Rss: 4 KB",
            "Rss: 4 kb",
            "Rss: 4kB",
            "Rss: +4 kB",
            "Rss: -4 kB",
            "Rss: 4  kB",
            "Rss: 4 kB extra",
            "Rss: 4 kB  ",
            "Rss: 4",
            "Rss: 9999999999999999999 kB",
            "Rss: 99999999999999999999 kB",
            "Rss: 18014398509481984 kB",
            "Rss: 18014398509481983 kB",
            "Rss:4 kB",
            "Rss:-4 kB",
            "Rss:0-4 kB",
            "  Pss: 4 kB",
            "Pss : 4 kB",
            "Private-Dirty: 4 kB",
            "Key:value-x",
            "Anon ymous: 4 kB",
            ": 4 kB",
            "VmFlags: rd ex mr mw me dw ",
            "THPeligible:    0",
            "1000-2000 rw-p 00000000 00:00 0",
            "1000-2000 rw-p 00000000 00:00 0 [heap]",
            "2000-1000 rw-p 00000000 00:00 0",
            "ffff-fffff: 4 kB",
            // The kernel's shape (16 + 8 + ` kB`), which the fast path learns keys from, and
            // lines of 27 bytes that only look like it.
            "Rss:                 108 kB",
            "Rss:                1 8 kB",
            "Rss:            12345678 kB",
            "Rss:           123456789 kB",
            "Rss:                 108 MB",
            "Rss:                     kB",
            "Rss: x               108 kB",
            "Rss:\t                108 kB",
            "Pss:                   7 kB",
            "Swap:                  0 kB",
            "Referenced:          108 kB",
            "Referenced:          1x8 kB",
            "Shared_Hugetlb:        0 kB",
            "Private_Hugetlb:       0 kB",
            "Private_Hugetlb:      10 kB",
            "Anonymous:             4 kB",
        ];
        let header = "1000-2000 rw-p 00000000 00:00 0 /lib/x";
        let compare = |text: &str| {
            let general = parse_smaps_generally(text.as_bytes());
            let fast = read_smaps(text.as_bytes(), true, &mut path_of);
            assert_eq!(fast, general, "{text:?}");
        };
        // Every line after every other has taught its key: in the same mapping, in the next,
        // before any header and after a bad one.
        for teacher in odd {
            for line in odd {
                compare(&format!(
                    "{header}\n{teacher}\n{line}\n{header}\n{line}\n{line}\n"
                ));
                compare(&format!("{teacher}\n{line}\n{header}\n{line}\n"));
                compare(&format!(
                    "{header}\n{teacher}\ngarbage-x y\n{line}\n{header}\n{line}\n"
                ));
            }
        }
        for line in odd {
            compare(&format!("{line}\n{header}\nRss: 4 kB\n"));
            compare(&format!("{header}\n{line}\nPss: 1 kB\n"));
            compare(&format!("{header}\n{line}\n{line}\n"));
            compare(&format!("garbage-x y\n{line}\n{header}\n{line}\n"));
            compare(&format!(
                "{header}\nRss: 4 kB\nPss: 4 kB\nSize: 4 kB\n{line}"
            ));
        }
        let mut files = 0;
        for (_, bytes) in super::super::real_fixtures::files_named("smaps") {
            if bytes.is_ascii() {
                compare(&String::from_utf8(bytes).unwrap());
                files += 1;
            }
        }
        assert!(files >= 20, "{files} smaps files");
    }

    #[test]
    fn fields_before_header_are_issues() {
        let (e, issues) = parse_smaps(b"Rss: 4 kB\n").unwrap();
        assert!(e.is_empty());
        assert_eq!(issues.len(), 1);
    }

    #[test]
    fn a_field_twice_in_one_mapping_refuses_the_file() {
        let text = b"1000-2000 rw-p 0 00:00 0\nRss: 4 kB\n3000-4000 rw-p 0 00:00 0\nRss: 4 kB\nPss: 1 kB\nRss: 400 kB\n";
        let issue = parse_smaps(text).unwrap_err();
        assert_eq!(issue.line, 6);
        assert!(issue.message.starts_with("Rss given twice"), "{issue:?}");
    }
}
