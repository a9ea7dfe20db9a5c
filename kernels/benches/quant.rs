//! The quantized matrix products at our models' shapes, by format and batch size (decode steps of 1–8
//! sequences, a prompt chunk). `cargo bench -p parley-kernels --bench quant`; the counter is weight bytes
//! read, so divan's bytes/s is the effective bandwidth (compare with the machine's read bandwidth).

use divan::Bencher;
use divan::counter::BytesCount;
use parley_kernels::quant::{Kernel, QMatrix, QType};

/// Random blocks with small, finite `f16` scales (any bit pattern of the quants is a valid block).
fn matrix(ty: QType, rows: usize, cols: usize) -> QMatrix {
    let bytes_per_row = cols / ty.block_values() * ty.block_bytes();
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut bytes: Vec<u8> = (0..rows * bytes_per_row)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect();
    let scale = half::f16::from_f32(0.01).to_bits().to_le_bytes();
    let scale_at: &[usize] = match ty {
        QType::Q6_K => &[208],
        QType::Q4_K | QType::Q4_1 => &[0, 2],
        _ => &[0],
    };
    for block in bytes.chunks_exact_mut(ty.block_bytes()) {
        for &a in scale_at {
            block[a..a + 2].copy_from_slice(&scale);
        }
    }
    QMatrix::from_ggml_bytes(ty, rows, cols, &bytes).expect("valid sizes")
}

fn product(bencher: Bencher, ty: QType, rows: usize, cols: usize, m: usize, kernel: Kernel) {
    let w = matrix(ty, rows, cols).with_kernel(kernel).expect("kernel runs here");
    let x: Vec<f32> = (0..m * cols).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
    let mut out = vec![0f32; m * rows];
    bencher.counter(BytesCount::new(w.bytes().len())).bench_local(|| w.matmul(&x, &mut out).expect("multiplies"));
}

/// SmolLM2's FFN up projection (1536 × 576; 1536 × 512 for the 256-value formats) in every format, one token.
#[divan::bench(args = QType::ALL)]
fn ffn_up_decode(bencher: Bencher, ty: QType) {
    let cols = if ty.is_k_quant() { 512 } else { 576 };
    product(bencher, ty, 1536, cols, 1, Kernel::best());
}

/// Qwen2.5-1.5B's FFN gate (8960 × 1536, Q4_K) by batch size.
#[divan::bench(args = [1, 2, 4, 8, 32, 128], sample_count = 20)]
fn qwen_ffn_gate_q4k(bencher: Bencher, m: usize) {
    product(bencher, QType::Q4_K, 8960, 1536, m, Kernel::best());
}

/// Qwen2.5-1.5B's FFN down (1536 × 8960, Q6_K) by batch size.
#[divan::bench(args = [1, 8, 128], sample_count = 20)]
fn qwen_ffn_down_q6k(bencher: Bencher, m: usize) {
    product(bencher, QType::Q6_K, 1536, 8960, m, Kernel::best());
}

/// Qwen2.5-1.5B's FFN down in the layers that store it as Q4_K, by batch size.
#[divan::bench(args = [1, 8, 128], sample_count = 20)]
fn qwen_ffn_down_q4k(bencher: Bencher, m: usize) {
    product(bencher, QType::Q4_K, 1536, 8960, m, Kernel::best());
}

/// SmolLM2's FFN up (Q4_1) by batch size.
#[divan::bench(args = [1, 2, 4, 8, 32, 128])]
fn smollm2_ffn_up_q4_1(bencher: Bencher, m: usize) {
    product(bencher, QType::Q4_1, 1536, 576, m, Kernel::best());
}

/// The same on each kernel, for the SIMD speed-ups.
#[divan::bench(args = [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512Vnni])]
fn q4_1_by_kernel(bencher: Bencher, kernel: Kernel) {
    if kernel.available() {
        product(bencher, QType::Q4_1, 1536, 576, 1, kernel);
    }
}

fn main() {
    divan::main();
}
