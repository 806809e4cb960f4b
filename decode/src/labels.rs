//! A sorted, duplicate-free set of string pairs that borrows from the payload.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use smallvec::SmallVec;

/// Pairs kept inline before spilling to the heap: most series carry fewer labels than this.
const INLINE: usize = 8;

type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Labels of a sample, or attributes of a log record or change event.
///
/// Always sorted by key with each key at most once, so two equal label sets compare, hash and
/// iterate identically whatever order the producer wrote them in. Keys and values borrow from
/// the payload unless the payload escaped them.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Labels<'a> {
    pairs: SmallVec<[Pair<'a>; INLINE]>,
}

/// A second value for a key already in a [`Labels`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("duplicate label `{key}`")]
pub struct DuplicateLabel {
    /// The repeated key.
    pub key: String,
}

impl<'a> Labels<'a> {
    /// No labels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Labels from pairs in any order; fails on the first repeated key.
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Result<Self, DuplicateLabel>
    where
        K: Into<Cow<'a, str>>,
        V: Into<Cow<'a, str>>,
    {
        let mut labels = Self::new();
        for (key, value) in pairs {
            labels.insert(key, value)?;
        }
        Ok(labels)
    }

    /// Adds a pair, keeping the order; a key already present is an error and changes nothing.
    pub fn insert(
        &mut self,
        key: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> Result<(), DuplicateLabel> {
        let key = key.into();
        match self.slot(&key) {
            Ok(_) => Err(DuplicateLabel {
                key: key.into_owned(),
            }),
            Err(at) => {
                self.pairs.insert(at, (key, value.into()));
                Ok(())
            }
        }
    }

    /// Appends a pair without keeping the order: decoders push everything, then [`Self::seal`]
    /// once, which is cheaper than a sorted insert per pair when producers write keys unsorted.
    #[inline]
    pub(crate) fn push_unsorted(&mut self, key: Cow<'a, str>, value: Cow<'a, str>) {
        self.pairs.push((key, value));
    }

    /// Restores the order after [`Self::push_unsorted`]; a repeated key is an error.
    #[inline]
    pub(crate) fn seal(&mut self) -> Result<(), DuplicateLabel> {
        let pairs = &mut self.pairs[..];
        let mut repeated = None;
        // Insertion sort: a handful of pairs, often already sorted. Equal keys end up
        // adjacent, so every repeat meets its twin in some comparison.
        for i in 1..pairs.len() {
            let mut j = i;
            while j > 0 {
                match compare(&pairs[j - 1].0, &pairs[j].0) {
                    Ordering::Less => break,
                    Ordering::Equal => {
                        repeated = Some(j);
                        break;
                    }
                    Ordering::Greater => pairs.swap(j, j - 1),
                }
                j -= 1;
            }
        }
        match repeated {
            Some(at) => Err(DuplicateLabel {
                key: pairs[at].0.to_string(),
            }),
            None => Ok(()),
        }
    }

    /// Adds the pairs of `base` whose keys are not here yet: `self` wins on conflicts.
    pub(crate) fn merge_under(&mut self, base: &Labels<'a>) {
        let own = self.pairs.len();
        for (key, value) in &base.pairs {
            let present = self.pairs[..own]
                .binary_search_by(|(k, _)| compare(k, key))
                .is_ok();
            if !present {
                self.pairs.push((key.clone(), value.clone()));
            }
        }
        if own > 0 && self.pairs.len() > own {
            // Both runs are sorted and share no key: sorting them together cannot fail.
            let _ = self.seal();
        }
    }

    /// `Ok(index)` of `key`, or `Err(index)` where it would go.
    fn slot(&self, key: &str) -> Result<usize, usize> {
        // Producers usually write labels sorted, so look from the end first.
        match self.pairs.last() {
            None => Err(0),
            Some((last, _)) => match last.as_ref().cmp(key) {
                Ordering::Less => Err(self.pairs.len()),
                Ordering::Equal => Ok(self.pairs.len() - 1),
                Ordering::Greater => self.pairs.binary_search_by(|(k, _)| k.as_ref().cmp(key)),
            },
        }
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|at| self.pairs[at].1.as_ref())
    }

    /// The value for `key` as stored, to clone without copying borrowed text.
    pub(crate) fn get_cow(&self, key: &str) -> Option<&Cow<'a, str>> {
        self.pairs
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|at| &self.pairs[at].1)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Pairs in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }

    /// Pairs in key order as stored, to see what borrows from the payload or to clone cheaply.
    pub fn as_slice(&self) -> &[(Cow<'a, str>, Cow<'a, str>)] {
        &self.pairs
    }

    /// A copy that owns its strings, to keep beyond the payload's lifetime.
    pub fn into_owned(self) -> Labels<'static> {
        Labels {
            pairs: self
                .pairs
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        }
    }
}

/// Byte order of two keys; label keys usually differ early, so a byte loop beats a `memcmp`
/// call.
#[inline]
fn compare(a: &str, b: &str) -> Ordering {
    for (x, y) in a.bytes().zip(b.bytes()) {
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

impl fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_pairs_sorted_whatever_the_insertion_order() {
        let labels = Labels::from_pairs([("b", "2"), ("a", "1"), ("d", "4"), ("c", "3")]).unwrap();
        let keys: Vec<_> = labels.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b", "c", "d"]);
        assert_eq!(labels.get("c"), Some("3"));
        assert_eq!(labels.get("e"), None);
        assert_eq!(labels.len(), 4);
    }

    #[test]
    fn rejects_duplicate_keys_and_keeps_the_first_value() {
        let mut labels = Labels::from_pairs([("a", "1"), ("b", "2")]).unwrap();
        let err = labels.insert("a", "other").unwrap_err();
        assert_eq!(err.to_string(), "duplicate label `a`");
        assert_eq!(labels.get("a"), Some("1"));
    }

    #[test]
    fn merges_under_a_base_with_own_pairs_winning() {
        let base = Labels::from_pairs([("a", "base"), ("c", "base"), ("e", "base")]).unwrap();
        let mut own = Labels::from_pairs([("b", "own"), ("c", "own")]).unwrap();
        own.merge_under(&base);
        let merged: Vec<_> = own.iter().collect();
        assert_eq!(
            merged,
            [("a", "base"), ("b", "own"), ("c", "own"), ("e", "base")]
        );
        let mut empty = Labels::new();
        empty.merge_under(&base);
        assert_eq!(empty, base);
    }

    #[test]
    fn seal_sorts_pushed_pairs_and_finds_repeats() {
        let mut labels = Labels::new();
        for (k, v) in [("b", "2"), ("ab", "1"), ("a", "0"), ("c", "3")] {
            labels.push_unsorted(k.into(), v.into());
        }
        labels.seal().unwrap();
        assert_eq!(
            labels.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["a", "ab", "b", "c"]
        );
        labels.push_unsorted("ab".into(), "again".into());
        assert_eq!(labels.seal().unwrap_err().key, "ab");
    }

    #[test]
    fn spills_past_the_inline_capacity() {
        let pairs: Vec<_> = (0..INLINE * 3)
            .rev()
            .map(|i| (format!("k{i:02}"), "v"))
            .collect();
        let labels = Labels::from_pairs(pairs).unwrap();
        assert_eq!(labels.len(), INLINE * 3);
        assert!(labels.iter().map(|(k, _)| k).is_sorted());
    }
}
