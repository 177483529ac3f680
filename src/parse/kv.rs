//! The `Key: value [kB]` shape shared by meminfo, status and the smaps field lines.

use super::maps::lines;

/// Splits a `Key: value` line. The key must be non-empty and free of spaces (meminfo has
/// `Active(anon)` and `Inactive(file)`, which are fine).
pub fn split_key_value(line: &[u8]) -> Option<(&str, &str)> {
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
