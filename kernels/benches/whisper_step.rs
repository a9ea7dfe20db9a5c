//! The pieces of one Whisper tiny.en decoder step at its shapes: the `f16` products (the 51 864-row tied
//! output projection, the MLP, a 384 × 384 projection) and one layer's cross-attention over a 30 s window
//! (1500 frames, 6 heads of 64). `cargo bench -p parley-kernels --bench whisper_step`; the products count
//! weight bytes read, so divan's bytes/s is their effective bandwidth.

use divan::Bencher;
use divan::counter::BytesCount;
use parley_kernels::attention::attend_all_positions;
use parley_kernels::dense::F16Matrix;

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n).map(|i| (((i + seed) * 7919 % 1000) as f32 / 500.0 - 1.0) * 0.1).collect()
}

/// rows × cols: the output projection, fc1, fc2, one attention projection.
#[divan::bench(args = [(51864, 384), (1536, 384), (384, 1536), (384, 384)], sample_count = 30)]
fn f16_matvec(bencher: Bencher, (rows, cols): (usize, usize)) {
    let w = F16Matrix::from_f32(rows, cols, &values(rows * cols, 1)).expect("sizes match");
    let x = values(cols, 2);
    let mut out = vec![0f32; rows];
    bencher.counter(BytesCount::new(rows * cols * 2)).bench_local(|| w.matmul(&x, &mut out).expect("multiplies"));
}

/// One layer's cross-attention of one token: 6 heads over `frames` positions of keys and values (`f32`).
#[divan::bench(args = [500, 1500], sample_count = 30)]
fn cross_attention(bencher: Bencher, frames: usize) {
    let (k, v, q) = (values(frames * 384, 3), values(frames * 384, 4), values(384, 5));
    let mut out = vec![0f32; 384];
    bencher
        .counter(BytesCount::new(frames * 384 * 4 * 2))
        .bench_local(|| attend_all_positions(&q, &k, &v, 6, &mut out));
}

fn main() {
    divan::main();
}
