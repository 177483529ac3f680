//! What must hold of a snapshot's mappings before anything is summed. Accounting adds with
//! saturation so that it can never panic, but a saturated sum is a wrong number, and a wrong
//! number must never reach a verdict (a diff once printed `demand -32612353 (32612352 ->
//! 18446744073709551615)` and passed `--fail-above`). So the builder refuses, naming the file:
//! - overlapping or repeated mappings in one process (the kernel never lists them; summed, the
//!   same memory counted twice or more),
//! - mappings whose sizes, over the whole snapshot, add up past [`MAX_TOTAL`] under any measure.
//!
//! With both excluded, every sum accounting forms (a subset of these totals) fits in a `u64`,
//! with room to spare for the kernel's figures the budget adds to it.

/// 4 EiB. No Linux process can address more than 2^57 bytes (5-level paging), so reaching
/// this takes tens of thousands of processes each mapping a whole 57-bit space: a snapshot
/// past it is hostile or corrupt. A quarter of `u64::MAX`, so the budget can add kernel figures.
pub const MAX_TOTAL: u64 = 1 << 62;

use crate::model::Mappings;

/// Every mapping's figures summed over the snapshot, wide enough never to overflow.
#[derive(Debug, Default)]
pub struct Totals {
    virtual_size: u128,
    rss: u128,
    pss: u128,
    swap: u128,
}

impl Totals {
    /// Adds one process's mappings; the measure whose total passed [`MAX_TOTAL`], if any.
    pub fn add(&mut self, mappings: &Mappings) -> Option<&'static str> {
        for m in mappings {
            self.virtual_size += u128::from(m.map.size());
            if let Some(s) = m.smaps {
                self.rss += u128::from(s.rss);
                self.pss += u128::from(s.pss.unwrap_or(0));
                self.swap += u128::from(s.swap.unwrap_or(0));
            }
        }
        let max = u128::from(MAX_TOTAL);
        [
            ("virtual size", self.virtual_size),
            ("Rss", self.rss),
            ("Pss", self.pss),
            ("Swap", self.swap),
        ]
        .into_iter()
        .find(|(_, total)| *total > max)
        .map(|(name, _)| name)
    }
}

/// The first two mappings of one process that overlap (or repeat), as `start-end` texts.
pub fn first_overlap(mappings: &Mappings) -> Option<(String, String)> {
    let mut ranges: Vec<(u64, u64)> = mappings.iter().map(|m| (m.map.start, m.map.end)).collect();
    // The kernel lists mappings in address order: sorting is then one pass over a sorted run.
    ranges.sort_unstable();
    ranges.windows(2).find(|w| w[1].0 < w[0].1).map(|w| {
        let show = |(start, end): (u64, u64)| format!("{start:x}-{end:x}");
        (show(w[0]), show(w[1]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Interner, Mapping};
    use crate::parse::maps::parse_maps;

    fn mappings(text: &str) -> Mappings {
        let (lines, issues) = parse_maps(text.as_bytes());
        assert!(issues.is_empty(), "{issues:?}");
        Mappings::pack(
            lines.into_iter().map(|map| Mapping { map, smaps: None }),
            &mut Interner::default(),
        )
    }

    #[test]
    fn overlaps_and_repeats_are_found_adjacent_ones_are_not() {
        let fine = "1000-2000 r-xp 0 1f:04 16 /a\n2000-3000 rw-p 0 00:00 0\n";
        assert_eq!(first_overlap(&mappings(fine)), None);
        let repeated = "1000-2000 r-xp 0 1f:04 16 /a\n5000-6000 rw-p 0 00:00 0\n1000-2000 r-xp 0 1f:04 16 /a\n";
        assert_eq!(
            first_overlap(&mappings(repeated)),
            Some(("1000-2000".into(), "1000-2000".into()))
        );
        let overlapping = "1000-3000 rw-p 0 00:00 0\n2000-4000 rw-p 0 00:00 0\n";
        assert_eq!(
            first_overlap(&mappings(overlapping)),
            Some(("1000-3000".into(), "2000-4000".into()))
        );
    }

    #[test]
    fn totals_stop_at_4_eib() {
        let mut totals = Totals::default();
        assert_eq!(
            totals.add(&mappings("0-4000000000000000 rw-p 0 00:00 0\n")),
            None
        );
        assert_eq!(
            totals.add(&mappings("0-1 rw-p 0 00:00 0\n")),
            Some("virtual size")
        );
        let whole = mappings("0-ffffffffffffffff rw-p 0 00:00 0\n");
        assert_eq!(Totals::default().add(&whole), Some("virtual size"));
    }
}
