//! Text → Piper speech → Whisper: the round trip recovers the text.

use parley_models::asr::WhisperAsr;
use parley_models::store::require_tool;
use parley_models::tts::{Phonemizer, PiperVoice};
use parley_tests::fixtures::{model_store, word_error_rate};

#[test]
fn piper_speech_transcribes_back_to_its_text() {
    let Some(store) = model_store() else { return };
    if !require_tool(Phonemizer::new("en-us").check().err().map(|e| format!("{e} (apt install espeak-ng)"))) {
        return;
    }
    // Piper's noise scales make every synthesis different (and an unlucky draw can slur a word); the
    // round trip is asserted on the reproducible, noise-free rendering of the same voice.
    let mut voice = PiperVoice::load(&store, 1).unwrap();
    voice.set_scales(voice.scales().deterministic());
    let mut asr = WhisperAsr::load(&store).unwrap();
    for text in [
        "Good afternoon. The train to Chicago leaves from platform 9.",
        "I'd love to help with that, but first tell me which day works best for you.",
    ] {
        let speech = voice.synthesize_all(text).unwrap();
        let audio = parley_media::resample(&speech.samples, speech.sample_rate, 16_000).unwrap();
        let heard = asr.transcribe(&audio).unwrap();
        let wer = word_error_rate(text, &heard.text);
        eprintln!("{text:?} → {:?} (WER {wer:.2})", heard.text);
        assert!(wer <= 0.15, "round trip lost too much: {text:?} → {:?}", heard.text);
        let last = speech.words.last().unwrap();
        assert_eq!(last.end_sample, speech.samples.len(), "word spans tile the audio");
    }
}
