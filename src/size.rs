//! Sizes as people write them in profiles and on the command line, and as reports print them.
//!
//! Memory sizes on boards are always binary: `64M` on a kernel command line means 64 MiB, and the
//! kernel's own `kB` is KiB. So every unit here is a power of two, whatever its spelling.

use humansize::{format_size, BINARY};

/// Parses `"64MiB"`, `"64M"`, `"64 MB"`, `"512k"`, `"1.5GiB"`, `"4096"` (bytes) into bytes.
/// Every unit is binary. Returns a message saying what was expected on failure.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "expected a size like \"64MiB\", \"512KiB\" or a number of bytes, got {text:?}"
        ));
    }
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {text:?} (use B, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    let bytes = if num.contains('.') {
        let value: f64 = num
            .parse()
            .map_err(|_| format!("{num:?} is not a number in size {text:?}"))?;
        let bytes = value * multiplier as f64;
        if !bytes.is_finite() || bytes >= u64::MAX as f64 {
            return Err(format!("size {text:?} is too large"));
        }
        bytes.round() as u64
    } else {
        let value: u64 = num
            .parse()
            .map_err(|_| format!("size {text:?} is too large"))?;
        value
            .checked_mul(multiplier)
            .ok_or_else(|| format!("size {text:?} is too large"))?
    };
    Ok(bytes)
}

/// Human form for reports: `"63.5 MiB"`. Exact bytes are available with `--bytes`.
pub fn human(bytes: u64) -> String {
    format_size(bytes, BINARY)
}

/// Human form of a signed quantity (deltas, negative headroom).
pub fn human_signed(bytes: i64) -> String {
    if bytes < 0 {
        format!("-{}", human(bytes.unsigned_abs()))
    } else {
        human(bytes as u64)
    }
}

/// A change: `+1 MiB`, `-308 KiB`, `0 B`. The sign is always there on a nonzero change, so
/// growth never reads like a size.
pub fn human_delta(bytes: i64) -> String {
    if bytes > 0 {
        format!("+{}", human(bytes as u64))
    } else {
        human_signed(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_units_in_every_spelling() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64 MB"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("1 kB"), Ok(1024));
    }

    #[test]
    fn rejects_nonsense_and_overflow() {
        assert!(parse_size("").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("17000000TiB").is_err());
        assert!(parse_size("-5M").is_err());
    }

    #[test]
    fn human_is_binary() {
        assert_eq!(human(64 << 20), "64 MiB");
        assert_eq!(human_signed(-(1 << 20)), "-1 MiB");
        assert_eq!(human_delta(1 << 20), "+1 MiB");
        assert_eq!(human_delta(0), "0 B");
    }
}
