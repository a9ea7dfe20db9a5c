//! The Q8_0 matrix product at SmolLM2-135M's shapes, by batch size (decode steps of 1–8 sequences, a prompt
//! chunk). `cargo bench -p parley-kernels --bench q8_0`; the counter is multiply-adds, so divan's items/s
//! is MAC/s.

use divan::Bencher;
use divan::counter::ItemsCount;
use parley_kernels::q8_0::Q8Matrix;

fn noise(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect()
}

fn product(bencher: Bencher, rows: usize, cols: usize, m: usize, simd: bool) {
    let w = Q8Matrix::quantize(rows, cols, &noise(rows * cols)).expect("quantizes");
    let w = if simd { w } else { w.without_simd() };
    let x = noise(m * cols);
    let mut out = vec![0f32; m * rows];
    bencher.counter(ItemsCount::new(rows * cols * m)).bench_local(|| w.matmul(&x, &mut out).expect("multiplies"));
}

/// SmolLM2's FFN up projection, 1536 × 576.
#[divan::bench(args = [1, 2, 4, 8, 32, 128])]
fn ffn_up(bencher: Bencher, m: usize) {
    product(bencher, 1536, 576, m, true);
}

/// SmolLM2's FFN down projection, 576 × 1536.
#[divan::bench(args = [1, 8, 128])]
fn ffn_down(bencher: Bencher, m: usize) {
    product(bencher, 576, 1536, m, true);
}

/// The tied output head, 49152 × 576.
#[divan::bench(args = [1, 8], sample_count = 10)]
fn lm_head(bencher: Bencher, m: usize) {
    product(bencher, 49152, 576, m, true);
}

/// The scalar twin, for the SIMD speed-up.
#[divan::bench(args = [1, 8])]
fn ffn_up_scalar(bencher: Bencher, m: usize) {
    product(bencher, 1536, 576, m, false);
}

fn main() {
    divan::main();
}
