//! Verifiable captures (the shared capture contract 1). A capture writes, as its last file, a
//! `manifest` listing every other file it wrote, and says `manifest=1` in `meta`. A snapshot
//! that lost files on the way (an archive cut at an entry boundary, a directory copied in part)
//! then fails the comparison instead of being read as a smaller, healthier board.
//!
//! The sources (directory, archive) keep an [`Inventory`] of every regular file they find,
//! read or not, and check it when the walk is over: the manifest is about what the capture
//! wrote, not about which files this build understands.

use crate::error::{Error, Result};
use crate::parse::lines::lines;
use crate::parse::meta::parse_meta;
use std::collections::BTreeSet;

/// The snapshot-relative name of the manifest.
pub const MANIFEST: &str = "manifest";

/// No capture writes a `manifest` near this (a fleet capture of 100 000 files lists about
/// 3 MiB); a larger one is not a capture's.
pub const MAX_KEPT_BYTES: u64 = 16 << 20;

/// What a source found: every regular file's snapshot-relative path, and the two files the
/// check needs.
#[derive(Default)]
pub struct Inventory {
    /// Every path recorded, one after another, each ending where `name_ends` says: a `String`
    /// per file was an allocation for each of a fleet snapshot's 100 000 files, and only a
    /// manifest's check ever needs them as a set.
    names: String,
    name_ends: Vec<usize>,
    meta: Option<Vec<u8>>,
    manifest: Option<Vec<u8>>,
}

impl Inventory {
    /// Records a regular file (path after the wrapping directory is stripped, before smem's
    /// names are mapped). Returns whether the source must hand its bytes to [`Inventory::keep`].
    pub fn saw(&mut self, path: &str) -> bool {
        if path != MANIFEST {
            self.names.push_str(path);
            self.name_ends.push(self.names.len());
        }
        path == MANIFEST || path == "meta"
    }

    /// Keeps the bytes of `meta` or `manifest` for the check.
    pub fn keep(&mut self, path: &str, bytes: Vec<u8>) {
        match path {
            MANIFEST => self.manifest = Some(bytes),
            "meta" => self.meta = Some(bytes),
            _ => {}
        }
    }

    /// The paths recorded, as a set.
    fn files(&self) -> BTreeSet<&str> {
        let mut start = 0;
        self.name_ends
            .iter()
            .map(|&end| {
                let name = &self.names[start..end];
                start = end;
                name
            })
            .collect()
    }

    pub fn has_meta(&self) -> bool {
        self.meta.is_some()
    }

    /// Checks the files found against the manifest: required when `meta` says `manifest=1`,
    /// checked whenever present. `origin` names the snapshot in the error.
    pub fn check(&self, origin: &str) -> Result<()> {
        let promised = self
            .meta
            .as_deref()
            .and_then(|m| parse_meta(m).ok())
            .is_some_and(|m| m.get("manifest") == Some("1"));
        let Some(manifest) = &self.manifest else {
            if promised {
                return Err(Error::in_file(
                    origin,
                    "meta says the capture wrote a manifest (manifest=1), but there is none: the snapshot is incomplete (cut short?)",
                ));
            }
            return Ok(());
        };
        let file = format!("{origin}:{MANIFEST}");
        let listed =
            parse_manifest(manifest).map_err(|(line, m)| Error::at(&file, line, None, m))?;
        let files = self.files();
        let present = |listed: &&String| files.contains(listed.as_str());
        if let Some(missing) = listed.iter().find(|f| !present(f)) {
            return Err(Error::in_file(
                origin,
                format!(
                    "{missing} is listed in the manifest but not in the snapshot ({} of {} files present): the snapshot is incomplete",
                    listed.iter().filter(present).count(),
                    listed.len()
                ),
            ));
        }
        if let Some(extra) = files.iter().find(|f| !listed.contains(**f)) {
            return Err(Error::in_file(
                origin,
                format!("{extra} is in the snapshot but not in its manifest: files were added after the capture"),
            ));
        }
        Ok(())
    }
}

/// Reads a manifest: `format=1`, `files=N`, then N `file=PATH` lines. Errors carry the line.
pub fn parse_manifest(bytes: &[u8]) -> std::result::Result<BTreeSet<String>, (usize, String)> {
    let mut lines = lines(bytes)
        .map(|(n, l)| (n, String::from_utf8_lossy(l).into_owned()))
        .filter(|(_, l)| !l.trim().is_empty());
    let mut header = |key: &str| -> std::result::Result<(usize, String), (usize, String)> {
        let (n, line) = lines
            .next()
            .ok_or((1, format!("ends before its `{key}=` line")))?;
        let value = line
            .strip_prefix(key)
            .and_then(|r| r.strip_prefix('='))
            .ok_or((n, format!("expected `{key}=`, found {line:?}")))?;
        Ok((n, value.to_string()))
    };
    let (n, format) = header("format")?;
    if format != "1" {
        return Err((n, format!("manifest format {format:?} is not 1")));
    }
    let (count_line, count) = header("files")?;
    let count: usize = count
        .parse()
        .map_err(|_| (count_line, format!("files={count:?} is not a count")))?;
    let mut files = BTreeSet::new();
    let mut last = count_line;
    for (n, line) in lines {
        last = n;
        let path = line
            .strip_prefix("file=")
            .ok_or((n, format!("expected `file=PATH`, found {line:?}")))?;
        if path == MANIFEST || !files.insert(path.to_string()) {
            return Err((
                n,
                format!("{path} listed twice (or the manifest lists itself)"),
            ));
        }
    }
    if files.len() != count {
        return Err((
            last,
            format!("says files={count} but lists {} files", files.len()),
        ));
    }
    Ok(files)
}

/// The manifest of a capture that wrote `files` (snapshot-relative paths, manifest excluded).
pub fn manifest_text<'a>(files: impl ExactSizeIterator<Item = &'a str>) -> String {
    let mut text = format!("format=1\nfiles={}\n", files.len());
    for file in files {
        text.push_str("file=");
        text.push_str(file);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inventory(files: &[&str], meta: &str, manifest: Option<&str>) -> Inventory {
        let mut inv = Inventory::default();
        for f in files {
            inv.saw(f);
        }
        inv.saw("meta");
        inv.keep("meta", meta.as_bytes().to_vec());
        if let Some(m) = manifest {
            inv.saw(MANIFEST);
            inv.keep(MANIFEST, m.as_bytes().to_vec());
        }
        inv
    }

    #[test]
    fn a_whole_capture_passes_and_a_cut_one_names_the_first_missing_file() {
        let text = manifest_text(["meta", "proc/1/maps", "proc/meminfo"].into_iter());
        assert_eq!(
            text,
            "format=1\nfiles=3\nfile=meta\nfile=proc/1/maps\nfile=proc/meminfo\n"
        );
        let whole = inventory(
            &["proc/1/maps", "proc/meminfo"],
            "manifest=1\n",
            Some(&text),
        );
        assert_eq!(whole.check("cap"), Ok(()));
        let cut = inventory(&["proc/meminfo"], "manifest=1\n", Some(&text));
        let err = cut.check("cap").unwrap_err().to_string();
        assert!(
            err.starts_with("cap: proc/1/maps is listed in the manifest but not in the snapshot (2 of 3 files present)"),
            "{err}"
        );
        let grown = inventory(
            &["proc/1/maps", "proc/meminfo", "proc/2/maps"],
            "",
            Some(&text),
        );
        let err = grown.check("cap").unwrap_err().to_string();
        assert!(
            err.starts_with("cap: proc/2/maps is in the snapshot but not"),
            "{err}"
        );
    }

    #[test]
    fn promised_manifest_must_be_there_and_well_formed() {
        let none = inventory(&["proc/meminfo"], "format=1\nmanifest=1\n", None);
        assert!(none
            .check("cap")
            .unwrap_err()
            .message
            .contains("there is none"));
        assert_eq!(
            inventory(&["proc/meminfo"], "format=1\n", None).check("cap"),
            Ok(())
        );
        let miscounted = inventory(&[], "", Some("format=1\nfiles=2\nfile=meta\n"));
        let err = miscounted.check("cap").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("files=2 but lists 1"), "{err}");
        assert_eq!(parse_manifest(b"format=2\n").unwrap_err().0, 1);
        assert_eq!(parse_manifest(b"format=1\nfiles=x\n").unwrap_err().0, 2);
        assert_eq!(
            parse_manifest(b"format=1\nfiles=2\nfile=a\nfile=a\n")
                .unwrap_err()
                .0,
            4
        );
    }
}
