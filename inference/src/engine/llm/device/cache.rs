//! A sequence's KV cache held on the forward pass's device. Each layer's keys and values live
//! in one buffer with room to grow (`[kv_heads, capacity, head_dim]`), written in place: a
//! decode step writes one position and reads a view of the buffer, where copying the whole
//! cache every step would cost a kernel launch per copy and per layer, which is what a GPU
//! pays most for with a small model.
//!
//! Clones share the buffers, so a snapshot (a prefix-cache entry, a choice's options) costs
//! nothing. Positions below a buffer's high-water mark are never written again: a sequence
//! appends in place only while its end is the mark; one that finds the mark past its end
//! (another clone wrote there first, or a failed pass did) copies its own positions into a
//! new buffer first. So every clone keeps seeing exactly what it held.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use candle_core::{Error, Result, Tensor};

/// Positions a new buffer has room for at least (it grows by doubling).
const MIN_CAPACITY: usize = 128;

/// One layer's keys and values, `[kv_heads, capacity, head_dim]` each, and how many
/// positions any clone has written (shared by the clones).
#[derive(Clone)]
struct Buffer {
    k: Tensor,
    v: Tensor,
    written: Arc<AtomicUsize>,
}

impl Buffer {
    fn capacity(&self) -> Result<usize> {
        self.k.dim(1)
    }

    /// Claims positions `at..at + n` for in-place writing when `at` is the high-water mark
    /// and they fit.
    fn claim(&self, at: usize, n: usize) -> Result<bool> {
        if at + n > self.capacity()? {
            return Ok(false);
        }
        Ok(self.written.compare_exchange(at, at + n, Ordering::AcqRel, Ordering::Acquire).is_ok())
    }

    /// A new buffer with room for `need` positions, holding the first `keep` of `from`, its
    /// positions up to `need` claimed for the caller.
    fn grown(from: Option<&Buffer>, like: &Tensor, keep: usize, need: usize) -> Result<Self> {
        let (kv, _, head_dim) = like.dims3()?;
        let capacity = need.next_power_of_two().max(MIN_CAPACITY);
        let k = Tensor::zeros((kv, capacity, head_dim), like.dtype(), like.device())?;
        let v = k.zeros_like()?;
        if let (Some(old), true) = (from, keep > 0) {
            k.slice_set(&old.k.narrow(1, 0, keep)?.contiguous()?, 1, 0)?;
            v.slice_set(&old.v.narrow(1, 0, keep)?.contiguous()?, 1, 0)?;
        }
        Ok(Self { k, v, written: Arc::new(AtomicUsize::new(need)) })
    }
}

/// One sequence's keys and values on the device.
#[derive(Clone, Default)]
pub struct DeviceCache {
    layers: Vec<Buffer>,
    /// Runs of positions made shareable by `freeze`, as (identity, positions): what the prefix
    /// cache counts once however many snapshots hold them.
    frozen: Vec<Arc<usize>>,
    frozen_len: usize,
    len: usize,
    /// Positions pushed by the pass under way (recorded by `advance`).
    pending: usize,
}

impl DeviceCache {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Makes the positions held so far shareable (see `KvCache::freeze`).
    pub fn freeze(&mut self) {
        if self.len > self.frozen_len {
            self.frozen.push(Arc::new(self.len - self.frozen_len));
            self.frozen_len = self.len;
        }
    }

    /// Each frozen run once, as (identity, positions).
    pub fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.frozen.iter().map(|s| (Arc::as_ptr(s) as usize, **s))
    }

    /// Appends `k` and `v` (`[kv_heads, n, head_dim]`) to layer `l`. Every layer is pushed
    /// once per forward pass, in order; `advance` then records the `n` positions.
    pub(super) fn push(&mut self, l: usize, k: &Tensor, v: &Tensor) -> Result<()> {
        let (at, n) = (self.len, k.dim(1)?);
        if l > self.layers.len() {
            return Err(Error::Msg(format!("layer {l} pushed before the layers under it")));
        }
        let in_place = match self.layers.get(l) {
            Some(buffer) => buffer.claim(at, n)?,
            None => false,
        };
        if !in_place {
            let grown = Buffer::grown(self.layers.get(l), k, at, at + n)?;
            match self.layers.get_mut(l) {
                Some(slot) => *slot = grown,
                None => self.layers.push(grown),
            }
        }
        let buffer = &self.layers[l];
        buffer.k.slice_set(&k.contiguous()?, 1, at)?;
        buffer.v.slice_set(&v.contiguous()?, 1, at)?;
        self.pending = n;
        Ok(())
    }

    /// Records the positions pushed by this forward pass.
    pub(super) fn advance(&mut self, n: usize) {
        self.len += n;
        self.pending = 0;
    }

    /// Every position of layer `l` in order, pushed ones included: `(keys, values)`, each a
    /// `[kv_heads, len, head_dim]` view of the layer's buffer.
    pub(super) fn layer(&self, l: usize) -> Result<(Tensor, Tensor)> {
        let held = self.len + self.pending;
        match self.layers.get(l) {
            Some(b) if held > 0 => Ok((b.k.narrow(1, 0, held)?, b.v.narrow(1, 0, held)?)),
            _ => Err(Error::Msg(format!("layer {l} holds no positions"))),
        }
    }
}
