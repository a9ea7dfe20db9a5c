//! Builds the default scenario set (`parley-bench generate`): questions spoken by the Piper voice on the
//! model store, sentences with a pause in the middle, backchannels and a synthetic cough over replies, real
//! interruptions, and a multi-turn dialogue. Speech timings are measured on the synthesised audio (10 ms
//! windows above −40 dBFS), so the annotations say where the voice is, not where we asked it to be. The
//! output is committed (`tests/scenarios/default/`) so runs do not depend on the TTS.

use std::path::Path;

use anyhow::Context;
use parley_models::engine::EngineHandle;

use super::scenario::{OverlapKind, OverlapSpec, RATE, ScenarioFile, ScenarioSpec, TurnSpec};
use super::sources::LEAD_IN_TEXT;
use crate::spoken::speak;
use crate::voice_turn::speech_end;

/// Seconds of silence after each user clip (so the end of speech is inside the clip).
const TAIL_S: f64 = 0.3;

fn onset(audio: &[f32]) -> f64 {
    let window = (RATE / 100) as usize;
    let loud = |w: &[f32]| (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt() > 0.01;
    audio.chunks(window).position(loud).map_or(0.0, |i| (i * window) as f64 / RATE as f64)
}

fn with_tail(mut audio: Vec<f32>) -> Vec<f32> {
    let end = speech_end(&audio, RATE);
    audio.truncate(end);
    audio.extend(std::iter::repeat_n(0.0, (TAIL_S * RATE as f64) as usize));
    audio
}

/// A cough: two bursts of shaped noise (deterministic).
pub fn cough() -> Vec<f32> {
    let mut seed: u32 = 0x1234_5678;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as f32 / u32::MAX as f32 * 2.0 - 1.0
    };
    let mut out = vec![0.0f32; (0.05 * RATE as f64) as usize];
    let mut prev = 0.0f32;
    for burst_s in [0.22f64, 0.16] {
        let n = (burst_s * RATE as f64) as usize;
        for i in 0..n {
            let t = i as f32 / n as f32;
            let envelope = (t * 40.0).min(1.0) * (-(t * 5.0)).exp();
            // A one-pole low-pass gives the noise a chesty colour.
            prev = 0.7 * prev + 0.3 * noise();
            out.push(0.6 * envelope * prev * 2.5);
        }
        out.extend(std::iter::repeat_n(0.0, (0.12 * RATE as f64) as usize));
    }
    out
}

struct Writer<'a> {
    dir: &'a Path,
    engine: &'a EngineHandle,
}

impl Writer<'_> {
    /// Speaks `text`, writes `name.wav`; returns (file, speech end s).
    fn say(&self, name: &str, text: &str) -> anyhow::Result<(String, f64)> {
        let audio = with_tail(speak(self.engine, text));
        self.write(name, &audio)
    }

    fn write(&self, name: &str, audio: &[f32]) -> anyhow::Result<(String, f64)> {
        let file = format!("{name}.wav");
        parley_media::write_wav(&self.dir.join(&file), RATE, audio).with_context(|| format!("writing {file}"))?;
        Ok((file, speech_end(audio, RATE) as f64 / RATE as f64))
    }

    /// Two parts of one sentence with `pause_s` of silence between them; returns (file, end, pause).
    fn say_with_pause(
        &self,
        name: &str,
        first: &str,
        second: &str,
        pause_s: f64,
    ) -> anyhow::Result<(String, f64, [f64; 2])> {
        let mut a = speak(self.engine, first);
        a.truncate(speech_end(&a, RATE));
        let pause_start = a.len() as f64 / RATE as f64;
        let b = speak(self.engine, second);
        let b_on = (onset(&b) * RATE as f64) as usize;
        a.extend(std::iter::repeat_n(0.0, (pause_s * RATE as f64) as usize));
        let pause_end = a.len() as f64 / RATE as f64;
        a.extend_from_slice(&b[b_on..]);
        let audio = with_tail(a);
        let (file, end) = self.write(name, &audio)?;
        Ok((file, end, [pause_start, pause_end]))
    }

    fn overlap(&self, name: &str, text: Option<&str>, kind: OverlapKind, after_ms: u64) -> anyhow::Result<OverlapSpec> {
        let audio = match text {
            Some(t) => with_tail(speak(self.engine, t)),
            None => cough(),
        };
        let (file, _) = self.write(name, &audio)?;
        Ok(OverlapSpec {
            audio: file,
            kind,
            after_reply_audio_ms: after_ms,
            onset_s: onset(&audio),
            break_s: None,
            text: text.map(str::to_string),
        })
    }
}

fn turn(audio: String, text: &str, speech_end_s: f64) -> TurnSpec {
    TurnSpec {
        audio,
        text: Some(text.into()),
        speech_end_s,
        pauses: Vec::new(),
        expect_reply: true,
        during_reply: None,
        gap_after_ms: 500,
    }
}

/// Writes the default set into `dir`: the clips and `scenarios.json`.
pub fn generate(engine: &EngineHandle, dir: &Path) -> anyhow::Result<ScenarioFile> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let w = Writer { dir, engine };
    let mut scenarios = Vec::new();
    let single = |name: &str, file: &str, text: &str| -> anyhow::Result<ScenarioSpec> {
        let (audio, end) = w.say(file, text)?;
        Ok(ScenarioSpec { name: name.into(), kind: "single_turn".into(), turns: vec![turn(audio, text, end)] })
    };
    scenarios.push(single("single_capital", "ask_capital", "What is the capital of France?")?);
    scenarios.push(single("single_spider", "ask_spider", "How many legs does a spider have?")?);
    scenarios.push(single("single_bees", "ask_bees", "What do bees make?")?);
    scenarios.push(single("single_planet", "ask_planet", "Which planet is closest to the sun?")?);

    for (name, first, second) in [
        ("pause_weather", "I would like to know", "what the weather is like on Mars."),
        ("pause_river", "Can you tell me the name of", "the longest river in Africa?"),
    ] {
        let (audio, end, pause) = w.say_with_pause(name, first, second, 0.8)?;
        let mut t = turn(audio, &format!("{first} {second}"), end);
        t.pauses = vec![pause];
        scenarios.push(ScenarioSpec { name: name.into(), kind: "pause".into(), turns: vec![t] });
    }

    let (count, count_end) = w.say("ask_count", LEAD_IN_TEXT)?;
    let (story, story_end) = w.say("ask_story", "Tell me a short story about a friendly dragon.")?;
    let with_overlap = |name: &str, kind: &str, audio: &str, text: &str, end: f64, o: OverlapSpec| {
        let mut t = turn(audio.into(), text, end);
        t.during_reply = Some(o);
        ScenarioSpec { name: name.into(), kind: kind.into(), turns: vec![t] }
    };
    let mm_hm = w.overlap("mm_hm", Some("Mm-hm."), OverlapKind::Backchannel, 800)?;
    scenarios.push(with_overlap("backchannel_mm_hm", "backchannel", &count, LEAD_IN_TEXT, count_end, mm_hm));
    let yeah = w.overlap("yeah", Some("Yeah."), OverlapKind::Backchannel, 1_200)?;
    let story_text = "Tell me a short story about a friendly dragon.";
    scenarios.push(with_overlap("backchannel_yeah", "backchannel", &story, story_text, story_end, yeah));
    let cough = w.overlap("cough", None, OverlapKind::Noise, 900)?;
    scenarios.push(with_overlap("cough", "noise", &count, LEAD_IN_TEXT, count_end, cough));
    let stop =
        w.overlap("interrupt_stop", Some("Wait, stop. What is two plus two?"), OverlapKind::Interruption, 1_000)?;
    scenarios.push(with_overlap("interrupt_count", "interruption", &count, LEAD_IN_TEXT, count_end, stop));
    let instead =
        w.overlap("interrupt_instead", Some("Sorry, tell me about cats instead."), OverlapKind::Interruption, 1_500)?;
    scenarios.push(with_overlap("interrupt_story", "interruption", &story, story_text, story_end, instead));

    let dialogue = [
        ("dialogue_1", "What is the capital of Italy?"),
        ("dialogue_2", "And how many people live there?"),
        ("dialogue_3", "Thank you, that is all for today."),
    ];
    let mut turns = Vec::new();
    for (file, text) in dialogue {
        let (audio, end) = w.say(file, text)?;
        turns.push(turn(audio, text, end));
    }
    scenarios.push(ScenarioSpec { name: "multi_turn_italy".into(), kind: "multi_turn".into(), turns });

    let set = ScenarioFile { scenarios };
    std::fs::write(dir.join("scenarios.json"), serde_json::to_string_pretty(&set)? + "\n")?;
    Ok(set)
}
