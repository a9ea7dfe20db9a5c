//! Activations quantized to int8 once per matrix product, so every weight block's dot product is integer
//! arithmetic: [`BlockQ8A`] (32 values, ggml's Q8_0/Q8_1 rounding: scale `max|x| / 127` rounded to `f16`) for
//! the 32-value weight formats, [`BlockQ8K`] (256 values, ggml's Q8_K: an `f32` scale and sums per 16) for the
//! K-quants.

/// 32 activations: `x ≈ d · qs`, with `s = d · Σ qs` (what Q4_1's offset multiplies).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(8))]
pub struct BlockQ8A {
    pub qs: [i8; 32],
    /// The scale, `f16`-rounded (as ggml stores it), widened.
    pub d: f32,
    /// `d · Σ qs` (unrounded scale), `f16`-rounded, widened.
    pub s: f32,
}

impl Default for BlockQ8A {
    fn default() -> Self {
        Self { qs: [0; 32], d: 0.0, s: 0.0 }
    }
}

/// 256 activations: `x ≈ d · qs`, with the sums of each 16 (what Q6_K's offset multiplies) and of each 32
/// (what Q4_K's mins multiply).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(8))]
pub struct BlockQ8K {
    pub qs: [i8; 256],
    pub bsums: [i16; 16],
    pub sums32: [i16; 8],
    pub d: f32,
}

impl Default for BlockQ8K {
    fn default() -> Self {
        Self { qs: [0; 256], bsums: [0; 16], sums32: [0; 8], d: 0.0 }
    }
}

/// Quantizes `x` (a multiple of 32 values) as ggml's `quantize_row_q8_1` does.
pub fn quantize_q8a(x: &[f32], out: &mut [BlockQ8A]) {
    debug_assert_eq!(x.len(), out.len() * 32);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { quantize_q8a_avx2(x, out) };
    }
    quantize_q8a_portable(x, out);
}

/// The same code compiled with AVX2, so `round` is a vector instruction (identical results).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_q8a_avx2(x: &[f32], out: &mut [BlockQ8A]) {
    quantize_q8a_portable(x, out);
}

#[inline(always)]
fn quantize_q8a_portable(x: &[f32], out: &mut [BlockQ8A]) {
    for (block, xs) in out.iter_mut().zip(x.chunks_exact(32)) {
        let amax = xs.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut sum = 0i32;
        for (q, &v) in block.qs.iter_mut().zip(xs) {
            *q = (v * id).round() as i8;
            sum += *q as i32;
        }
        block.d = half::f16::from_f32(d).to_f32();
        block.s = half::f16::from_f32(d * sum as f32).to_f32();
    }
}

/// Quantizes `x` (a multiple of 256 values) as ggml's `quantize_row_q8_K` does: the scale comes from the
/// value of largest magnitude with its sign, values round half to even.
pub fn quantize_q8k(x: &[f32], out: &mut [BlockQ8K]) {
    debug_assert_eq!(x.len(), out.len() * 256);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        return unsafe { quantize_q8k_avx2(x, out) };
    }
    quantize_q8k_portable(x, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn quantize_q8k_avx2(x: &[f32], out: &mut [BlockQ8K]) {
    quantize_q8k_portable(x, out);
}

#[inline(always)]
fn quantize_q8k_portable(x: &[f32], out: &mut [BlockQ8K]) {
    for (block, xs) in out.iter_mut().zip(x.chunks_exact(256)) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in xs {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            *block = BlockQ8K::default();
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in block.qs.iter_mut().zip(xs) {
            *q = ((iscale * v).round_ties_even() as i32).min(127) as i8;
        }
        for (s, qs) in block.bsums.iter_mut().zip(block.qs.chunks_exact(16)) {
            *s = qs.iter().map(|&q| q as i16).sum();
        }
        for (s, pair) in block.sums32.iter_mut().zip(block.bsums.chunks_exact(2)) {
            *s = pair[0] + pair[1];
        }
        block.d = 1.0 / iscale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8a_and_q8k_round_trip_within_half_a_step() {
        let x: Vec<f32> = (0..512).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * 3.0).collect();
        let mut a = vec![BlockQ8A::default(); 16];
        quantize_q8a(&x, &mut a);
        for (b, xs) in a.iter().zip(x.chunks(32)) {
            let sum: i32 = b.qs.iter().map(|&q| q as i32).sum();
            assert!((b.s - b.d * sum as f32).abs() <= 1e-2 * (1.0 + b.s.abs()));
            for (q, v) in b.qs.iter().zip(xs) {
                assert!((*q as f32 * b.d - v).abs() <= 0.51 * b.d + 1e-2, "{q} · {} vs {v}", b.d);
            }
        }
        let mut k = vec![BlockQ8K::default(); 2];
        quantize_q8k(&x, &mut k);
        for (b, xs) in k.iter().zip(x.chunks(256)) {
            for (q, v) in b.qs.iter().zip(xs) {
                assert!((*q as f32 * b.d - v).abs() <= 0.5 * b.d.abs() + 1e-6);
            }
            for (s, qs) in b.bsums.iter().zip(b.qs.chunks(16)) {
                assert_eq!(*s as i32, qs.iter().map(|&q| q as i32).sum::<i32>());
            }
        }
        let mut zero = [BlockQ8K::default()];
        quantize_q8k(&[0.0; 256], &mut zero);
        assert_eq!(zero[0], BlockQ8K::default());
    }
}
