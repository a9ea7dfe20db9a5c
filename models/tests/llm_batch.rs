//! Continuous batching on the real weights: eight conversations generated together — their prompts fed in
//! chunks in the same passes as other sequences' decode steps — give the same greedy tokens as each generated
//! alone with the same prompt chunks (both architectures). The chunking is kept equal on both sides because
//! candle's f32 matmuls accumulate in a shape-dependent order: a prompt fed in one piece or in chunks rounds
//! differently (≈1e-3 on logits), which can flip a near-tie; batching must not add any difference of its own.

use candle_core::Tensor;
use parley_models::llm::{ChatMessage, FAST_MODEL, LlmModel, LlmSequence, SLOW_MODEL};
use parley_models::store::test_store;

const QUESTIONS: [&str; 8] = [
    "What is the capital of France?",
    "Name a primary colour.",
    "How many legs does a spider have?",
    "Say hello in Spanish.",
    "What is two plus two?",
    "Which planet is closest to the sun?",
    "What do bees make?",
    "What colour is the sky on a clear day?",
];

fn argmax(logits: &Tensor) -> u32 {
    let v: Vec<f32> = logits.to_vec1().unwrap();
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap() as u32
}

fn alone(model: &LlmModel, prompt: &[u32], steps: usize, chunk: usize) -> Vec<u32> {
    let mut seq = model.new_sequence();
    let mut logits = None;
    for piece in prompt.chunks(chunk) {
        logits = Some(seq.feed(model, piece).unwrap());
    }
    let mut next = argmax(&logits.unwrap());
    let mut out = vec![next];
    for _ in 1..steps {
        next = argmax(&seq.feed(model, &[next]).unwrap());
        out.push(next);
    }
    out
}

/// All sequences advance together; a prompt is fed `chunk` tokens per pass (chunked prefill) while the
/// sequences that finished their prompt decode one token per pass in the same batch.
fn batched(model: &LlmModel, prompts: &[Vec<u32>], steps: usize, chunk: usize) -> Vec<Vec<u32>> {
    let mut seqs: Vec<LlmSequence> = prompts.iter().map(|_| model.new_sequence()).collect();
    let mut fed = vec![0usize; prompts.len()];
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); prompts.len()];
    let mut max_batch = 0;
    while out.iter().any(|o| o.len() < steps) {
        let mut pending: Vec<(usize, Vec<u32>)> = Vec::new();
        for i in 0..prompts.len() {
            if fed[i] < prompts[i].len() {
                let n = chunk.min(prompts[i].len() - fed[i]);
                pending.push((i, prompts[i][fed[i]..fed[i] + n].to_vec()));
                fed[i] += n;
            } else if out[i].len() < steps {
                pending.push((i, vec![*out[i].last().unwrap()]));
            }
        }
        max_batch = max_batch.max(pending.len());
        let ids: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
        let mut refs: Vec<&mut LlmSequence> = seqs.iter_mut().collect();
        let mut items: Vec<(&mut LlmSequence, &[u32])> = Vec::new();
        // Take the sequences in `ids` order without aliasing.
        let mut taken: Vec<Option<&mut LlmSequence>> = refs.drain(..).map(Some).collect();
        for (i, tokens) in &pending {
            items.push((taken[*i].take().unwrap(), tokens.as_slice()));
        }
        let logits = LlmSequence::feed_batch(model, &mut items).unwrap();
        for (k, &i) in ids.iter().enumerate() {
            if fed[i] == prompts[i].len() && out[i].len() < steps {
                out[i].push(argmax(&logits[k]));
            }
        }
    }
    assert_eq!(max_batch, prompts.len(), "every sequence rode in one pass at least once");
    out
}

fn check(id: &str, steps: usize, chunk: usize) {
    let Some(store) = test_store() else { return };
    let model = LlmModel::load(&store, id).unwrap();
    let prompts: Vec<Vec<u32>> =
        QUESTIONS.iter().map(|q| model.encode_chat(&[ChatMessage::user(*q)]).unwrap()).collect();
    let together = batched(&model, &prompts, steps, chunk);
    for (i, prompt) in prompts.iter().enumerate() {
        let solo = alone(&model, prompt, steps, chunk);
        assert_eq!(
            together[i],
            solo,
            "{id}, {:?}: batched {:?} vs alone {:?}",
            QUESTIONS[i],
            model.decode(&together[i]).unwrap(),
            model.decode(&solo).unwrap()
        );
    }
}

#[test]
fn fast_model_batch_of_8_equals_each_alone() {
    check(FAST_MODEL, 12, 7);
}

#[test]
fn slow_model_batch_of_8_equals_each_alone() {
    check(SLOW_MODEL, 4, 16);
}
