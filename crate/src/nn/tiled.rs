//! A register-tiled matmul without shared memory, for software GPU adapters and few rows.
//!
//! Each unit computes a block of up to [`MAX_ROWS`] output rows × [`MAX_VECTORS`] vectors of
//! columns in f32 registers, reading each left value once per block row and each right vector
//! once per block, straight from global memory: no shared memory and no barriers, which a
//! CPU-side renderer (SwiftShader, lavapipe) runs as coroutine switches per unit. On both it
//! is several times faster than cubek's kernels (`benches/matmul.rs`; docs/internals.md).

use burn::backend::ops::FloatTensorOps;
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// Most output rows per unit.
const MAX_ROWS: usize = 8;
/// Most output vectors (of the right operand's vector width) per unit.
const MAX_VECTORS: usize = 4;
/// Most output rows and columns per unit when the right operand is stored transposed.
const NT_ROWS: usize = 8;
const NT_COLS: usize = 4;
/// Units per cube along the columns and along the rows.
const CUBE_X: u32 = 16;
const CUBE_Y: u32 = 4;

/// The offsets (`line · stride`) of `count` lines from `start`: lines past the edge (`len`)
/// read the last valid one, and their results are not written.
#[cube]
fn clamped_offsets(
    start: usize,
    len: usize,
    stride: usize,
    #[comptime] count: usize,
) -> Array<usize> {
    let mut at = Array::<usize>::new(count);
    #[unroll]
    for i in 0..count {
        let line = if start + i < len { start + i } else { len - 1 };
        at[i] = line * stride;
    }
    at
}

/// `count` f32 vector accumulators at zero.
#[cube]
fn zeros<N: Size>(#[comptime] count: usize) -> Array<Vector<f32, N>> {
    let mut acc = Array::<Vector<f32, N>>::new(count);
    #[unroll]
    for t in 0..count {
        acc[t] = Vector::<f32, N>::empty().fill(0.0);
    }
    acc
}

/// `acc[r·cols + c] += x[r] · b[c]` over the block: one step along `k`.
#[cube]
fn accumulate<N: Size>(
    acc: &mut Array<Vector<f32, N>>,
    x: &Array<Vector<f32, N>>,
    b: &Array<Vector<f32, N>>,
    #[comptime] rows: usize,
    #[comptime] cols: usize,
) {
    #[unroll]
    for r in 0..rows {
        #[unroll]
        for c in 0..cols {
            acc[r * cols + c] += x[r] * b[c];
        }
    }
}

#[cube(launch)]
fn tiled_matmul_kernel<F: Float, N: Size>(
    lhs: &Tensor<F>,
    rhs: &Tensor<Vector<F, N>>,
    out: &mut Tensor<Vector<F, N>>,
    #[comptime] rows: usize,
    #[comptime] cols: usize,
    #[define(F)] _dtype: ElemType,
) {
    let m = lhs.shape(0);
    let k = lhs.shape(1);
    let vectors = out.shape(1) / rhs.vector_size();
    let col = ABSOLUTE_POS_X as usize * cols;
    let row = ABSOLUTE_POS_Y as usize * rows;
    if col >= vectors || row >= m {
        terminate!();
    }
    let inner_stride = lhs.stride(1);
    let lhs_at = clamped_offsets(row, m, lhs.stride(0), rows);
    let rhs_at = clamped_offsets(col, vectors, 1, cols);
    let mut acc = zeros::<N>(rows * cols);
    let mut b = Array::<Vector<f32, N>>::new(cols);
    let mut x = Array::<Vector<f32, N>>::new(rows);
    let mut i = 0;
    while i < k {
        #[unroll]
        for c in 0..cols {
            b[c] = Vector::<f32, N>::cast_from(rhs[i * vectors + rhs_at[c]]);
        }
        #[unroll]
        for r in 0..rows {
            x[r] = Vector::<f32, N>::new(f32::cast_from(lhs[lhs_at[r] + i * inner_stride]));
        }
        accumulate(&mut acc, &x, &b, rows, cols);
        i += 1;
    }
    #[unroll]
    for r in 0..rows {
        #[unroll]
        for c in 0..cols {
            if row + r < m && col + c < vectors {
                out[(row + r) * vectors + col + c] = Vector::cast_from(acc[r * cols + c]);
            }
        }
    }
}

/// `lhs [m, k] × rhsᵀ` for `rhs` stored `[n, k]` row-major (a transposed weight): both read
/// as vectors along `k`, each output the lanes' sum of its vector accumulator.
#[cube(launch)]
fn tiled_matmul_nt_kernel<F: Float, N: Size>(
    lhs: &Tensor<Vector<F, N>>,
    rhs: &Tensor<Vector<F, N>>,
    out: &mut Tensor<F>,
    #[comptime] rows: usize,
    #[comptime] cols: usize,
    #[define(F)] _dtype: ElemType,
) {
    let width = lhs.vector_size();
    let m = out.shape(0);
    let n = out.shape(1);
    let steps = lhs.shape(1) / width;
    let col = ABSOLUTE_POS_X as usize * cols;
    let row = ABSOLUTE_POS_Y as usize * rows;
    if col >= n || row >= m {
        terminate!();
    }
    let lhs_at = clamped_offsets(row, m, steps, rows);
    let rhs_at = clamped_offsets(col, n, steps, cols);
    let mut acc = zeros::<N>(rows * cols);
    let mut b = Array::<Vector<f32, N>>::new(cols);
    let mut x = Array::<Vector<f32, N>>::new(rows);
    let mut i = 0;
    while i < steps {
        #[unroll]
        for c in 0..cols {
            b[c] = Vector::<f32, N>::cast_from(rhs[rhs_at[c] + i]);
        }
        #[unroll]
        for r in 0..rows {
            x[r] = Vector::<f32, N>::cast_from(lhs[lhs_at[r] + i]);
        }
        accumulate(&mut acc, &x, &b, rows, cols);
        i += 1;
    }
    #[unroll]
    for r in 0..rows {
        #[unroll]
        for c in 0..cols {
            if row + r < m && col + c < n {
                let v = acc[r * cols + c];
                let mut sum = 0.0f32;
                #[unroll]
                for l in 0..width {
                    sum += v.extract(l);
                }
                out[(row + r) * n + col + c] = F::cast_from(sum);
            }
        }
    }
}

/// `lhs [m, k] × rhs [k, n]` by the tiled kernels, accumulated in f32; `None` when the two
/// differ in type or are not floats. A right operand stored transposed (`[n, k]` row-major
/// read through swapped strides: a tied LM head, a weight in the backward pass) is read as it
/// is stored, by dot products along `k`; otherwise `lhs` is read through its strides (a
/// transposed view costs no copy) and `rhs` is made contiguous.
pub fn tiled_matmul(lhs: CubeTensor, rhs: CubeTensor) -> Option<CubeTensor> {
    let [m, k] = [lhs.meta.shape()[0], lhs.meta.shape()[1]];
    let n = rhs.meta.shape()[1];
    if lhs.dtype != rhs.dtype || !lhs.dtype.is_float() || k == 0 {
        return None;
    }
    let client = lhs.client.clone();
    let out = empty_device_dtype(client.clone(), lhs.device.clone(), [m, n].into(), lhs.dtype);
    if m == 0 || n == 0 {
        return Some(out);
    }
    let dtype = burn::backend::cubecl::dtype_to_storage_type(lhs.dtype);
    let width_of = |len: usize| {
        [4, 2]
            .into_iter()
            .find(|w| len.is_multiple_of(*w))
            .unwrap_or(1)
    };
    // A fixed 16 × 4 units per cube: cubes of fewer units, shaped to a narrow or short
    // product, were no faster on either software adapter and fewer cubes spread less.
    let launch_shape = |rows: usize, blocks_x: usize| {
        let blocks_y = m.div_ceil(rows) as u32;
        let count = CubeCount::Static(
            (blocks_x as u32).div_ceil(CUBE_X),
            blocks_y.div_ceil(CUBE_Y),
            1,
        );
        (count, CubeDim::new_2d(CUBE_X, CUBE_Y))
    };
    if rhs.meta.strides()[0] == 1 && n > 1 {
        let stored = into_contiguous(CubeBackend::float_swap_dims(rhs, 0, 1));
        let lhs = into_contiguous(lhs);
        let rows = m.next_power_of_two().min(NT_ROWS);
        let cols = n.next_power_of_two().min(NT_COLS);
        let (count, dim) = launch_shape(rows, n.div_ceil(cols));
        tiled_matmul_nt_kernel::launch(
            &client,
            count,
            dim,
            width_of(k),
            lhs.into_tensor_arg(),
            stored.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            rows,
            cols,
            dtype,
        );
        return Some(out);
    }
    let rhs = into_contiguous(rhs);
    let width = width_of(n);
    let rows = m.next_power_of_two().min(MAX_ROWS);
    let cols = (n / width).next_power_of_two().min(MAX_VECTORS);
    let (count, dim) = launch_shape(rows, (n / width).div_ceil(cols));
    tiled_matmul_kernel::launch(
        &client,
        count,
        dim,
        width,
        lhs.into_tensor_arg(),
        rhs.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        rows,
        cols,
        dtype,
    );
    Some(out)
}
