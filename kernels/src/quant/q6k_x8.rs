//! Q6_K with 8 rows interleaved, as [`super::q4k_x8`] does for Q4_K: a vector of 32 quant bytes holds 4
//! bytes of each of 8 rows, so one broadcast of 4 activation bytes meets 8 rows and a tile of 8 rows × up
//! to 4 activation rows accumulates in 4 `f32` vectors.
//!
//! One block of 8 rows (256 columns each, [`GROUP_BYTES`] = 8 × 210 bytes, the same as GGUF):
//! - `0..16`: the rows' `d` (`f16` × 8);
//! - `16..144`: the 16 `i8` scales by pairs, `[pair p][row r][2]` (16 bytes widen to the `i16` pairs a
//!   `madd` with the activations' sums of values `32p .. 32p + 32` takes);
//! - `144..1680`: quants, `[n][s][part][row r][4 bytes]` for half `n` (values `128n ..`), 4-value step `s`
//!   (0..8) and part 0: GGUF's `ql[64n + 4s ..]` (low 4 bits of values `128n + 4s ..` and, in the high
//!   nibbles, of `128n + 64 + 4s ..`), 1: `ql[64n + 32 + 4s ..]` (values `+32` and `+96`), 2: `qh[32n + 4s ..]`
//!   (the top 2 bits of all four).
//!
//! A matrix's data is its groups of 8 rows one after another, each its blocks in column order.

/// Rows interleaved together.
pub const ROWS: usize = 8;
/// Bytes of one block of 8 rows.
pub const GROUP_BYTES: usize = ROWS * 210;
const SCALES: usize = 16;
const QUANTS: usize = 144;

/// Offset of quant part `part` of half `n`, step `s` in a block.
const fn quants(n: usize, s: usize, part: usize) -> usize {
    QUANTS + ((n * 8 + s) * 3 + part) * 32
}

/// Where GGUF's bytes of part `part` of half `n`, step `s` start in a 210-byte block.
const fn gguf_part(n: usize, s: usize, part: usize) -> usize {
    match part {
        0 => 64 * n + 4 * s,
        1 => 64 * n + 32 + 4 * s,
        _ => 128 + 32 * n + 4 * s,
    }
}

/// GGUF Q6_K rows (`rows` a multiple of 8, `nb` blocks of 210 bytes each) in the interleaved layout.
pub fn interleave(rows: usize, nb: usize, gguf: &[u8]) -> Vec<u8> {
    debug_assert!(rows.is_multiple_of(ROWS) && gguf.len() == rows * nb * 210);
    let mut out = vec![0u8; rows / ROWS * nb * GROUP_BYTES];
    for (g, group_out) in out.chunks_exact_mut(nb * GROUP_BYTES).enumerate() {
        for (b, o) in group_out.chunks_exact_mut(GROUP_BYTES).enumerate() {
            for r in 0..ROWS {
                let src = &gguf[((g * ROWS + r) * nb + b) * 210..][..210];
                o[2 * r..2 * r + 2].copy_from_slice(&src[208..210]);
                for k in 0..16 {
                    o[SCALES + 16 * (k / 2) + 2 * r + k % 2] = src[192 + k];
                }
                for n in 0..2 {
                    for s in 0..8 {
                        for part in 0..3 {
                            o[quants(n, s, part) + 4 * r..][..4].copy_from_slice(&src[gguf_part(n, s, part)..][..4]);
                        }
                    }
                }
            }
        }
    }
    out
}

/// Row `r` (0..8) of one interleaved block, as the GGUF block it came from.
pub fn gguf_block(group: &[u8], r: usize) -> [u8; 210] {
    let mut b = [0u8; 210];
    b[208..210].copy_from_slice(&group[2 * r..2 * r + 2]);
    for k in 0..16 {
        b[192 + k] = group[SCALES + 16 * (k / 2) + 2 * r + k % 2];
    }
    for n in 0..2 {
        for s in 0..8 {
            for part in 0..3 {
                b[gguf_part(n, s, part)..][..4].copy_from_slice(&group[quants(n, s, part) + 4 * r..][..4]);
            }
        }
    }
    b
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use std::arch::x86_64::*;

    use super::{GROUP_BYTES, SCALES, quants};
    use crate::quant::activations::BlockQ8K;

    /// Byte-shuffle masks: `DUP[e]` puts element `e` of each row's widened scale pair in both `i16` halves
    /// of that row's lane.
    static DUP: [[u8; 32]; 2] = {
        let mut m = [[0u8; 32]; 2];
        let mut e = 0;
        while e < 2 {
            let mut i = 0;
            while i < 8 {
                let base = (4 * (i % 4) + 2 * e) as u8;
                m[e][4 * i] = base;
                m[e][4 * i + 1] = base + 1;
                m[e][4 * i + 2] = base;
                m[e][4 * i + 3] = base + 1;
                i += 1;
            }
            e += 1;
        }
        m
    };

    /// Values `128n + 32k + 4s ..` of the 8 rows (0..63, the +32 offset kept) from the step's three parts.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    fn values(k: usize, ql_a: __m256i, ql_b: __m256i, qh: __m256i) -> __m256i {
        let m4 = _mm256_set1_epi8(0x0F);
        let m30 = _mm256_set1_epi8(0x30);
        match k {
            0 => _mm256_or_si256(_mm256_and_si256(ql_a, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
            1 => _mm256_or_si256(_mm256_and_si256(ql_b, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
            2 => _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), m4), _mm256_and_si256(qh, m30)),
            _ => _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16(ql_b, 4), m4),
                _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30),
            ),
        }
    }

    /// Adds `Σ scale · q · a` over the values `128n + 32k ..  + 32` of block `b` (for each `k` in `ks`) to
    /// `sumi`, 8 rows × `RA` activation rows. Two steps' products (at most 2 · 2 · 63 · 128 = 32256) add up
    /// in `i16` before their scale multiplies them.
    ///
    /// # Safety
    /// AVX2; `g` is a whole interleaved block; each `a[j]` has block `b`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn quarters<const RA: usize, const K0: usize, const KN: usize>(
        g: *const u8,
        n: usize,
        a: [*const BlockQ8K; RA],
        b: usize,
        sumi: &mut [__m256i; RA],
    ) {
        for (e, dup) in DUP.iter().enumerate() {
            // Each row's scale `e` of pair 4n + k (steps 4e .. 4e + 4), spread over both halves of its lane.
            let scales: [__m256i; KN] = std::array::from_fn(|i| {
                // SAFETY: the block's scales; `DUP` rows are 32 bytes.
                unsafe {
                    let pair = _mm_loadu_si128(g.add(SCALES + 16 * (4 * n + K0 + i)) as *const __m128i);
                    _mm256_shuffle_epi8(_mm256_cvtepi8_epi16(pair), _mm256_loadu_si256(dup.as_ptr() as *const __m256i))
                }
            });
            for sp in 2 * e..2 * e + 2 {
                let mut s16 = [[_mm256_setzero_si256(); RA]; KN];
                for s in 2 * sp..2 * sp + 2 {
                    // SAFETY: the step's parts, and activation values `128n + 32k + 4s ..` of block b.
                    unsafe {
                        let part = |p: usize| _mm256_loadu_si256(g.add(quants(n, s, p)) as *const __m256i);
                        let (ql_a, ql_b, qh) = (part(0), part(1), part(2));
                        for (i, sums) in s16.iter_mut().enumerate() {
                            let k = K0 + i;
                            let q = values(k, ql_a, ql_b, qh);
                            for j in 0..RA {
                                let at = (*a[j].add(b)).qs.as_ptr().add(128 * n + 32 * k + 4 * s);
                                let av = _mm256_set1_epi32(std::ptr::read_unaligned(at as *const i32));
                                sums[j] = _mm256_add_epi16(sums[j], _mm256_maddubs_epi16(q, av));
                            }
                        }
                    }
                }
                for (sums, sc) in s16.iter().zip(&scales) {
                    for j in 0..RA {
                        sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(sums[j], *sc));
                    }
                }
            }
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
                    // The values are stored +32: Σ sc · (q − 32) · a = Σ sc · q · a − 32 Σ sc · (sum of a per 16).
                    let mut sumi = [_mm256_setzero_si256(); RA];
                    for j in 0..RA {
                        let bsums = (*a[j].add(b)).bsums.as_ptr();
                        let mut off = _mm256_setzero_si256();
                        for p in 0..8 {
                            let sc = _mm256_cvtepi8_epi16(_mm_loadu_si128(g.add(SCALES + 16 * p) as *const __m128i));
                            let sums = std::ptr::read_unaligned(bsums.add(2 * p) as *const i32);
                            off = _mm256_add_epi32(off, _mm256_madd_epi16(sc, _mm256_set1_epi32(sums)));
                        }
                        sumi[j] = _mm256_sub_epi32(sumi[j], _mm256_slli_epi32(off, 5));
                    }
                    for n in 0..2 {
                        if RA <= 2 {
                            quarters::<RA, 0, 4>(g, n, a, b, &mut sumi);
                        } else {
                            quarters::<RA, 0, 1>(g, n, a, b, &mut sumi);
                            quarters::<RA, 1, 1>(g, n, a, b, &mut sumi);
                            quarters::<RA, 2, 1>(g, n, a, b, &mut sumi);
                            quarters::<RA, 3, 1>(g, n, a, b, &mut sumi);
                        }
                    }
                    let d = _mm256_cvtph_ps(_mm_loadu_si128(g as *const __m128i));
                    for j in 0..RA {
                        let ad = _mm256_set1_ps((*a[j].add(b)).d);
                        acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[j]), _mm256_mul_ps(d, ad), acc[j]);
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
