//! Whisper tiny.en: transcription of a 10 s clip (mel + encoder + greedy decode); real-time factor = time / 10 s.

mod common;

use std::sync::Mutex;

use parley_models::asr::WhisperAsr;

static ASR: Mutex<Option<WhisperAsr>> = Mutex::new(None);

fn main() {
    let store = common::store_or_exit();
    *ASR.lock().unwrap() = Some(WhisperAsr::load(&store).expect("Whisper loads"));
    divan::main();
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn transcribe_10s(bencher: divan::Bencher) {
    let audio = common::speech_16k(10.0);
    let mut guard = ASR.lock().unwrap();
    let asr = guard.as_mut().unwrap();
    bencher.bench_local(|| asr.transcribe(&audio).unwrap());
}

/// Four 5 s utterances: one batched encoder pass + four decodes, against four single transcriptions.
#[divan::bench(args = [false, true], sample_count = 3, sample_size = 1)]
fn four_utterances(bencher: divan::Bencher, batched: bool) {
    let audio = common::speech_16k(20.0);
    let clips: Vec<&[f32]> = audio.chunks(80_000).collect();
    let mut guard = ASR.lock().unwrap();
    let asr = guard.as_mut().unwrap();
    bencher.bench_local(|| {
        if batched {
            asr.transcribe_batch(&clips).unwrap();
        } else {
            for c in &clips {
                asr.transcribe(c).unwrap();
            }
        }
    });
}
