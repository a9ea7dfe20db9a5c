//! Prompt (prefill) and decode speed of both language models on the real weights, single sequence, CPU.
//!
//! `cargo bench -p parley-models --bench llm`. Prints a `SKIPPED:` line and exits 0 when the model store is
//! incomplete (fails under CI: `parley_models::store::test_store`). Reference on this machine kind (llama.cpp, 2 threads, /work/shared/MODELS.md): SmolLM2-135M prompt
//! 334–349 tok/s, decode 132 tok/s; Qwen2.5-Coder-1.5B prompt 44–46 tok/s, decode 20.6 tok/s. Divan reports
//! time per iteration; the `items` counter turns it into tokens/s.
//!
//! The side-by-side comparison with candle's own model and llama.cpp is `parley-bench llm` (docs/kernels.md);
//! the table below is from before the Q4_1/Q4_K kernels, when SmolLM2 was re-quantised to Q8_0 at load.
//!
//! Recorded 2026-11-24 on the 2-core box (quiet), after our own Q8_0 kernel, attention, norms and RoPE
//! (parley-kernels) replaced candle's ops in the transformer:
//!
//! | model | prefill 32 | prefill 128 | decode | batched decode, aggregate N = 1 / 2 / 4 / 8 | vs llama.cpp (prompt / decode) |
//! |---|---|---|---|---|---|
//! | SmolLM2-135M, re-quantised Q8_0 (default) | 380 tok/s | 355–361 tok/s | 74–80 tok/s | 74–78 / 136 / 191 / 235–244 tok/s (3.0–3.3×) | 1.1 / 0.6 |
//! | same weights, candle's kernels and ops (before) | 104 tok/s | 114 tok/s | 62–68 tok/s | 68 / – / – / 83 tok/s (1.2×) | 0.33 / 0.5 |
//! | SmolLM2-135M as stored (Q4_1, scalar) | 25 tok/s | 25 tok/s | 21 tok/s | | 0.07 / 0.16 |
//! | Qwen2.5-Coder-1.5B (Q4_K_M, candle's matmul) | 65 tok/s | 65 tok/s | 14.4 tok/s | 14.6 / – / 29 / 41.6 tok/s (2.8×) | 1.4 / 0.7 |

use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::ItemsCount;
use parley_models::llm::{FAST_MODEL, LlmModel, LlmSequence, LoadOptions, SLOW_MODEL};
use parley_models::store::{ModelStore, test_store};

/// The store, checked once in `main`.
static STORE: OnceLock<ModelStore> = OnceLock::new();

/// SmolLM2 re-quantised to Q8_0 at load (the default before parley-kernels had a Q4_1 kernel), for comparison
/// with the default as-stored load.
const FAST_AS_STORED: &str = "smollm2-135m requantised";
/// SmolLM2 re-quantised to Q8_0 but multiplied with candle's kernels instead of ours, side by side.
const FAST_CANDLE_KERNELS: &str = "smollm2-135m candle kernels";

fn model(id: &'static str) -> &'static LlmModel {
    static FAST: OnceLock<LlmModel> = OnceLock::new();
    static FAST_STORED: OnceLock<LlmModel> = OnceLock::new();
    static FAST_CANDLE: OnceLock<LlmModel> = OnceLock::new();
    static SLOW: OnceLock<LlmModel> = OnceLock::new();
    let (cell, store_id, requantize, own_kernels) = match id {
        FAST_MODEL => (&FAST, FAST_MODEL, false, true),
        FAST_AS_STORED => (&FAST_STORED, FAST_MODEL, true, true),
        FAST_CANDLE_KERNELS => (&FAST_CANDLE, FAST_MODEL, true, false),
        _ => (&SLOW, SLOW_MODEL, true, true),
    };
    cell.get_or_init(|| {
        let store = STORE.get().expect("main checked the store");
        LlmModel::load_with(store, store_id, &LoadOptions { requantize, own_kernels, ..Default::default() })
            .expect("the model loads")
    })
}

/// `n` prompt tokens of ordinary English (repeated text, so every model tokenises it to at least `n`).
fn prompt(model: &LlmModel, n: usize) -> Vec<u32> {
    let text = "The quick brown fox jumps over the lazy dog while the sun sets slowly behind the hills. ".repeat(16);
    let ids = model.encode(&text).expect("encodes");
    ids[..n].to_vec()
}

const DECODE_TOKENS: usize = 32;

fn prefill(bencher: Bencher, id: &'static str, n: usize) {
    let model = model(id);
    let tokens = prompt(model, n);
    bencher.counter(ItemsCount::new(n)).bench(|| {
        let mut seq = model.new_sequence();
        divan::black_box(seq.feed(model, &tokens).expect("prefill"));
    });
}

/// One token at a time after a 32-token prompt (what a reply costs per token).
fn decode(bencher: Bencher, id: &'static str) {
    let model = model(id);
    let tokens = prompt(model, 32);
    bencher
        .counter(ItemsCount::new(DECODE_TOKENS))
        .with_inputs(|| {
            let mut seq = model.new_sequence();
            seq.feed(model, &tokens).expect("prefill");
            seq
        })
        .bench_local_values(|mut seq| {
            let mut next = tokens[0];
            for _ in 0..DECODE_TOKENS {
                let logits = seq.feed(model, &[next]).expect("decode step");
                next = logits.argmax(0).and_then(|t| t.to_scalar::<u32>()).expect("argmax");
            }
            seq
        });
}

/// Continuous batching: `n` sequences (32-token prompts) each advance one token per batched pass; the counter
/// is the aggregate tokens of all sequences.
fn decode_batched(bencher: Bencher, id: &'static str, n: usize) {
    let model = model(id);
    let tokens = prompt(model, 32);
    bencher
        .counter(ItemsCount::new(DECODE_TOKENS * n))
        .with_inputs(|| {
            (0..n)
                .map(|_| {
                    let mut seq = model.new_sequence();
                    seq.feed(model, &tokens).expect("prefill");
                    seq
                })
                .collect::<Vec<_>>()
        })
        .bench_local_values(|mut seqs| {
            let mut next = vec![tokens[0]; n];
            for _ in 0..DECODE_TOKENS {
                let mut items: Vec<(&mut LlmSequence, &[u32])> =
                    seqs.iter_mut().zip(&next).map(|(s, t)| (s, std::slice::from_ref(t))).collect();
                let logits = LlmSequence::feed_batch(model, &mut items).expect("batched decode step");
                for (t, l) in next.iter_mut().zip(&logits) {
                    *t = l.argmax(0).and_then(|t| t.to_scalar::<u32>()).expect("argmax");
                }
            }
            seqs
        });
}

#[divan::bench(args = [1, 2, 4, 8], sample_count = 3, sample_size = 1)]
fn smollm2_decode_batched(bencher: Bencher, n: usize) {
    decode_batched(bencher, FAST_MODEL, n);
}

#[divan::bench(args = [1, 8], sample_count = 3, sample_size = 1)]
fn smollm2_candle_kernels_decode_batched(bencher: Bencher, n: usize) {
    decode_batched(bencher, FAST_CANDLE_KERNELS, n);
}

#[divan::bench(args = [128], sample_count = 3, sample_size = 1)]
fn smollm2_candle_kernels_prefill(bencher: Bencher, n: usize) {
    prefill(bencher, FAST_CANDLE_KERNELS, n);
}

#[divan::bench(args = [1, 4, 8], sample_count = 1, sample_size = 1)]
fn qwen_1_5b_decode_batched(bencher: Bencher, n: usize) {
    decode_batched(bencher, SLOW_MODEL, n);
}

#[divan::bench(args = [32, 128], sample_count = 3, sample_size = 1)]
fn smollm2_prefill(bencher: Bencher, n: usize) {
    prefill(bencher, FAST_MODEL, n);
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn smollm2_decode(bencher: Bencher) {
    decode(bencher, FAST_MODEL);
}

#[divan::bench(args = [32, 128], sample_count = 3, sample_size = 1)]
fn smollm2_as_stored_prefill(bencher: Bencher, n: usize) {
    prefill(bencher, FAST_AS_STORED, n);
}

#[divan::bench(sample_count = 3, sample_size = 1)]
fn smollm2_as_stored_decode(bencher: Bencher) {
    decode(bencher, FAST_AS_STORED);
}

#[divan::bench(args = [32, 128], sample_count = 1, sample_size = 1)]
fn qwen_1_5b_prefill(bencher: Bencher, n: usize) {
    prefill(bencher, SLOW_MODEL, n);
}

#[divan::bench(sample_count = 2, sample_size = 1)]
fn qwen_1_5b_decode(bencher: Bencher) {
    decode(bencher, SLOW_MODEL);
}

fn main() {
    parley_models::set_thread_defaults();
    let Some(store) = test_store() else { return };
    STORE.set(store).expect("set once");
    divan::main();
}
