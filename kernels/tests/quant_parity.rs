//! Parity of every quantized format's kernels: each SIMD path against its scalar twin, and all of them
//! against the `f64` product of the dequantized weights with the unquantized activations, on random blocks
//! and activations, for batch sizes that exercise every tile shape.
//!
//! Error bounds (written down here and asserted):
//! - SIMD vs scalar twin: the integer sums per block are identical; only the `f32` accumulation order
//!   differs, so `|simd − scalar| ≤ 1e-5 · Σ|w·x|`.
//! - Any kernel vs the exact product: the only loss is rounding the activations to int8, at most half a step
//!   per value, so `|y − exact| ≤ Σ_blocks (d_a / 2) · Σ|w| + 1e-5 · Σ|w·x|` where `d_a` is the block's
//!   activation step (plus, for Q4_1, the `f16` rounding of `d_a · Σq`, ≤ 2⁻¹¹ relative, times `|m|`).
//!   The largest observed error relative to `Σ|w·x|` is printed per format (`--nocapture`).

use parley_kernels::quant::{Kernel, Layout, QMatrix, QType};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in [-1, 1).
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Random blocks of `ty`: random quant bits, scales small positive `f16` (Q4_1's min of either sign).
fn random_matrix(ty: QType, rows: usize, cols: usize, rng: &mut Rng) -> QMatrix {
    let n = rows * cols / ty.block_values() * ty.block_bytes();
    let mut bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
    for block in bytes.chunks_exact_mut(ty.block_bytes()) {
        let mut put = |at: usize, v: f32| block[at..at + 2].copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
        match ty {
            QType::Q4_0 | QType::Q5_0 | QType::Q8_0 => put(0, 0.001 + 0.02 * rng.unit().abs()),
            QType::Q4_1 => {
                put(0, 0.001 + 0.02 * rng.unit().abs());
                put(2, 0.1 * rng.unit());
            }
            QType::Q4_K => {
                put(0, 0.001 + 0.002 * rng.unit().abs());
                put(2, 0.001 + 0.002 * rng.unit().abs());
            }
            QType::Q6_K => put(208, 0.0005 + 0.001 * rng.unit().abs()),
        }
    }
    QMatrix::from_ggml_bytes(ty, rows, cols, &bytes).unwrap()
}

/// The largest activation step of each block row: the int8 rounding's half-step bound needs it.
fn step(x: &[f32], block: usize) -> Vec<f32> {
    x.chunks(block).map(|b| b.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0).collect()
}

#[test]
fn every_format_and_kernel_matches_the_exact_product_within_its_bound() {
    let kernels: Vec<Kernel> =
        [Kernel::Scalar, Kernel::Avx2, Kernel::Avx512Vnni].into_iter().filter(|k| k.available()).collect();
    println!("kernels on this CPU: {kernels:?}");
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for ty in QType::ALL {
        let mut worst = 0f64;
        let widths: &[usize] = if ty.is_k_quant() { &[256, 768] } else { &[32, 96, 576] };
        for &cols in widths {
            // Row counts that are multiples of 8 take Q4_K's interleaved layout.
            for (rows, m) in [
                (1, 1),
                (3, 2),
                (5, 3),
                (7, 4),
                (9, 5),
                (4, 8),
                (6, 17),
                (2, 33),
                (8, 1),
                (16, 3),
                (8, 4),
                (24, 5),
                (8, 17),
            ] {
                let w = random_matrix(ty, rows, cols, &mut rng);
                let wf = w.dequantize();
                let x: Vec<f32> = (0..m * cols).map(|_| rng.unit() * 2.0).collect();
                let mut outs = Vec::new();
                for &k in &kernels {
                    let mut out = vec![0f32; m * rows];
                    w.clone().with_kernel(k).unwrap().matmul(&x, &mut out).unwrap();
                    outs.push(out);
                }
                let act_block = if ty.is_k_quant() { 256 } else { 32 };
                for i in 0..m {
                    let xi = &x[i * cols..(i + 1) * cols];
                    let steps = step(xi, act_block);
                    for r in 0..rows {
                        let wr = &wf[r * cols..(r + 1) * cols];
                        let exact: f64 = wr.iter().zip(xi).map(|(a, b)| *a as f64 * *b as f64).sum();
                        let magnitude: f64 = wr.iter().zip(xi).map(|(a, b)| (*a as f64 * *b as f64).abs()).sum();
                        let mut bound: f64 = wr
                            .chunks(act_block)
                            .zip(&steps)
                            .map(|(ws, s)| ws.iter().map(|v| v.abs() as f64).sum::<f64>() * (*s as f64 / 2.0))
                            .sum();
                        if ty == QType::Q4_1 {
                            // |m| · |d_a Σq| · 2⁻¹¹ per block, with |d_a Σq| ≤ 32 · max|x|.
                            bound += steps.iter().map(|s| 0.1 * 32.0 * 127.0 * *s as f64 / 2048.0).sum::<f64>();
                        }
                        bound += 1e-5 * magnitude + 1e-6;
                        let scalar = outs[0][i * rows + r] as f64;
                        for (k, out) in kernels.iter().zip(&outs) {
                            let y = out[i * rows + r] as f64;
                            assert!(
                                (y - exact).abs() <= bound,
                                "{ty} {k:?} {rows}×{cols} m={m} [{i},{r}]: {y} vs exact {exact} (bound {bound})"
                            );
                            assert!(
                                (y - scalar).abs() <= 1e-5 * magnitude + 1e-6,
                                "{ty} {k:?} vs scalar: {y} vs {scalar}"
                            );
                            worst = worst.max((y - exact).abs() / magnitude.max(1e-12));
                        }
                    }
                }
            }
        }
        println!("{ty}: largest |error| / Σ|w·x| = {worst:.2e}");
    }
}

#[test]
fn dequantization_matches_ggml_layouts_on_hand_built_blocks() {
    // Q4_0: d = 0.5, byte 0x9F → element 0 = (0xF − 8)·0.5 = 3.5, element 16 = (0x9 − 8)·0.5 = 0.5.
    let mut b = vec![0u8; 18];
    b[0..2].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
    b[2] = 0x9F;
    let m = QMatrix::from_ggml_bytes(QType::Q4_0, 1, 32, &b).unwrap().dequantize();
    assert_eq!((m[0], m[16], m[1]), (3.5, 0.5, -4.0));
    // Q5_0: bit 0 of qh sets bit 4 of element 0: (0x1F − 16)·1 = 15; element 1 without it: 0 − 16.
    let mut b = vec![0u8; 22];
    b[0..2].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    b[2] = 1;
    b[6] = 0x0F;
    let m = QMatrix::from_ggml_bytes(QType::Q5_0, 1, 32, &b).unwrap().dequantize();
    assert_eq!((m[0], m[1]), (15.0, -16.0));
    // Q6_K: d = 1, scale 0 = 2, ql[0] = 0x1, qh[0] = 0b01 → element 0 = 2·((1 | 1<<4) − 32) = −30.
    let mut b = vec![0u8; 210];
    b[208..210].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    b[192] = 2;
    b[0] = 0x1;
    b[128] = 0b01;
    let m = QMatrix::from_ggml_bytes(QType::Q6_K, 1, 256, &b).unwrap().dequantize();
    assert_eq!(m[0], -30.0);
    // Q4_K: d = 1, dmin = 1, sub-block 0 scale 3 and min 1; q = 5 → 3·5 − 1 = 14.
    let mut b = vec![0u8; 144];
    b[0..2].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    b[2..4].copy_from_slice(&half::f16::from_f32(1.0).to_le_bytes());
    b[4] = 3;
    b[8] = 1;
    b[16] = 5;
    let m = QMatrix::from_ggml_bytes(QType::Q4_K, 1, 256, &b).unwrap().dequantize();
    assert_eq!(m[0], 14.0);
}

#[test]
fn bad_shapes_and_stacks_are_errors() {
    let mut rng = Rng(7);
    let a = random_matrix(QType::Q4_K, 2, 256, &mut rng);
    assert!(QMatrix::from_ggml_bytes(QType::Q4_K, 2, 250, &[0; 288]).is_err());
    assert!(QMatrix::from_ggml_bytes(QType::Q4_K, 2, 256, &[0; 287]).is_err());
    let mut out = vec![0f32; 2];
    assert!(a.matmul(&[0.0; 255], &mut out).is_err());
    assert!(a.matmul(&[0.0; 256], &mut out[..1]).is_err());
    let b = random_matrix(QType::Q6_K, 1, 256, &mut rng);
    assert!(QMatrix::stack(&[&a, &b]).is_err());
    let c = random_matrix(QType::Q4_K, 3, 256, &mut rng);
    let both = QMatrix::stack(&[&a, &c]).unwrap();
    let x: Vec<f32> = (0..256).map(|_| rng.unit()).collect();
    let (mut oa, mut oc, mut o) = (vec![0f32; 2], vec![0f32; 3], vec![0f32; 5]);
    a.matmul(&x, &mut oa).unwrap();
    c.matmul(&x, &mut oc).unwrap();
    both.matmul(&x, &mut o).unwrap();
    assert_eq!(&o[..2], &oa[..]);
    assert_eq!(&o[2..], &oc[..]);
}

#[test]
fn interleaving_and_rebuilding_gives_back_every_gguf_byte() {
    let mut rng = Rng(5);
    for ty in [QType::Q4_1, QType::Q4_K, QType::Q6_K] {
        let (rows, cols) = (16, 3 * ty.block_values());
        let bytes: Vec<u8> =
            (0..rows * cols / ty.block_values() * ty.block_bytes()).map(|_| rng.next() as u8).collect();
        let m = QMatrix::from_ggml_bytes(ty, rows, cols, &bytes).unwrap();
        assert_eq!(m.layout(), Layout::Rows8, "{ty}");
        assert_eq!(m.gguf_bytes(), bytes, "{ty}");
    }
}

#[test]
fn interleaved_layouts_keep_every_value_and_stack() {
    for ty in [QType::Q4_1, QType::Q4_K, QType::Q6_K] {
        interleaved_layout_keeps_every_value_and_stacks(ty);
    }
}

fn interleaved_layout_keeps_every_value_and_stacks(ty: QType) {
    let mut rng = Rng(11);
    let (a, b) = (random_matrix(ty, 16, 512, &mut rng), random_matrix(ty, 8, 512, &mut rng));
    let odd = random_matrix(ty, 3, 512, &mut rng);
    assert_eq!((a.layout(), odd.layout()), (Layout::Rows8, Layout::Gguf));
    assert!(odd.clone().with_layout(Layout::Rows8).is_err());
    let a_gguf = a.clone().with_layout(Layout::Gguf).unwrap();
    assert_eq!(a.dequantize(), a_gguf.dequantize());
    assert_eq!(a_gguf.clone().with_layout(Layout::Rows8).unwrap().bytes(), a.bytes());
    let x: Vec<f32> = (0..3 * 512).map(|_| rng.unit()).collect();
    // Stacks of interleaved parts, of GGUF parts, and of a mix all hold the parts' rows in order.
    for parts in [vec![&a, &b], vec![&a_gguf, &b], vec![&odd, &a, &odd]] {
        let stacked = QMatrix::stack(&parts).unwrap();
        let expected: Vec<f32> = parts
            .iter()
            .flat_map(|p| p.dequantize().chunks(512).map(<[f32]>::to_vec).collect::<Vec<_>>())
            .flatten()
            .collect();
        assert_eq!(stacked.dequantize(), expected);
        let mut out = vec![0f32; 3 * stacked.rows()];
        stacked.matmul(&x, &mut out).unwrap();
        let mut at = 0;
        for p in &parts {
            let mut o = vec![0f32; 3 * p.rows()];
            p.matmul(&x, &mut o).unwrap();
            for i in 0..3 {
                for r in 0..p.rows() {
                    let (y, z) = (out[i * stacked.rows() + at + r], o[i * p.rows() + r]);
                    assert!((y - z).abs() <= 1e-5 * y.abs().max(1.0), "row {} of a part: {y} vs {z}", at + r);
                }
            }
            at += p.rows();
        }
    }
}

#[test]
fn q8_0_quantization_rounds_like_ggml() {
    let x: Vec<f32> = (0..64).map(|i| (i as f32 - 31.5) / 10.0).collect();
    let q = QMatrix::quantize_q8_0(1, 64, &x).unwrap();
    let back = q.dequantize();
    for (a, b) in x.iter().zip(&back) {
        assert!((a - b).abs() <= 3.2 / 127.0 / 2.0 + 1e-3, "{a} vs {b}");
    }
}
