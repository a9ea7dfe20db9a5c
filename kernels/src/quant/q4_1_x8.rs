//! Q4_1 with 8 rows interleaved, as [`super::q4k_x8`] does for Q4_K: a vector of 32 quant bytes holds 4
//! bytes of each of 8 rows, so one broadcast of 4 activation bytes meets 8 rows and a tile of 8 rows × up
//! to 4 activation rows accumulates in 4 `f32` vectors.
//!
//! One block of 8 rows (32 columns each, [`GROUP_BYTES`] = 8 × 20 bytes, the same as GGUF):
//! - `0..16`: the rows' `d` (`f16` × 8); `16..32`: their `m`;
//! - `32..160`: quants, `[s][row r][4 bytes]` for step `s` (0..4): GGUF's `qs[4s .. 4s + 4]` of row `r` (low
//!   nibbles are values `4s ..`, high nibbles values `16 + 4s ..`).
//!
//! A matrix's data is its groups of 8 rows one after another, each its blocks in column order.

/// Rows interleaved together.
pub const ROWS: usize = 8;
/// Bytes of one block of 8 rows.
pub const GROUP_BYTES: usize = ROWS * 20;
const QUANTS: usize = 32;

/// GGUF Q4_1 rows (`rows` a multiple of 8, `nb` blocks of 20 bytes each) in the interleaved layout.
pub fn interleave(rows: usize, nb: usize, gguf: &[u8]) -> Vec<u8> {
    debug_assert!(rows.is_multiple_of(ROWS) && gguf.len() == rows * nb * 20);
    let mut out = vec![0u8; rows / ROWS * nb * GROUP_BYTES];
    for (g, group_out) in out.chunks_exact_mut(nb * GROUP_BYTES).enumerate() {
        for (b, o) in group_out.chunks_exact_mut(GROUP_BYTES).enumerate() {
            for r in 0..ROWS {
                let src = &gguf[((g * ROWS + r) * nb + b) * 20..][..20];
                o[2 * r..2 * r + 2].copy_from_slice(&src[0..2]);
                o[16 + 2 * r..16 + 2 * r + 2].copy_from_slice(&src[2..4]);
                for s in 0..4 {
                    o[QUANTS + (s * ROWS + r) * 4..][..4].copy_from_slice(&src[4 + 4 * s..][..4]);
                }
            }
        }
    }
    out
}

/// Row `r` (0..8) of one interleaved block, as the GGUF block it came from.
pub fn gguf_block(group: &[u8], r: usize) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[0..2].copy_from_slice(&group[2 * r..2 * r + 2]);
    b[2..4].copy_from_slice(&group[16 + 2 * r..16 + 2 * r + 2]);
    for s in 0..4 {
        b[4 + 4 * s..][..4].copy_from_slice(&group[QUANTS + (s * ROWS + r) * 4..][..4]);
    }
    b
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use std::arch::x86_64::*;

    use super::{GROUP_BYTES, QUANTS};
    use crate::quant::activations::BlockQ8A;

    /// Groups `groups` of 8 rows (group `g` at `w + g · nb · GROUP_BYTES`) against `RA` activation rows:
    /// `out[j · stride + 8g + r] = a[j] · row 8g + r`. Per block and activation row: 8 byte products
    /// summed in `i16` (at most 8 · 2 · 15 · 127), one `madd` to `i32`, then `d_w d_a Σ q a + m_w s_a`.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; every group holds `nb` interleaved blocks, each `a[j]` `nb` blocks,
    /// and `out` is writable at those places.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn groups<const RA: usize>(
        w: *const u8,
        groups: std::ops::Range<usize>,
        a: [*const BlockQ8A; RA],
        nb: usize,
        out: *mut f32,
        stride: usize,
    ) {
        let m4 = _mm256_set1_epi8(0x0F);
        let ones = _mm256_set1_epi16(1);
        for gi in groups {
            let mut acc = [_mm256_setzero_ps(); RA];
            for b in 0..nb {
                // SAFETY: block b of group gi, and block b of each activation row (the caller's contract).
                unsafe {
                    let g = w.add((gi * nb + b) * GROUP_BYTES);
                    let mut s16 = [_mm256_setzero_si256(); RA];
                    for s in 0..4 {
                        let v = _mm256_loadu_si256(g.add(QUANTS + s * 32) as *const __m256i);
                        let lo = _mm256_and_si256(v, m4);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                        for j in 0..RA {
                            let q = (*a[j].add(b)).qs.as_ptr();
                            let al = _mm256_set1_epi32(std::ptr::read_unaligned(q.add(4 * s) as *const i32));
                            let ah = _mm256_set1_epi32(std::ptr::read_unaligned(q.add(16 + 4 * s) as *const i32));
                            let p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, al), _mm256_maddubs_epi16(hi, ah));
                            s16[j] = _mm256_add_epi16(s16[j], p);
                        }
                    }
                    let d = _mm256_cvtph_ps(_mm_loadu_si128(g as *const __m128i));
                    let m = _mm256_cvtph_ps(_mm_loadu_si128(g.add(16) as *const __m128i));
                    for j in 0..RA {
                        let ab = &*a[j].add(b);
                        let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(s16[j], ones));
                        acc[j] = _mm256_fmadd_ps(sums, _mm256_mul_ps(d, _mm256_set1_ps(ab.d)), acc[j]);
                        acc[j] = _mm256_fmadd_ps(m, _mm256_set1_ps(ab.s), acc[j]);
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
