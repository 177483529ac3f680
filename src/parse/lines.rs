//! The lines of a text file, as every parser reads them.
//!
//! Every byte of a snapshot passes through here, and smaps lines are short (28 bytes on average):
//! a `memchr` call per line spent more on starting its search than on searching (42
//! instructions a line, 4% of a report). The newlines of 64 bytes are found at once instead, as
//! one bit per byte, and each line end is then a `trailing_zeros` of that mask.

/// Splits bytes into lines, tolerating CRLF and a missing final newline, and numbering them from
/// 1. Blank lines (nothing but whitespace) are skipped but counted.
pub fn lines(bytes: &[u8]) -> Lines<'_> {
    Lines {
        bytes,
        start: 0,
        block: 0,
        mask: block_or_tail_mask(bytes),
        number: 0,
    }
}

const BLOCK: usize = 64;

pub struct Lines<'a> {
    bytes: &'a [u8],
    /// Where the next line starts.
    start: usize,
    /// Where the block `mask` describes starts.
    block: usize,
    /// The newlines of that block not yet passed, one bit per byte.
    mask: u64,
    /// The number of the last line given.
    number: usize,
}

/// The newlines of a whole block, one bit per byte: 16 bytes a compare with SSE2, which every
/// x86_64 processor has.
#[cfg(target_arch = "x86_64")]
fn block_mask(block: &[u8]) -> u64 {
    use std::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    assert!(block.len() >= BLOCK);
    let mut mask = 0u64;
    for part in 0..BLOCK / 16 {
        // SAFETY: SSE2 is part of the x86_64 baseline; the 16 bytes read are inside `block`
        // (checked above), and `loadu` takes them unaligned.
        let bits = unsafe {
            let bytes = _mm_loadu_si128(block.as_ptr().add(part * 16).cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\n' as i8)))
        };
        mask |= u64::from(bits as u16) << (part * 16);
    }
    mask
}

/// The newlines of a whole block, one bit per byte, eight bytes at a time in a `u64`.
#[cfg(not(target_arch = "x86_64"))]
fn block_mask(block: &[u8]) -> u64 {
    tail_mask(&block[..BLOCK])
}

/// The newlines of up to 64 bytes, one bit per byte: whole words as `u64`s, then the bytes
/// left one by one.
fn tail_mask(bytes: &[u8]) -> u64 {
    let words = bytes.chunks_exact(8);
    let left = words.remainder();
    let mut mask = 0u64;
    let mut at = 0;
    for word in words {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        mask |= word_mask(word) << at;
        at += 8;
    }
    for &byte in left {
        mask |= u64::from(byte == b'\n') << at;
        at += 1;
    }
    mask
}

/// The newlines of eight bytes (little-endian order), one bit per byte.
fn word_mask(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NEWLINES: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let x = word ^ NEWLINES; // a zero byte where the newlines were
                             // The high bit of each byte set when the byte is not zero, with no carry between bytes.
    let nonzero = ((x & LOW7) + LOW7) | x;
    let zero_high_bits = !nonzero & !LOW7;
    // Gathers the eight high bits (bits 7, 15, ... 63) into the top byte, then down.
    ((zero_high_bits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56
}

/// The newlines of the block at the start of `bytes`, whole or the shorter last one. Not
/// inlined: once in 64 bytes, while inlined its vector constants were loaded on every line.
#[inline(never)]
fn block_or_tail_mask(bytes: &[u8]) -> u64 {
    if bytes.len() >= BLOCK {
        block_mask(bytes)
    } else {
        tail_mask(bytes)
    }
}

impl Lines<'_> {
    /// The position of the next newline at or after `start`, or `None` past the last one.
    #[inline(always)]
    fn next_newline(&mut self) -> Option<usize> {
        loop {
            if self.mask != 0 {
                let at = self.block + self.mask.trailing_zeros() as usize;
                self.mask &= self.mask - 1;
                return Some(at);
            }
            self.block += BLOCK;
            let rest = self.bytes.get(self.block..)?;
            if rest.is_empty() {
                return None;
            }
            self.mask = block_or_tail_mask(rest);
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a [u8]);

    /// Inlined into each parser's loop: a call per line cost as much as finding the line.
    #[inline(always)]
    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        loop {
            if self.start > self.bytes.len() {
                return None;
            }
            let end = self.next_newline().unwrap_or(self.bytes.len());
            let line = &self.bytes[self.start..end];
            self.start = end + 1;
            self.number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.iter().all(|c| c.is_ascii_whitespace()) {
                return Some((self.number, line));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the parsers read before: `memchr` line by line.
    fn reference(bytes: &[u8]) -> Vec<(usize, &[u8])> {
        let mut out = Vec::new();
        let mut rest = Some(bytes);
        let mut number = 0;
        while let Some(text) = rest {
            let line = match memchr::memchr(b'\n', text) {
                Some(i) => {
                    rest = Some(&text[i + 1..]);
                    &text[..i]
                }
                None => {
                    rest = None;
                    text
                }
            };
            number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if !line.iter().all(|c| c.is_ascii_whitespace()) {
                out.push((number, line));
            }
        }
        out
    }

    #[test]
    fn lines_across_block_edges_match_a_line_by_line_search() {
        // Lines of every length from 0 to 150 put newlines at every offset of a block, in the
        // first block, in the middle and in the shorter last one.
        let mut text = Vec::new();
        for length in 0..150 {
            text.extend(std::iter::repeat_n(b'a' + (length % 26) as u8, length));
            text.extend_from_slice(if length % 7 == 0 { b"\r\n" } else { b"\n" });
        }
        for cut in [
            0,
            1,
            63,
            64,
            65,
            127,
            128,
            129,
            1000,
            text.len() - 1,
            text.len(),
        ] {
            let bytes = &text[..cut];
            assert_eq!(
                lines(bytes).collect::<Vec<_>>(),
                reference(bytes),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn masks_mark_exactly_the_newlines() {
        // Every byte value beside and between newlines, so that no carry or borrow of the
        // word trick can mark a neighbour.
        for value in 0..=255u8 {
            for pattern in 0..=255u32 {
                let mut block = [value; BLOCK];
                for i in (0..BLOCK).filter(|i| pattern & (1 << (i % 8)) != 0) {
                    block[i] = b'\n';
                }
                let expected = block
                    .iter()
                    .enumerate()
                    .fold(0u64, |m, (i, &b)| m | (u64::from(b == b'\n') << i));
                assert_eq!(block_mask(&block), expected, "{value} {pattern}");
                assert_eq!(tail_mask(&block[..61]), expected & ((1 << 61) - 1));
            }
        }
    }

    #[test]
    fn blank_lines_are_counted_not_given() {
        let got: Vec<_> = lines(b"a\n\n \t\r\nb\r\nc").collect();
        assert_eq!(got, [(1, &b"a"[..]), (4, b"b"), (5, b"c")]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n\n").count(), 0);
        assert_eq!(lines(&[b'\n'; 200]).count(), 0);
    }
}
