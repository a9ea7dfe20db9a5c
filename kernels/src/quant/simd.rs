//! The x86-64 dot-product kernels of every weight format: one weight row against `RA` activation rows at
//! once, so each weight block is loaded and unpacked to int8 once for all of them (a decode batch of up to
//! `RA` sequences, or a tile of a prompt chunk).
//!
//! The same source is compiled twice by [`kernels!`]: for AVX2 (`maddubs` + `madd`, as ggml's AVX2 code) and
//! for AVX-512 VNNI + BW + VL, where the unsigned×signed byte dot product of the 32-value formats is one
//! `vpdpbusd`. The integer sums are identical either way (no step can saturate: `|w| ≤ 127` after the sign
//! trick, nibbles ≤ 15, 6-bit values ≤ 63), and each block's sum is scaled and accumulated in the order of
//! ggml's AVX2 kernels.

use super::activations::{BlockQ8A, BlockQ8K};

/// Byte-shuffle masks: row `k` spreads the `i16` lane `k` of each 128-bit half over all 8 lanes of that half.
static SPREAD: [[u8; 32]; 8] = {
    let mut m = [[0u8; 32]; 8];
    let mut k = 0;
    while k < 8 {
        let mut i = 0;
        while i < 16 {
            m[k][2 * i] = 2 * k as u8;
            m[k][2 * i + 1] = 2 * k as u8 + 1;
            i += 1;
        }
        k += 1;
    }
    m
};

macro_rules! kernels {
    ($name:ident, $features:literal, |$u:ident, $s:ident| $dot:block) => {
        pub(super) mod $name {
            #[allow(unused_imports)]
            use std::arch::x86_64::*;

            use super::{BlockQ8A, BlockQ8K, SPREAD};
            use crate::quant::formats::QType;

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn f16(p: *const u8) -> f32 {
                // SAFETY: the caller passes a pointer to two readable bytes.
                let bits = unsafe { std::ptr::read_unaligned(p as *const u16) };
                _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(bits as i32)))
            }

            #[target_feature(enable = $features)]
            #[inline]
            fn hsum(x: __m256) -> f32 {
                let r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
                let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
                let r = _mm_add_ss(r, _mm_movehdup_ps(r));
                _mm_cvtss_f32(r)
            }

            /// Sums of 4 adjacent `u · s` byte products (u unsigned, s signed), as 8 `i32`.
            #[target_feature(enable = $features)]
            #[inline]
            fn dot_u8_i8($u: __m256i, $s: __m256i) -> __m256i $dot

            /// 32 nibbles of 16 bytes: low nibbles first, then high, as unsigned bytes.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn nibbles(p: *const u8) -> __m256i {
                // SAFETY: the caller passes 16 readable bytes.
                let q = unsafe { _mm_loadu_si128(p as *const __m128i) };
                let m4 = _mm_set1_epi8(0x0F);
                _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4))
            }

            /// 32 bytes, 0xFF where bit `i` of the 32 bits at `p` is set.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn bytes_from_bits(p: *const u8) -> __m256i {
                // SAFETY: the caller passes 4 readable bytes.
                let x = unsafe { std::ptr::read_unaligned(p as *const u32) };
                let shuf = _mm256_set_epi64x(
                    0x0303030303030303,
                    0x0202020202020202,
                    0x0101010101010101,
                    0x0000000000000000,
                );
                let bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(x as i32), shuf);
                let bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
                _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1))
            }

            /// Weight rows `rows` of a 32-value format (row `r` at `w + r · row_bytes`, `nb` blocks) against
            /// `RA` activation rows: `out[j · stride + r] = a[j] · row r`.
            ///
            /// # Safety
            /// The CPU has this module's features; every row in `rows` holds `nb` blocks of `ty`, each `a[j]`
            /// `nb` blocks, and `out` is writable at every `j · stride + r`.
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn rows32<const RA: usize>(
                ty: QType,
                w: *const u8,
                row_bytes: usize,
                rows: std::ops::Range<usize>,
                a: [*const BlockQ8A; RA],
                nb: usize,
                out: *mut f32,
                stride: usize,
            ) {
                // SAFETY: the caller's contract; each instance handles one format.
                unsafe {
                    match ty {
                        QType::Q4_0 => each_row::<0, RA>(w, row_bytes, rows, a, nb, out, stride),
                        QType::Q4_1 => each_row::<1, RA>(w, row_bytes, rows, a, nb, out, stride),
                        QType::Q5_0 => each_row::<2, RA>(w, row_bytes, rows, a, nb, out, stride),
                        QType::Q8_0 => each_row::<3, RA>(w, row_bytes, rows, a, nb, out, stride),
                        QType::Q4_K | QType::Q6_K => unreachable!("256-value formats use rowsk"),
                    }
                }
            }

            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn each_row<const F: u8, const RA: usize>(
                w: *const u8,
                row_bytes: usize,
                rows: std::ops::Range<usize>,
                a: [*const BlockQ8A; RA],
                nb: usize,
                out: *mut f32,
                stride: usize,
            ) {
                for r in rows {
                    // SAFETY: the caller's contract.
                    unsafe {
                        let y = row32::<F, RA>(w.add(r * row_bytes), a, nb);
                        for j in 0..RA {
                            *out.add(j * stride + r) = y[j];
                        }
                    }
                }
            }

            /// The format of instance `F` of [`row32`].
            const fn format(f: u8) -> QType {
                match f {
                    0 => QType::Q4_0,
                    1 => QType::Q4_1,
                    2 => QType::Q5_0,
                    _ => QType::Q8_0,
                }
            }

            /// [`dot32`] for one format, fixed at compile time; two accumulators per activation row (even and
            /// odd blocks) so consecutive blocks' FMAs do not wait on each other.
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn row32<const F: u8, const RA: usize>(
                w: *const u8,
                a: [*const BlockQ8A; RA],
                nb: usize,
            ) -> [f32; RA] {
                let mut even = [_mm256_setzero_ps(); RA];
                let mut odd = [_mm256_setzero_ps(); RA];
                let mut off_even = [0f32; RA];
                let mut off_odd = [0f32; RA];
                let mut b = 0;
                while b + 1 < nb {
                    // SAFETY: blocks b and b + 1 exist (the caller's contract).
                    unsafe {
                        block32::<F, RA>(w, a, b, &mut even, &mut off_even);
                        block32::<F, RA>(w, a, b + 1, &mut odd, &mut off_odd);
                    }
                    b += 2;
                }
                if b < nb {
                    // SAFETY: block b exists.
                    unsafe { block32::<F, RA>(w, a, b, &mut even, &mut off_even) };
                }
                let mut out = [0f32; RA];
                for j in 0..RA {
                    out[j] = hsum(_mm256_add_ps(even[j], odd[j])) + (off_even[j] + off_odd[j]);
                }
                out
            }

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn block32<const F: u8, const RA: usize>(
                w: *const u8,
                a: [*const BlockQ8A; RA],
                b: usize,
                acc: &mut [__m256; RA],
                offsets: &mut [f32; RA],
            ) {
                let ty = const { format(F) };
                // SAFETY: block b of the row (the caller's contract).
                let blk = unsafe { w.add(b * ty.block_bytes()) };
                let d = unsafe { f16(blk) };
                // The weights as bytes, and whether they are signed (else unsigned with an offset).
                let (wv, signed) = unsafe {
                    match ty {
                        QType::Q4_0 => (_mm256_sub_epi8(nibbles(blk.add(2)), _mm256_set1_epi8(8)), true),
                        QType::Q4_1 => (nibbles(blk.add(4)), false),
                        QType::Q5_0 => {
                            let hi = _mm256_andnot_si256(bytes_from_bits(blk.add(2)), _mm256_set1_epi8(-16));
                            (_mm256_or_si256(nibbles(blk.add(6)), hi), true)
                        }
                        _ => (_mm256_loadu_si256(blk.add(2) as *const __m256i), true),
                    }
                };
                let m = if signed { 0.0 } else { unsafe { f16(blk.add(2)) } };
                let wabs = _mm256_sign_epi8(wv, wv);
                for j in 0..RA {
                    // SAFETY: block b of activation row j.
                    let ab = unsafe { &*a[j].add(b) };
                    let av = unsafe { _mm256_loadu_si256(ab.qs.as_ptr() as *const __m256i) };
                    let p = if signed { dot_u8_i8(wabs, _mm256_sign_epi8(av, wv)) } else { dot_u8_i8(wv, av) };
                    acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab.d), _mm256_cvtepi32_ps(p), acc[j]);
                    if !signed {
                        offsets[j] += m * ab.s;
                    }
                }
            }

            /// [`rows32`] for the K-quants.
            ///
            /// # Safety
            /// As [`rows32`].
            #[target_feature(enable = $features)]
            #[allow(clippy::too_many_arguments)]
            pub unsafe fn rowsk<const RA: usize>(
                ty: QType,
                w: *const u8,
                row_bytes: usize,
                rows: std::ops::Range<usize>,
                a: [*const BlockQ8K; RA],
                nb: usize,
                out: *mut f32,
                stride: usize,
            ) {
                for r in rows {
                    // SAFETY: the caller's contract.
                    unsafe {
                        let row = w.add(r * row_bytes);
                        let y = match ty {
                            QType::Q4_K => q4_k::<RA>(row, a, nb),
                            QType::Q6_K => q6_k::<RA>(row, a, nb),
                            _ => unreachable!("32-value formats use rows32"),
                        };
                        for j in 0..RA {
                            *out.add(j * stride + r) = y[j];
                        }
                    }
                }
            }

            /// Q4_K: each 64 values share a nibble load (low nibbles the first 32, high the next). The 8 6-bit
            /// scales are widened once per block into one register and each is spread over a vector by a byte
            /// shuffle; the 8 6-bit mins meet the activations' sums per 32 in one `madd` per block, kept in
            /// their own accumulator (scaled by `dmin`).
            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn q4_k<const RA: usize>(w: *const u8, a: [*const BlockQ8K; RA], nb: usize) -> [f32; RA] {
                let mut acc = [_mm256_setzero_ps(); RA];
                let mut acc_m = [_mm_setzero_ps(); RA];
                let m4 = _mm256_set1_epi8(0x0F);
                for b in 0..nb {
                    // SAFETY: block b of the row.
                    let blk = unsafe { w.add(b * 144) };
                    let (d, dmin) = unsafe { (f16(blk), f16(blk.add(2))) };
                    // SAFETY: the 12 scale bytes of the block.
                    let (sc, mn) = crate::quant::formats::q4k_scales_mins(unsafe { &*(blk.add(4) as *const [u8; 12]) });
                    let scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(sc as i64)));
                    let mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(mn as i64));
                    let mut sumi = [_mm256_setzero_si256(); RA];
                    for c in 0..4 {
                        let q4 = unsafe { _mm256_loadu_si256(blk.add(16 + 32 * c) as *const __m256i) };
                        let lo = _mm256_and_si256(q4, m4);
                        let hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
                        // One activation row (decode): spread the widened scales by a shuffle. Several: the
                        // scalar broadcast, which keeps the vector ports for the rows' products.
                        let (sl, sh) = if RA == 1 {
                            // SAFETY: rows of `SPREAD` are 32 bytes.
                            unsafe {
                                (
                                    _mm256_shuffle_epi8(scales, _mm256_loadu_si256(SPREAD[2 * c].as_ptr() as *const __m256i)),
                                    _mm256_shuffle_epi8(scales, _mm256_loadu_si256(SPREAD[2 * c + 1].as_ptr() as *const __m256i)),
                                )
                            }
                        } else {
                            (
                                _mm256_set1_epi16(((sc >> (16 * c)) & 0xFF) as i16),
                                _mm256_set1_epi16(((sc >> (16 * c + 8)) & 0xFF) as i16),
                            )
                        };
                        for j in 0..RA {
                            // SAFETY: values 64c .. 64c + 64 of block b of activation row j.
                            let q8 = unsafe { (*a[j].add(b)).qs.as_ptr().add(64 * c) };
                            let (al, ah) = unsafe {
                                (
                                    _mm256_loadu_si256(q8 as *const __m256i),
                                    _mm256_loadu_si256(q8.add(32) as *const __m256i),
                                )
                            };
                            let pl = _mm256_madd_epi16(sl, _mm256_maddubs_epi16(lo, al));
                            let ph = _mm256_madd_epi16(sh, _mm256_maddubs_epi16(hi, ah));
                            sumi[j] = _mm256_add_epi32(sumi[j], _mm256_add_epi32(pl, ph));
                        }
                    }
                    for j in 0..RA {
                        // SAFETY: block b of activation row j.
                        let ab = unsafe { &*a[j].add(b) };
                        let sums = unsafe { _mm_loadu_si128(ab.sums32.as_ptr() as *const __m128i) };
                        let msum = _mm_cvtepi32_ps(_mm_madd_epi16(mins, sums));
                        acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * ab.d), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
                        acc_m[j] = _mm_fmadd_ps(_mm_set1_ps(dmin * ab.d), msum, acc_m[j]);
                    }
                }
                let mut out = [0f32; RA];
                for j in 0..RA {
                    let m = _mm_add_ps(acc_m[j], _mm_movehl_ps(acc_m[j], acc_m[j]));
                    let m = _mm_add_ss(m, _mm_movehdup_ps(m));
                    out[j] = hsum(acc[j]) - _mm_cvtss_f32(m);
                }
                out
            }

            #[target_feature(enable = $features)]
            #[inline]
            unsafe fn q6_k<const RA: usize>(w: *const u8, a: [*const BlockQ8K; RA], nb: usize) -> [f32; RA] {
                let mut acc = [_mm256_setzero_ps(); RA];
                let m4 = _mm256_set1_epi8(0x0F);
                let m2 = _mm256_set1_epi8(3);
                for b in 0..nb {
                    // SAFETY: block b of the row.
                    let blk = unsafe { w.add(b * 210) };
                    let d = unsafe { f16(blk.add(208)) };
                    // The values are stored +32: Σ scale · (q - 32) · a = Σ scale · q · a - 32 Σ scale · (sum of a
                    // per 16), the second from the activations' sums, once per block.
                    let all_scales = unsafe { _mm256_cvtepi8_epi16(_mm_loadu_si128(blk.add(192) as *const __m128i)) };
                    let mut sumi = [_mm256_setzero_si256(); RA];
                    for j in 0..RA {
                        // SAFETY: block b of activation row j.
                        let sums = unsafe { _mm256_loadu_si256((*a[j].add(b)).bsums.as_ptr() as *const __m256i) };
                        let offset = _mm256_slli_epi32(_mm256_madd_epi16(all_scales, sums), 5);
                        sumi[j] = _mm256_sub_epi32(sumi[j], offset);
                    }
                    for n in 0..2 {
                        // SAFETY: the block's ql, qh and scales of this half.
                        let (ql, qh, sc) = unsafe { (blk.add(64 * n), blk.add(128 + 32 * n), blk.add(192 + 8 * n)) };
                        let (l1, l2, h) = unsafe {
                            (
                                _mm256_loadu_si256(ql as *const __m256i),
                                _mm256_loadu_si256(ql.add(32) as *const __m256i),
                                _mm256_loadu_si256(qh as *const __m256i),
                            )
                        };
                        let h0 = _mm256_slli_epi16(_mm256_and_si256(h, m2), 4);
                        let h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4);
                        let h2 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4);
                        let h3 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4);
                        let q = [
                            _mm256_or_si256(_mm256_and_si256(l1, m4), h0),
                            _mm256_or_si256(_mm256_and_si256(l2, m4), h1),
                            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), h2),
                            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l2, 4), m4), h3),
                        ];
                        let mut scales = [_mm256_setzero_si256(); 4];
                        for (k, s) in scales.iter_mut().enumerate() {
                            // SAFETY: the 8 scales of this half.
                            let (lo, hi) = unsafe { (*sc.add(2 * k) as i8 as i16, *sc.add(2 * k + 1) as i8 as i16) };
                            *s = _mm256_set_m128i(_mm_set1_epi16(hi), _mm_set1_epi16(lo));
                        }
                        for j in 0..RA {
                            // SAFETY: values 128n .. 128n + 128 of block b of activation row j.
                            let q8 = unsafe { (*a[j].add(b)).qs.as_ptr().add(128 * n) };
                            for k in 0..4 {
                                let av = unsafe { _mm256_loadu_si256(q8.add(32 * k) as *const __m256i) };
                                let p = _mm256_maddubs_epi16(q[k], av);
                                sumi[j] = _mm256_add_epi32(sumi[j], _mm256_madd_epi16(scales[k], p));
                            }
                        }
                    }
                    for j in 0..RA {
                        let ad = unsafe { (*a[j].add(b)).d };
                        acc[j] = _mm256_fmadd_ps(_mm256_set1_ps(d * ad), _mm256_cvtepi32_ps(sumi[j]), acc[j]);
                    }
                }
                let mut out = [0f32; RA];
                for j in 0..RA {
                    out[j] = hsum(acc[j]);
                }
                out
            }
        }
    };
}

kernels!(avx2, "avx2,fma,f16c", |u, s| { _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)) });
kernels!(vnni, "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni", |u, s| {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, s)
});
