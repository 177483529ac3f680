//! Times as people and tools read them: ISO 8601 (RFC 3339) in UTC, whatever the machine's
//! time zone. The one formatter every report, diff and trend uses for a time it shows.
//!
//! humantime does this and nothing else (no dependencies, no time-zone database); `time` and
//! `jiff` would bring calendars and zones that a UTC stamp does not need.

use std::time::{Duration, UNIX_EPOCH};

/// `2026-12-02T15:24:51Z`, or with milliseconds when the time has a fraction
/// (`2026-12-02T15:24:51.742Z`: samples of a series taken every 500 ms must stay apart).
/// `None` for a time no calendar can show (negative, not finite, beyond year 9999).
pub fn iso8601(seconds_since_epoch: f64) -> Option<String> {
    if !seconds_since_epoch.is_finite() || !(0.0..253_402_300_800.0).contains(&seconds_since_epoch)
    {
        return None;
    }
    // Whole milliseconds, rounded: 0.742 s is not 0.741999... s.
    let millis = (seconds_since_epoch * 1000.0).round() as u64;
    let at = UNIX_EPOCH + Duration::from_millis(millis);
    Some(if millis % 1000 == 0 {
        humantime::format_rfc3339_seconds(at).to_string()
    } else {
        humantime::format_rfc3339_millis(at).to_string()
    })
}

/// A snapshot's `meta` time (`time=1796216454.742`) as ISO 8601; the raw text when it is not a
/// number, so that nothing the board wrote is hidden.
pub fn meta_time(raw: &str) -> String {
    raw.trim()
        .parse::<f64>()
        .ok()
        .and_then(iso8601)
        .unwrap_or_else(|| raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_become_utc_iso_8601() {
        // 1796216454 s = 20789 days + 46854 s: 2026-12-02 13:00:54.
        assert_eq!(
            iso8601(1_796_216_454.0).as_deref(),
            Some("2026-12-02T13:00:54Z")
        );
        assert_eq!(
            iso8601(1_796_216_454.742).as_deref(),
            Some("2026-12-02T13:00:54.742Z")
        );
        assert_eq!(iso8601(0.0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(iso8601(-1.0), None);
        assert_eq!(iso8601(f64::NAN), None);
        assert_eq!(meta_time("1700000000"), "2023-11-14T22:13:20Z");
        assert_eq!(meta_time("soon"), "soon");
    }
}
