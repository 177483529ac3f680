//! The statistics behind a trend verdict, kept apart from snapshots so each can be checked
//! against numbers computed by hand.
//!
//! Theil–Sen rather than least squares: one sample taken while a process briefly mapped a big
//! file must not tilt the slope, and the median of pairwise slopes ignores up to ~29 % of
//! such outliers.

use serde::Serialize;

/// How a series of (time in seconds, bytes) points moves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    /// Theil–Sen slope: the median of the slopes between every pair of samples, bytes/second.
    pub slope_per_second: f64,
    /// Value of the line at the first sample's time.
    pub intercept: f64,
    /// Coefficient of determination of that line (1 = every sample on it; clamped at 0).
    /// A constant series is a perfect fit of a flat line: 1.
    pub r_squared: f64,
    /// Share of steps from one sample to the next that did not shrink (0..=1).
    pub non_decreasing_share: f64,
    /// Longest run of consecutive steps that grew (Chromium's consecutive-growth score).
    pub longest_growth_run: usize,
    /// Steps that grew, of all steps.
    pub growth_steps: usize,
    pub steps: usize,
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Fits a series of (seconds, bytes) points ordered by time. `None` with fewer than two
/// distinct times: no slope exists.
pub fn fit(points: &[(f64, u64)]) -> Option<Fit> {
    let t0 = points.first()?.0;
    let xy: Vec<(f64, f64)> = points.iter().map(|&(t, v)| (t - t0, v as f64)).collect();
    let mut slopes = Vec::with_capacity(xy.len() * xy.len().saturating_sub(1) / 2);
    for (i, a) in xy.iter().enumerate() {
        for b in &xy[i + 1..] {
            if b.0 != a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    let slope = median(&mut slopes)?;
    let mut residual_offsets: Vec<f64> = xy.iter().map(|(x, y)| y - slope * x).collect();
    let intercept = median(&mut residual_offsets)?;
    let mean = xy.iter().map(|p| p.1).sum::<f64>() / xy.len() as f64;
    let total: f64 = xy.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let residual: f64 = xy
        .iter()
        .map(|(x, y)| (y - (intercept + slope * x)).powi(2))
        .sum();
    let r_squared = if total == 0.0 {
        if residual == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        (1.0 - residual / total).max(0.0)
    };
    let steps = points.len() - 1;
    let mut non_decreasing = 0;
    let mut growth_steps = 0;
    let mut run = 0;
    let mut longest_growth_run = 0;
    for pair in points.windows(2) {
        if pair[1].1 >= pair[0].1 {
            non_decreasing += 1;
        }
        if pair[1].1 > pair[0].1 {
            growth_steps += 1;
            run += 1;
            longest_growth_run = longest_growth_run.max(run);
        } else {
            run = 0;
        }
    }
    Some(Fit {
        slope_per_second: slope,
        intercept,
        r_squared,
        non_decreasing_share: non_decreasing as f64 / steps as f64,
        longest_growth_run,
        growth_steps,
        steps,
    })
}

pub fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line() {
        let points: Vec<(f64, u64)> = (0..5)
            .map(|k| (100.0 + 10.0 * k as f64, 1000 + 50 * k))
            .collect();
        let f = fit(&points).unwrap();
        assert_eq!(f.slope_per_second, 5.0);
        assert_eq!(f.intercept, 1000.0);
        assert_eq!(f.r_squared, 1.0);
        assert_eq!(f.non_decreasing_share, 1.0);
        assert_eq!(f.longest_growth_run, 4);
        assert_eq!(f.growth_steps, 4);
    }

    #[test]
    fn one_outlier_does_not_tilt_the_slope() {
        // y = 2t, except a spike at t=3.
        let points = [
            (0.0, 0),
            (1.0, 2),
            (2.0, 4),
            (3.0, 1000),
            (4.0, 8),
            (5.0, 10),
        ];
        let f = fit(&points).unwrap();
        assert_eq!(f.slope_per_second, 2.0);
        assert_eq!(f.intercept, 0.0);
        // Steps: +2 +2 +996 -992 +2: four of five did not shrink; runs of 3 and 1.
        assert_eq!(f.non_decreasing_share, 0.8);
        assert_eq!(f.longest_growth_run, 3);
        assert!(f.r_squared < 0.1, "{}", f.r_squared);
    }

    #[test]
    fn flat_and_single_step() {
        let flat = fit(&[(0.0, 7), (1.0, 7), (2.0, 7)]).unwrap();
        assert_eq!(flat.slope_per_second, 0.0);
        assert_eq!(flat.r_squared, 1.0);
        assert_eq!(flat.longest_growth_run, 0);
        // One page mapped once between the second and third of four samples: pairwise slopes
        // 0, 4096/2, 4096/3, 4096, 4096/2, 0 → median (4096/3 + 2048)/2.
        let step = fit(&[(0.0, 0), (1.0, 0), (2.0, 4096), (3.0, 4096)]).unwrap();
        assert!((step.slope_per_second - (4096.0 / 3.0 + 2048.0) / 2.0).abs() < 1e-9);
        assert_eq!(step.longest_growth_run, 1);
        assert!(fit(&[(5.0, 1)]).is_none());
        assert!(fit(&[(5.0, 1), (5.0, 2)]).is_none());
    }

    #[test]
    fn gcd_of_block_steps() {
        assert_eq!(gcd(5 * 204 * 1024, 7 * 204 * 1024), 204 * 1024);
        assert_eq!(gcd(0, 4096), 4096);
    }
}
