//! Turning ggml blocks into f32 values (llama.cpp's `dequantize_row_*`, written from the
//! format's definition). Each function takes whole blocks and appends to `out`.

use half::{bf16, f16};

use super::types::GgmlType;

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Dequantizes `bytes` (whole blocks of `ty`) into `out`. The caller has checked that `bytes`
/// holds exactly the tensor's blocks and that `ty` is supported.
pub(super) fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut Vec<f32>) {
    let (_, block_bytes) = ty.block();
    let blocks = bytes.chunks_exact(block_bytes as usize);
    match ty {
        GgmlType::F32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        GgmlType::F16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        GgmlType::BF16 => out.extend(
            bytes
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()),
        ),
        GgmlType::Q8_0 => blocks.for_each(|b| q8_0(b, out)),
        GgmlType::Q4_0 => blocks.for_each(|b| q4_0(b, out)),
        GgmlType::Q4_1 => blocks.for_each(|b| q4_1(b, out)),
        GgmlType::Q4_K => blocks.for_each(|b| q4_k(b, out)),
        GgmlType::Q6_K => blocks.for_each(|b| q6_k(b, out)),
        // Unsupported types are refused before any bytes are read.
        _ => {}
    }
}

/// `d: f16, qs: [i8; 32]` → `qs[i]·d`.
fn q8_0(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    out.extend(b[2..34].iter().map(|&q| f32::from(q as i8) * d));
}

/// `d: f16, qs: [u8; 16]`: low nibbles are values 0..16, high nibbles 16..32, offset by 8.
fn q4_0(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    out.extend(qs.iter().map(|&q| (f32::from(q & 0xF) - 8.0) * d));
    out.extend(qs.iter().map(|&q| (f32::from(q >> 4) - 8.0) * d));
}

/// `d: f16, m: f16, qs: [u8; 16]` → `q·d + m`, nibbles laid out as in Q4_0.
fn q4_1(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    out.extend(qs.iter().map(|&q| f32::from(q & 0xF) * d + m));
    out.extend(qs.iter().map(|&q| f32::from(q >> 4) * d + m));
}

/// The 6-bit scale and min of sub-block `j` from Q4_K's 12 packed scale bytes.
fn scale_min_k4(j: usize, s: &[u8]) -> (f32, f32) {
    let (sc, m) = if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4),
            (s[j + 4] >> 4) | ((s[j] >> 6) << 4),
        )
    };
    (f32::from(sc), f32::from(m))
}

/// `d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128]`: 8 sub-blocks of 32 values, each
/// `q·d·scale − dmin·min`; each 32 bytes of `qs` hold two sub-blocks (low, then high nibbles).
fn q4_k(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    for (pair, qs) in b[16..144].chunks_exact(32).enumerate() {
        let (sc1, m1) = scale_min_k4(2 * pair, scales);
        let (sc2, m2) = scale_min_k4(2 * pair + 1, scales);
        let (d1, m1) = (d * sc1, dmin * m1);
        let (d2, m2) = (d * sc2, dmin * m2);
        out.extend(qs.iter().map(|&q| d1 * f32::from(q & 0xF) - m1));
        out.extend(qs.iter().map(|&q| d2 * f32::from(q >> 4) - m2));
    }
}

/// `ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: f16`: 6-bit values (4 low bits in `ql`,
/// 2 high bits in `qh`) offset by 32, 16 sub-blocks of 16 values with their own scale.
fn q6_k(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 208);
    let start = out.len();
    out.resize(start + 256, 0.0);
    let y = &mut out[start..];
    for half in 0..2 {
        let ql = &b[half * 64..half * 64 + 64];
        let qh = &b[128 + half * 32..128 + half * 32 + 32];
        let sc = &b[192 + half * 8..192 + half * 8 + 8];
        let y = &mut y[half * 128..half * 128 + 128];
        for l in 0..32 {
            let is = l / 16;
            let q = |low: u8, shift: u8| f32::from((low | ((qh[l] >> shift) & 3) << 4) as i8 - 32);
            let scale = |k: usize| d * f32::from(sc[is + k] as i8);
            y[l] = scale(0) * q(ql[l] & 0xF, 0);
            y[l + 32] = scale(2) * q(ql[l + 32] & 0xF, 2);
            y[l + 64] = scale(4) * q(ql[l] >> 4, 4);
            y[l + 96] = scale(6) * q(ql[l + 32] >> 4, 6);
        }
    }
}
