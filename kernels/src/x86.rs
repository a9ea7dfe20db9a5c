//! Small x86-64 SIMD helpers shared by the AVX2 kernels.

use std::arch::x86_64::*;

/// The sum of the 8 lanes.
#[target_feature(enable = "avx2")]
pub(crate) fn hsum(x: __m256) -> f32 {
    let r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    let r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    let r = _mm_add_ss(r, _mm_movehdup_ps(r));
    _mm_cvtss_f32(r)
}
