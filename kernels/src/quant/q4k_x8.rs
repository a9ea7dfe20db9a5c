//! Q4_K with 8 rows interleaved: the layout the SIMD kernels read for Q4_K matrices whose row count is a
//! multiple of 8 (all of Qwen2.5's). A vector of 32 quant bytes holds 4 bytes of each of 8 rows, so one
//! broadcast of 4 activation bytes meets 8 rows at once: the products land in one lane per row, a tile of 8
//! rows × up to 4 activation rows is 4 `f32` accumulators with no horizontal sums, and each unpacked weight
//! vector serves every activation row of the tile.
//!
//! One block of 8 rows (256 columns each, [`GROUP_BYTES`] = 8 × 148 bytes, 4 more per row than GGUF's 144
//! because the 6-bit scales and mins are stored unpacked as bytes):
//! - `0..16`: the rows' `d` (`f16` × 8); `16..32`: their `dmin`;
//! - `32..96`: scales, `[sub-block k][row r]` (so 8 bytes are sub-block `k`'s scale of every row);
//! - `96..160`: mins by pairs of sub-blocks, `[pair p][row r][2]` (16 bytes widen to the `i16` pairs a `madd`
//!   with the activations' sums of sub-blocks `2p` and `2p + 1` takes);
//! - `160..1184`: quants, `[c][s][row r][4 bytes]`: GGUF's `qs[32c + 4s .. 32c + 4s + 4]` of row `r` (low
//!   nibbles are values `64c + 4s ..`, of sub-block `2c`; high nibbles values `64c + 32 + 4s ..`, of `2c + 1`).
//!
//! A matrix's data is its groups of 8 rows one after another, each its blocks in column order.

/// Rows interleaved together.
pub const ROWS: usize = 8;
/// Bytes of one block of 8 rows.
pub const GROUP_BYTES: usize = ROWS * 148;
const SCALES: usize = 32;
const MINS: usize = 96;
const QUANTS: usize = 160;

/// GGUF Q4_K rows (`rows` a multiple of 8, `nb` blocks of 144 bytes each) in the interleaved layout.
pub fn interleave(rows: usize, nb: usize, gguf: &[u8]) -> Vec<u8> {
    debug_assert!(rows.is_multiple_of(ROWS) && gguf.len() == rows * nb * 144);
    let mut out = vec![0u8; rows / ROWS * nb * GROUP_BYTES];
    for (g, group_out) in out.chunks_exact_mut(nb * GROUP_BYTES).enumerate() {
        for (b, o) in group_out.chunks_exact_mut(GROUP_BYTES).enumerate() {
            for r in 0..ROWS {
                let src = &gguf[((g * ROWS + r) * nb + b) * 144..][..144];
                o[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
                o[16 + 2 * r..16 + 2 * r + 2].copy_from_slice(&src[2..4]);
                let (sc, mn) = super::formats::q4k_scales_mins(src[4..16].try_into().expect("12 bytes"));
                for k in 0..8 {
                    o[SCALES + 8 * k + r] = (sc >> (8 * k)) as u8;
                    o[MINS + 16 * (k / 2) + 2 * r + k % 2] = (mn >> (8 * k)) as u8;
                }
                for c in 0..4 {
                    for s in 0..8 {
                        o[QUANTS + ((c * 8 + s) * ROWS + r) * 4..][..4]
                            .copy_from_slice(&src[16 + 32 * c + 4 * s..][..4]);
                    }
                }
            }
        }
    }
    out
}

/// Row `r` (0..8) of one interleaved block, as the GGUF block it came from.
pub fn gguf_block(group: &[u8], r: usize) -> [u8; 144] {
    let mut b = [0u8; 144];
    b[0..2].copy_from_slice(&group[2 * r..2 * r + 2]);
    b[2..4].copy_from_slice(&group[16 + 2 * r..16 + 2 * r + 2]);
    let sc = |k: usize| group[SCALES + 8 * k + r];
    let mn = |k: usize| group[MINS + 16 * (k / 2) + 2 * r + k % 2];
    for i in 0..4 {
        // Inverse of ggml's `get_scale_min_k4`: sub-blocks 0-3 in the low 6 bits of bytes 0-7, the top 2 bits
        // of sub-blocks 4-7 above them, their low 4 bits in bytes 8-11.
        b[4 + i] = sc(i) | ((sc(i + 4) >> 4) << 6);
        b[8 + i] = mn(i) | ((mn(i + 4) >> 4) << 6);
        b[12 + i] = (sc(i + 4) & 0xF) | ((mn(i + 4) & 0xF) << 4);
    }
    for c in 0..4 {
        for s in 0..8 {
            b[16 + 32 * c + 4 * s..][..4].copy_from_slice(&group[QUANTS + ((c * 8 + s) * ROWS + r) * 4..][..4]);
        }
    }
    b
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use std::arch::x86_64::*;

    use super::{GROUP_BYTES, MINS, QUANTS, SCALES};
    use crate::quant::activations::BlockQ8K;

    /// The sums over sub-blocks `2c` (low nibbles, `HALVES` 0 or 2) and `2c + 1` (high nibbles, `HALVES` 1
    /// or 2) of block `b` for 8 rows × `RA` activation rows, as `i16` pairs per row (at most 8 · 2 · 15 · 128
    /// = 30720, so no overflow); `[half][j]`. Few activation rows take both halves from one weight load;
    /// more take one at a time, so the sums stay in registers.
    ///
    /// # Safety
    /// AVX2; `g` is a whole interleaved block; each `a[j]` has block `b`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn sums<const RA: usize, const HALVES: usize>(
        g: *const u8,
        c: usize,
        a: [*const BlockQ8K; RA],
        b: usize,
    ) -> [[__m256i; RA]; 2] {
        let m4 = _mm256_set1_epi8(0x0F);
        let mut s16 = [[_mm256_setzero_si256(); RA]; 2];
        for s in 0..8 {
            // SAFETY: quants `[c][s]` of the block, and activation values of sub-blocks `2c` and `2c + 1`.
            unsafe {
                let v = _mm256_loadu_si256(g.add(QUANTS + (c * 8 + s) * 32) as *const __m256i);
                for (half, sums) in s16.iter_mut().enumerate() {
                    if HALVES != 2 && HALVES != half {
                        continue;
                    }
                    let q =
                        if half == 0 { _mm256_and_si256(v, m4) } else { _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) };
                    for j in 0..RA {
                        let at = (*a[j].add(b)).qs.as_ptr().add(64 * c + 32 * half + 4 * s);
                        let av = _mm256_set1_epi32(std::ptr::read_unaligned(at as *const i32));
                        sums[j] = _mm256_add_epi16(sums[j], _mm256_maddubs_epi16(q, av));
                    }
                }
            }
        }
        s16
    }

    /// Adds sub-block `k`'s `i16` sums times each row's scale of it to `sumi`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn scale_into<const RA: usize>(g: *const u8, k: usize, s16: &[__m256i; RA], sumi: &mut [__m256i; RA]) {
        // SAFETY: the block's scales (the caller passes a whole block). Each row's scale goes in both `i16`
        // halves of its lane.
        let sc = unsafe { _mm256_cvtepu8_epi32(_mm_loadl_epi64(g.add(SCALES + 8 * k) as *const __m128i)) };
        let sc = _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16));
        for j in 0..RA {
            sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(s16[j], sc));
        }
    }

    /// Groups `groups` of 8 rows (group `g` at `w + g · nb · GROUP_BYTES`) against `RA` activation rows:
    /// `out[j · stride + 8g + r] = a[j] · row 8g + r`.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; every group holds `nb` interleaved blocks, each `a[j]` `nb` blocks,
    /// and `out` is writable at those places.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn groups<const RA: usize>(
        w: *const u8,
        groups: std::ops::Range<usize>,
        a: [*const BlockQ8K; RA],
        nb: usize,
        out: *mut f32,
        stride: usize,
    ) {
        for gi in groups {
            let mut acc = [_mm256_setzero_ps(); RA];
            for b in 0..nb {
                // SAFETY: block b of group gi, and block b of each activation row (the caller's contract).
                unsafe {
                    let g = w.add((gi * nb + b) * GROUP_BYTES);
                    let mut sumi = [_mm256_setzero_si256(); RA];
                    for c in 0..4 {
                        if RA <= 2 {
                            let [lo, hi] = sums::<RA, 2>(g, c, a, b);
                            scale_into(g, 2 * c, &lo, &mut sumi);
                            scale_into(g, 2 * c + 1, &hi, &mut sumi);
                        } else {
                            scale_into(g, 2 * c, &sums::<RA, 0>(g, c, a, b)[0], &mut sumi);
                            scale_into(g, 2 * c + 1, &sums::<RA, 1>(g, c, a, b)[1], &mut sumi);
                        }
                    }
                    let d = _mm256_cvtph_ps(_mm_loadu_si128(g as *const __m128i));
                    let dmin = _mm256_cvtph_ps(_mm_loadu_si128(g.add(16) as *const __m128i));
                    for j in 0..RA {
                        let ab = &*a[j].add(b);
                        let mut msum = _mm256_setzero_si256();
                        for p in 0..4 {
                            let mins = _mm256_cvtepu8_epi16(_mm_loadu_si128(g.add(MINS + 16 * p) as *const __m128i));
                            let sums = std::ptr::read_unaligned(ab.sums32.as_ptr().add(2 * p) as *const i32);
                            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(mins, _mm256_set1_epi32(sums)));
                        }
                        let ad = _mm256_set1_ps(ab.d);
                        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[j]), _mm256_mul_ps(d, ad), acc[j]);
                        acc[j] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(dmin, ad), acc[j]);
                    }
                }
            }
            for (j, v) in acc.iter().enumerate() {
                // SAFETY: the caller's contract on `out`.
                unsafe { _mm256_storeu_ps(out.add(j * stride + gi * super::ROWS), *v) };
            }
        }
    }
}
