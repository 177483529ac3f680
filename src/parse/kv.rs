//! The `Key: value [kB]` shape shared by meminfo, status and the smaps field lines.
//!
//! These two functions run once per smaps field line (about 20 per mapping), which made them
//! the largest cost of reading a fleet-sized snapshot (callgrind: 44% of all instructions went
//! to `split_key_value`, mostly Unicode trimming and UTF-8 checks). Kernel files are ASCII, so
//! each has a byte-level fast path for ASCII input that gives exactly what the general
//! (Unicode-aware) path gives; anything unusual takes the general path, so odd input behaves as
//! it always did.

use super::lines::lines;

/// The characters `str::trim` removes, restricted to ASCII (Unicode White_Space ∩ ASCII).
fn is_ascii_white(c: u8) -> bool {
    matches!(c, b'\t'..=b'\r' | b' ')
}

fn trim_ascii_white(bytes: &[u8]) -> &[u8] {
    // smaps pads every value to a column with a dozen spaces or more: skip them eight at a
    // time (one 64-bit compare) before the byte-wise scan that finds where they end.
    let mut spaces = 0;
    while bytes.get(spaces..spaces + 8) == Some(b"        ") {
        spaces += 8;
    }
    let bytes = &bytes[spaces..];
    let start = bytes
        .iter()
        .position(|&c| !is_ascii_white(c))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&c| !is_ascii_white(c))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// Splits a `Key: value` line. The key must be non-empty and free of spaces (meminfo has
/// `Active(anon)` and `Inactive(file)`, which are fine).
pub fn split_key_value(line: &[u8]) -> Option<(&str, &str)> {
    split_key_rest(line).map(|(key, rest)| (key, trim_value(rest)))
}

/// [`split_key_value`] with the value not yet trimmed: `trim_value` of the rest is the value.
/// smaps uses half its field lines (VmFlags, Referenced, ...) only as `Key: value` lines, and
/// trimming their values (a dozen spaces each) was most of the cost of splitting them.
///
/// The fast path reads the key once, stopping at the colon or at the first byte that is not
/// printable non-space ASCII, and checks only the rest for ASCII: it used to check the whole
/// line for ASCII, search it for the colon and scan the key again (docs/performance.md).
pub fn split_key_rest(line: &[u8]) -> Option<(&str, &str)> {
    let colon = key_end(line);
    if colon > 0 && line.get(colon) == Some(&b':') {
        let rest = &line[colon + 1..];
        if rest.is_ascii() {
            // SAFETY: the key is printable ASCII (checked by the scan) and the rest ASCII
            // (checked above); ASCII is valid UTF-8. Checking again with `from_utf8` cost 14%
            // of a fleet-sized analysis.
            return Some(unsafe {
                (
                    std::str::from_utf8_unchecked(&line[..colon]),
                    std::str::from_utf8_unchecked(rest),
                )
            });
        }
    }
    // Trimmed by `str::trim` already; `trim_value` leaves it as it is.
    split_key_value_general(line)
}

/// Where the key of a `Key: value` line ends: the first byte that is `:` or not printable
/// non-space ASCII, or the line's length. Eight bytes at a time: this runs for every line of
/// smaps, and a byte loop with its two tests was a tenth of a report's instructions.
#[inline(always)]
pub fn key_end(line: &[u8]) -> usize {
    let mut at = 0;
    while let Some(word) = line.get(at..at + 8) {
        let stops = key_stops(u64::from_le_bytes(word.try_into().expect("eight bytes")));
        if stops != 0 {
            return at + stops.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    line[at..]
        .iter()
        .position(|&c| c == b':' || !c.is_ascii_graphic())
        .map_or(line.len(), |i| at + i)
}

/// The high bit of each byte of `word` (little-endian order) that ends a key: `:`, or not
/// printable non-space ASCII (below `!`, `DEL`, or any byte from 0x80). Byte-wise sums of the
/// low seven bits cannot carry into the next byte, so every byte is judged alone.
#[inline(always)]
fn key_stops(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = !LOW7;
    let each = |byte: u8| u64::from_le_bytes([byte; 8]);
    let low = word & LOW7;
    let at_least_bang = (low + each(0x80 - b'!')) & HIGH;
    let is_del = (low + each(1)) & HIGH;
    let printable = at_least_bang & !is_del & !word;
    let colon = word ^ each(b':');
    let is_colon = !(((colon & LOW7) + LOW7) | colon) & HIGH;
    (!printable | is_colon) & HIGH
}

/// The value in the rest of a `Key: value` line ([`split_key_rest`]): without the ASCII
/// whitespace around it.
pub fn trim_value(rest: &str) -> &str {
    let value = trim_ascii_white(rest.as_bytes());
    // SAFETY: only ASCII bytes were cut from the ends of a `str`: what is left is whole
    // characters.
    unsafe { std::str::from_utf8_unchecked(value) }
}

fn split_key_value_general(line: &[u8]) -> Option<(&str, &str)> {
    let line = std::str::from_utf8(line).ok()?;
    let (key, value) = line.split_once(':')?;
    let key = key.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    Some((key, value.trim()))
}

/// Reads a value such as `"12444 kB"` as bytes, or a bare number (`HugePages_Total: 0`) as is.
pub fn value_bytes(value: &str) -> Option<u64> {
    value_bytes_ascii(value.as_bytes()).unwrap_or_else(|| value_bytes_general(value))
}

/// The common shapes, `digits` and `digits kB` (and what follows `kB` after whitespace, which
/// the general path ignores too). `None` means "not decided here": take the general path.
fn value_bytes_ascii(value: &[u8]) -> Option<Option<u64>> {
    let value = trim_ascii_white(value);
    let digits = value.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None; // signs, other shapes, or possible overflow: let `parse` decide
    }
    let number: u64 = value[..digits]
        .iter()
        .fold(0, |n, &c| n * 10 + u64::from(c - b'0'));
    let rest = &value[digits..];
    if rest.is_empty() {
        return Some(Some(number));
    }
    if !is_ascii_white(rest[0]) {
        return None;
    }
    let unit = trim_ascii_white(rest);
    let unit_end = unit
        .iter()
        .position(|&c| is_ascii_white(c))
        .unwrap_or(unit.len());
    if unit_end == unit.len() || unit[unit_end..].is_ascii() {
        if unit[..unit_end].eq_ignore_ascii_case(b"kB") {
            return Some(number.checked_mul(1024));
        }
        if unit[..unit_end].is_ascii() {
            return Some(None);
        }
    }
    None
}

fn value_bytes_general(value: &str) -> Option<u64> {
    let mut parts = value.split_whitespace();
    let number: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        None => Some(number),
        Some(unit) if unit.eq_ignore_ascii_case("kB") => number.checked_mul(1024),
        Some(_) => None,
    }
}

/// Every `Key: value` line of a file, with its line number, skipping lines of other shapes.
pub fn key_values(bytes: &[u8]) -> impl Iterator<Item = (usize, &str, &str)> {
    lines(bytes).filter_map(|(n, l)| split_key_value(l).map(|(k, v)| (n, k, v)))
}

/// [`key_values`] with each value untrimmed (`trim_value` of it is the value), for readers that
/// use few of a file's values: trimming all of status's 55 was most of reading it.
pub fn key_rests(bytes: &[u8]) -> impl Iterator<Item = (usize, &str, &str)> {
    lines(bytes).filter_map(|(n, l)| split_key_rest(l).map(|(k, rest)| (n, k, rest)))
}

/// The first key that appears twice in a `Key: value` file (meminfo, status, vmstat-like
/// files), as the line of its second appearance and a message naming both. A kernel writes
/// each key once; with two, whichever a reader keeps is a guess, and a guess can flip a
/// verdict, so callers refuse the file.
pub fn first_duplicate_key(bytes: &[u8]) -> Option<(usize, String)> {
    // foldhash, not SipHash: this runs for every status file of a snapshot (~55 keys each).
    let mut first_line = foldhash::HashMap::with_capacity_and_hasher(64, Default::default());
    for (line, key, _) in key_rests(bytes) {
        if let Some(first) = first_line.insert(key, line) {
            return Some((
                line,
                format!("{key} appears twice (first on line {first}): which value is the kernel's is unknowable"),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_is_found_with_both_lines() {
        assert_eq!(
            first_duplicate_key(b"MemTotal: 1 kB\nMemFree: 1 kB\n"),
            None
        );
        let (line, message) =
            first_duplicate_key(b"MemTotal: 1 kB\nMemFree: 1 kB\nMemTotal: 9 kB\n").unwrap();
        assert_eq!(line, 3);
        assert!(
            message.starts_with("MemTotal appears twice (first on line 1)"),
            "{message}"
        );
    }

    #[test]
    fn key_end_stops_where_a_byte_loop_stops() {
        let byte_loop = |line: &[u8]| {
            line.iter()
                .position(|&c| c == b':' || !c.is_ascii_graphic())
                .unwrap_or(line.len())
        };
        for stop in 0..=255u8 {
            for at in 0..20 {
                for filler in [b'a', b'~', b'!', b'9', b'_'] {
                    let mut line = [filler; 20];
                    line[at] = stop;
                    for len in [at + 1, 8, 16, 20] {
                        let line = &line[..len.max(at + 1)];
                        assert_eq!(
                            key_end(line),
                            byte_loop(line),
                            "{stop:#x} at {at} of {line:?}"
                        );
                    }
                }
            }
        }
    }

    /// The fast paths must agree with the general ones on every shape, odd ones included.
    #[test]
    fn fast_paths_agree_with_the_general_ones() {
        let lines: &[&[u8]] = &[
            b"Rss:                 252 kB",
            b"VmFlags: rd ex mr mw me dw ",
            b"Name:\tweird: name",
            b"  Pss: 4 kB",
            b"Key with space: 1",
            b": 5",
            b"NoColon 5",
            b"Active(anon):   12 kB\r",
            b"Size:\x0b 12 kB\x0b",
            b"Size: \xc2\xa012 kB",
            b"N\xc3\xa4me: x",
            b"Bad:\xff 1",
            b"Tab\tKey: 1",
            b"Rss: 4 kB \xff",
            b"R\xc3\xa4ss: 4 kB",
            b"Rss:",
            b":",
            b"Rss:                 252 kB        ",
            b"Rss:        \t        252 kB",
            b"Rss:                ",
        ];
        for line in lines {
            assert_eq!(
                split_key_value(line),
                split_key_value_general(line),
                "{:?}",
                String::from_utf8_lossy(line)
            );
        }
        let values = [
            "928 kB",
            "0",
            "12 KB",
            "12 kb",
            "12 MB",
            "12kB",
            "+12 kB",
            "-1",
            "",
            "kB",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999 kB",
            "18014398509481984 kB",
            "12 kB extra",
            "12 kBx",
            "12\u{a0}kB",
            "12 kB\u{a0}",
            " 7 ",
            "1.5 kB",
            "12\x0bkB",
            "                12 kB",
            "        ",
        ];
        for value in values {
            assert_eq!(value_bytes(value), value_bytes_general(value), "{value:?}");
        }
    }
}
