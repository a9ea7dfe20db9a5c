//! The Q8_0 quantized format (ggml's layout: blocks of 32 `i8` values sharing one `f16` scale) and its
//! matrix product with activations, `out[m][n] = x[m][k] · W[n][k]ᵀ`.
//!
//! Why our own: candle's CPU path computes every (row, column) pair with a separate dot-product call that
//! converts both `f16` scales each block, so a batch of 8 decode tokens costs almost 8 single-token passes.
//! Here the weight scales are widened to `f32` once at load, activations are quantized once per call, and
//! the AVX2 kernel multiplies a register tile of 4 weight rows × 2 activation rows per block load — each
//! weight block read once serves every row of the batch. Each output is accumulated in exactly the order of
//! candle's (and ggml's) AVX2 `vec_dot_q8_0_q8_0`, so results are bit-identical to theirs; the scalar twin
//! differs from it only in float summation order.

use crate::cpu::CpuFeatures;
use crate::parallel;

/// Values per block.
pub const BLOCK: usize = 32;
/// Bytes per block in ggml's layout: `f16` scale then 32 `i8`.
pub const BLOCK_BYTES: usize = 34;

/// One block: `value[i] = d · qs[i]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct BlockQ8_0 {
    /// The scale, as `f16` bits.
    pub d: u16,
    pub qs: [i8; BLOCK],
}

impl Default for BlockQ8_0 {
    fn default() -> Self {
        Self { d: 0, qs: [0; BLOCK] }
    }
}

/// Why a Q8_0 matrix could not be built or used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Q8Error {
    #[error("Q8_0 rows must be a multiple of {BLOCK} values long, got {0}")]
    RaggedRow(usize),
    #[error("a {rows}×{cols} Q8_0 matrix takes {expected} bytes, got {got}")]
    WrongSize { rows: usize, cols: usize, expected: usize, got: usize },
    #[error("activations of {got} values are not a whole number of {cols}-value rows")]
    WrongInput { cols: usize, got: usize },
}

/// Quantizes `x` (a multiple of 32 values) into blocks exactly as ggml and candle do: scale = max|x| / 127
/// rounded to `f16`, values rounded with the unrounded scale's inverse.
pub fn quantize(x: &[f32], out: &mut [BlockQ8_0]) {
    debug_assert_eq!(x.len(), out.len() * BLOCK);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { quantize_avx2(x, out) };
    }
    quantize_portable(x, out);
}

/// The same code compiled for AVX2, where `round` becomes vector instructions instead of a libm call per
/// value (same results: `round` is exact either way).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_avx2(x: &[f32], out: &mut [BlockQ8_0]) {
    quantize_portable(x, out);
}

#[inline(always)]
fn quantize_portable(x: &[f32], out: &mut [BlockQ8_0]) {
    for (block, xs) in out.iter_mut().zip(x.chunks_exact(BLOCK)) {
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        block.d = half::f16::from_f32(d).to_bits();
        for (q, &v) in block.qs.iter_mut().zip(xs) {
            *q = (v * id).round() as i8;
        }
    }
}

/// The value of every element, for references and tests.
pub fn dequantize(blocks: &[BlockQ8_0]) -> Vec<f32> {
    blocks.iter().flat_map(|b| b.qs.map(|q| q as f32 * half::f16::from_bits(b.d).to_f32())).collect()
}

/// A weight matrix of `rows` outputs × `cols` inputs in Q8_0, with its scales widened to `f32`.
#[derive(Debug, Clone)]
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    blocks: Vec<BlockQ8_0>,
    scales: Vec<f32>,
    simd: bool,
}

impl Q8Matrix {
    /// Builds the matrix from blocks, row after row.
    pub fn new(rows: usize, cols: usize, blocks: Vec<BlockQ8_0>) -> Result<Self, Q8Error> {
        if !cols.is_multiple_of(BLOCK) {
            return Err(Q8Error::RaggedRow(cols));
        }
        let expected = rows * cols / BLOCK;
        if blocks.len() != expected {
            return Err(Q8Error::WrongSize {
                rows,
                cols,
                expected: expected * BLOCK_BYTES,
                got: blocks.len() * BLOCK_BYTES,
            });
        }
        let scales = blocks.iter().map(|b| half::f16::from_bits(b.d).to_f32()).collect();
        let features = CpuFeatures::detect();
        Ok(Self { rows, cols, blocks, scales, simd: features.avx2 && features.fma })
    }

    /// Builds the matrix from ggml's bytes (as stored in GGUF files).
    pub fn from_ggml_bytes(rows: usize, cols: usize, bytes: &[u8]) -> Result<Self, Q8Error> {
        if !cols.is_multiple_of(BLOCK) {
            return Err(Q8Error::RaggedRow(cols));
        }
        let expected = rows * cols / BLOCK * BLOCK_BYTES;
        if bytes.len() != expected {
            return Err(Q8Error::WrongSize { rows, cols, expected, got: bytes.len() });
        }
        let blocks = bytes
            .chunks_exact(BLOCK_BYTES)
            .map(|b| BlockQ8_0 { d: u16::from_le_bytes([b[0], b[1]]), qs: std::array::from_fn(|i| b[2 + i] as i8) })
            .collect();
        Self::new(rows, cols, blocks)
    }

    /// Quantizes an `f32` matrix (`rows × cols`, row-major).
    pub fn quantize(rows: usize, cols: usize, values: &[f32]) -> Result<Self, Q8Error> {
        if !cols.is_multiple_of(BLOCK) {
            return Err(Q8Error::RaggedRow(cols));
        }
        if values.len() != rows * cols {
            return Err(Q8Error::WrongInput { cols, got: values.len() });
        }
        let mut blocks = vec![BlockQ8_0::default(); values.len() / BLOCK];
        quantize(values, &mut blocks);
        Self::new(rows, cols, blocks)
    }

    /// One matrix with the rows of `parts` one after another (all with the same columns), so that several
    /// products of the same input (q, k and v; gate and up) are one call.
    pub fn stack(parts: &[&Q8Matrix]) -> Result<Self, Q8Error> {
        let cols = parts.first().map_or(0, |p| p.cols);
        if let Some(p) = parts.iter().find(|p| p.cols != cols) {
            return Err(Q8Error::WrongInput { cols, got: p.cols });
        }
        let blocks = parts.iter().flat_map(|p| p.blocks.iter().copied()).collect();
        Self::new(parts.iter().map(|p| p.rows).sum(), cols, blocks)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn blocks(&self) -> &[BlockQ8_0] {
        &self.blocks
    }

    /// Forces the scalar path (for tests and comparisons).
    pub fn without_simd(mut self) -> Self {
        self.simd = false;
        self
    }

    /// `out[i][r] = x[i] · row r` for every row `x[i]` of `x` (`m × cols`, row-major); `out` is `m × rows`.
    /// The rows are split across the kernel thread pool ([`parallel::pool`]); activations are quantized once into a reused per-thread
    /// buffer.
    pub fn matmul(&self, x: &[f32], out: &mut [f32]) -> Result<(), Q8Error> {
        if !x.len().is_multiple_of(self.cols) {
            return Err(Q8Error::WrongInput { cols: self.cols, got: x.len() });
        }
        let m = x.len() / self.cols;
        if out.len() != m * self.rows {
            return Err(Q8Error::WrongInput { cols: self.rows, got: out.len() });
        }
        let kb = self.cols / BLOCK;
        thread_local! {
            static ACTIVATIONS: std::cell::RefCell<(Vec<BlockQ8_0>, Vec<f32>)> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        ACTIVATIONS.with(|cell| {
            let (blocks, scales) = &mut *cell.borrow_mut();
            blocks.resize(m * kb, BlockQ8_0::default());
            quantize(x, blocks);
            scales.clear();
            scales.extend(blocks.iter().map(|b| half::f16::from_bits(b.d).to_f32()));
            let acts = Activations { blocks, scales, m, kb };
            self.matmul_quantized(&acts, out);
        });
        Ok(())
    }

    fn matmul_quantized(&self, acts: &Activations<'_>, out: &mut [f32]) {
        // Chunks of rows per task: enough tasks to balance, each big enough to amortise the hand-off, and
        // small enough that its weights stay in L1/L2 while every activation tile passes over them.
        let pool = parallel::pool();
        let per_task = (self.rows / (4 * pool.threads())).clamp(4, 64) / 4 * 4;
        let tasks = self.rows.div_ceil(per_task);
        let out_ptr = SharedOut(out.as_mut_ptr());
        let run = |task: usize| {
            let rows = task * per_task..self.rows.min((task + 1) * per_task);
            // SAFETY: each task writes only the columns `rows` of `out`, disjoint from every other task's,
            // and `out` holds `m × self.rows` values (checked by the caller).
            let out = &out_ptr;
            if self.simd {
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    avx2::matmul_rows(self, acts, rows, out.0);
                }
            } else {
                unsafe { scalar_rows(self, acts, rows, out.0) };
            }
        };
        pool.run(tasks, run);
    }
}

/// Quantized activations: `m` rows of `kb` blocks, scales widened.
struct Activations<'a> {
    blocks: &'a [BlockQ8_0],
    scales: &'a [f32],
    m: usize,
    kb: usize,
}

#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: tasks write disjoint elements (see `matmul_quantized`).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// The scalar twin: exact integer dot per block, scaled and summed in `f32`.
///
/// # Safety
/// `out` must hold `acts.m × w.rows` values and no other thread may write the columns `rows`.
unsafe fn scalar_rows(w: &Q8Matrix, acts: &Activations<'_>, rows: std::ops::Range<usize>, out: *mut f32) {
    let kb = acts.kb;
    for r in rows {
        let wr = &w.blocks[r * kb..(r + 1) * kb];
        let ws = &w.scales[r * kb..(r + 1) * kb];
        for i in 0..acts.m {
            let ar = &acts.blocks[i * kb..(i + 1) * kb];
            let asc = &acts.scales[i * kb..(i + 1) * kb];
            let mut sum = 0f32;
            for b in 0..kb {
                let dot: i32 = wr[b].qs.iter().zip(&ar[b].qs).map(|(&p, &q)| p as i32 * q as i32).sum();
                sum += ws[b] * asc[b] * dot as f32;
            }
            unsafe { *out.add(i * w.rows + r) = sum };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Activations, Q8Matrix};

    /// Weight rows per register tile.
    const TW: usize = 4;
    /// Activation rows per register tile.
    const TA: usize = 2;

    /// # Safety
    /// The CPU must have AVX2 and FMA; `out` must hold `acts.m × w.rows` values and no other thread may
    /// write the columns `rows`.
    pub(super) unsafe fn matmul_rows(
        w: &Q8Matrix,
        acts: &Activations<'_>,
        rows: std::ops::Range<usize>,
        out: *mut f32,
    ) {
        unsafe { matmul_rows_avx2(w, acts, rows, out) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn matmul_rows_avx2(w: &Q8Matrix, acts: &Activations<'_>, rows: std::ops::Range<usize>, out: *mut f32) {
        let mut i = 0;
        while i < acts.m {
            let ta = if acts.m - i >= TA { TA } else { 1 };
            let mut r = rows.start;
            while r < rows.end {
                let tw = if rows.end - r >= TW { TW } else { 1 };
                // SAFETY: rows r..r+tw and activations i..i+ta are in range; the caller's contract on out.
                unsafe {
                    match (tw, ta) {
                        (TW, TA) => tile::<TW, TA>(w, acts, r, i, out),
                        (TW, 1) => tile::<TW, 1>(w, acts, r, i, out),
                        (1, TA) => tile::<1, TA>(w, acts, r, i, out),
                        _ => tile::<1, 1>(w, acts, r, i, out),
                    }
                }
                r += tw;
            }
            i += ta;
        }
    }

    /// Dot products of weight rows `r..r+RW` with activation rows `i..i+RA`, each weight block loaded once
    /// for all `RA` activation rows. Per pair the operations are those of ggml's AVX2 `vec_dot_q8_0_q8_0`:
    /// |w| · sign(a, w) with `maddubs`, pairs summed with `madd`, scaled by `dw · da` and accumulated by FMA,
    /// then the same horizontal sum.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const RW: usize, const RA: usize>(
        w: &Q8Matrix,
        acts: &Activations<'_>,
        r: usize,
        i: usize,
        out: *mut f32,
    ) {
        let kb = acts.kb;
        let ones = _mm256_set1_epi16(1);
        let mut acc = [[_mm256_setzero_ps(); RA]; RW];
        let wb = w.blocks.as_ptr();
        let ab = acts.blocks.as_ptr();
        for b in 0..kb {
            let mut av = [_mm256_setzero_si256(); RA];
            let mut ad = [0f32; RA];
            for j in 0..RA {
                let idx = (i + j) * kb + b;
                // SAFETY: idx < m × kb; a block's 32 values are contiguous.
                av[j] = unsafe { _mm256_loadu_si256((*ab.add(idx)).qs.as_ptr() as *const __m256i) };
                // SAFETY: scales has one entry per block.
                ad[j] = unsafe { *acts.scales.get_unchecked(idx) };
            }
            for (k, acc_row) in acc.iter_mut().enumerate() {
                let idx = (r + k) * kb + b;
                // SAFETY: idx < rows × kb.
                let wv = unsafe { _mm256_loadu_si256((*wb.add(idx)).qs.as_ptr() as *const __m256i) };
                // SAFETY: scales has one entry per block.
                let wd = unsafe { *w.scales.get_unchecked(idx) };
                let wabs = _mm256_sign_epi8(wv, wv);
                for j in 0..RA {
                    let sa = _mm256_sign_epi8(av[j], wv);
                    let dot = _mm256_maddubs_epi16(wabs, sa);
                    let q = _mm256_cvtepi32_ps(_mm256_madd_epi16(ones, dot));
                    acc_row[j] = _mm256_fmadd_ps(_mm256_set1_ps(wd * ad[j]), q, acc_row[j]);
                }
            }
        }
        for (k, acc_row) in acc.iter().enumerate() {
            for (j, a) in acc_row.iter().enumerate() {
                // SAFETY: the caller's contract on out.
                unsafe { *out.add((i + j) * w.rows + r + k) = hsum(*a) };
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn hsum(x: __m256) -> f32 {
        let res = _mm256_extractf128_ps(x, 1);
        let res = _mm_add_ps(res, _mm256_castps256_ps128(x));
        let res = _mm_add_ps(res, _mm_movehl_ps(res, res));
        let res = _mm_add_ss(res, _mm_movehdup_ps(res));
        _mm_cvtss_f32(res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random sequence (xorshift), values in [-1, 1).
    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn reference(w: &[f32], x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let m = x.len() / cols;
        let mut out = vec![0f32; m * rows];
        for i in 0..m {
            for r in 0..rows {
                out[i * rows + r] =
                    (0..cols).map(|c| w[r * cols + c] as f64 * x[i * cols + c] as f64).sum::<f64>() as f32;
            }
        }
        out
    }

    #[test]
    fn quantize_round_trips_within_half_a_step() {
        let x = noise(1, 256);
        let mut blocks = vec![BlockQ8_0::default(); 8];
        quantize(&x, &mut blocks);
        let back = dequantize(&blocks);
        for (b, xs) in blocks.iter().zip(x.chunks(BLOCK)) {
            let step = half::f16::from_bits(b.d).to_f32();
            let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
            assert!((step * 127.0 - amax).abs() <= amax * 1e-3, "scale {step} for max {amax}");
        }
        for (v, r) in x.iter().zip(&back) {
            assert!((v - r).abs() <= 0.5 / 127.0 + 1e-3, "{v} vs {r}");
        }
        let mut zero = [BlockQ8_0::default()];
        quantize(&[0.0; BLOCK], &mut zero);
        assert_eq!(zero[0], BlockQ8_0::default());
    }

    #[test]
    fn simd_and_scalar_agree_with_the_f32_product_for_every_tile_shape() {
        // Rows and batch sizes that exercise full tiles and every remainder.
        for (rows, cols) in [(1, 32), (3, 64), (4, 96), (9, 128), (70, 576)] {
            let w = noise(rows as u64, rows * cols);
            let q = Q8Matrix::quantize(rows, cols, &w).unwrap();
            let wq = dequantize(q.blocks());
            for m in [1, 2, 3, 5, 8] {
                let x = noise(1000 + m as u64, m * cols);
                let mut fast = vec![0f32; m * rows];
                let mut slow = vec![0f32; m * rows];
                q.matmul(&x, &mut fast).unwrap();
                q.clone().without_simd().matmul(&x, &mut slow).unwrap();
                let exact = reference(&wq, &x, rows, cols);
                for ((f, s), e) in fast.iter().zip(&slow).zip(&exact) {
                    assert!((f - s).abs() <= 1e-4 * (1.0 + e.abs()), "simd {f} vs scalar {s} ({rows}×{cols}, m={m})");
                    // Activation quantization: at most half a step (≤ 0.5/127 here) per value, times |w| ≤ 1,
                    // plus the f16 rounding of the scale.
                    let bound = cols as f32 * (0.5 / 127.0 + 1e-3);
                    assert!((f - e).abs() <= bound, "{f} vs f32 {e} ({rows}×{cols}, m={m})");
                }
            }
        }
    }

    #[test]
    fn stacked_matrices_give_the_rows_of_each_part() {
        let (a, b) = (noise(1, 3 * 64), noise(2, 5 * 64));
        let (qa, qb) = (Q8Matrix::quantize(3, 64, &a).unwrap(), Q8Matrix::quantize(5, 64, &b).unwrap());
        let both = Q8Matrix::stack(&[&qa, &qb]).unwrap();
        let x = noise(3, 2 * 64);
        let (mut oa, mut ob, mut o) = (vec![0f32; 6], vec![0f32; 10], vec![0f32; 16]);
        qa.matmul(&x, &mut oa).unwrap();
        qb.matmul(&x, &mut ob).unwrap();
        both.matmul(&x, &mut o).unwrap();
        for i in 0..2 {
            assert_eq!(&o[i * 8..i * 8 + 3], &oa[i * 3..i * 3 + 3]);
            assert_eq!(&o[i * 8 + 3..i * 8 + 8], &ob[i * 5..i * 5 + 5]);
        }
        let narrow = Q8Matrix::quantize(1, 32, &a[..32]).unwrap();
        assert!(Q8Matrix::stack(&[&qa, &narrow]).is_err());
    }

    #[test]
    fn ggml_bytes_round_trip_and_bad_sizes_are_errors() {
        let w = noise(7, 4 * 64);
        let q = Q8Matrix::quantize(4, 64, &w).unwrap();
        let bytes: Vec<u8> = q
            .blocks()
            .iter()
            .flat_map(|b| b.d.to_le_bytes().into_iter().chain(b.qs.iter().map(|&v| v as u8)))
            .collect();
        let back = Q8Matrix::from_ggml_bytes(4, 64, &bytes).unwrap();
        assert_eq!(back.blocks(), q.blocks());
        assert!(matches!(Q8Matrix::from_ggml_bytes(4, 64, &bytes[1..]), Err(Q8Error::WrongSize { .. })));
        assert_eq!(Q8Matrix::from_ggml_bytes(4, 60, &bytes).unwrap_err(), Q8Error::RaggedRow(60));
        let mut out = vec![0f32; 4];
        assert!(matches!(q.matmul(&[0.0; 63], &mut out), Err(Q8Error::WrongInput { .. })));
        assert!(matches!(q.matmul(&[0.0; 64], &mut out[..3]), Err(Q8Error::WrongInput { .. })));
    }
}
