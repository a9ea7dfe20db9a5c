//! The per-position pieces of a decoder layer on plain `f32` slices: RMS and layer norm, tanh-GELU, rotary
//! position embedding (both layouts) and attention over a sequence's key/value cache (causal, or one head
//! at a time over every position for cross-attention).
//!
//! Why not candle ops: in a batched decode step each sequence's attention is a dozen tiny tensor ops
//! (reshape, RoPE, concatenate the cache, two matmuls, mask, softmax), and their dispatch and allocations cost
//! more than the arithmetic — with 8 sequences, ~40% of the step. Here each is one loop over memory the
//! caller owns.

/// `out = x / sqrt(mean(x²) + eps) · weight`, row by row (`x.len()` a multiple of `weight.len()`).
pub fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let dim = weight.len();
    for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let rms = (row.iter().map(|v| v * v).sum::<f32>() / dim as f32 + eps).sqrt();
        for ((o, v), w) in o.iter_mut().zip(row).zip(weight) {
            *o = v / rms * w;
        }
    }
}

/// `out = (x − mean) / sqrt(var + eps) · weight + bias`, row by row (`x.len()` a multiple of
/// `weight.len()`).
pub fn layer_norm(x: &[f32], weight: &[f32], bias: &[f32], eps: f32, out: &mut [f32]) {
    let dim = weight.len();
    for (row, o) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let mean = row.iter().sum::<f32>() / dim as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / dim as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for (((o, v), w), b) in o.iter_mut().zip(row).zip(weight).zip(bias) {
            *o = (v - mean) * inv * w + b;
        }
    }
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;

/// GELU with the tanh approximation, in place: `x/2 · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
pub fn gelu_tanh(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if *SIMD {
        // SAFETY: AVX2 and FMA are present.
        unsafe { avx2::gelu_tanh(x) };
        return;
    }
    gelu_tanh_scalar(x);
}

/// Softmax of each `cols`-value row of `x`, in place (`x.len()` a multiple of `cols`), the rows spread over
/// the kernel pool.
pub fn softmax_rows(x: &mut [f32], cols: usize) {
    let rows = x.len() / cols;
    let per_task = (rows / (4 * crate::parallel::pool().threads())).max(1);
    let mut chunks: Vec<&mut [f32]> = x.chunks_mut(per_task * cols).collect();
    crate::parallel::pool().for_each_mut(&mut chunks, |chunk| {
        for row in chunk.chunks_exact_mut(cols) {
            softmax_row(row);
        }
    });
}

fn softmax_row(x: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if *SIMD {
        // SAFETY: AVX2 and FMA are present.
        unsafe { avx2::softmax_row(x) };
        return;
    }
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

fn gelu_tanh_scalar(x: &mut [f32]) {
    for v in x {
        let u = *v;
        *v = 0.5 * u * (1.0 + (SQRT_2_OVER_PI * (u + 0.044715 * u * u * u)).tanh());
    }
}

/// How a rotary embedding pairs the values of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    /// Pairs `(2i, 2i + 1)` (llama's GGUF layout).
    Interleaved,
    /// Pairs `(i, i + d/2)` (GPT-NeoX, qwen2).
    Halves,
}

/// Rotates every head of one position in place: `x` is `heads × head_dim`, `cos`/`sin` hold `head_dim / 2`
/// angles of this position.
pub fn rope(x: &mut [f32], head_dim: usize, cos: &[f32], sin: &[f32], layout: RopeLayout) {
    let half = head_dim / 2;
    for head in x.chunks_exact_mut(head_dim) {
        for i in 0..half {
            let (a, b) = match layout {
                RopeLayout::Interleaved => (2 * i, 2 * i + 1),
                RopeLayout::Halves => (i, i + half),
            };
            let (x0, x1) = (head[a], head[b]);
            head[a] = x0 * cos[i] - x1 * sin[i];
            head[b] = x0 * sin[i] + x1 * cos[i];
        }
    }
}

/// The shape of one attention call.
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// Causal attention of `n` new positions, the first at absolute position `start`, over a cache holding
/// positions `0 .. start + n`: position `start + t` attends to cache positions `0 ..= start + t`.
///
/// `q` and `out` are `n × heads × head_dim`; `k` and `v` are `(start + n) × kv_heads × head_dim` (position
/// major, so a new position is appended at the end). Query head `h` reads key/value head
/// `h / (heads / kv_heads)`. `scores` is scratch, resized as needed.
pub fn causal_attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    shape: AttentionShape,
    start: usize,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let AttentionShape { heads, kv_heads, head_dim } = shape;
    let group = heads / kv_heads;
    let kv_stride = kv_heads * head_dim;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let n = q.len() / (heads * head_dim);
    debug_assert!(k.len() >= (start + n) * kv_stride && v.len() == k.len());
    scores.resize(start + n, 0.0);
    for t in 0..n {
        let visible = start + t + 1;
        for h in 0..heads {
            let kvh = h / group;
            let qh = &q[(t * heads + h) * head_dim..][..head_dim];
            let oh = &mut out[(t * heads + h) * head_dim..][..head_dim];
            let kv = KvHead { k, v, stride: kv_stride, offset: kvh * head_dim, visible };
            attend_head(qh, kv, scale, scores, oh);
        }
    }
}

/// One head's keys and values in a cache: position `p`'s key is `k[p · stride + offset ..][..head_dim]`,
/// its value likewise in `v`; positions `0 .. visible` are attended to.
#[derive(Debug, Clone, Copy)]
pub struct KvHead<'a> {
    pub k: &'a [f32],
    pub v: &'a [f32],
    pub stride: usize,
    pub offset: usize,
    pub visible: usize,
}

/// One query head over a cache's head: `out = softmax(q·kᵀ · scale) v`. `scores` is scratch, resized as
/// needed.
pub fn attend_head(q: &[f32], kv: KvHead, scale: f32, scores: &mut Vec<f32>, out: &mut [f32]) {
    let KvHead { k, v, stride: kv_stride, offset, visible } = kv;
    let head_dim = q.len();
    if scores.len() < visible {
        scores.resize(visible, 0.0);
    }
    assert!(
        visible == 0
            || (k.len().min(v.len()) >= (visible - 1) * kv_stride + offset + head_dim && out.len() == head_dim),
        "attention shapes out of range"
    );
    #[cfg(target_arch = "x86_64")]
    if head_dim.is_multiple_of(8) && *SIMD {
        // SAFETY: AVX2 and FMA are present; `head_dim` is a multiple of 8; `scores` was sized above and the
        // positions' heads are within `k` and `v` (asserted).
        unsafe { avx2::attend_head(q, kv, scale, scores, out) };
        return;
    }
    let mut max = f32::NEG_INFINITY;
    for (p, s) in scores[..visible].iter_mut().enumerate() {
        let kh = &k[p * kv_stride + offset..][..head_dim];
        *s = dot(q, kh) * scale;
        max = max.max(*s);
    }
    let mut sum = 0.0;
    for s in &mut scores[..visible] {
        *s = (*s - max).exp();
        sum += *s;
    }
    out.fill(0.0);
    for (p, s) in scores[..visible].iter().enumerate() {
        let w = s / sum;
        let vh = &v[p * kv_stride + offset..][..head_dim];
        for (o, x) in out.iter_mut().zip(vh) {
            *o += w * x;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2;

#[cfg(target_arch = "x86_64")]
static SIMD: std::sync::LazyLock<bool> = std::sync::LazyLock::new(|| {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
});

/// One query position (`heads × head_dim`) over every position of `k` and `v` (position major, `heads ×
/// head_dim` each, the same head count: Whisper's self-attention over its cache and its cross-attention over
/// the audio), `softmax(q·kᵀ / √head_dim) v` per head into `out`. The heads are spread over the kernel pool.
pub fn attend_all_positions(q: &[f32], k: &[f32], v: &[f32], heads: usize, out: &mut [f32]) {
    let head_dim = q.len() / heads;
    let stride = heads * head_dim;
    debug_assert!(k.len().is_multiple_of(stride) && v.len() == k.len() && out.len() == q.len());
    let visible = k.len() / stride;
    let scale = 1.0 / (head_dim as f32).sqrt();
    thread_local! {
        static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    if heads > MAX_HEADS {
        for (h, o) in out.chunks_exact_mut(head_dim).enumerate() {
            let qh = &q[h * head_dim..][..head_dim];
            let kv = KvHead { k, v, stride, offset: h * head_dim, visible };
            SCORES.with(|s| attend_head(qh, kv, scale, &mut s.borrow_mut(), o));
        }
        return;
    }
    let mut items: [(usize, &mut [f32]); MAX_HEADS] = Default::default();
    for (h, (item, o)) in items.iter_mut().zip(out.chunks_exact_mut(head_dim)).enumerate() {
        *item = (h, o);
    }
    crate::parallel::pool().for_each_mut(&mut items[..heads], |(h, o)| {
        let qh = &q[*h * head_dim..][..head_dim];
        let kv = KvHead { k, v, stride, offset: *h * head_dim, visible };
        SCORES.with(|s| attend_head(qh, kv, scale, &mut s.borrow_mut(), o));
    });
}

/// Heads that [`attend_all_positions`] spreads over the pool without allocating (more run on one thread).
const MAX_HEADS: usize = 32;

/// A dot product in 8 independent lanes (so the compiler vectorises it).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(seed: usize, n: usize) -> Vec<f32> {
        (0..n).map(|i| (((i + seed * 131) * 7919 % 1009) as f32 / 504.5) - 1.0).collect()
    }

    /// Plain textbook attention for one query row, in f64.
    fn reference(q: &[f32], k: &[f32], v: &[f32], shape: AttentionShape, pos: usize, t: usize, h: usize) -> Vec<f64> {
        let AttentionShape { heads, kv_heads, head_dim } = shape;
        let kvh = h / (heads / kv_heads);
        let qh = &q[(t * heads + h) * head_dim..][..head_dim];
        let logits: Vec<f64> = (0..=pos)
            .map(|p| {
                let kh = &k[(p * kv_heads + kvh) * head_dim..][..head_dim];
                qh.iter().zip(kh).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() / (head_dim as f64).sqrt()
            })
            .collect();
        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f64 = w.iter().sum();
        (0..head_dim)
            .map(|d| (0..=pos).map(|p| w[p] / sum * v[(p * kv_heads + kvh) * head_dim + d] as f64).sum())
            .collect()
    }

    #[test]
    fn causal_attention_matches_the_textbook_formula_with_grouped_heads() {
        // 20: the scalar loop; 24: the SIMD one where the CPU has it.
        for head_dim in [20, 24] {
            causal_attention_case(AttentionShape { heads: 6, kv_heads: 2, head_dim });
        }
    }

    fn causal_attention_case(shape: AttentionShape) {
        let (start, n) = (5, 4);
        let kv = (start + n) * shape.kv_heads * shape.head_dim;
        let (k, v) = (noise(1, kv), noise(2, kv));
        let q = noise(3, n * shape.heads * shape.head_dim);
        let mut out = vec![0f32; q.len()];
        causal_attention(&q, &k, &v, shape, start, &mut Vec::new(), &mut out);
        for t in 0..n {
            for h in 0..shape.heads {
                let want = reference(&q, &k, &v, shape, start + t, t, h);
                let got = &out[(t * shape.heads + h) * shape.head_dim..][..shape.head_dim];
                for (g, w) in got.iter().zip(&want) {
                    assert!((*g as f64 - w).abs() < 1e-5, "t={t} h={h}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn attention_over_all_positions_matches_the_textbook_formula() {
        let shape = AttentionShape { heads: 6, kv_heads: 6, head_dim: 16 };
        let positions = 9;
        let kv = positions * shape.heads * shape.head_dim;
        let (k, v) = (noise(4, kv), noise(5, kv));
        let q = noise(6, shape.heads * shape.head_dim);
        let mut out = vec![0f32; q.len()];
        attend_all_positions(&q, &k, &v, shape.heads, &mut out);
        for h in 0..shape.heads {
            let want = reference(&q, &k, &v, shape, positions - 1, 0, h);
            for (g, w) in out[h * shape.head_dim..][..shape.head_dim].iter().zip(&want) {
                assert!((*g as f64 - w).abs() < 1e-5, "h={h}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn rope_rotates_pairs_by_their_angle_in_both_layouts() {
        let (cos, sin) = ([0f32.cos(), 1f32.cos()], [0f32.sin(), 1f32.sin()]);
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        rope(&mut x, 4, &cos, &sin, RopeLayout::Interleaved);
        // Pair (0,1) by angle 0 unchanged; pair (2,3) by angle 1.
        assert_eq!(&x[..2], &[1.0, 2.0]);
        assert!((x[2] - (3.0 * cos[1] - 4.0 * sin[1])).abs() < 1e-6);
        assert!((x[3] - (3.0 * sin[1] + 4.0 * cos[1])).abs() < 1e-6);
        let mut y = vec![1.0, 2.0, 3.0, 4.0];
        rope(&mut y, 4, &cos, &sin, RopeLayout::Halves);
        // Pairs (0,2) by angle 0 and (1,3) by angle 1.
        assert_eq!((y[0], y[2]), (1.0, 3.0));
        assert!((y[1] - (2.0 * cos[1] - 4.0 * sin[1])).abs() < 1e-6);
        assert!((y[3] - (2.0 * sin[1] + 4.0 * cos[1])).abs() < 1e-6);
    }

    #[test]
    fn layer_norm_centres_and_scales_each_row_then_shifts_it() {
        let x = [1.0, 3.0, 10.0, 10.0];
        let mut out = [0f32; 4];
        layer_norm(&x, &[2.0, 1.0], &[0.5, -0.5], 1e-5, &mut out);
        // Row (1, 3): mean 2, var 1 → (−1, 1) → (−2 + 0.5, 1 − 0.5).
        assert!((out[0] + 1.5).abs() < 1e-4 && (out[1] - 0.5).abs() < 1e-4, "{out:?}");
        assert_eq!(&out[2..], &[0.5, -0.5], "a constant row becomes the bias");
    }

    #[test]
    fn gelu_tanh_matches_known_values_and_the_scalar_twin() {
        // 11 values: one vector of 8 and a scalar tail of 3.
        let mut x = [0.0f32, 1.0, -1.0, 3.0, -12.0, 40.0, -0.001, 0.5, 2.0, -2.0, 1e-6];
        let mut scalar = x;
        gelu_tanh(&mut x);
        gelu_tanh_scalar(&mut scalar);
        for (g, w) in x.iter().zip([0.0, 0.841192, -0.158808, 2.996363]) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        for (g, s) in x.iter().zip(&scalar) {
            assert!((g - s).abs() <= 1e-6 * (1.0 + s.abs()), "{g} vs {s}");
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_follow_the_exponentials() {
        let cols = 13;
        let mut x = noise(9, 7 * cols);
        x[3] = 60.0;
        let want: Vec<f64> = x
            .chunks_exact(cols)
            .flat_map(|r| {
                let max = r.iter().fold(f32::NEG_INFINITY, |a, b| a.max(*b)) as f64;
                let e: Vec<f64> = r.iter().map(|v| (*v as f64 - max).exp()).collect();
                let s: f64 = e.iter().sum();
                e.into_iter().map(move |e| e / s)
            })
            .collect();
        softmax_rows(&mut x, cols);
        for (g, w) in x.iter().zip(&want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn rms_norm_scales_each_row_to_unit_rms_times_the_weight() {
        let x = [3.0, 4.0, 0.0, 0.0, 1.0, 1.0];
        let mut out = [0f32; 6];
        rms_norm(&x, &[1.0, 2.0], 1e-6, &mut out);
        let rms = (12.5f32).sqrt();
        assert!((out[0] - 3.0 / rms).abs() < 1e-5 && (out[1] - 8.0 / rms).abs() < 1e-5);
        assert_eq!(&out[2..4], &[0.0, 0.0], "a zero row stays zero (eps keeps it finite)");
        assert!((out[4] - 1.0).abs() < 1e-5 && (out[5] - 2.0).abs() < 1e-5);
    }
}
