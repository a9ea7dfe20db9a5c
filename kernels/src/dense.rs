//! `f16` weight matrices times `f32` activations, for models whose weights are stored as `f16` (Whisper):
//! the weights keep their exact stored values at half the bytes of `f32`, and each product accumulates in
//! `f32`. The rows are split over the kernel pool; each weight row is read once for up to two activation
//! rows at a time. AVX2 + FMA + F16C where the CPU has them, else the scalar twin.

use std::ops::Range;

use half::f16;

use crate::parallel;

/// Why a product could not run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DenseError {
    #[error("a {rows} x {cols} matrix needs {expected} values, got {got}")]
    WrongValues { rows: usize, cols: usize, expected: usize, got: usize },
    #[error("input of {got} values is not whole rows of {cols}")]
    WrongInput { cols: usize, got: usize },
    #[error("output holds {got} values, the product has {expected}")]
    WrongOutput { expected: usize, got: usize },
}

/// A row-major `rows × cols` matrix of `f16` values.
#[derive(Debug, Clone)]
pub struct F16Matrix {
    rows: usize,
    cols: usize,
    data: Vec<u16>,
    simd: bool,
}

impl F16Matrix {
    /// Rounds `values` (`rows × cols`, row-major) to `f16`; exact for values that came from `f16`.
    pub fn from_f32(rows: usize, cols: usize, values: &[f32]) -> Result<Self, DenseError> {
        if values.len() != rows * cols {
            return Err(DenseError::WrongValues { rows, cols, expected: rows * cols, got: values.len() });
        }
        let data = values.iter().map(|&v| f16::from_f32(v).to_bits()).collect();
        Ok(Self { rows, cols, data, simd: simd_available() })
    }

    /// The same matrix with the scalar twin forced (for parity tests and comparisons).
    pub fn scalar(mut self) -> Self {
        self.simd = false;
        self
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r` as `f32` (an embedding lookup).
    pub fn row_into(&self, r: usize, out: &mut [f32]) {
        let row = &self.data[r * self.cols..(r + 1) * self.cols];
        for (o, &w) in out.iter_mut().zip(row) {
            *o = f16::from_bits(w).to_f32();
        }
    }

    /// `out[i][r] = x[i] · row r` for every row `x[i]` of `x` (`m × cols`); `out` is `m × rows`.
    pub fn matmul(&self, x: &[f32], out: &mut [f32]) -> Result<(), DenseError> {
        if self.cols == 0 || !x.len().is_multiple_of(self.cols) {
            return Err(DenseError::WrongInput { cols: self.cols, got: x.len() });
        }
        let m = x.len() / self.cols;
        if out.len() != m * self.rows {
            return Err(DenseError::WrongOutput { expected: m * self.rows, got: out.len() });
        }
        let pool = parallel::pool();
        // Small matrices (a 384 × 384 projection is 0.3 MB) still split: a pool hand-off costs about a
        // microsecond, the product tens.
        let per_task = (self.rows / (4 * pool.threads())).max(16);
        let tasks = self.rows.div_ceil(per_task);
        let out_ptr = SharedOut(out.as_mut_ptr());
        pool.run(tasks, |task| {
            let rows = task * per_task..self.rows.min((task + 1) * per_task);
            let out = out_ptr;
            let mut i = 0;
            while i < m {
                let n = (m - i).min(2);
                // SAFETY: each task writes only the columns `rows` of activation rows `i .. i + n` of `out`
                // (disjoint across tasks); `out` holds `m × self.rows` values and `x` `m × cols` (checked).
                unsafe {
                    let o = out.0.add(i * self.rows);
                    let xi = x.as_ptr().add(i * self.cols);
                    if n == 2 {
                        self.rows_of::<2>(rows.clone(), [xi, xi.add(self.cols)], o);
                    } else {
                        self.rows_of::<1>(rows.clone(), [xi], o);
                    }
                }
                i += n;
            }
        });
        Ok(())
    }

    /// # Safety
    /// Each `x[j]` points at `cols` readable values; `out[j · rows + r]` is writable for `r` in `rows` and
    /// written by no other thread.
    unsafe fn rows_of<const RA: usize>(&self, rows: Range<usize>, x: [*const f32; RA], out: *mut f32) {
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            // SAFETY: `simd` is set only where AVX2, FMA and F16C are available; the caller's contract.
            unsafe { avx2::rows(&self.data, self.cols, rows, x, out, self.rows) };
            return;
        }
        for r in rows {
            let w = &self.data[r * self.cols..(r + 1) * self.cols];
            for (j, xj) in x.iter().enumerate() {
                // SAFETY: the caller's contract.
                let xj = unsafe { std::slice::from_raw_parts(*xj, self.cols) };
                unsafe { *out.add(j * self.rows + r) = dot_scalar(w, xj) };
            }
        }
    }
}

/// The scalar twin: `Σ w·x` in 8 lanes of `f32`.
pub fn dot_scalar(w: &[u16], x: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (wc, xc) = (w.chunks_exact(8), x.chunks_exact(8));
    let tail: f32 = wc.remainder().iter().zip(xc.remainder()).map(|(w, x)| f16::from_bits(*w).to_f32() * x).sum();
    for (w, x) in wc.zip(xc) {
        for i in 0..8 {
            lanes[i] += f16::from_bits(w[i]).to_f32() * x[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: tasks write disjoint elements (see `F16Matrix::matmul`).
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;
    use std::ops::Range;

    use crate::x86::hsum;

    /// Weight rows `rows` (each `cols` `f16` values) against `RA` activation rows; 4 accumulators per
    /// activation row over 32 columns at a time, the tail in scalar.
    ///
    /// # Safety
    /// As `F16Matrix::rows_of`; the CPU has AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn rows<const RA: usize>(
        data: &[u16],
        cols: usize,
        rows: Range<usize>,
        x: [*const f32; RA],
        out: *mut f32,
        stride: usize,
    ) {
        let whole = cols / 32 * 32;
        for r in rows {
            let w = data[r * cols..(r + 1) * cols].as_ptr();
            let mut acc = [[_mm256_setzero_ps(); 4]; RA];
            let mut c = 0;
            while c < whole {
                // SAFETY: `c + 32 <= cols` values of this row and of each activation row.
                unsafe {
                    let wv: [__m256; 4] =
                        std::array::from_fn(|k| _mm256_cvtph_ps(_mm_loadu_si128(w.add(c + 8 * k) as *const __m128i)));
                    for j in 0..RA {
                        for k in 0..4 {
                            acc[j][k] = _mm256_fmadd_ps(wv[k], _mm256_loadu_ps(x[j].add(c + 8 * k)), acc[j][k]);
                        }
                    }
                }
                c += 32;
            }
            for j in 0..RA {
                let sum = _mm256_add_ps(_mm256_add_ps(acc[j][0], acc[j][1]), _mm256_add_ps(acc[j][2], acc[j][3]));
                let mut s = hsum(sum);
                for t in whole..cols {
                    // SAFETY: `t < cols`.
                    s += half::f16::from_bits(data[r * cols + t]).to_f32() * unsafe { *x[j].add(t) };
                }
                // SAFETY: the caller's contract on `out`.
                unsafe { *out.add(j * stride + r) = s };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The exact product of the `f16`-rounded weights, in `f64`.
    fn reference(w: &F16Matrix, x: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let m = x.len() / w.cols;
        let (mut out, mut mag) = (vec![0f64; m * w.rows], vec![0f64; m * w.rows]);
        for i in 0..m {
            for r in 0..w.rows {
                for c in 0..w.cols {
                    let p = f16::from_bits(w.data[r * w.cols + c]).to_f32() as f64 * x[i * w.cols + c] as f64;
                    out[i * w.rows + r] += p;
                    mag[i * w.rows + r] += p.abs();
                }
            }
        }
        (out, mag)
    }

    #[test]
    fn simd_and_scalar_products_match_the_exact_product_for_every_shape() {
        for (rows, cols, m) in [(1, 8, 1), (37, 384, 1), (70, 100, 3), (16, 1536, 2), (130, 33, 5)] {
            let w = F16Matrix::from_f32(rows, cols, &noise(1, rows * cols)).unwrap();
            let x = noise(2, m * cols);
            let (want, mag) = reference(&w, &x);
            for matrix in [w.clone(), w.clone().scalar()] {
                let mut out = vec![0f32; m * rows];
                matrix.matmul(&x, &mut out).unwrap();
                for ((g, w), a) in out.iter().zip(&want).zip(&mag) {
                    assert!((*g as f64 - w).abs() <= 1e-6 * a + 1e-7, "{rows}x{cols} m={m}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn f16_values_are_kept_exactly_and_shapes_are_checked() {
        let values = [0.5f32, -1.25, 3.0, 0.099975586];
        let w = F16Matrix::from_f32(2, 2, &values).unwrap();
        let mut row = [0f32; 2];
        w.row_into(1, &mut row);
        assert_eq!(row, [3.0, 0.099975586]);
        assert!(matches!(F16Matrix::from_f32(2, 2, &values[..3]), Err(DenseError::WrongValues { .. })));
        assert!(matches!(w.matmul(&[1.0; 3], &mut [0.0; 2]), Err(DenseError::WrongInput { .. })));
        assert!(matches!(w.matmul(&[1.0; 2], &mut [0.0; 3]), Err(DenseError::WrongOutput { .. })));
    }
}
