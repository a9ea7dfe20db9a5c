//! Silero VAD: time per 32 ms chunk for one stream and for 16 streams stepped in one batched call.

mod common;

use std::sync::Mutex;

use parley_models::vad::{CHUNK_SAMPLES, SileroVad, VadStream};

static VAD: Mutex<Option<SileroVad>> = Mutex::new(None);

fn main() {
    let store = common::store_or_exit();
    *VAD.lock().unwrap() = Some(SileroVad::load(&store, 1).expect("VAD loads"));
    divan::main();
}

#[divan::bench(args = [1, 16])]
fn chunk(bencher: divan::Bencher, streams: usize) {
    let audio = common::speech_16k(2.0);
    let mut guard = VAD.lock().unwrap();
    let vad = guard.as_mut().unwrap();
    let mut states: Vec<VadStream> = (0..streams).map(|_| VadStream::new()).collect();
    let mut offset = 0;
    bencher.counter(divan::counter::ItemsCount::new(streams)).bench_local(|| {
        let piece = &audio[offset..offset + CHUNK_SAMPLES];
        offset = (offset + CHUNK_SAMPLES) % (audio.len() - CHUNK_SAMPLES);
        for s in &mut states {
            s.push(piece);
        }
        let mut refs: Vec<&mut VadStream> = states.iter_mut().collect();
        vad.step(&mut refs).unwrap()
    });
}
