//! Turning f32 values into ggml blocks, as llama.cpp's reference quantizers do
//! (`quantize_row_q8_0_ref`; gguf-py's `quants.py` gives the same bytes): the inverse of
//! [`super::dequant`] for the types webtune writes.

use half::f16;

use super::types::GgmlType;

/// Appends `values` (whole blocks of `ty`) encoded as `ty` to `out`. `ty` is F32, F16 or
/// Q8_0 (the writer accepts no other).
pub(super) fn encode(ty: GgmlType, values: &[f32], out: &mut Vec<u8>) {
    match ty {
        GgmlType::F32 => values
            .iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes())),
        GgmlType::F16 => values
            .iter()
            .for_each(|&v| out.extend_from_slice(&f16::from_f32(v).to_le_bytes())),
        GgmlType::Q8_0 => values.chunks_exact(32).for_each(|b| q8_0(b, out)),
        other => unreachable!("{other} is not written"),
    }
}

/// One Q8_0 block: `d = max|x| / 127` (as f16), `q = round(x / d)` (halves away from zero,
/// C's `roundf`), with the reciprocal taken of the f32 `d` as llama.cpp does.
fn q8_0(block: &[f32], out: &mut Vec<u8>) {
    let amax = block.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
    out.extend(block.iter().map(|&x| (x * id).round() as i8 as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_0_follows_the_reference() {
        let mut block = [0f32; 32];
        // d = 1: halves round away from zero.
        block[0] = -127.0;
        block[1] = 2.5;
        block[2] = -2.5;
        block[3] = 0.49;
        let mut out = Vec::new();
        q8_0(&block, &mut out);
        assert_eq!(out.len(), 34);
        assert_eq!(f16::from_le_bytes([out[0], out[1]]), f16::from_f32(1.0));
        assert_eq!(
            [out[2] as i8, out[3] as i8, out[4] as i8, out[5] as i8],
            [-127, 3, -3, 0]
        );
        let mut zeros = Vec::new();
        q8_0(&[0.0; 32], &mut zeros);
        assert!(zeros.iter().all(|&b| b == 0));
    }
}
