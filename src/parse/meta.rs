//! The snapshot's `meta` file: `key=value` lines written by the capture.

use super::lines::lines;
use std::collections::BTreeMap;

/// The newest snapshot format this build reads. A newer one is refused rather than misread.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Meta {
    pub fields: BTreeMap<String, String>,
}

impl Meta {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// Capture time in unix seconds, used to order a series.
    pub fn time(&self) -> Option<f64> {
        self.get("time").and_then(|t| t.parse().ok())
    }

    /// PIDs the capture could not read (vanished or unreadable), comma or space separated.
    pub fn skipped(&self) -> Vec<u32> {
        self.get("skipped")
            .map(|s| {
                s.split([',', ' '])
                    .filter_map(|p| p.trim().parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Parses `meta`. Returns an error message (with the line) for a format newer than we read.
pub fn parse_meta(bytes: &[u8]) -> Result<Meta, (usize, String)> {
    let mut meta = Meta::default();
    for (number, line) in lines(bytes) {
        let line = String::from_utf8_lossy(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err((number, "expected key=value".into()));
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "format" {
            let version: u32 = value
                .parse()
                .map_err(|_| (number, format!("format {value:?} is not a version number")))?;
            if version > FORMAT_VERSION {
                return Err((
                    number,
                    format!(
                        "snapshot format {version} is newer than this membudget reads ({FORMAT_VERSION}); upgrade membudget"
                    ),
                ));
            }
        }
        if meta
            .fields
            .insert(key.to_string(), value.to_string())
            .is_some()
        {
            return Err((
                number,
                format!("{key} given twice: which value the capture meant is unknowable"),
            ));
        }
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_skipped() {
        let m = parse_meta(b"format=1\ntime=1700000000\nskipped=12,99\n").unwrap();
        assert_eq!(m.time(), Some(1_700_000_000.0));
        assert_eq!(m.skipped(), vec![12, 99]);
    }

    #[test]
    fn refuses_a_key_given_twice() {
        let err = parse_meta(b"format=1\nhost=a\ntime=1\nhost=b\n").unwrap_err();
        assert_eq!(err.0, 4);
        assert!(err.1.starts_with("host given twice"), "{}", err.1);
    }

    #[test]
    fn refuses_future_format() {
        let err = parse_meta(b"time=1\nformat=2\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.contains("newer"));
    }
}
