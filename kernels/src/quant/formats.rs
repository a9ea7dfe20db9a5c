//! ggml's weight block formats as stored in GGUF files: their byte layouts, their dequantisation, and the
//! scalar twin of each dot product against quantized activations. Every layout here is read straight from
//! the file's bytes (little-endian, no alignment assumed), so a matrix is its GGUF bytes and nothing more.
//!
//! | format | values/block | bytes | value |
//! |---|---|---|---|
//! | Q4_0 | 32 | 18: `f16 d, u8 qs[16]` | `d · (q − 8)` |
//! | Q4_1 | 32 | 20: `f16 d, f16 m, u8 qs[16]` | `d · q + m` |
//! | Q5_0 | 32 | 22: `f16 d, u32 qh, u8 qs[16]` | `d · (q − 16)`, bit 4 of `q` from `qh` |
//! | Q8_0 | 32 | 34: `f16 d, i8 qs[32]` | `d · q` |
//! | Q4_K | 256 | 144: `f16 d, f16 dmin, u8 scales[12], u8 qs[128]` | `d·sc_j · q − dmin·m_j` (8 sub-blocks, 6-bit sc/m) |
//! | Q6_K | 256 | 210: `u8 ql[128], u8 qh[64], i8 scales[16], f16 d` | `d·sc_j · (q − 32)` (16 sub-blocks) |
//!
//! In 32-value formats element `j < 16` is the low nibble of `qs[j]` and element `j + 16` its high nibble.

use super::activations::{BlockQ8A, BlockQ8K};

/// A weight block format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum QType {
    Q4_0,
    Q4_1,
    Q5_0,
    Q8_0,
    Q4_K,
    Q6_K,
}

impl QType {
    pub const ALL: [QType; 6] = [QType::Q4_0, QType::Q4_1, QType::Q5_0, QType::Q8_0, QType::Q4_K, QType::Q6_K];

    /// Values per block.
    pub const fn block_values(self) -> usize {
        match self {
            QType::Q4_0 | QType::Q4_1 | QType::Q5_0 | QType::Q8_0 => 32,
            QType::Q4_K | QType::Q6_K => 256,
        }
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        match self {
            QType::Q4_0 => 18,
            QType::Q4_1 => 20,
            QType::Q5_0 => 22,
            QType::Q8_0 => 34,
            QType::Q4_K => 144,
            QType::Q6_K => 210,
        }
    }

    /// True for the 256-value formats, whose activations are quantized per 256 ([`BlockQ8K`]).
    pub const fn is_k_quant(self) -> bool {
        matches!(self, QType::Q4_K | QType::Q6_K)
    }

    /// ggml's name for it.
    pub const fn name(self) -> &'static str {
        match self {
            QType::Q4_0 => "Q4_0",
            QType::Q4_1 => "Q4_1",
            QType::Q5_0 => "Q5_0",
            QType::Q8_0 => "Q8_0",
            QType::Q4_K => "Q4_K",
            QType::Q6_K => "Q6_K",
        }
    }
}

impl std::fmt::Display for QType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[inline(always)]
pub(crate) fn f16_at(b: &[u8], at: usize) -> f32 {
    half::f16::from_bits(u16::from_le_bytes([b[at], b[at + 1]])).to_f32()
}

/// The 6-bit scale and min of sub-block `j` of a Q4_K block's 12 scale bytes.
#[inline(always)]
pub(crate) fn q4k_scale_min(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        ((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4))
    }
}

/// All 8 scales and all 8 mins of a Q4_K block's 12 scale bytes at once, byte `k` of each for sub-block
/// `k`: the same fields as [`q4k_scale_min`], read with a few word operations instead of 16 byte lookups.
#[inline(always)]
pub(crate) fn q4k_scales_mins(q: &[u8; 12]) -> (u64, u64) {
    const LOW6: u32 = 0x3f3f_3f3f;
    const LOW4: u32 = 0x0f0f_0f0f;
    const TOP2: u32 = 0x0303_0303;
    let word = |i: usize| u32::from_le_bytes([q[4 * i], q[4 * i + 1], q[4 * i + 2], q[4 * i + 3]]);
    let (w0, w1, w2) = (word(0), word(1), word(2));
    // Sub-blocks 0-3: the low 6 bits of bytes 0-3 (scales) and 4-7 (mins). Sub-blocks 4-7: a nibble of
    // bytes 8-11 below the top 2 bits of bytes 0-3 (scales) or 4-7 (mins).
    let scales_hi = (w2 & LOW4) | (((w0 >> 6) & TOP2) << 4);
    let mins_hi = ((w2 >> 4) & LOW4) | (((w1 >> 6) & TOP2) << 4);
    ((w0 & LOW6) as u64 | (scales_hi as u64) << 32, (w1 & LOW6) as u64 | (mins_hi as u64) << 32)
}

/// The four Q6_K values of half `n` of block `b` at offsets `l`, `l + 32`, `l + 64` and `l + 96` of that half,
/// with their +32 offset removed (low 4 bits from `ql`, top 2 from `qh`).
#[inline(always)]
fn q6k_values(b: &[u8], n: usize, l: usize) -> [i32; 4] {
    let (ql, qh) = (&b[64 * n..], &b[128 + 32 * n..]);
    [
        ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32,
        ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32,
        ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32,
        ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32,
    ]
}

/// Writes the values of one block of `ty` (its bytes `b`) into `out` (`ty.block_values()` long).
pub fn dequantize_block(ty: QType, b: &[u8], out: &mut [f32]) {
    match ty {
        QType::Q4_0 => {
            let d = f16_at(b, 0);
            for j in 0..16 {
                out[j] = d * ((b[2 + j] & 0xF) as i32 - 8) as f32;
                out[j + 16] = d * ((b[2 + j] >> 4) as i32 - 8) as f32;
            }
        }
        QType::Q4_1 => {
            let (d, m) = (f16_at(b, 0), f16_at(b, 2));
            for j in 0..16 {
                out[j] = d * (b[4 + j] & 0xF) as f32 + m;
                out[j + 16] = d * (b[4 + j] >> 4) as f32 + m;
            }
        }
        QType::Q5_0 => {
            let d = f16_at(b, 0);
            let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
            for j in 0..16 {
                let h0 = (((qh >> j) << 4) & 0x10) as i32;
                let h1 = ((qh >> (j + 12)) & 0x10) as i32;
                out[j] = d * (((b[6 + j] & 0xF) as i32 | h0) - 16) as f32;
                out[j + 16] = d * (((b[6 + j] >> 4) as i32 | h1) - 16) as f32;
            }
        }
        QType::Q8_0 => {
            let d = f16_at(b, 0);
            for j in 0..32 {
                out[j] = d * b[2 + j] as i8 as f32;
            }
        }
        QType::Q4_K => {
            let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
            let (scales, qs) = (&b[4..16], &b[16..144]);
            for c in 0..4 {
                let (s1, m1) = q4k_scale_min(2 * c, scales);
                let (s2, m2) = q4k_scale_min(2 * c + 1, scales);
                let (d1, m1) = (d * s1 as f32, dmin * m1 as f32);
                let (d2, m2) = (d * s2 as f32, dmin * m2 as f32);
                for l in 0..32 {
                    let q = qs[32 * c + l];
                    out[64 * c + l] = d1 * (q & 0xF) as f32 - m1;
                    out[64 * c + 32 + l] = d2 * (q >> 4) as f32 - m2;
                }
            }
        }
        QType::Q6_K => {
            let d = f16_at(b, 208);
            for n in 0..2 {
                let sc = &b[192 + 8 * n..];
                let y = &mut out[128 * n..];
                for l in 0..32 {
                    for (k, q) in q6k_values(b, n, l).into_iter().enumerate() {
                        y[l + 32 * k] = d * (sc[l / 16 + 2 * k] as i8) as f32 * q as f32;
                    }
                }
            }
        }
    }
}

/// The scalar twin for the 32-value formats: `Σ_blocks` of one weight row (`w`, `acts.len()` blocks) with one
/// activation row, each block's integer dot exact and scaled in `f32` as ggml's reference does.
pub fn dot_row_scalar_32(ty: QType, w: &[u8], acts: &[BlockQ8A]) -> f32 {
    let bb = ty.block_bytes();
    let mut sum = 0f32;
    for (b, a) in w.chunks_exact(bb).zip(acts) {
        let q = &a.qs;
        sum += match ty {
            QType::Q4_0 => {
                let mut s = 0i32;
                for j in 0..16 {
                    s += ((b[2 + j] & 0xF) as i32 - 8) * q[j] as i32 + ((b[2 + j] >> 4) as i32 - 8) * q[j + 16] as i32;
                }
                f16_at(b, 0) * a.d * s as f32
            }
            QType::Q4_1 => {
                let mut s = 0i32;
                for j in 0..16 {
                    s += (b[4 + j] & 0xF) as i32 * q[j] as i32 + (b[4 + j] >> 4) as i32 * q[j + 16] as i32;
                }
                f16_at(b, 0) * a.d * s as f32 + f16_at(b, 2) * a.s
            }
            QType::Q5_0 => {
                let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
                let mut s = 0i32;
                for j in 0..16 {
                    let h0 = (((qh >> j) << 4) & 0x10) as i32;
                    let h1 = ((qh >> (j + 12)) & 0x10) as i32;
                    s += (((b[6 + j] & 0xF) as i32 | h0) - 16) * q[j] as i32
                        + (((b[6 + j] >> 4) as i32 | h1) - 16) * q[j + 16] as i32;
                }
                f16_at(b, 0) * a.d * s as f32
            }
            QType::Q8_0 => {
                let s: i32 = (0..32).map(|j| b[2 + j] as i8 as i32 * q[j] as i32).sum();
                f16_at(b, 0) * a.d * s as f32
            }
            QType::Q4_K | QType::Q6_K => unreachable!("256-value formats use dot_row_scalar_k"),
        };
    }
    sum
}

/// The scalar twin for the 256-value formats against [`BlockQ8K`] activations (ggml's reference order:
/// integer sums per sub-block times its integer scale, one `f32` multiply per block).
pub fn dot_row_scalar_k(ty: QType, w: &[u8], acts: &[BlockQ8K]) -> f32 {
    let bb = ty.block_bytes();
    let mut sum = 0f32;
    for (b, a) in w.chunks_exact(bb).zip(acts) {
        sum += match ty {
            QType::Q4_K => {
                let (scales, qs) = (&b[4..16], &b[16..144]);
                let (mut isum, mut msum) = (0i32, 0i32);
                for c in 0..4 {
                    let (s1, m1) = q4k_scale_min(2 * c, scales);
                    let (s2, m2) = q4k_scale_min(2 * c + 1, scales);
                    let (mut lo, mut hi) = (0i32, 0i32);
                    for l in 0..32 {
                        let q = qs[32 * c + l];
                        lo += (q & 0xF) as i32 * a.qs[64 * c + l] as i32;
                        hi += (q >> 4) as i32 * a.qs[64 * c + 32 + l] as i32;
                    }
                    isum += s1 as i32 * lo + s2 as i32 * hi;
                    let bs = &a.bsums[4 * c..4 * c + 4];
                    msum += m1 as i32 * (bs[0] as i32 + bs[1] as i32) + m2 as i32 * (bs[2] as i32 + bs[3] as i32);
                }
                f16_at(b, 0) * a.d * isum as f32 - f16_at(b, 2) * a.d * msum as f32
            }
            QType::Q6_K => {
                let mut isum = 0i32;
                for n in 0..2 {
                    let sc = &b[192 + 8 * n..];
                    let y = &a.qs[128 * n..];
                    let mut sub = [0i32; 8];
                    for l in 0..32 {
                        for (k, q) in q6k_values(b, n, l).into_iter().enumerate() {
                            sub[l / 16 + 2 * k] += q * y[l + 32 * k] as i32;
                        }
                    }
                    for (j, s) in sub.iter().enumerate() {
                        isum += (sc[j] as i8) as i32 * s;
                    }
                }
                f16_at(b, 208) * a.d * isum as f32
            }
            _ => unreachable!("32-value formats use dot_row_scalar_32"),
        };
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4k_scales_read_whole_match_the_field_by_field_reading() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            let mut q = [0u8; 12];
            for b in &mut q {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *b = (seed >> 56) as u8;
            }
            let (scales, mins) = q4k_scales_mins(&q);
            for k in 0..8 {
                let byte = |v: u64| (v >> (8 * k)) as u8;
                assert_eq!((byte(scales), byte(mins)), q4k_scale_min(k, &q), "sub-block {k} of {q:?}");
            }
        }
    }
}
