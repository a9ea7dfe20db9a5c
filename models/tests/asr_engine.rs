//! The ASR executor's ordering: when more utterances wait than one pass takes, the most urgent class goes first,
//! whatever the order they came in; a waiting request can be cancelled.

mod common;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use parley_models::asr::WhisperAsr;
use parley_models::engine::{AsrExecutorHandle, EngineError, Priority};

fn finished_at<T: Send + 'static>(rx: Receiver<Result<T, EngineError>>) -> std::thread::JoinHandle<Instant> {
    std::thread::spawn(move || {
        rx.recv().expect("an answer").expect("a transcript");
        Instant::now()
    })
}

#[test]
fn interactive_utterances_overtake_waiting_background_ones() {
    let Some(store) = common::store() else { return };
    let asr = AsrExecutorHandle::spawn_with(WhisperAsr::load(&store).unwrap(), 16, 1);
    let audio = vec![0.0f32; 16_000];
    let deadline = Duration::from_secs(30);
    // The first keeps the executor busy while the other two queue behind it.
    let (_, busy) = asr.transcribe_with(audio.clone(), Priority::Background, deadline).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let (_, background) = asr.transcribe_with(audio.clone(), Priority::Background, deadline).unwrap();
    let (cancelled_id, cancelled) = asr.transcribe_with(audio.clone(), Priority::Background, deadline).unwrap();
    let (_, interactive) = asr.transcribe_with(audio, Priority::Interactive, deadline).unwrap();
    asr.cancel(cancelled_id);
    let (busy, background, interactive) = (finished_at(busy), finished_at(background), finished_at(interactive));
    // A cancelled waiting request is answered with `Cancelled` and never computed.
    assert!(matches!(cancelled.recv().unwrap(), Err(EngineError::Cancelled)));
    let (_, background, interactive) = (busy.join().unwrap(), background.join().unwrap(), interactive.join().unwrap());
    assert!(
        interactive < background,
        "the interactive request submitted last is answered before the waiting background one"
    );
    asr.shutdown();
}
