//! One colour per budget line item and per class, the same in every report, diff and trend
//! page: a reviewer who learnt that brown is kernel static memory can trust it next time.

/// Colours of the line items the budget always has, and of the classes.
const FIXED: [(&str, &str); 17] = [
    ("carveouts", "#8c564b"),
    ("kernel_static", "#7f7f7f"),
    ("kernel_dynamic", "#bcbd22"),
    ("processes", "#1f77b4"),
    ("tmpfs", "#9467bd"),
    ("ramdisks", "#17becf"),
    ("min_free", "#e377c2"),
    ("reserves", "#ff7f0e"),
    ("headroom", "#2ca02c"),
    ("heap", "#6baed6"),
    ("stack", "#aec7e8"),
    ("thread_stack", "#ffbb78"),
    ("data", "#98df8a"),
    ("anon", "#c5b0d5"),
    ("code", "#c49c94"),
    ("rodata", "#f7b6d2"),
    ("shared_anon", "#dbdb8d"),
];

/// For keys added later (a new line item): picked by a hash of the key, so still the same
/// for that key everywhere, never by position.
const SPARE: [&str; 6] = [
    "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
];

/// The colour of a line item key or class name.
pub fn colour(key: &str) -> &'static str {
    FIXED
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, c)| *c)
        .unwrap_or_else(|| {
            // FNV-1a: stable across runs and platforms, unlike the std hasher.
            let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            });
            SPARE[(hash % SPARE.len() as u64) as usize]
        })
}

/// The overflow past RAM and the over-limit part of a bar.
pub const OVER: &str = "#d62728";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_fixed_per_key() {
        assert_eq!(colour("kernel_static"), "#7f7f7f");
        assert_eq!(colour("heap"), "#6baed6");
        assert_eq!(colour("zram"), colour("zram"));
        assert!(SPARE.contains(&colour("zram")));
    }
}
