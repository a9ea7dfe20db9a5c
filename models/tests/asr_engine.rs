//! The ASR executor's ordering: when more utterances wait than one pass takes, the most urgent class goes first,
//! whatever the order they came in — an interactive one submitted while background ones wait overtakes them;
//! a waiting request can be cancelled.

mod common;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use parley_models::asr::WhisperAsr;
use parley_models::engine::{AsrExecutorHandle, EngineError, Priority};

/// Generous: one pass of Whisper tiny on a second of audio takes well under a second even on 2 busy cores.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

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
    // Four background utterances, one per pass (max_batch = 1), in submission order.
    let (_, first) = asr.transcribe_with(audio.clone(), Priority::Background, deadline).unwrap();
    let (_, running) = asr.transcribe_with(audio.clone(), Priority::Background, deadline).unwrap();
    let (_, background) = asr.transcribe_with(audio.clone(), Priority::Background, deadline).unwrap();
    let (cancelled_id, cancelled) = asr.transcribe_with(audio.clone(), Priority::Background, deadline).unwrap();
    // The signal that the executor is at work: the first answer. From then on it is computing (or about to
    // compute) `running`, and `background` and `cancelled` wait behind it for at least one whole pass.
    first.recv_timeout(ANSWER_WITHIN).expect("the first utterance is answered").expect("a transcript");
    let (_, interactive) = asr.transcribe_with(audio, Priority::Interactive, deadline).unwrap();
    asr.cancel(cancelled_id);
    let (running, background, interactive) = (finished_at(running), finished_at(background), finished_at(interactive));
    // A cancelled waiting request is answered with `Cancelled` and never computed.
    assert!(matches!(cancelled.recv_timeout(ANSWER_WITHIN).unwrap(), Err(EngineError::Cancelled)));
    let (_, background, interactive) =
        (running.join().unwrap(), background.join().unwrap(), interactive.join().unwrap());
    assert!(
        interactive < background,
        "the interactive request submitted last is answered before the waiting background one"
    );
    asr.shutdown();
}
