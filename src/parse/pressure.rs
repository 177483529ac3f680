//! `/proc/pressure/memory` (PSI, kernel 4.20 and later): the share of wall time in which some
//! (or all) runnable tasks were stalled waiting for memory, averaged over 10, 60 and 300 s.
//! Only `avg10` is kept: it is the "now" of the snapshot.

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Pressure {
    /// Percent of the last 10 s in which at least one task stalled on memory.
    pub some_avg10: Option<f64>,
    /// Percent of the last 10 s in which every non-idle task stalled on memory.
    pub full_avg10: Option<f64>,
}

pub fn parse_pressure(bytes: &[u8]) -> Pressure {
    let mut out = Pressure::default();
    for line in String::from_utf8_lossy(bytes).lines() {
        let mut words = line.split_whitespace();
        let target = match words.next() {
            Some("some") => &mut out.some_avg10,
            Some("full") => &mut out.full_avg10,
            _ => continue,
        };
        *target = words
            .filter_map(|w| w.strip_prefix("avg10="))
            .find_map(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_lines() {
        let p = parse_pressure(
            b"some avg10=12.50 avg60=3.00 avg300=1.00 total=123\nfull avg10=0.40 avg60=0.10 avg300=0.00 total=9\n",
        );
        assert_eq!(p.some_avg10, Some(12.5));
        assert_eq!(p.full_avg10, Some(0.4));
        assert_eq!(parse_pressure(b"some avg10=NaN\n").some_avg10, None);
    }
}
