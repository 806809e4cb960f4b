//! Which outputs of a partition are delivered: the contiguous acknowledged prefix.
//!
//! Outputs derived from one source partition go to several output partitions, so their
//! acknowledgements arrive out of order. The watermark is the last [`Seq`] before which every
//! output was acknowledged; it is what a replay may safely skip. An output acknowledged after a
//! gap does not move the watermark until the gap closes.

use std::collections::BTreeSet;

use crate::store::Seq;

/// Delivery bookkeeping of one source partition.
#[derive(Debug, Default)]
pub struct Track {
    pending: BTreeSet<Seq>,
    /// Acknowledged outputs after the watermark (kept until the prefix before them closes).
    acked: BTreeSet<Seq>,
    watermark: Option<Seq>,
}

impl Track {
    /// A track starting from a stored watermark.
    pub fn new(watermark: Option<Seq>) -> Self {
        Self {
            watermark,
            ..Self::default()
        }
    }

    /// An output was handed to the producer.
    pub fn sent(&mut self, seq: Seq) {
        self.pending.insert(seq);
    }

    /// An output was acknowledged; returns the new watermark if it moved.
    pub fn acked(&mut self, seq: Seq) -> Option<Seq> {
        if !self.pending.remove(&seq) {
            return None;
        }
        self.acked.insert(seq);
        let candidate = match self.pending.first() {
            Some(first) => self.acked.range(..*first).next_back().copied(),
            None => self.acked.last().copied(),
        }?;
        if self.watermark.is_some_and(|w| w >= candidate) {
            return None;
        }
        self.watermark = Some(candidate);
        // Everything up to the watermark is now implied by it.
        self.acked = self.acked.split_off(&candidate);
        self.acked.remove(&candidate);
        Some(candidate)
    }

    /// Outputs sent but not yet acknowledged.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The current watermark.
    #[cfg(test)]
    pub fn watermark(&self) -> Option<Seq> {
        self.watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(offset: i64, index: u32) -> Seq {
        Seq { offset, index }
    }

    #[test]
    fn watermark_waits_for_the_gap_to_close() {
        let mut t = Track::new(None);
        for seq in [s(1, 0), s(1, 1), s(5, 0), s(9, 0)] {
            t.sent(seq);
        }
        assert_eq!(t.acked(s(5, 0)), None, "s(1,*) still pending");
        assert_eq!(t.acked(s(1, 1)), None, "s(1,0) still pending");
        assert_eq!(t.acked(s(1, 0)), Some(s(5, 0)), "prefix through 5 closed");
        assert_eq!(t.pending(), 1);
        assert_eq!(t.acked(s(9, 0)), Some(s(9, 0)));
        assert_eq!(t.watermark(), Some(s(9, 0)));
        assert_eq!(t.pending(), 0);
    }

    #[test]
    fn unknown_or_repeated_acks_do_not_move_the_watermark() {
        let mut t = Track::new(Some(s(3, 0)));
        assert_eq!(t.acked(s(4, 0)), None, "never sent");
        t.sent(s(4, 0));
        assert_eq!(t.acked(s(4, 0)), Some(s(4, 0)));
        assert_eq!(t.acked(s(4, 0)), None, "acked twice");
        assert_eq!(t.watermark(), Some(s(4, 0)));
    }

    #[test]
    fn watermark_never_moves_backwards() {
        let mut t = Track::new(Some(s(10, 0)));
        t.sent(s(2, 0));
        assert_eq!(t.acked(s(2, 0)), None);
        assert_eq!(t.watermark(), Some(s(10, 0)));
    }
}
