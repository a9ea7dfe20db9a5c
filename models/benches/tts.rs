//! Piper TTS benchmarks on the real voice: time to first audio for a two-sentence reply, and the real-time
//! factor (synthesis time / audio duration) of a ~10 s paragraph, with 1 and 2 intra-op threads.
//!
//! Before divan runs, a direct measurement prints the real-time factor and the time to first audio, which divan
//! cannot show as ratios. The reference is onnxruntime from Python on the same ids:
//! `PARLEY_TTS_IDS_OUT=/tmp/ids.json cargo bench -p parley-models --bench tts` writes the paragraph's per-clause
//! phoneme ids and exits; `scripts/reference/piper_rtf.py /tmp/ids.json MODEL.onnx` times them.
//! Noise scales are zero so every run synthesises exactly the same audio length.
//! Skips with a `SKIPPED:` line (exit 0) when the store or `espeak-ng` is missing, and fails under CI
//! (`parley_models::store::{test_store, require_tool}`).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parley_models::store::{ModelStore, require_tool, test_store};
use parley_models::tts::{Phonemizer, PiperVoice, split_clauses};

/// The store, checked once in `main`.
static STORE: OnceLock<ModelStore> = OnceLock::new();

const REPLY: &str = "Sure, I can help with that. The next train to Boston leaves at 3:45 pm from platform 2.";
const PARAGRAPH: &str = "The old lighthouse stood at the edge of the cliff for more than a hundred years. \
    Every night its beam swept across the dark water, guiding fishing boats safely home. \
    The keeper climbed the spiral stairs each evening to light the lamp.";

fn voice(threads: usize) -> PiperVoice {
    let store = STORE.get().expect("main checked the store");
    let mut v = PiperVoice::load(store, threads).expect("the voice loads");
    v.set_scales(v.scales().deterministic());
    v
}

fn first_audio(voice: &PiperVoice, text: &str) -> Duration {
    let started = Instant::now();
    let first = voice.chunks(text).unwrap().next().unwrap().unwrap();
    let elapsed = started.elapsed();
    divan::black_box(first);
    elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Direct measurement printed as ratios: RTF of the paragraph and time to first audio, per thread count.
fn report() {
    for threads in [1, 2] {
        let voice = voice(threads);
        let speech = voice.synthesize_all(PARAGRAPH).unwrap(); // warm-up
        let audio = speech.duration_secs();
        let rtf = median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    divan::black_box(voice.synthesize_all(PARAGRAPH).unwrap());
                    t.elapsed().as_secs_f64() / audio
                })
                .collect(),
        );
        // The model alone on the same ids as the Python reference (no espeak-ng, no normalisation).
        let ids = clause_ids(&voice);
        let model_rtf = median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    for clause in &ids {
                        divan::black_box(voice.synthesize_ids(clause).unwrap());
                    }
                    t.elapsed().as_secs_f64() / audio
                })
                .collect(),
        );
        let first = median((0..9).map(|_| first_audio(&voice, REPLY).as_secs_f64() * 1000.0).collect());
        let clauses = split_clauses(PARAGRAPH).len();
        println!(
            "tts {threads} thread(s): paragraph {audio:.2} s of audio in {clauses} clauses, RTF {rtf:.4} \
             (model only {model_rtf:.4}); first audio of a 2-sentence reply {first:.1} ms"
        );
    }
}

/// The paragraph's phoneme ids, clause by clause, exactly as the stream computes them.
fn clause_ids(voice: &PiperVoice) -> Vec<Vec<i64>> {
    split_clauses(PARAGRAPH)
        .iter()
        .map(|c| {
            let words = parley_models::tts::normalize::normalize_clause(c);
            let spoken = parley_models::tts::normalize::spoken_text(&words);
            let phonemes = voice.phonemizer().phonemize(&spoken).unwrap();
            voice.phoneme_ids().encode(&phonemes.text)
        })
        .collect()
}

/// Writes the paragraph's per-clause phoneme ids for the Python reference.
fn dump_ids(path: &str) {
    let voice = voice(1);
    let ids = clause_ids(&voice);
    let s = voice.scales();
    let json = serde_json::json!({"clauses": ids, "scales": [s.noise_scale, s.length_scale, s.noise_w], "sample_rate": voice.sample_rate()});
    std::fs::write(path, json.to_string()).unwrap();
    eprintln!("wrote {} clauses of ids to {path}", ids.len());
}

fn main() {
    let Some(store) = test_store() else { return };
    if !require_tool(Phonemizer::new("en-us").check().err().map(|e| e.to_string())) {
        return;
    }
    STORE.set(store).expect("set once");
    if let Ok(path) = std::env::var("PARLEY_TTS_IDS_OUT") {
        dump_ids(&path);
        return;
    }
    report();
    divan::main();
}

#[divan::bench(args = [1, 2], sample_count = 10)]
fn first_audio_two_sentences(bencher: divan::Bencher, threads: usize) {
    let voice = voice(threads);
    bencher.bench_local(|| first_audio(&voice, REPLY));
}

#[divan::bench(args = [1, 2], sample_count = 5)]
fn paragraph_10s(bencher: divan::Bencher, threads: usize) {
    let voice = voice(threads);
    bencher.bench_local(|| voice.synthesize_all(PARAGRAPH).unwrap());
}
