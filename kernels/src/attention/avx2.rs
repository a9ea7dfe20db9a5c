//! AVX2 + FMA twin of [`super::attend_head`]: 8-wide dot products and weighted sums, and a vector `exp`
//! (Cephes' `expf` polynomial, within 2 ulp of libm's over the softmax's range `x ≤ 0`).

use std::arch::x86_64::*;

use super::KvHead;
use crate::x86::hsum;

/// `e^x` in each lane, for `x ≥ -87.3` (smaller `x` gives `e^-87.3 ≈ 1.2e-38`, which a softmax's sum, at
/// least 1, makes 0 anyway).
#[target_feature(enable = "avx2,fma")]
pub(super) fn exp(x: __m256) -> __m256 {
    let x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3)), _mm256_set1_ps(-87.3));
    let n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)), _MM_FROUND_TO_NEAREST_INT);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693_359_4), x);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.121_944_4e-4), r);
    let mut p = _mm256_set1_ps(1.987_569_1e-4);
    for c in [1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let y = _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0));
    let pow2 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    _mm256_mul_ps(y, _mm256_castsi256_ps(pow2))
}

/// `x ← e^(x − max)` for each value; their sum.
#[target_feature(enable = "avx2,fma")]
fn exp_minus_max(x: &mut [f32], max: f32) -> f32 {
    let vmax = _mm256_set1_ps(max);
    let mut vsum = _mm256_setzero_ps();
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` holds 8 values.
        unsafe {
            let e = exp(_mm256_sub_ps(_mm256_loadu_ps(c.as_ptr()), vmax));
            _mm256_storeu_ps(c.as_mut_ptr(), e);
            vsum = _mm256_add_ps(vsum, e);
        }
    }
    let mut sum = hsum(vsum);
    for v in chunks.into_remainder() {
        *v = (*v - max).exp();
        sum += *v;
    }
    sum
}

/// See [`super::attend_head`].
///
/// # Safety
/// The CPU has AVX2 and FMA; `q.len()` is a multiple of 8; `scores` holds at least `visible` values; `k`
/// and `v` hold each of the `visible` positions' head at `p · kv_stride + offset`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn attend_head(q: &[f32], kv: KvHead, scale: f32, scores: &mut [f32], out: &mut [f32]) {
    let KvHead { k, v, stride: kv_stride, offset, visible } = kv;
    let hd = q.len();
    debug_assert!(hd.is_multiple_of(8) && scores.len() >= visible && out.len() == hd);
    debug_assert!(visible == 0 || k.len() >= (visible - 1) * kv_stride + offset + hd && v.len() >= k.len());
    let (qp, kp, vp, sp, op) = (q.as_ptr(), k.as_ptr(), v.as_ptr(), scores.as_mut_ptr(), out.as_mut_ptr());
    // SAFETY (all pointer reads and writes below): within the lengths the caller guarantees.
    unsafe {
        let mut max = f32::NEG_INFINITY;
        for p in 0..visible {
            let kh = kp.add(p * kv_stride + offset);
            let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut c = 0;
            while c + 16 <= hd {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(c)), _mm256_loadu_ps(kh.add(c)), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(c + 8)), _mm256_loadu_ps(kh.add(c + 8)), a1);
                c += 16;
            }
            if c < hd {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(qp.add(c)), _mm256_loadu_ps(kh.add(c)), a0);
            }
            let s = hsum(_mm256_add_ps(a0, a1)) * scale;
            *sp.add(p) = s;
            max = max.max(s);
        }
        let inv = 1.0 / exp_minus_max(&mut scores[..visible], max);
        for c in (0..hd).step_by(8) {
            _mm256_storeu_ps(op.add(c), _mm256_setzero_ps());
        }
        for p in 0..visible {
            let w = _mm256_set1_ps(*sp.add(p) * inv);
            let vh = vp.add(p * kv_stride + offset);
            for c in (0..hd).step_by(8) {
                _mm256_storeu_ps(op.add(c), _mm256_fmadd_ps(w, _mm256_loadu_ps(vh.add(c)), _mm256_loadu_ps(op.add(c))));
            }
        }
    }
}

/// See [`super::gelu_tanh`]; `tanh(y) = 1 − 2 / (e^{2y} + 1)` with the vector `exp`.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gelu_tanh(x: &mut [f32]) {
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` holds 8 values.
        unsafe {
            let u = _mm256_loadu_ps(c.as_ptr());
            let u3 = _mm256_mul_ps(_mm256_mul_ps(u, u), u);
            let y =
                _mm256_mul_ps(_mm256_set1_ps(super::SQRT_2_OVER_PI), _mm256_fmadd_ps(_mm256_set1_ps(0.044715), u3, u));
            let e = exp(_mm256_add_ps(y, y));
            let tanh = _mm256_sub_ps(
                _mm256_set1_ps(1.0),
                _mm256_div_ps(_mm256_set1_ps(2.0), _mm256_add_ps(e, _mm256_set1_ps(1.0))),
            );
            let g = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5), u), _mm256_add_ps(_mm256_set1_ps(1.0), tanh));
            _mm256_storeu_ps(c.as_mut_ptr(), g);
        }
    }
    super::gelu_tanh_scalar(chunks.into_remainder());
}

/// See [`super::softmax_rows`], one row.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn softmax_row(x: &mut [f32]) {
    let chunks = x.chunks_exact(8);
    let mut max = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, v| m.max(*v));
    let mut vmax = _mm256_set1_ps(max);
    for c in chunks {
        // SAFETY: `c` holds 8 values.
        vmax = _mm256_max_ps(vmax, unsafe { _mm256_loadu_ps(c.as_ptr()) });
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds 8 values.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), vmax) };
    max = lanes.iter().fold(max, |m, v| m.max(*v));
    let sum = exp_minus_max(x, max);
    let inv = _mm256_set1_ps(1.0 / sum);
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        // SAFETY: `c` holds 8 values.
        unsafe { _mm256_storeu_ps(c.as_mut_ptr(), _mm256_mul_ps(_mm256_loadu_ps(c.as_ptr()), inv)) };
    }
    for v in chunks.into_remainder() {
        *v /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_exp_is_within_2_ulp_of_libm_on_the_softmax_range() {
        if !(std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")) {
            return;
        }
        let mut worst = 0f32;
        let mut x = -87.0f32;
        while x <= 0.0 {
            let xs = [x, x * 0.5, x * 0.1, x * 0.01, x * 1e-3, x * 1e-5, -x * 0.01, 0.0];
            let mut got = [0f32; 8];
            // SAFETY: AVX2 and FMA are present (checked above).
            unsafe { _mm256_storeu_ps(got.as_mut_ptr(), exp(_mm256_loadu_ps(xs.as_ptr()))) };
            for (g, x) in got.iter().zip(xs) {
                let want = (x as f64).exp();
                let ulp = (want as f32).abs() * f32::EPSILON;
                worst = worst.max(((*g as f64 - want).abs() / ulp as f64) as f32);
            }
            x += 0.0137;
        }
        assert!(worst <= 2.0, "worst error {worst} ulp");
    }
}
