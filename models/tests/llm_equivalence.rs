//! Our transformer on parley-kernels against candle-transformers' own model on the same GGUF file, with the
//! model's exact arithmetic as the judge: candle's model again, its weights dequantized to `f32`
//! (`CANDLE_DEQUANTIZE_ALL`, so no int8 activations either).
//!
//! Why not "the same greedy tokens as candle": both are 4-bit weights against int8-rounded activations, and
//! the two round different partial sums (ours adds them in another order), so each departs from the `f32`
//! model by its own noise. On a near tie that noise decides the token, and it does for candle too: on this
//! set candle's quantized path picks another token than the `f32` model at 3–4 steps in 96, and its own
//! prefill and decode disagree by up to a logit. So the test holds us to what candle's quantized path
//! achieves: as close to the `f32` logits (mean and worst), and every token ours picks that is not the
//! `f32` model's (or candle's) is a near tie in the `f32` logits. Each step is teacher-forced on the `f32`
//! model's greedy token, so all three see the same context at every step.
//!
//! This is its own test binary because candle reads `CANDLE_DEQUANTIZE_ALL` once per thread from the
//! process environment: nothing else runs in this process while it is set.

use candle_core::Tensor;
use parley_models::llm::{CandleReference, ChatMessage, FAST_MODEL, LlmModel, SLOW_MODEL, argmax};
use parley_models::store::{ModelStore, test_store as store};

/// A gap between two logits of the `f32` model below which the choice between the tokens is decided by
/// rounding noise (candle's own quantized decode and prefill differ by more than this on this set).
const NEAR_TIE: f32 = 0.5;
const STEPS: usize = 32;

/// candle's model with every weight dequantized to `f32`, loaded on a fresh thread (candle's switch is a
/// thread-local read from the environment on first use).
fn f32_reference(store: &ModelStore, id: &str) -> CandleReference {
    let path = store.require(id, "model.gguf").unwrap();
    // SAFETY: this binary's only test is the only thread here; the variable is removed again at once.
    unsafe { std::env::set_var("CANDLE_DEQUANTIZE_ALL", "1") };
    let model = std::thread::spawn(move || CandleReference::load(&path).unwrap()).join().unwrap();
    unsafe { std::env::remove_var("CANDLE_DEQUANTIZE_ALL") };
    model
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_vec1::<f32>().unwrap()
}

fn top(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, x)| if *x > v[best] { i } else { best })
}

/// How one quantized path compares with the `f32` model over every step of every prompt.
#[derive(Debug, Default)]
struct Closeness {
    steps: usize,
    sum_distance: f64,
    worst_distance: f32,
    distances: Vec<f32>,
    other_tokens: usize,
    worst_tie: f32,
}

impl Closeness {
    fn add(&mut self, logits: &[f32], exact: &[f32]) {
        let distance = 1.0 - cosine(logits, exact);
        self.steps += 1;
        self.sum_distance += distance as f64;
        self.worst_distance = self.worst_distance.max(distance);
        self.distances.push(distance);
        let (mine, best) = (top(logits), top(exact));
        if mine != best {
            self.other_tokens += 1;
            self.worst_tie = self.worst_tie.max(exact[best] - exact[mine]);
        }
    }

    /// The distance that a fraction `q` of the steps are within.
    fn percentile(&self, q: f64) -> f32 {
        let mut d = self.distances.clone();
        d.sort_by(f32::total_cmp);
        d.get(((d.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
    }

    fn mean_distance(&self) -> f32 {
        (self.sum_distance / self.steps.max(1) as f64) as f32
    }
}

#[test]
fn our_kernels_are_as_close_to_the_exact_model_as_candles_and_differ_only_on_near_ties() {
    let Some(store) = store() else { return };
    let prompts = [
        vec![ChatMessage::user("What is the capital of France?")],
        vec![
            ChatMessage::system("You are a helpful assistant."),
            ChatMessage::user("Tell me a short story about a cat."),
        ],
        vec![ChatMessage::user("List three uses of a paperclip.")],
    ];
    for id in [FAST_MODEL, SLOW_MODEL] {
        let ours = LlmModel::load(&store, id).unwrap();
        let mut candle = CandleReference::load(&store.require(id, "model.gguf").unwrap()).unwrap();
        let mut exact = f32_reference(&store, id);
        let (mut mine, mut theirs) = (Closeness::default(), Closeness::default());
        let (mut same_as_candle, mut split_from_candle) = (0, Vec::new());
        for (p, messages) in prompts.iter().enumerate() {
            let prompt = ours.encode_chat(messages).unwrap();
            let mut seq = ours.new_sequence();
            candle.reset();
            exact.reset();
            let mut l =
                (seq.feed(&ours, &prompt).unwrap(), candle.feed(&prompt).unwrap(), exact.feed(&prompt).unwrap());
            for step in 0..STEPS {
                let (o, c, e) = (values(&l.0), values(&l.1), values(&l.2));
                mine.add(&o, &e);
                theirs.add(&c, &e);
                let (to, tc) = (top(&o), top(&c));
                if to == tc {
                    same_as_candle += 1;
                } else {
                    // Where ours and candle's part, the exact model must see a near tie between the two.
                    split_from_candle.push((p, step, e[tc] - e[to]));
                }
                let next = argmax(&l.2).unwrap();
                l = (seq.feed(&ours, &[next]).unwrap(), candle.feed(&[next]).unwrap(), exact.feed(&[next]).unwrap());
            }
        }
        eprintln!(
            "{id}: {same_as_candle}/{} steps pick candle's token (elsewhere the f32 model's gap, prompt/step: {split_from_candle:?})\n  \
             ours:   1 - cosine to f32 mean {:.2e} p90 {:.2e} worst {:.2e}; not the f32 token at {} steps (f32 gap up to {:.3})\n  \
             candle: 1 - cosine to f32 mean {:.2e} p90 {:.2e} worst {:.2e}; not the f32 token at {} steps (f32 gap up to {:.3})",
            mine.steps,
            mine.mean_distance(),
            mine.percentile(0.9),
            mine.worst_distance,
            mine.other_tokens,
            mine.worst_tie,
            theirs.mean_distance(),
            theirs.percentile(0.9),
            theirs.worst_distance,
            theirs.other_tokens,
            theirs.worst_tie,
        );
        assert!(
            mine.mean_distance() <= 1.5 * theirs.mean_distance(),
            "{id}: our logits are further from the f32 model's than candle's: {mine:?} vs {theirs:?}"
        );
        assert!(
            mine.percentile(0.9) <= 1.5 * theirs.percentile(0.9),
            "{id}: our steps are further from the f32 model than candle's: {mine:?} vs {theirs:?}"
        );
        // A single step's distance swings with the order of `f32` sums: a last-ulp change upstream flips some
        // activation's int8 rounding downstream. Changing only the summation order of the Q6_K products
        // (results equal to 1e-7 relative on the real weights) moved Qwen's worst step from 8.6e-4 to
        // 1.15e-3 (candle's: 5.3e-4), its p90 and mean by under 5%. So the bulk is held to 1.5× above, and the
        // worst step only guarded against a real outlier.
        assert!(
            mine.worst_distance <= 3.0 * theirs.worst_distance,
            "{id}: our worst step is far further from the f32 model than candle's: {mine:?} vs {theirs:?}"
        );
        assert!(mine.worst_tie < NEAR_TIE, "{id}: we chose another token than the f32 model by more than a near tie");
        assert!(
            split_from_candle.iter().all(|&(_, _, gap)| gap.abs() < NEAR_TIE),
            "{id}: ours and candle's choose differently where the f32 model does not see a near tie: {split_from_candle:?}"
        );
    }
}
