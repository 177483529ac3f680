//! `/proc/meminfo`: every field kept in bytes, in file order.

use super::kv::{key_values, value_bytes};
use super::maps::{Issues, LineIssue};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Meminfo {
    pub fields: BTreeMap<String, u64>,
}

impl Meminfo {
    pub fn get(&self, key: &str) -> Option<u64> {
        self.fields.get(key).copied()
    }
}

/// Parses meminfo; a line whose value is not a number is an issue, not a failure.
pub fn parse_meminfo(bytes: &[u8]) -> (Meminfo, Issues) {
    let mut meminfo = Meminfo::default();
    let mut issues = Issues::default();
    let mut seen_lines = 0;
    for (line, key, value) in key_values(bytes) {
        seen_lines += 1;
        match value_bytes(value) {
            Some(v) => {
                meminfo.fields.insert(key.to_string(), v);
            }
            None => issues.push(LineIssue {
                line,
                message: format!("{key}: value {value:?} is not a size in kB"),
            }),
        }
    }
    if seen_lines == 0 && !bytes.is_empty() {
        issues.push(LineIssue {
            line: 1,
            message: "no `Key: value kB` lines: not a meminfo file".into(),
        });
    }
    (meminfo, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kb_as_bytes_and_bare_counts() {
        let (m, issues) = parse_meminfo(
            b"MemTotal:         252308 kB\nActive(anon):      17316 kB\nHugePages_Total:       0\n",
        );
        assert!(issues.is_empty());
        assert_eq!(m.get("MemTotal"), Some(252308 * 1024));
        assert_eq!(m.get("Active(anon)"), Some(17316 * 1024));
        assert_eq!(m.get("HugePages_Total"), Some(0));
    }

    #[test]
    fn bad_values_are_issues() {
        let (m, issues) = parse_meminfo(b"MemTotal: lots kB\nMemFree: 1 kB\n");
        assert_eq!(m.get("MemFree"), Some(1024));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].line, 1);
    }
}
