//! `/proc/PID/smaps` and `smaps_rollup`: a maps header line followed by `Key: N kB` fields.
//!
//! Old kernels (2.6.18, seen on a Hikvision DM365) have no `Pss`, `Anonymous` or `Swap` fields,
//! so those are optional: a report must say "no PSS" rather than print zero. `Rss` is optional
//! too: every kernel prints it, but a damaged or hand-trimmed capture may not, and a missing
//! figure must never count as 0 B resident.

use super::kv::{split_key_rest, trim_value, value_bytes};
use super::maps::{lines, looks_like_header, parse_line, Issues, LineIssue, MapLine};

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
    let mut entries: Vec<SmapsEntry> = Vec::new();
    let mut issues = Issues::default();
    // The fields of the current mapping already taken, one bit each (see `field`).
    let mut taken = 0u16;
    // After a bad header, its field lines belong to nothing: skip them quietly.
    let mut in_bad_entry = false;
    for (number, line) in lines(bytes) {
        if looks_like_header(line) {
            match parse_line(line) {
                Ok(map) => {
                    entries.push(SmapsEntry {
                        map,
                        fields: SmapsFields::default(),
                    });
                    in_bad_entry = false;
                    taken = 0;
                }
                Err(message) => {
                    issues.push(LineIssue {
                        line: number,
                        message,
                    });
                    in_bad_entry = true;
                }
            }
            continue;
        }
        let Some((key, rest)) = split_key_rest(line) else {
            issues.push(LineIssue {
                line: number,
                message: "neither a mapping header nor a `Key: value` line".into(),
            });
            continue;
        };
        if in_bad_entry {
            continue;
        }
        let Some(entry) = entries.last_mut() else {
            issues.push(LineIssue {
                line: number,
                message: format!("field {key} before any mapping header"),
            });
            continue;
        };
        let Some((bit, target)) = field(&mut entry.fields, key) else {
            continue;
        };
        if taken & bit != 0 {
            return Err(LineIssue {
                line: number,
                message: format!(
                    "{key} given twice for one mapping: which value is the kernel's is unknowable"
                ),
            });
        }
        taken |= bit;
        let value = trim_value(rest);
        match value_bytes(value) {
            Some(v) => *target = v,
            None => issues.push(LineIssue {
                line: number,
                message: format!("{key}: value {value:?} is not a size in kB"),
            }),
        }
    }
    Ok((entries, issues))
}

/// The figure a field line sets, and a bit that stands for the field.
fn field<'a>(fields: &'a mut SmapsFields, key: &str) -> Option<(u16, &'a mut u64)> {
    Some(match key {
        "Size" => (1, &mut fields.size),
        "Rss" => (1 << 1, fields.rss.get_or_insert(0)),
        "Shared_Clean" => (1 << 2, &mut fields.shared_clean),
        "Shared_Dirty" => (1 << 3, &mut fields.shared_dirty),
        "Private_Clean" => (1 << 4, &mut fields.private_clean),
        "Private_Dirty" => (1 << 5, &mut fields.private_dirty),
        "Pss" => (1 << 6, fields.pss.get_or_insert(0)),
        "Anonymous" => (1 << 7, fields.anonymous.get_or_insert(0)),
        "Swap" => (1 << 8, fields.swap.get_or_insert(0)),
        _ => return None,
    })
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
