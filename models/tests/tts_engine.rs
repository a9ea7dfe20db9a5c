//! The TTS executor on the real voice: a short reply submitted after a long one gets its first audio before
//! the long one has finished, and every stream's chunks equal what the voice produces alone.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use parley_models::engine::{TtsEvent, TtsExecutorHandle};
use parley_models::store::{require_tool, test_store};
use parley_models::tts::{Phonemizer, PiperVoice};

fn drain(rx: Receiver<TtsEvent>, log: &std::sync::Mutex<Vec<(usize, usize)>>, which: usize) -> Vec<Vec<f32>> {
    let mut chunks = Vec::new();
    for event in rx {
        match event {
            TtsEvent::Chunk(c) => {
                log.lock().unwrap().push((which, c.index));
                chunks.push(c.samples);
            }
            TtsEvent::Done(outcome) => {
                assert_eq!(outcome.unwrap(), chunks.len());
                break;
            }
        }
    }
    chunks
}

#[test]
fn a_long_reply_cannot_delay_another_sessions_first_audio() {
    let Some(store) = test_store() else { return };
    if !require_tool(Phonemizer::new("en-us").check().err().map(|e| e.to_string())) {
        return;
    }
    let mut voice = PiperVoice::load(&store, 1).unwrap();
    voice.set_scales(voice.scales().deterministic());
    let voice = Arc::new(voice);
    let engine = TtsExecutorHandle::spawn(voice.clone(), 64);
    let long = "The first sentence is here. Then a second one follows. A third sentence comes next. \
                The fourth one is longer than the others, it goes on for a while. And this is the fifth. \
                Finally, the sixth sentence ends the reply.";
    let short = "Sure, one moment.";
    let (_, long_rx) = engine.speak(long).unwrap();
    let (_, short_rx) = engine.speak(short).unwrap();
    let log = std::sync::Mutex::new(Vec::new());
    let (long_chunks, short_chunks) = std::thread::scope(|s| {
        let log = &log;
        let a = s.spawn(move || drain(long_rx, log, 0));
        let b = s.spawn(move || drain(short_rx, log, 1));
        (a.join().unwrap(), b.join().unwrap())
    });
    let log = log.into_inner().unwrap();
    eprintln!("order of chunks (stream, index): {log:?}");
    let short_first = log.iter().position(|&(w, _)| w == 1).unwrap();
    assert!(short_first <= 2, "the short reply waited behind the long one: {log:?}");
    // Same audio as the voice alone.
    let alone: Vec<Vec<f32>> = voice.chunks(long).unwrap().map(|c| c.unwrap().samples).collect();
    assert_eq!(long_chunks, alone);
    let alone: Vec<Vec<f32>> = voice.chunks(short).unwrap().map(|c| c.unwrap().samples).collect();
    assert_eq!(short_chunks, alone);
    engine.shutdown();
}
