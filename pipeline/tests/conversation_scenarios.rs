//! Deterministic conversation scenarios: the sans-IO core driven on simulated time by scripted fake models
//! with set latencies. The user's audio is scripted as segments; each speech segment is a square wave of its
//! own level, which is how the fakes recognise it (the VAD hears any level above 0.05, the ASR maps levels to
//! the segment's text, the end-of-turn model answers the segment's verdict). The output is simulated too: one
//! 20 ms frame (441 samples at 22.05 kHz) sent per tick unless paused, reported back as `Played`.

use std::collections::VecDeque;
use std::time::Duration;

use parley_media::AudioFrame;
use parley_pipeline::conversation::{Conversation, ConversationConfig, Input, Output, Role, SpokenWord};
use parley_pipeline::protocol::{ResponseStatus, ServerEvent, SessionOptions, TurnEndReason};

const TICK: Duration = Duration::from_millis(20);
const TTS_RATE: usize = 22_050;
const TTS_FRAME: usize = 441;
const WORD_SAMPLES: usize = TTS_RATE * 3 / 10; // 300 ms per spoken word

#[derive(Clone)]
enum Segment {
    /// `ms` of speech at `level`, transcribed as `text`, finished (end-of-turn) or not, in voice `voice`
    /// (0 is the primary speaker's).
    Speech {
        ms: u64,
        level: f32,
        text: &'static str,
        finished: bool,
        voice: usize,
    },
    Silence {
        ms: u64,
    },
    /// The assistant's own audio coming back through the speakers, 100 ms late at 30 %.
    Echo {
        ms: u64,
    },
}

struct Scripted {
    levels: Vec<(f32, &'static str, bool)>,
    voices: Vec<(f32, usize)>,
    replies: VecDeque<Result<&'static str, ()>>,
}

struct Sim {
    conv: Conversation,
    now: Duration,
    script: Scripted,
    segments: VecDeque<(Segment, u64)>,
    sample: u64,
    /// (due, input) engine answers.
    pending: Vec<(Duration, u64, Input)>,
    vad_buffer: Vec<f32>,
    vad_end: u64,
    llm: Option<(u64, VecDeque<String>, u64)>,
    tts: Option<(u64, String, bool)>,
    out_queue: VecDeque<f32>,
    paused: bool,
    played: u64,
    sent_log: VecDeque<Vec<f32>>,
    events: Vec<(Duration, ServerEvent)>,
    outputs: Vec<(Duration, String)>,
    /// Reply samples sent per tick (to check that audio stops at once).
    sends: Vec<(Duration, usize)>,
}

impl Sim {
    fn new(segments: Vec<Segment>, replies: Vec<Result<&'static str, ()>>) -> Self {
        Self::with_config(segments, replies, ConversationConfig::default())
    }

    fn with_config(segments: Vec<Segment>, replies: Vec<Result<&'static str, ()>>, config: ConversationConfig) -> Self {
        let mut levels = Vec::new();
        let mut voices = Vec::new();
        for s in &segments {
            if let Segment::Speech { level, text, finished, voice, .. } = s {
                levels.push((*level, *text, *finished));
                voices.push((*level, *voice));
            }
        }
        let mut conv = Conversation::new("s1", SessionOptions::default(), config);
        conv.handle_input(Input::ChannelOpen, Duration::ZERO);
        Self {
            conv,
            now: Duration::ZERO,
            script: Scripted { levels, voices, replies: replies.into() },
            segments: segments.into_iter().map(|s| (s, 0)).collect(),
            sample: 0,
            pending: Vec::new(),
            vad_buffer: Vec::new(),
            vad_end: 0,
            llm: None,
            tts: None,
            out_queue: VecDeque::new(),
            paused: false,
            played: 0,
            sent_log: VecDeque::new(),
            events: Vec::new(),
            outputs: Vec::new(),
            sends: Vec::new(),
        }
    }

    fn later(&mut self, ms: u64, id: u64, input: Input) {
        self.pending.push((self.now + Duration::from_millis(ms), id, input));
    }

    /// Transcript of audio from the levels of its 20 ms windows.
    fn transcribe(&self, audio: &[f32]) -> String {
        let mut texts: Vec<&str> = Vec::new();
        for w in audio.chunks(320) {
            let rms = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
            if let Some((_, text, _)) = self.script.levels.iter().find(|(l, _, _)| (l - rms).abs() < 0.004)
                && texts.last() != Some(text)
            {
                texts.push(text);
            }
        }
        texts.join(" ")
    }

    /// A voice embedding: the unit axis of the voice of the loudest scripted segment heard.
    fn embed(&self, audio: &[f32]) -> Vec<f32> {
        let mut embedding = vec![0.0; 4];
        for w in audio.chunks(320) {
            let rms = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
            if let Some((_, voice)) = self.script.voices.iter().find(|(l, _)| (l - rms).abs() < 0.004) {
                embedding = vec![0.0; 4];
                embedding[*voice] = 1.0;
            }
        }
        embedding
    }

    fn finished(&self, audio: &[f32]) -> bool {
        for w in audio.chunks(320).rev() {
            let rms = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
            if let Some((_, _, f)) = self.script.levels.iter().find(|(l, _, _)| (l - rms).abs() < 0.004) {
                return *f;
            }
        }
        false
    }

    fn next_frame(&mut self) -> Vec<f32> {
        let Some((segment, done)) = self.segments.front_mut() else { return vec![0.0; 320] };
        let frame: Vec<f32> = match segment {
            Segment::Speech { level, .. } => (0..320).map(|i| if i % 2 == 0 { *level } else { -*level }).collect(),
            Segment::Silence { .. } => vec![0.0; 320],
            Segment::Echo { .. } => {
                let sent =
                    if self.sent_log.len() > 5 { self.sent_log[self.sent_log.len() - 6].clone() } else { vec![] };
                (0..320).map(|i| sent.get(i * TTS_FRAME / 320).copied().unwrap_or(0.0) * 0.3).collect()
            }
        };
        *done += 20;
        let ms = match segment {
            Segment::Speech { ms, .. } | Segment::Silence { ms } | Segment::Echo { ms } => *ms,
        };
        if *done >= ms {
            self.segments.pop_front();
        }
        frame
    }

    fn drain(&mut self) {
        while let Some(out) = self.conv.poll_output() {
            self.outputs.push((self.now, format!("{out:?}").chars().take(60).collect()));
            match out {
                Output::Vad { samples } => {
                    self.vad_buffer.extend(samples);
                    let mut probs = Vec::new();
                    while self.vad_buffer.len() >= 512 {
                        let chunk: Vec<f32> = self.vad_buffer.drain(..512).collect();
                        self.vad_end += 512;
                        let rms = (chunk.iter().map(|v| v * v).sum::<f32>() / 512.0).sqrt();
                        probs.push((self.vad_end, if rms > 0.05 { 0.95 } else { 0.02 }));
                    }
                    if !probs.is_empty() {
                        self.later(5, 0, Input::Vad(probs));
                    }
                }
                Output::EndOfTurn { id, audio } => {
                    let p = if self.finished(&audio) { 0.9 } else { 0.1 };
                    self.later(80, id, Input::EndOfTurn { id, probability: p });
                }
                Output::EmbedSpeaker { id, audio } => {
                    let embedding = self.embed(&audio);
                    self.later(30, id, Input::SpeakerEmbedding { id, embedding });
                }
                Output::Transcribe { id, audio, .. } => {
                    let text = self.transcribe(&audio);
                    self.later(150, id, Input::Transcript { id, text });
                }
                Output::Generate { id, messages, .. } => {
                    assert_eq!(messages[0].0, Role::System);
                    match self.script.replies.pop_front().expect("a scripted reply") {
                        Ok(reply) => {
                            let words: VecDeque<String> = reply.split_inclusive(' ').map(String::from).collect();
                            self.llm = Some((id, words, 0));
                        }
                        Err(()) => self.later(
                            30,
                            id,
                            Input::EngineError { id, overloaded: true, message: "LLM queue full".into() },
                        ),
                    }
                }
                Output::StartSpeech { id } => self.tts = Some((id, String::new(), false)),
                Output::SpeakText { id, text } => {
                    if let Some((tid, buffer, _)) = self.tts.as_mut().filter(|t| t.0 == id) {
                        buffer.push_str(&text);
                        if text.trim_end().ends_with(['.', ',', '?', '!']) {
                            let clause = std::mem::take(buffer);
                            let tid = *tid;
                            self.speak(tid, &clause);
                        }
                    }
                }
                Output::FinishSpeech { id } => {
                    if let Some((tid, buffer, _)) = self.tts.as_mut().filter(|t| t.0 == id) {
                        let clause = std::mem::take(buffer);
                        let tid = *tid;
                        self.speak(tid, &clause);
                        self.later(60, tid, Input::TtsDone { id: tid });
                        self.tts = None;
                    }
                }
                Output::Cancel { id } => {
                    self.pending.retain(|(_, pid, _)| *pid != id);
                    if self.llm.as_ref().is_some_and(|l| l.0 == id) {
                        self.llm = None;
                    }
                    if self.tts.as_ref().is_some_and(|t| t.0 == id) {
                        self.tts = None;
                    }
                }
                Output::PlayAudio { samples } => self.out_queue.extend(samples),
                Output::FinishAudio => {}
                Output::PauseAudio => self.paused = true,
                Output::ResumeAudio => self.paused = false,
                Output::FlushAudio => {
                    self.out_queue.clear();
                    self.paused = false;
                    let played = self.played;
                    self.conv.handle_input(Input::Played { total: played, samples: vec![] }, self.now);
                }
                Output::Event(e) => self.events.push((self.now, e)),
            }
        }
    }

    /// A clause of speech: words of 300 ms, syllable-like envelope, answered 50 ms later.
    fn speak(&mut self, id: u64, clause: &str) {
        let words: Vec<&str> = clause.split_whitespace().collect();
        if words.is_empty() {
            return;
        }
        let samples: Vec<f32> = (0..words.len() * WORD_SAMPLES)
            .map(|i| if (i / 1323) % 2 == 0 { 0.5 * if i % 2 == 0 { 1.0 } else { -1.0 } } else { 0.05 })
            .collect();
        let spans = words
            .iter()
            .enumerate()
            .map(|(i, w)| SpokenWord {
                text: w.to_string(),
                start: (i * WORD_SAMPLES) as u64,
                end: ((i + 1) * WORD_SAMPLES) as u64,
            })
            .collect();
        self.later(50, id, Input::TtsChunk { id, samples, words: spans });
    }

    fn tick(&mut self) {
        self.now += TICK;
        // Engine answers due.
        self.pending.sort_by_key(|(due, _, _)| *due);
        while self.pending.first().is_some_and(|(due, _, _)| *due <= self.now) {
            let (_, _, input) = self.pending.remove(0);
            self.conv.handle_input(input, self.now);
            self.drain();
        }
        // The LLM: first token 100 ms after the request, then one word per 20 ms.
        if let Some((id, words, age)) = self.llm.as_mut() {
            *age += 20;
            if *age >= 100 {
                let id = *id;
                match words.pop_front() {
                    Some(w) => self.conv.handle_input(Input::LlmText { id, text: w }, self.now),
                    None => {
                        self.conv.handle_input(Input::LlmDone { id }, self.now);
                        self.llm = None;
                    }
                }
                self.drain();
            }
        }
        // The output sends one frame per tick.
        let mut sent = Vec::new();
        if !self.paused {
            let n = TTS_FRAME.min(self.out_queue.len());
            sent = self.out_queue.drain(..n).collect();
        }
        self.sends.push((self.now, sent.len()));
        if !sent.is_empty() {
            self.played += sent.len() as u64;
            self.conv.handle_input(Input::Played { total: self.played, samples: sent.clone() }, self.now);
            self.drain();
        }
        self.sent_log.push_back(sent);
        // The user's next frame.
        let frame = self.next_frame();
        let f = AudioFrame::new(16_000, self.sample, frame);
        self.sample += 320;
        self.conv.handle_input(Input::Audio(f), self.now);
        self.drain();
    }

    fn run(&mut self, ms: u64) {
        for _ in 0..ms / 20 {
            self.tick();
        }
    }

    fn run_until(&mut self, what: &str, max_ms: u64, pred: impl Fn(&ServerEvent) -> bool) -> Duration {
        for _ in 0..max_ms / 20 {
            self.tick();
            if let Some((t, _)) = self.events.iter().find(|(_, e)| pred(e)) {
                return *t;
            }
        }
        panic!("no {what} within {max_ms} ms; events: {:#?}", self.events);
    }

    fn count(&self, pred: impl Fn(&ServerEvent) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| pred(e)).count()
    }

    fn has_output(&self, name: &str) -> bool {
        self.outputs.iter().any(|(_, o)| o.starts_with(name))
    }
}

fn speech(ms: u64, level: f32, text: &'static str, finished: bool) -> Segment {
    Segment::Speech { ms, level, text, finished, voice: 0 }
}

/// Speech in a second voice (not the primary speaker's).
fn other_voice(ms: u64, level: f32, text: &'static str, finished: bool) -> Segment {
    Segment::Speech { ms, level, text, finished, voice: 1 }
}

fn silence(ms: u64) -> Segment {
    Segment::Silence { ms }
}

fn done(status: ResponseStatus) -> impl Fn(&ServerEvent) -> bool {
    move |e| matches!(e, ServerEvent::ResponseDone { status: s, .. } if *s == status)
}

const WEATHER: &str = "It is sunny in Paris today, with a light breeze and twenty degrees.";

#[test]
fn a_plain_turn_ends_on_the_semantic_verdict_and_the_reply_is_spoken_and_remembered() {
    let mut sim = Sim::new(
        vec![silence(400), speech(1500, 0.2, "What is the weather in Paris?", true), silence(6000)],
        vec![Ok(WEATHER)],
    );
    let ended = sim.run_until("turn end", 3000, |e| matches!(e, ServerEvent::TurnEnded { .. }));
    // Speech ends at 1900 ms; pause 200 ms + VAD chunking + end-of-turn 80 ms.
    assert!(ended >= Duration::from_millis(2100) && ended <= Duration::from_millis(2300), "{ended:?}");
    assert!(
        sim.events.iter().any(|(_, e)| matches!(e, ServerEvent::TurnEnded { reason: TurnEndReason::Semantic, .. }))
    );
    let first_audio = sim.run_until("audio started", 2000, |e| matches!(e, ServerEvent::AudioStarted { .. }));
    assert!(sim.events.iter().any(|(_, e)| matches!(e, ServerEvent::TranscriptCompleted { transcript, .. } if transcript == "What is the weather in Paris?")));
    assert!(
        first_audio - ended <= Duration::from_millis(400),
        "first audio {:?} after the turn end",
        first_audio - ended
    );
    // The first clause plays before the LLM has finished the reply.
    let latency = sim
        .events
        .iter()
        .find_map(|(_, e)| match e {
            ServerEvent::TurnLatency { latency, .. } => Some(latency.clone()),
            _ => None,
        })
        .unwrap();
    assert!(
        latency.end_of_turn_ms > 0.0
            && latency.transcript_ms >= latency.end_of_turn_ms
            && latency.first_token_ms >= latency.transcript_ms
    );
    assert!(
        latency.first_audio_ms >= latency.first_token_ms && latency.audio_sent_ms >= latency.first_audio_ms,
        "{latency:?}"
    );
    sim.run_until("reply done", 8000, done(ResponseStatus::Completed));
    assert_eq!(
        sim.conv.history(),
        &[(Role::User, "What is the weather in Paris?".into()), (Role::Assistant, WEATHER.into())]
    );
    assert!(!sim.has_output("PauseAudio"));
}

#[test]
fn a_mid_sentence_pause_does_not_end_the_turn() {
    let mut sim = Sim::new(
        vec![
            silence(200),
            speech(1000, 0.2, "I was thinking that", false),
            silence(700),
            speech(1000, 0.25, "we could go to Paris.", true),
            silence(3000),
        ],
        vec![Ok("Paris sounds lovely.")],
    );
    sim.run(2200);
    assert_eq!(
        sim.count(|e| matches!(e, ServerEvent::TurnEnded { .. })),
        0,
        "ended inside the pause: {:#?}",
        sim.events
    );
    sim.run_until("turn end", 2000, |e| matches!(e, ServerEvent::TurnEnded { .. }));
    sim.run_until("reply done", 6000, done(ResponseStatus::Completed));
    assert!(sim.events.iter().any(|(_, e)| matches!(e, ServerEvent::TranscriptCompleted { transcript, .. } if transcript == "I was thinking that we could go to Paris.")), "{:#?}", sim.events);
    assert_eq!(sim.count(|e| matches!(e, ServerEvent::TurnEnded { .. })), 1);
}

#[test]
fn an_unsure_verdict_waits_until_the_longest_wait() {
    let mut sim =
        Sim::new(vec![silence(200), speech(1000, 0.2, "Well, um", false), silence(4000)], vec![Ok("Take your time.")]);
    let ended = sim.run_until("turn end", 4000, |e| matches!(e, ServerEvent::TurnEnded { .. }));
    assert!(sim.events.iter().any(|(_, e)| matches!(e, ServerEvent::TurnEnded { reason: TurnEndReason::MaxWait, .. })));
    // Speech ended at 1200 ms; max wait 1500 ms.
    assert!(ended >= Duration::from_millis(2700) && ended <= Duration::from_millis(2800), "{ended:?}");
}

/// A turn, then something during the reply starting 1 s into its audio.
fn during_reply(during: Vec<Segment>, reply: &'static str) -> Sim {
    let mut segments = vec![silence(200), speech(1000, 0.2, "Tell me about Paris.", true), silence(1900)];
    segments.extend(during);
    segments.push(silence(12_000));
    Sim::new(segments, vec![Ok(reply), Ok("Sure.")])
}

const LONG: &str =
    "Paris is the capital of France, famous for the Eiffel Tower, the Louvre, wide boulevards and cafes.";

#[test]
fn a_backchannel_during_the_reply_pauses_it_briefly_and_it_resumes() {
    let mut sim = during_reply(vec![speech(300, 0.3, "mm-hm", true)], LONG);
    sim.run_until("reply done", 14_000, done(ResponseStatus::Completed));
    assert!(sim.has_output("PauseAudio") && sim.has_output("ResumeAudio"));
    assert!(!sim.has_output("FlushAudio"));
    assert_eq!(sim.conv.history().last(), Some(&(Role::Assistant, LONG.to_string())));
    assert_eq!(sim.conv.history().len(), 2, "the backchannel is not a turn: {:?}", sim.conv.history());
    // Every sample of the reply was played.
    let words = LONG.split_whitespace().count();
    assert_eq!(sim.played as usize, words * WORD_SAMPLES);
}

#[test]
fn a_cough_during_the_reply_does_not_stop_it() {
    let mut sim = during_reply(vec![speech(200, 0.35, "", true)], LONG);
    sim.run_until("reply done", 14_000, done(ResponseStatus::Completed));
    assert!(!sim.has_output("FlushAudio"));
    assert_eq!(sim.conv.history().len(), 2);
}

#[test]
fn a_real_interruption_stops_audio_at_once_and_cuts_the_context_to_what_was_heard() {
    let mut sim = during_reply(vec![speech(1200, 0.3, "Wait, what about Lyon?", true)], LONG);
    let cut = sim.run_until("interruption", 8000, done(ResponseStatus::Interrupted));
    let heard = sim
        .events
        .iter()
        .find_map(|(_, e)| match e {
            ServerEvent::ResponseDone { played_text, .. } => Some(played_text.clone()),
            _ => None,
        })
        .unwrap();
    assert!(!heard.is_empty() && LONG.starts_with(&heard) && heard.len() < LONG.len(), "heard {heard:?}");
    // The heard words are exactly those fully sent.
    let heard_words = heard.split_whitespace().count();
    assert!(
        sim.played as usize >= heard_words * WORD_SAMPLES && (sim.played as usize) < (heard_words + 1) * WORD_SAMPLES
    );
    assert_eq!(sim.conv.history()[1], (Role::Assistant, heard.clone()));
    // The interruption is the user's next turn.
    sim.run_until(
        "second reply",
        8000,
        |e| matches!(e, ServerEvent::ResponseDone { response_id, .. } if response_id == "resp_2"),
    );
    // Audio stops within one frame of the decision: nothing sent from the next tick until the second reply.
    let second = sim
        .events
        .iter()
        .find(|(_, e)| matches!(e, ServerEvent::ResponseCreated { response_id } if response_id == "resp_2"))
        .unwrap()
        .0;
    let after_cut: Vec<usize> = sim.sends.iter().filter(|(t, _)| *t > cut && *t <= second).map(|(_, n)| *n).collect();
    assert!(!after_cut.is_empty() && after_cut.iter().all(|n| *n == 0), "audio after the cut: {after_cut:?}");
    assert_eq!(sim.conv.history()[2], (Role::User, "Wait, what about Lyon?".into()));
    assert_eq!(sim.conv.history()[3], (Role::Assistant, "Sure.".into()));
}

#[test]
fn a_false_interruption_resumes_where_it_paused() {
    let mut sim = during_reply(vec![speech(400, 0.3, "yeah", true)], LONG);
    sim.run(3500);
    let paused_at = sim.played;
    sim.run_until("reply done", 14_000, done(ResponseStatus::Completed));
    assert!(sim.has_output("ResumeAudio"));
    assert!(paused_at > 0);
    assert_eq!(sim.played as usize, LONG.split_whitespace().count() * WORD_SAMPLES, "nothing skipped or repeated");
}

#[test]
fn the_assistants_own_echo_does_not_interrupt_it() {
    let mut sim = during_reply(vec![Segment::Echo { ms: 3000 }], LONG);
    sim.run_until("reply done", 14_000, done(ResponseStatus::Completed));
    assert!(!sim.has_output("PauseAudio"), "paused by its own echo");
    assert_eq!(sim.count(|e| matches!(e, ServerEvent::SpeechStarted { .. })), 1);
}

#[test]
fn two_turns_back_to_back() {
    let mut sim = Sim::new(
        vec![
            silence(200),
            speech(1000, 0.2, "Hello there.", true),
            silence(3000),
            speech(1000, 0.25, "How are you?", true),
            silence(4000),
        ],
        vec![Ok("Hi!"), Ok("I am well, thanks.")],
    );
    sim.run(9000);
    assert_eq!(sim.count(done(ResponseStatus::Completed)), 2, "{:#?}", sim.events);
    assert_eq!(sim.conv.history().len(), 4);
    assert_eq!(sim.conv.history()[3], (Role::Assistant, "I am well, thanks.".into()));
}

#[test]
fn the_client_cancelling_stops_the_reply() {
    let mut sim = during_reply(vec![], LONG);
    sim.run(3500);
    assert!(sim.conv.is_replying());
    sim.conv.handle_input(Input::ClientMessage(r#"{"type":"response.cancel"}"#.into()), sim.now);
    sim.drain();
    assert!(sim.has_output("FlushAudio"));
    assert_eq!(sim.count(done(ResponseStatus::Cancelled)), 1);
    let played = sim.played;
    sim.run(500);
    assert_eq!(sim.played, played, "no audio after the cancel");
}

#[test]
fn an_overloaded_engine_gets_an_event_and_the_session_stays_up() {
    let mut sim = Sim::new(
        vec![
            silence(200),
            speech(1000, 0.2, "Hello there.", true),
            silence(3000),
            speech(1000, 0.25, "Are you there?", true),
            silence(4000),
        ],
        vec![Err(()), Ok("Yes, I am here.")],
    );
    sim.run(4000);
    assert!(
        sim.events.iter().any(|(_, e)| matches!(e, ServerEvent::Error { error } if error.code == "overloaded")),
        "{:#?}",
        sim.events
    );
    assert_eq!(sim.count(done(ResponseStatus::Failed)), 1);
    sim.run(5000);
    assert_eq!(sim.count(done(ResponseStatus::Completed)), 1, "the next turn is answered");
}

fn focused() -> ConversationConfig {
    ConversationConfig { primary_speaker: true, ..Default::default() }
}

#[test]
fn primary_speaker_focus_ignores_another_voice_for_turns_and_interruptions() {
    let segments = vec![
        silence(200),
        speech(1000, 0.2, "Tell me about Paris.", true),
        silence(1900),
        // Another voice talks over the reply for longer than the barge-in limit: no interruption.
        other_voice(1200, 0.3, "Wait, what about Lyon?", true),
        silence(12_000),
        // Another voice asks a whole question after the reply: no turn.
        other_voice(1000, 0.25, "What time is it?", true),
        silence(3000),
        // The primary speaker is answered again.
        speech(800, 0.15, "Thanks a lot.", true),
        silence(6000),
    ];
    let mut sim = Sim::with_config(segments, vec![Ok(LONG), Ok("You are welcome.")], focused());
    sim.run_until("first reply done", 16_000, done(ResponseStatus::Completed));
    assert!(!sim.has_output("FlushAudio"), "another voice interrupted the reply");
    assert_eq!(sim.conv.history().last(), Some(&(Role::Assistant, LONG.to_string())));
    sim.run_until(
        "second reply",
        20_000,
        |e| matches!(e, ServerEvent::ResponseDone { response_id, .. } if response_id == "resp_2"),
    );
    let ignored = sim.count(|e| matches!(e, ServerEvent::SpeechIgnored { .. }));
    assert_eq!(ignored, 2, "both utterances of the other voice are set aside: {:#?}", sim.events);
    assert_eq!(sim.count(|e| matches!(e, ServerEvent::TurnEnded { .. })), 2, "only the primary speaker's turns");
    let users: Vec<&str> =
        sim.conv.history().iter().filter(|(r, _)| *r == Role::User).map(|(_, t)| t.as_str()).collect();
    assert_eq!(users, ["Tell me about Paris.", "Thanks a lot."]);
}

#[test]
fn primary_speaker_focus_still_lets_the_primary_speaker_interrupt() {
    let mut segments = vec![silence(200), speech(1000, 0.2, "Tell me about Paris.", true), silence(1900)];
    segments.push(speech(1200, 0.3, "Wait, what about Lyon?", true));
    segments.push(silence(8000));
    let mut sim = Sim::with_config(segments, vec![Ok(LONG), Ok("Sure.")], focused());
    sim.run_until("interruption", 8000, done(ResponseStatus::Interrupted));
    sim.run_until(
        "second reply",
        8000,
        |e| matches!(e, ServerEvent::ResponseDone { response_id, .. } if response_id == "resp_2"),
    );
    assert_eq!(sim.conv.history()[2], (Role::User, "Wait, what about Lyon?".into()));
    assert_eq!(sim.count(|e| matches!(e, ServerEvent::SpeechIgnored { .. })), 0);
}
