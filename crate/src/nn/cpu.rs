//! The CPU tier's own element-wise kernels, where burn-flex's are scalar loops on one thread:
//! GELU, whose `erf` burn-flex computes with libm one element at a time (a third of the time
//! BERT took to embed text on two cores).
//!
//! Natively the tensor is cut into chunks that run on every core
//! ([`crate::platform::for_each_chunk`]); each chunk's loop has no branch and no call, so the
//! compiler vectorises it (AVX2 natively, `simd128` in wasm).

use burn::backend::DispatchDevice;
use burn::tensor::Device;

/// Elements per chunk handed to a thread.
const CHUNK: usize = 1 << 14;

/// Whether tensors on `device` take burn-flex's own fused kernels (attention, LayerNorm): the
/// CPU tier outside autodiff, which would differentiate them through their decomposition.
pub fn fused(device: &Device) -> bool {
    matches!(device.as_dispatch(), DispatchDevice::Flex(_))
}

/// `erf(x)` in f32 by a rational function of `x²` (the form XLA and Eigen use), `x` clamped
/// to ±4 where `erf` is ±1 in f32. Within 4e-7 of the exact value everywhere (f32's spacing
/// near 1 is 6e-8).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const P: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ];
    const Q: [f32; 5] = [
        -1.456_607_15e-5,
        -2.133_740_5e-4,
        -1.682_827e-3,
        -7.373_329_2e-3,
        -1.426_473_9e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = P[1..].iter().fold(P[0], |acc, &c| acc * x2 + c);
    let q = Q[1..].iter().fold(Q[0], |acc, &c| acc * x2 + c);
    x * p / q
}

/// Exact GELU, `x · ½ · (1 + erf(x / √2))`, in place.
pub fn gelu(values: &mut [f32]) {
    crate::platform::for_each_chunk(values, CHUNK, |chunk| {
        for v in chunk {
            *v *= 0.5 * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `erf` in f64 to ~1e-15: its Taylor series below 3, Laplace's continued fraction for
    /// `erfc` above.
    fn erf_f64(x: f64) -> f64 {
        let a = x.abs();
        let value = if a < 3.0 {
            let (mut sum, mut term) = (a, a);
            for n in 1..120 {
                term *= -a * a / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            let fraction = (1..60).rev().fold(0.0, |f, n| (n as f64 / 2.0) / (a + f));
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + fraction)
        };
        value.copysign(x)
    }

    #[test]
    fn erf_is_within_its_bound_everywhere() {
        let mut worst = 0.0f64;
        for i in -80_000..=80_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf(x) as f64 - erf_f64(x as f64)).abs());
        }
        assert!(worst < 4e-7, "erf is off by {worst:e}");
        assert_eq!((erf(0.0), erf(100.0), erf(-100.0)), (0.0, 1.0, -1.0));
    }

    #[test]
    fn gelu_matches_its_definition_across_chunks() {
        let n = 3 * CHUNK + 5;
        let xs: Vec<f32> = (0..n).map(|i| (i as f32 / n as f32 - 0.5) * 20.0).collect();
        let mut ys = xs.clone();
        gelu(&mut ys);
        for (x, y) in xs.iter().zip(&ys) {
            let x = *x as f64;
            let exact = 0.5 * x * (1.0 + erf_f64(x / 2f64.sqrt()));
            assert!(
                (*y as f64 - exact).abs() <= 2e-6 * x.abs().max(1.0),
                "{x}: {y} vs {exact}"
            );
        }
    }
}
