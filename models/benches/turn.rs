//! Smart Turn: one end-of-turn decision (features + model) on an 8 s window, and four sessions batched.

mod common;

use std::sync::Mutex;

use parley_models::turn::SmartTurn;

static TURN: Mutex<Option<SmartTurn>> = Mutex::new(None);

fn main() {
    let store = common::store_or_exit();
    let threads = std::env::var("PARLEY_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    eprintln!("Smart Turn with {threads} thread(s)");
    *TURN.lock().unwrap() = Some(SmartTurn::load(&store, threads).expect("Smart Turn loads"));
    divan::main();
}

#[divan::bench(args = [1, 4], sample_count = 10, sample_size = 1)]
fn decision(bencher: divan::Bencher, sessions: usize) {
    let audio = common::speech_16k(8.0);
    let clips: Vec<&[f32]> = (0..sessions).map(|_| audio.as_slice()).collect();
    let mut guard = TURN.lock().unwrap();
    let turn = guard.as_mut().unwrap();
    bencher.counter(divan::counter::ItemsCount::new(sessions)).bench_local(|| turn.probabilities(&clips).unwrap());
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn features_only(bencher: divan::Bencher) {
    let audio = common::speech_16k(8.0);
    let mut guard = TURN.lock().unwrap();
    let turn = guard.as_mut().unwrap();
    bencher.bench_local(|| turn.features(&audio));
}
