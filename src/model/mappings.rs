//! A process's mappings, packed into bytes.
//!
//! A snapshot holds every mapping of every process until accounting, and a fleet-sized one has
//! hundreds of thousands of them (728k in a 500 MB capture). As plain structs (`MapLine` plus
//! `Option<SmapsFields>`, with a `String` path each) they cost about 250 bytes apiece, which made
//! the model, not the input, the ceiling on memory. Packed, a mapping costs 20-30 bytes: most of
//! its numbers are small once written as LEB128 varints (the gap to the previous mapping and the
//! size in pages, smaps figures in kB, a per-process index for the path), and a path is stored
//! once per process as a shared `Arc<str>`.
//!
//! The packing is lossless for every input the parsers accept, including hostile ones (addresses
//! out of order, sizes not in pages, smaps figures not in whole kB): when a number does not fit
//! the compact unit, the mapping says so in its flags and stores bytes.

use crate::parse::maps::{MapLine, Perms};
use crate::parse::smaps::SmapsFields;
use foldhash::{HashMap, HashMapExt, HashSet};
use std::sync::Arc;

/// One mapping as accounting sees it: the maps line, and its smaps figures when there were any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub map: MapLine,
    pub smaps: Option<SmapsFields>,
}

const PAGE: u64 = 4096;
const KIB: u64 = 1024;

// Flag bits of a mapping's first byte.
const READ: u8 = 1;
const WRITE: u8 = 1 << 1;
const EXEC: u8 = 1 << 2;
const SHARED: u8 = 1 << 3;
const HAS_PATH: u8 = 1 << 4;
const HAS_SMAPS: u8 = 1 << 5;
/// The gap to the previous mapping, the size and the offset are stored in pages.
const IN_PAGES: u8 = 1 << 6;
/// The smaps figures are stored in kB (as the kernel prints them).
const SMAPS_IN_KIB: u8 = 1 << 7;

// Which optional smaps figures are present (a byte after the flags, when there are smaps).
const HAS_PSS: u8 = 1;
const HAS_ANONYMOUS: u8 = 1 << 1;
const HAS_SWAP: u8 = 1 << 2;
const HAS_RSS: u8 = 1 << 3;

/// The mappings of one process, in maps order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mappings {
    bytes: Vec<u8>,
    /// The distinct paths of this process; a mapping stores an index into it.
    paths: Vec<Arc<str>>,
    len: usize,
}

impl Mappings {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Decodes the mappings in order. Each is rebuilt on the fly: a path is a shared `Arc`,
    /// so this allocates nothing.
    pub fn iter(&self) -> MappingsIter<'_> {
        MappingsIter {
            mappings: self,
            at: 0,
            last_end: 0,
            left: self.len,
            paths: true,
        }
    }

    /// [`Mappings::iter`] with every `path` left `None`: for the checks that read only
    /// addresses and figures (overlaps, totals), which then share no `Arc` (two atomic
    /// operations per mapping).
    pub fn iter_without_paths(&self) -> MappingsIter<'_> {
        MappingsIter {
            paths: false,
            ..self.iter()
        }
    }

    /// Packs mappings, sharing their paths with every other process packed with `interner`.
    pub fn pack(mappings: impl IntoIterator<Item = Mapping>, interner: &mut Interner) -> Self {
        let mappings = mappings.into_iter();
        let mut packer = Packer::with_capacity(interner, mappings.size_hint().0);
        for mapping in mappings {
            packer.push(&mapping);
        }
        packer.finish()
    }

    /// Bytes held on the heap, for the performance notes and their test.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.paths.capacity() * std::mem::size_of::<Arc<str>>()
    }
}

impl<'a> IntoIterator for &'a Mappings {
    type Item = Mapping;
    type IntoIter = MappingsIter<'a>;

    fn into_iter(self) -> MappingsIter<'a> {
        self.iter()
    }
}

impl FromIterator<Mapping> for Mappings {
    fn from_iter<I: IntoIterator<Item = Mapping>>(iter: I) -> Self {
        Mappings::pack(iter, &mut Interner::default())
    }
}

/// One `Arc<str>` per distinct string: the same libc path in 2000 processes of a snapshot, or
/// the same command line in 500 samples of a series, is stored once. Hashed with foldhash,
/// seeded per process as std's SipHash is (the strings come from the input), at a fraction of
/// its cost: every mapping of a snapshot is looked up here.
#[derive(Debug, Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
    /// The last path [`Interner::intern_bytes`] gave: a library's mappings come one after
    /// another in maps, so most lookups end here without hashing.
    last_bytes: Option<Arc<str>>,
}

impl Interner {
    /// The shared copy of a path as a maps line has it, lossily decoded when not UTF-8. The
    /// parsers take this to make no copy of a path seen before.
    pub fn intern_bytes(&mut self, bytes: &[u8]) -> Arc<str> {
        if let Some(last) = &self.last_bytes {
            if last.as_bytes() == bytes {
                return Arc::clone(last);
            }
        }
        let shared = if bytes.is_ascii() {
            // SAFETY: ASCII is UTF-8. `is_ascii` reads a word at a time; `from_utf8` cost
            // 120 instructions for a typical 30-byte path.
            self.intern_str(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            self.intern_str(&String::from_utf8_lossy(bytes))
        };
        self.last_bytes = Some(Arc::clone(&shared));
        shared
    }

    /// The shared copy of `text`, made on first sight.
    pub fn intern_str(&mut self, text: &str) -> Arc<str> {
        self.intern_with(text, || Arc::from(text))
    }

    /// The shared copy of `path`: the first `Arc` seen with this text becomes it.
    pub fn intern(&mut self, path: &Arc<str>) -> Arc<str> {
        self.intern_with(path, || Arc::clone(path))
    }

    fn intern_with(&mut self, text: &str, first_copy: impl FnOnce() -> Arc<str>) -> Arc<str> {
        if let Some(known) = self.strings.get(text) {
            return Arc::clone(known);
        }
        let new = first_copy();
        self.strings.insert(Arc::clone(&new));
        new
    }
}

/// Builds one process's [`Mappings`].
pub struct Packer<'i> {
    mappings: Mappings,
    interner: &'i mut Interner,
    path_index: HashMap<Arc<str>, u32>,
    /// Where the last mapping ended: the next start is stored as the gap from it.
    last_end: u64,
    /// The last path and its index: a library's mappings come one after another, so most
    /// lookups end here without hashing.
    last_path: Option<(Arc<str>, u32)>,
}

/// About what one mapping takes packed, to size the buffer once.
const TYPICAL_PACKED_BYTES: usize = 24;

impl<'i> Packer<'i> {
    /// For about `mappings` mappings: the buffer grows once instead of doubling its way up.
    pub fn with_capacity(interner: &'i mut Interner, mappings: usize) -> Self {
        Packer {
            mappings: Mappings {
                bytes: Vec::with_capacity(mappings * TYPICAL_PACKED_BYTES),
                ..Mappings::default()
            },
            interner,
            path_index: HashMap::new(),
            last_end: 0,
            last_path: None,
        }
    }

    /// The index of `path` in this process's path table, adding it when new.
    fn path_index(&mut self, path: &Arc<str>) -> u32 {
        if let Some((last, index)) = &self.last_path {
            if last == path {
                return *index;
            }
        }
        let index = match self.path_index.get(path) {
            Some(&index) => index,
            None => {
                let index = self.mappings.paths.len() as u32;
                let shared = self.interner.intern(path);
                self.mappings.paths.push(Arc::clone(&shared));
                self.path_index.insert(shared, index);
                index
            }
        };
        self.last_path = Some((Arc::clone(path), index));
        index
    }

    pub fn push(&mut self, mapping: &Mapping) {
        let map = &mapping.map;
        let out = &mut self.mappings.bytes;
        let gap = map.start.wrapping_sub(self.last_end);
        let size = map.end.wrapping_sub(map.start);
        let in_pages = gap % PAGE == 0 && size % PAGE == 0 && map.offset % PAGE == 0;
        let smaps_in_kib = mapping.smaps.is_some_and(|s| {
            smaps_figures(&s)
                .into_iter()
                .flatten()
                .all(|v| v % KIB == 0)
        });
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        let flags = flag(map.perms.read, READ)
            | flag(map.perms.write, WRITE)
            | flag(map.perms.exec, EXEC)
            | flag(map.perms.shared, SHARED)
            | flag(map.path.is_some(), HAS_PATH)
            | flag(mapping.smaps.is_some(), HAS_SMAPS)
            | flag(in_pages, IN_PAGES)
            | flag(smaps_in_kib, SMAPS_IN_KIB);
        out.push(flags);
        let unit = if in_pages { PAGE } else { 1 };
        put_varint(out, gap / unit);
        put_varint(out, size / unit);
        put_varint(out, map.offset / unit);
        put_varint(out, u64::from(map.dev_major));
        put_varint(out, u64::from(map.dev_minor));
        put_varint(out, map.inode);
        if let Some(path) = &map.path {
            let index = self.path_index(path);
            put_varint(&mut self.mappings.bytes, u64::from(index));
        }
        let out = &mut self.mappings.bytes;
        if let Some(smaps) = &mapping.smaps {
            let present = flag(smaps.rss.is_some(), HAS_RSS)
                | flag(smaps.pss.is_some(), HAS_PSS)
                | flag(smaps.anonymous.is_some(), HAS_ANONYMOUS)
                | flag(smaps.swap.is_some(), HAS_SWAP);
            out.push(present);
            let unit = if smaps_in_kib { KIB } else { 1 };
            for value in smaps_figures(smaps).into_iter().flatten() {
                put_varint(out, value / unit);
            }
        }
        self.last_end = map.end;
        self.mappings.len += 1;
    }

    pub fn finish(mut self) -> Mappings {
        self.mappings.bytes.shrink_to_fit();
        self.mappings.paths.shrink_to_fit();
        self.mappings
    }
}

/// The smaps figures in their stored order; the optional ones are skipped when absent.
fn smaps_figures(s: &SmapsFields) -> [Option<u64>; 9] {
    [
        Some(s.size),
        s.rss,
        s.pss,
        Some(s.shared_clean),
        Some(s.shared_dirty),
        Some(s.private_clean),
        Some(s.private_dirty),
        s.anonymous,
        s.swap,
    ]
}

#[inline(always)]
fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub struct MappingsIter<'a> {
    mappings: &'a Mappings,
    at: usize,
    last_end: u64,
    left: usize,
    /// Whether mappings carry their path (see [`Mappings::iter_without_paths`]).
    paths: bool,
}

impl MappingsIter<'_> {
    /// Only bytes that `Packer` wrote are read, so they are always well formed.
    #[inline(always)]
    fn byte(&mut self) -> u8 {
        let byte = self.mappings.bytes[self.at];
        self.at += 1;
        byte
    }

    #[inline(always)]
    fn varint(&mut self) -> u64 {
        // Most numbers (gaps and sizes in pages, figures in kB) fit the first byte.
        let first = self.byte();
        if first < 0x80 {
            return u64::from(first);
        }
        self.at -= 1;
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.byte();
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
            shift += 7;
        }
    }

    /// An optional smaps figure, stored when its bit is set in `present`.
    fn optional(&mut self, present: u8, bit: u8, unit: u64) -> Option<u64> {
        (present & bit != 0).then(|| self.varint() * unit)
    }

    fn varint_u32(&mut self) -> u32 {
        // Written from a u32, so it fits.
        self.varint() as u32
    }
}

impl Iterator for MappingsIter<'_> {
    type Item = Mapping;

    fn next(&mut self) -> Option<Mapping> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let flags = self.byte();
        let unit = if flags & IN_PAGES != 0 { PAGE } else { 1 };
        let start = self.last_end.wrapping_add(self.varint() * unit);
        let end = start.wrapping_add(self.varint() * unit);
        let offset = self.varint() * unit;
        let dev_major = self.varint_u32();
        let dev_minor = self.varint_u32();
        let inode = self.varint();
        let path_index = (flags & HAS_PATH != 0).then(|| self.varint() as usize);
        let path = path_index
            .filter(|_| self.paths)
            .map(|i| Arc::clone(&self.mappings.paths[i]));
        let smaps = (flags & HAS_SMAPS != 0).then(|| {
            let present = self.byte();
            let unit = if flags & SMAPS_IN_KIB != 0 { KIB } else { 1 };
            let size = self.varint() * unit;
            let rss = self.optional(present, HAS_RSS, unit);
            let pss = self.optional(present, HAS_PSS, unit);
            let shared_clean = self.varint() * unit;
            let shared_dirty = self.varint() * unit;
            let private_clean = self.varint() * unit;
            let private_dirty = self.varint() * unit;
            let anonymous = self.optional(present, HAS_ANONYMOUS, unit);
            let swap = self.optional(present, HAS_SWAP, unit);
            SmapsFields {
                size,
                rss,
                pss,
                shared_clean,
                shared_dirty,
                private_clean,
                private_dirty,
                anonymous,
                swap,
            }
        });
        self.last_end = end;
        Some(Mapping {
            map: MapLine {
                start,
                end,
                perms: Perms {
                    read: flags & READ != 0,
                    write: flags & WRITE != 0,
                    exec: flags & EXEC != 0,
                    shared: flags & SHARED != 0,
                },
                offset,
                dev_major,
                dev_minor,
                inode,
                path,
            },
            smaps,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for MappingsIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(start: u64, end: u64, offset: u64, inode: u64, path: Option<&str>) -> MapLine {
        MapLine {
            start,
            end,
            perms: Perms {
                read: true,
                write: start % 3 == 0,
                exec: inode % 2 == 1,
                shared: false,
            },
            offset,
            dev_major: 0xfd,
            dev_minor: 3,
            inode,
            path: path.map(Arc::from),
        }
    }

    fn roundtrip(mappings: &[Mapping]) -> Mappings {
        let packed: Mappings = mappings.iter().cloned().collect();
        assert_eq!(packed.len(), mappings.len());
        assert_eq!(packed.iter().collect::<Vec<_>>(), mappings);
        packed
    }

    #[test]
    fn a_typical_process_roundtrips_and_packs_small() {
        let kb = |n: u64| n * 1024;
        let smaps = |size, rss| SmapsFields {
            size,
            rss: Some(rss),
            pss: Some(rss / 2),
            shared_clean: rss / 2,
            shared_dirty: 0,
            private_clean: 0,
            private_dirty: rss / 2,
            anonymous: Some(rss / 2),
            swap: Some(0),
        };
        let mut mappings = Vec::new();
        let mut at = 0x0040_0000u64;
        for i in 0..200u64 {
            let size = (i % 7 + 1) * 4096;
            let path = ["/lib/libc.so.6", "/usr/bin/app", "[heap]"].get((i % 4) as usize);
            mappings.push(Mapping {
                map: line(at, at + size, (i % 3) * 4096, 1000 + i % 4, path.copied()),
                smaps: Some(smaps(size, kb(i % 5 * 4))),
            });
            at += size + (i % 2) * 4096;
        }
        let packed = roundtrip(&mappings);
        assert_eq!(packed.paths.len(), 3);
        // 200 mappings with smaps: well under the 250 bytes a plain struct cost each.
        assert!(packed.heap_bytes() < 200 * 24, "{}", packed.heap_bytes());
    }

    #[test]
    fn hostile_values_roundtrip_exactly() {
        let odd = SmapsFields {
            size: u64::MAX,
            rss: Some(1023),
            pss: None,
            shared_clean: 1,
            shared_dirty: u64::MAX - 1,
            private_clean: 0,
            private_dirty: 4097,
            anonymous: None,
            swap: Some(u64::MAX),
        };
        let mut weird = line(
            u64::MAX - 4095,
            u64::MAX,
            u64::MAX,
            u64::MAX,
            Some("é (deleted)"),
        );
        weird.dev_major = u32::MAX;
        weird.dev_minor = u32::MAX;
        weird.perms.shared = true;
        let mappings = vec![
            Mapping {
                map: weird,
                smaps: Some(odd),
            },
            // Out of order (starts below the previous end), not page aligned, no path.
            Mapping {
                map: line(5, 7, 3, 0, None),
                smaps: None,
            },
            // end < start never comes out of the parser, and still packs exactly.
            Mapping {
                map: line(0x2000, 0x1000, 0, 0, Some("")),
                smaps: Some(SmapsFields::default()),
            },
            Mapping {
                map: line(0, 0, 0, 0, Some("[stack]")),
                smaps: None,
            },
        ];
        roundtrip(&mappings);
        roundtrip(&[]);
    }

    #[test]
    fn paths_are_shared_across_processes_through_the_interner() {
        let mut interner = Interner::default();
        let pack = |interner: &mut Interner| {
            let mut packer = Packer::with_capacity(interner, 1);
            packer.push(&Mapping {
                map: line(0x1000, 0x2000, 0, 7, Some("/lib/libc.so.6")),
                smaps: None,
            });
            packer.finish()
        };
        let first = pack(&mut interner);
        let second = pack(&mut interner);
        assert!(Arc::ptr_eq(&first.paths[0], &second.paths[0]));
    }
}
