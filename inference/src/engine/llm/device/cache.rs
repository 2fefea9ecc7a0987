//! A sequence's KV cache held on the forward pass's device, shaped like the host cache
//! (`super::super::kv`): frozen segments shared behind `Arc`s (a prefix-cache hit copies nothing)
//! and a tail of the sequence's own. candle tensors never change once made, so appending makes
//! a new tail tensor and every clone keeps the one it saw: snapshots cost nothing.

use std::cmp::Ordering;
use std::sync::Arc;

use candle_core::{Error, Result, Tensor};

/// Keys and values of consecutive positions: per layer `[kv_heads, len, head_dim]`.
#[derive(Clone, Default)]
struct Segment {
    k: Vec<Tensor>,
    v: Vec<Tensor>,
    len: usize,
}

/// One sequence's keys and values on the device.
#[derive(Clone, Default)]
pub struct DeviceCache {
    frozen: Vec<Arc<Segment>>,
    tail: Segment,
    len: usize,
}

impl DeviceCache {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Makes the positions held so far shareable (see `KvCache::freeze`).
    pub fn freeze(&mut self) {
        if self.tail.len > 0 {
            self.frozen.push(Arc::new(std::mem::take(&mut self.tail)));
        }
    }

    /// Each frozen segment once, as (identity, positions).
    pub fn segments(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.frozen.iter().map(|s| (Arc::as_ptr(s) as usize, s.len))
    }

    /// Appends `k` and `v` (`[kv_heads, n, head_dim]`) to layer `l`. Every layer is pushed
    /// once per forward pass, in order; `advance` then records the `n` positions.
    pub(super) fn push(&mut self, l: usize, k: &Tensor, v: &Tensor) -> Result<()> {
        let t = &mut self.tail;
        match l.cmp(&t.k.len()) {
            Ordering::Less => {
                t.k[l] = Tensor::cat(&[&t.k[l], k], 1)?;
                t.v[l] = Tensor::cat(&[&t.v[l], v], 1)?;
            }
            Ordering::Equal => {
                t.k.push(k.clone());
                t.v.push(v.clone());
            }
            Ordering::Greater => return Err(Error::Msg(format!("layer {l} pushed before the layers under it"))),
        }
        Ok(())
    }

    /// Records the positions pushed by this forward pass.
    pub(super) fn advance(&mut self, n: usize) {
        self.tail.len += n;
        self.len += n;
    }

    /// Every position of layer `l` in order, pushed ones included: `(keys, values)`, each
    /// `[kv_heads, len, head_dim]`.
    pub(super) fn layer(&self, l: usize) -> Result<(Tensor, Tensor)> {
        let parts = self.frozen.iter().map(|s| &**s).chain(std::iter::once(&self.tail));
        let (mut ks, mut vs) = (Vec::new(), Vec::new());
        for seg in parts {
            if let (Some(k), Some(v)) = (seg.k.get(l), seg.v.get(l)) {
                ks.push(k);
                vs.push(v);
            }
        }
        match ks.len() {
            0 => Err(Error::Msg(format!("layer {l} holds no positions"))),
            1 => Ok((ks[0].clone(), vs[0].clone())),
            _ => Ok((Tensor::cat(&ks, 1)?, Tensor::cat(&vs, 1)?)),
        }
    }
}
