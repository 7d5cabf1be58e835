//! Schedule-lag histogram: how late probes start compared with their planned instant.
//!
//! Recorded on every probe, so it must be cheap: a fixed array of atomic counters with
//! log-linear buckets (8 per power of two, so any reported percentile is at most 12.5 %
//! above the true value), no allocation, no lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Linear sub-buckets per power of two (as a bit count).
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Enough buckets for lags up to 2^34 µs (~4.8 h); larger values land in the last one.
const BUCKETS: usize = SUB * 32;

/// Lock-free histogram of durations in microseconds.
pub(crate) struct LagHistogram {
    buckets: [AtomicU64; BUCKETS],
    max_us: AtomicU64,
}

impl Default for LagHistogram {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            max_us: AtomicU64::new(0),
        }
    }
}

fn index(us: u64) -> usize {
    if us < SUB as u64 {
        return us as usize;
    }
    let msb = 63 - us.leading_zeros();
    let shift = msb - SUB_BITS;
    let sub = ((us >> shift) as usize) & (SUB - 1);
    ((shift as usize + 1) * SUB + sub).min(BUCKETS - 1)
}

/// Smallest value that no longer falls in bucket `i`.
fn upper_bound(i: usize) -> u64 {
    if i < SUB {
        return i as u64 + 1;
    }
    let shift = (i / SUB - 1) as u32;
    let sub = (i % SUB) as u64;
    ((SUB as u64 + sub) << shift) + (1 << shift)
}

impl LagHistogram {
    /// Counts one sample.
    pub(crate) fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(b) = self.buckets.get(index(us)) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The `q`-quantile (0..=1), rounded up to its bucket's bound and capped at the max.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let max = self.max_us.load(Ordering::Relaxed);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_micros(upper_bound(i).min(max));
            }
        }
        Duration::from_micros(max)
    }

    /// Largest sample.
    pub(crate) fn max(&self) -> Duration {
        Duration::from_micros(self.max_us.load(Ordering::Relaxed))
    }

    /// Forgets every sample.
    pub(crate) fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Ordering::Relaxed);
        }
        self.max_us.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut prev_upper = 0;
        for i in 0..BUCKETS - 1 {
            let up = upper_bound(i);
            assert!(up > prev_upper);
            // Every value below the bound (and at or above the previous one) maps here.
            assert_eq!(index(up - 1), i, "bucket {i}");
            assert_eq!(index(prev_upper), i, "bucket {i} lower edge");
            if prev_upper >= SUB as u64 {
                assert!((up - prev_upper) * 8 <= prev_upper, "bucket {i} wider than 12.5 %");
            }
            prev_upper = up;
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_close_and_never_above_max() {
        let h = LagHistogram::default();
        assert_eq!(h.quantile(0.99), Duration::ZERO);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5);
        assert!(
            p50 >= Duration::from_millis(50) && p50 <= Duration::from_micros(56_250),
            "{p50:?}"
        );
        let p99 = h.quantile(0.99);
        assert!(
            p99 >= Duration::from_millis(99) && p99 <= Duration::from_millis(100),
            "{p99:?}"
        );
        assert_eq!(h.max(), Duration::from_millis(100));
        assert_eq!(h.quantile(1.0), Duration::from_millis(100));
        h.reset();
        assert_eq!((h.quantile(0.5), h.max()), (Duration::ZERO, Duration::ZERO));
    }
}
