//! Which allocation size leaks, read from a process's anonymous regions over the series.
//!
//! glibc serves a request above M_MMAP_THRESHOLD (128 KiB by default) with a mapping of its
//! own: the request plus a 16-byte header, rounded up to pages (200 KiB → 204 KiB). Two ways
//! to see those mappings:
//! - new segments: anonymous regions present in the last sample and unrelated to any region
//!   of the first, grouped by size (the article's method);
//! - growth steps: current kernels merge adjacent anonymous mappings with the same flags, so
//!   blocks mapped next to each other show as one region that grows. Every growth of such a
//!   region between two samples is a whole number of blocks, so the greatest common divisor
//!   of its steps is the block size (or a multiple of it, if every step added the same count).

use super::series::Region;
use super::stats::gcd;
use serde::Serialize;

/// glibc's default M_MMAP_THRESHOLD: a region growing in smaller steps is not mmap'd blocks.
pub const MMAP_THRESHOLD: u64 = 128 << 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizeGroup {
    pub size: u64,
    pub count: usize,
}

/// The anonymous region that grew the most, traced through the samples.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrowingRegion {
    /// The region as the last sample shows it.
    pub start: u64,
    pub end: u64,
    /// Sizes of its growth between consecutive samples (positive steps only).
    pub steps: Vec<u64>,
    pub growth: u64,
    pub steps_gcd: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockMethod {
    NewSegments,
    GrowthSteps,
}

/// What the samples tell about the leaking allocation's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockSize {
    /// The block size; `None` when every growth step was equal: the steps then show only a
    /// whole number of blocks, so the size is known to divide `at_most`, not to be it.
    pub bytes: Option<u64>,
    /// The largest the block can be (equal to `bytes` when that is known).
    pub at_most: u64,
    pub method: BlockMethod,
}

impl BlockSize {
    fn known(bytes: u64, method: BlockMethod) -> BlockSize {
        BlockSize {
            bytes: Some(bytes),
            at_most: bytes,
            method,
        }
    }

    /// From a merged region's steps: their greatest common divisor is the block size only when
    /// the steps differ (n and n+1 blocks); equal steps (k blocks every time) bound it.
    fn from_steps(region: &GrowingRegion) -> BlockSize {
        let equal = region.steps.windows(2).all(|w| w[0] == w[1]);
        BlockSize {
            bytes: (!equal).then_some(region.steps_gcd),
            at_most: region.steps_gcd,
            method: BlockMethod::GrowthSteps,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Attribution {
    /// Anonymous regions new between the first and the last sample, by size, most first.
    pub new_segments: Vec<SizeGroup>,
    pub growing_region: Option<GrowingRegion>,
    /// The leaking block size, when either method shows blocks above M_MMAP_THRESHOLD.
    pub block_size: Option<BlockSize>,
}

fn new_segments(first: &[Region], last: &[Region]) -> Vec<SizeGroup> {
    let mut sizes: Vec<u64> = last
        .iter()
        .filter(|r| !first.iter().any(|f| r.contains(f)))
        .map(Region::size)
        .collect();
    sizes.sort_unstable();
    let mut groups: Vec<SizeGroup> = Vec::new();
    for size in sizes {
        match groups.last_mut() {
            Some(g) if g.size == size => g.count += 1,
            _ => groups.push(SizeGroup { size, count: 1 }),
        }
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(b.size.cmp(&a.size)));
    groups
}

/// Follows every region from sample to sample (a region continues as the one that contains
/// it next time) and returns the one that grew the most.
fn growing_region(samples: &[&[Region]]) -> Option<GrowingRegion> {
    struct Chain {
        current: Region,
        steps: Vec<u64>,
    }
    let first = samples.first()?;
    let mut chains: Vec<Chain> = first
        .iter()
        .map(|&r| Chain {
            current: r,
            steps: Vec::new(),
        })
        .collect();
    let mut previous: Vec<usize> = (0..chains.len()).collect();
    for regions in &samples[1..] {
        let mut current = Vec::with_capacity(regions.len());
        for region in regions.iter() {
            let inside: Vec<usize> = previous
                .iter()
                .copied()
                .filter(|&c| region.contains(&chains[c].current))
                .collect();
            let Some(&largest) = inside.iter().max_by_key(|&&c| chains[c].current.size()) else {
                chains.push(Chain {
                    current: *region,
                    steps: Vec::new(),
                });
                current.push(chains.len() - 1);
                continue;
            };
            let before: u64 = inside.iter().map(|&c| chains[c].current.size()).sum();
            let chain = &mut chains[largest];
            if region.size() > before {
                chain.steps.push(region.size() - before);
            }
            chain.current = *region;
            current.push(largest);
        }
        previous = current;
    }
    chains
        .into_iter()
        .filter(|c| !c.steps.is_empty())
        .map(|c| GrowingRegion {
            start: c.current.start,
            end: c.current.end,
            growth: c.steps.iter().sum(),
            steps_gcd: c.steps.iter().fold(0, |g, &s| gcd(g, s)),
            steps: c.steps,
        })
        .max_by_key(|g| g.growth)
}

/// Attribution from a process's anonymous regions, one slice per sample in time order.
pub fn attribute(samples: &[&[Region]]) -> Attribution {
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Attribution::default();
    };
    let new_segments = new_segments(first, last);
    let growing_region = growing_region(samples);
    let by_segments = new_segments
        .iter()
        .find(|g| g.count >= 2 && g.size >= MMAP_THRESHOLD);
    let by_steps = growing_region
        .as_ref()
        .filter(|g| g.steps_gcd >= MMAP_THRESHOLD);
    let block_size = match (by_segments, by_steps) {
        (Some(g), Some(r)) if r.growth > g.size * g.count as u64 => Some(BlockSize::from_steps(r)),
        (Some(g), _) => Some(BlockSize::known(g.size, BlockMethod::NewSegments)),
        (None, Some(r)) => Some(BlockSize::from_steps(r)),
        (None, None) => None,
    };
    Attribution {
        new_segments,
        growing_region,
        block_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;

    fn r(start: u64, end: u64) -> Region {
        Region { start, end }
    }

    #[test]
    fn separate_new_segments_are_grouped_by_size() {
        let first = [r(0x1000_0000, 0x1001_0000)];
        let mut last = first.to_vec();
        for k in 0..37 {
            let start = 0x2000_0000 + k * 0x10_0000;
            last.push(r(start, start + 132 * KIB));
        }
        last.push(r(0x3000_0000, 0x3000_0000 + 8 * KIB));
        let a = attribute(&[&first, &last]);
        assert_eq!(
            a.new_segments[0],
            SizeGroup {
                size: 132 * KIB,
                count: 37
            }
        );
        assert_eq!(
            a.new_segments[1],
            SizeGroup {
                size: 8 * KIB,
                count: 1
            }
        );
        assert_eq!(
            a.block_size,
            Some(BlockSize::known(132 * KIB, BlockMethod::NewSegments))
        );
        assert!(a.growing_region.is_none());
    }

    #[test]
    fn merged_region_growing_downwards_gives_block_size_from_steps() {
        // 204 KiB blocks mapped top-down below an end that stays: 3, 5, then 2 more blocks.
        let end = 0x7f00_0000_0000;
        let block = 204 * KIB;
        let sizes = [block, 4 * block, 9 * block, 11 * block];
        let samples: Vec<Vec<Region>> = sizes
            .iter()
            .map(|&s| vec![r(0x5000, 0x9000), r(end - s, end)])
            .collect();
        let slices: Vec<&[Region]> = samples.iter().map(Vec::as_slice).collect();
        let a = attribute(&slices);
        let g = a.growing_region.as_ref().unwrap();
        assert_eq!(g.steps, vec![3 * block, 5 * block, 2 * block]);
        assert_eq!(g.steps_gcd, block);
        assert_eq!((g.start, g.end), (end - 11 * block, end));
        assert_eq!(
            a.block_size,
            Some(BlockSize::known(block, BlockMethod::GrowthSteps))
        );
        assert!(a.new_segments.is_empty());
    }

    #[test]
    fn equal_growth_steps_only_bound_the_block_size() {
        // Five 1 MiB blocks between every two samples: the steps cannot tell 1 MiB blocks
        // from 5 MiB ones, or 512 KiB ones.
        let step = 5 << 20;
        let samples: Vec<Vec<Region>> = (1..=4)
            .map(|k| vec![r(0x4000_0000, 0x4000_0000 + k * step)])
            .collect();
        let slices: Vec<&[Region]> = samples.iter().map(Vec::as_slice).collect();
        let block = attribute(&slices).block_size.unwrap();
        assert_eq!(block.bytes, None);
        assert_eq!(block.at_most, step);
    }

    #[test]
    fn page_sized_growth_names_no_block() {
        // An arena's rw part growing by pages: below M_MMAP_THRESHOLD, no block size.
        let samples = [
            vec![r(0x10000, 0x10000 + 132 * KIB)],
            vec![r(0x10000, 0x10000 + 140 * KIB)],
            vec![r(0x10000, 0x10000 + 152 * KIB)],
        ];
        let slices: Vec<&[Region]> = samples.iter().map(Vec::as_slice).collect();
        let a = attribute(&slices);
        assert_eq!(a.growing_region.unwrap().steps_gcd, 4 * KIB);
        assert_eq!(a.block_size, None);
    }

    #[test]
    fn two_regions_merging_count_once() {
        // A block mapped into the gap between two regions joins them: growth is the block.
        let samples = [
            vec![r(0x10000, 0x20000), r(0x53000, 0x60000)],
            vec![r(0x10000, 0x60000)],
        ];
        let slices: Vec<&[Region]> = samples.iter().map(Vec::as_slice).collect();
        let g = attribute(&slices).growing_region.unwrap();
        assert_eq!(g.steps, vec![0x33000]);
    }
}
