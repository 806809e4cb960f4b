//! A sliding window of the last `w` values that answers order statistics quickly.
//!
//! Two arrays: the values in arrival order (a ring, to know which one leaves) and the same
//! values sorted. Sliding finds the leaving and the arriving value's positions by binary
//! search — O(log w) comparisons — and shifts only the elements between those two positions,
//! one `memmove` of at most `8·w` bytes (for w = 256 that is ~2 KiB at memory speed, cheaper
//! than the pointer chasing of a balanced tree at these sizes). The median is then O(1) and
//! the median absolute deviation O(log w) by selecting the k-th smallest of two sorted
//! sequences (the distances below and above the median), with no sort and no allocation.
//!
//! Memory: `16·w` bytes of values plus a few words.

use serde::{Deserialize, Serialize};

/// Sliding window with O(1) median and O(log w) MAD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SortedWindow {
    capacity: usize,
    /// Values in arrival order; `ring[head]` is the oldest once full.
    ring: Vec<f64>,
    head: usize,
    /// The same values, ascending (never holds NaN: callers only push finite values).
    sorted: Vec<f64>,
}

impl SortedWindow {
    /// An empty window of `capacity` values (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            ring: Vec::with_capacity(capacity),
            head: 0,
            sorted: Vec::with_capacity(capacity),
        }
    }

    /// Values the window holds when full.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Values currently held.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Adds a finite value, dropping the oldest once full.
    pub fn push(&mut self, value: f64) {
        debug_assert!(value.is_finite());
        if self.ring.len() < self.capacity {
            self.ring.push(value);
            let pos = self.sorted.partition_point(|&v| v < value);
            self.sorted.insert(pos, value);
            return;
        }
        let old = std::mem::replace(&mut self.ring[self.head], value);
        self.head = (self.head + 1) % self.capacity;
        // Any index holding `old` will do: equal values are interchangeable.
        let out = self.sorted.partition_point(|&v| v < old);
        let into = self.sorted.partition_point(|&v| v < value);
        if into > out {
            // Shift (out, into) one left; the new value lands just before `into`.
            self.sorted.copy_within(out + 1..into, out);
            self.sorted[into - 1] = value;
        } else {
            self.sorted.copy_within(into..out, into + 1);
            self.sorted[into] = value;
        }
    }

    /// The invariants `push` and the order statistics index by.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        let consistent = self.capacity >= 1
            && self.ring.len() == self.sorted.len()
            && self.ring.len() <= self.capacity
            && self.head < self.capacity
            && self.sorted.iter().all(|v| v.is_finite())
            && self.sorted.windows(2).all(|p| p[0] <= p[1]);
        if consistent {
            Ok(())
        } else {
            Err("sliding window is inconsistent")
        }
    }

    /// The k-th smallest value (0-based); `k < len`.
    fn kth(&self, k: usize) -> f64 {
        self.sorted[k]
    }

    /// The median (mean of the two middle values for an even count); `None` when empty.
    pub fn median(&self) -> Option<f64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        Some(if n % 2 == 1 {
            self.kth(n / 2)
        } else {
            0.5 * (self.kth(n / 2 - 1) + self.kth(n / 2))
        })
    }

    /// The `q`-quantile by nearest rank, `q` in `[0, 1]`; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.len();
        (n > 0).then(|| self.kth(((q.clamp(0.0, 1.0) * (n - 1) as f64).round()) as usize))
    }

    /// Median absolute deviation from `median` (the lower middle for even counts).
    pub fn mad(&self, median: f64) -> Option<f64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        // Distances below the median, nearest first, and above it, nearest first: two sorted
        // sequences whose union is every |x − median|.
        let split = self.sorted.partition_point(|&v| v < median);
        let below = |i: usize| median - self.sorted[split - 1 - i];
        let above = |i: usize| self.sorted[split + i] - median;
        let (nb, na) = (split, n - split);
        let kth = |k: usize| kth_of_two(k, nb, na, &below, &above);
        Some(if n % 2 == 1 {
            kth(n / 2)
        } else {
            0.5 * (kth(n / 2 - 1) + kth(n / 2))
        })
    }
}

/// The k-th smallest (0-based) element of the union of two ascending sequences given by
/// accessors, in O(log(na + nb)) accesses.
fn kth_of_two(
    k: usize,
    na: usize,
    nb: usize,
    a: &dyn Fn(usize) -> f64,
    b: &dyn Fn(usize) -> f64,
) -> f64 {
    // Binary search for how many elements come from `a` (i), the rest from `b` (k + 1 − i).
    let take = k + 1;
    let mut lo = take.saturating_sub(nb);
    let mut hi = take.min(na);
    while lo < hi {
        let i = (lo + hi) / 2;
        let j = take - i;
        // Too few from `a` when a[i] < b[j-1].
        if j > 0 && i < na && a(i) < b(j - 1) {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let i = lo;
    let j = take - i;
    let from_a = if i > 0 { a(i - 1) } else { f64::NEG_INFINITY };
    let from_b = if j > 0 { b(j - 1) } else { f64::NEG_INFINITY };
    from_a.max(from_b)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn naive(values: &[f64]) -> (f64, f64) {
        let mut s = values.to_vec();
        s.sort_by(f64::total_cmp);
        let med = |s: &[f64]| {
            let n = s.len();
            if n % 2 == 1 {
                s[n / 2]
            } else {
                0.5 * (s[n / 2 - 1] + s[n / 2])
            }
        };
        let m = med(&s);
        let mut d: Vec<f64> = s.iter().map(|v| (v - m).abs()).collect();
        d.sort_by(f64::total_cmp);
        (m, med(&d))
    }

    proptest! {
        #[test]
        fn median_and_mad_match_a_sort(
            values in prop::collection::vec(-1e3f64..1e3, 1..300),
            cap in 1usize..64,
            rounding in 0u8..3,
        ) {
            let mut w = SortedWindow::new(cap);
            for (i, &v) in values.iter().enumerate() {
                // Rounding makes ties common, the hard case for the two-sequence select.
                let v = match rounding { 0 => v, 1 => v.round(), _ => (v / 100.0).round() };
                w.push(v);
                let start = (i + 1).saturating_sub(cap);
                let window: Vec<f64> = values[start..=i].iter().map(|&v| match rounding {
                    0 => v, 1 => v.round(), _ => (v / 100.0).round() }).collect();
                let (m, mad) = naive(&window);
                prop_assert_eq!(w.median(), Some(m));
                prop_assert_eq!(w.mad(m), Some(mad));
            }
        }
    }
}
