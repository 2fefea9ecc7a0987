//! A sequence's KV cache as shared frozen segments plus a tail of its own. The prefix cache keeps
//! a system prompt's (or a session's earlier turns') keys and values once: every request that
//! starts from them holds the same segments behind `Arc`s and appends only its own positions, so
//! a cache hit costs no copy and N sessions on one system prompt hold it once in memory.

use std::ops::Range;
use std::sync::Arc;

/// Keys and values of consecutive positions: per layer, token-major `[len, kv_dim]`.
#[derive(Clone, Default)]
pub(super) struct Segment {
    pub(super) k: Vec<Vec<f32>>,
    pub(super) v: Vec<Vec<f32>>,
    pub(super) len: usize,
}

/// One sequence's keys and values: the frozen segments it shares (oldest first), then its tail.
#[derive(Clone, Default)]
pub struct KvCache {
    frozen: Vec<Arc<Segment>>,
    tail: Segment,
    len: usize,
}

/// One run of consecutive positions of one layer: its keys and its values (`[n, kv_dim]` each).
pub(super) struct Run<'a> {
    pub k: &'a [f32],
    pub v: &'a [f32],
}

impl KvCache {
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes the positions held so far shareable: later clones of this cache share them
    /// instead of copying them, and new positions go to a fresh tail.
    pub fn freeze(&mut self) {
        if self.tail.len > 0 {
            self.frozen.push(Arc::new(std::mem::take(&mut self.tail)));
        }
    }

    /// Each frozen segment once, as (identity, positions): what a byte budget should count when
    /// several caches share segments.
    pub fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.frozen.iter().map(|s| (Arc::as_ptr(s) as usize, s.len))
    }

    /// Positions held in the tail (copied by a clone).
    #[cfg(test)]
    pub fn tail_len(&self) -> usize {
        self.tail.len
    }

    /// Appends one position's keys and values for layer `l` (`layers` layers in all).
    pub(crate) fn push(&mut self, l: usize, layers: usize, k: &[f32], v: &[f32]) {
        if self.tail.k.is_empty() {
            self.tail.k = vec![Vec::new(); layers];
            self.tail.v = vec![Vec::new(); layers];
        }
        self.tail.k[l].extend_from_slice(k);
        self.tail.v[l].extend_from_slice(v);
    }

    /// Records `n` positions appended to every layer by [`Self::push`].
    pub(crate) fn advance(&mut self, n: usize) {
        self.tail.len += n;
        self.len += n;
    }

    /// The positions `range` of layer `l` (`kv_dim` values per position per side), as runs in
    /// order. Positions pushed but not yet advanced over are included.
    pub(super) fn runs(&self, l: usize, kv_dim: usize, range: Range<usize>) -> impl Iterator<Item = Run<'_>> {
        let parts = self.frozen.iter().map(|s| &**s).chain(std::iter::once(&self.tail));
        let mut start = 0;
        parts.filter_map(move |seg| {
            let held = seg.k.get(l).map_or(0, |k| k.len() / kv_dim.max(1));
            let (from, to) = (range.start.max(start), range.end.min(start + held));
            let first = start;
            start += held;
            (from < to).then(|| {
                let span = (from - first) * kv_dim..(to - first) * kv_dim;
                Run { k: &seg.k[l][span.clone()], v: &seg.v[l][span] }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: usize, from: f32) -> KvCache {
        let mut c = KvCache::default();
        for p in 0..n {
            for l in 0..2 {
                let x = from + p as f32 + 100.0 * l as f32;
                c.push(l, 2, &[x, x], &[-x, -x]);
            }
        }
        c.advance(n);
        c
    }

    fn keys(c: &KvCache, l: usize, r: Range<usize>) -> Vec<Vec<f32>> {
        c.runs(l, 2, r).map(|run| run.k.to_vec()).collect()
    }

    #[test]
    fn runs_cross_frozen_segments_and_the_tail_in_position_order() {
        let mut c = filled(3, 0.0);
        c.freeze();
        for l in 0..2 {
            let x = 3.0 + 100.0 * l as f32;
            c.push(l, 2, &[x, x], &[-x, -x]);
        }
        c.advance(1);
        assert_eq!(c.len(), 4);
        assert_eq!(keys(&c, 1, 0..4), vec![vec![100., 100., 101., 101., 102., 102.], vec![103., 103.]]);
        assert_eq!(keys(&c, 0, 2..4), vec![vec![2., 2.], vec![3., 3.]]);
        assert_eq!(keys(&c, 0, 1..2), vec![vec![1., 1.]]);
        let v: Vec<f32> = c.runs(0, 2, 0..4).flat_map(|r| r.v.to_vec()).collect();
        assert_eq!(v, vec![-0., -0., -1., -1., -2., -2., -3., -3.]);
    }

    #[test]
    fn a_clone_after_freeze_shares_and_diverges_without_touching_the_original() {
        let mut a = filled(2, 0.0);
        a.freeze();
        let mut b = a.clone();
        assert_eq!(b.tail_len(), 0);
        assert_eq!(a.segments().collect::<Vec<_>>(), b.segments().collect::<Vec<_>>());
        b.push(0, 2, &[9., 9.], &[9., 9.]);
        b.push(1, 2, &[9., 9.], &[9., 9.]);
        b.advance(1);
        assert_eq!(keys(&a, 0, 0..3), vec![vec![0., 0., 1., 1.]]);
        assert_eq!(keys(&b, 0, 0..3), vec![vec![0., 0., 1., 1.], vec![9., 9.]]);
        // Freezing an empty tail adds no segment.
        a.freeze();
        assert_eq!(a.segments().count(), 1);
    }
}
