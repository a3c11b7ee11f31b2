//! The KV cache: keys and values of the positions a model has seen, written in place.
//!
//! Each layer keeps `[batch, kv_heads, capacity, head_dim]` buffers and how many positions
//! are filled. A new token's keys and values are written into the free rows (one slice
//! assignment each, in place when nothing else holds the buffer) instead of concatenating
//! the whole past into a new tensor per token; the capacity doubles when it runs out.

use burn::tensor::Tensor;

/// Free positions added at least when a layer's buffers grow.
const GROW_AT_LEAST: usize = 64;

/// One layer's cached keys and values.
#[derive(Debug, Clone, Default)]
pub struct LayerCache {
    /// `[batch, kv_heads, capacity, head_dim]` each (before GQA repetition).
    kv: Option<(Tensor<4>, Tensor<4>)>,
    /// Positions filled (the first `len` of the capacity).
    len: usize,
}

impl LayerCache {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `k` and `v` (`[batch, kv_heads, seq, head_dim]`) and returns the keys and
    /// values of every position so far, `[batch, kv_heads, len, head_dim]`.
    pub fn append(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let seq = k.dims()[2];
        let Some((keys, values)) = self.kv.take() else {
            // The first forward (a prompt, or training): the new keys are the whole cache.
            self.kv = Some((k.clone(), v.clone()));
            self.len = seq;
            return (k, v);
        };
        let (start, end) = (self.len, self.len + seq);
        let capacity = keys.dims()[2];
        let (keys, values) = match end > capacity {
            true => {
                let wanted = (2 * capacity).max(end + GROW_AT_LEAST);
                (grow(keys, start, wanted), grow(values, start, wanted))
            }
            false => (keys, values),
        };
        let keys = write(keys, k, start);
        let values = write(values, v, start);
        self.len = end;
        self.kv = Some((keys.clone(), values.clone()));
        (keys.narrow(2, 0, end), values.narrow(2, 0, end))
    }
}

/// `x`'s first `filled` positions in a new buffer of `capacity` positions (zeros after).
fn grow(x: Tensor<4>, filled: usize, capacity: usize) -> Tensor<4> {
    let [batch, heads, _, dim] = x.dims();
    let fresh = Tensor::zeros([batch, heads, capacity, dim], (&x.device(), x.dtype()));
    write(fresh, x.narrow(2, 0, filled), 0)
}

/// `buffer` with `rows` written at positions `start..` of dimension 2.
fn write(buffer: Tensor<4>, rows: Tensor<4>, start: usize) -> Tensor<4> {
    let [batch, heads, seq, dim] = rows.dims();
    buffer.slice_assign([0..batch, 0..heads, start..start + seq, 0..dim], rows)
}

/// Keys and values of the positions a model has already seen, per layer, so that generation
/// feeds only the new token.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    /// Per layer.
    pub layers: Vec<LayerCache>,
}

impl KvCache {
    /// An empty cache for a model with `layers` layers.
    pub fn new(layers: usize) -> Self {
        Self {
            layers: vec![LayerCache::default(); layers],
        }
    }

    /// How many positions the cache holds.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, LayerCache::len)
    }

    /// Whether the cache holds no position.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn rows(device: &Device, seq: usize, first: f32) -> Tensor<4> {
        let values: Vec<f32> = (0..2 * seq * 3).map(|i| first + i as f32).collect();
        Tensor::from_data(TensorData::new(values, [1, 2, seq, 3]), device)
    }

    #[test]
    fn appends_in_place_what_a_concatenation_holds() {
        let device = Device::flex();
        let mut cache = LayerCache::default();
        let mut all = Vec::new();
        // A prompt, then single tokens well past the first growth, then a few at once.
        for (step, seq) in [5, 1, 1].into_iter().chain([1; 70]).chain([4]).enumerate() {
            let k = rows(&device, seq, 1000.0 * step as f32);
            all.push(k.clone());
            let (keys, values) = cache.append(k.clone(), k.neg());
            let expected = Tensor::cat(all.clone(), 2);
            assert_eq!(keys.dims(), expected.dims());
            assert_eq!(cache.len(), expected.dims()[2]);
            let same = |a: Tensor<4>, b: Tensor<4>| {
                assert_eq!(
                    a.into_data().try_to_vec::<f32>().unwrap(),
                    b.into_data().try_to_vec::<f32>().unwrap()
                );
            };
            same(keys, expected.clone());
            same(values, expected.neg());
        }
    }
}
