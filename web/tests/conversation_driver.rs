//! The real conversation session driver on simulated time: a fake engine answers through the session's real
//! mailbox with set latencies, a real paced `AudioOutput` sends into a channel, and tokio's paused clock runs
//! everything. The event timeline a client would see is asserted for a turn, a barge-in and an engine error.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use parley_media::{AudioFrame, AudioOutput, MediaEvent, PacketSink};
use parley_models::engine::{Answer, AnswerSink, EngineError, Tag};
use parley_models::tts::{Chunk, WordSpan};
use parley_models::vad::ChunkProbability;
use parley_pipeline::conversation::{ConversationConfig, Output};
use parley_pipeline::protocol::SessionOptions;
use parley_web::conversation_session::{ConversationSession, SessionPeer};
use parley_web::engine_link::{ConversationEngine, Routed};
use parley_web::session_mailbox::SessionMailbox;
use serde_json::Value;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;

const TTS_RATE: u32 = 22_050;
const REPLY: &str = "Paris is the capital of France, a city of art and light.";

/// The client's side of the data channel: every event with when it was sent.
#[derive(Default)]
struct FakePeer {
    events: Mutex<Vec<(Duration, Value)>>,
    t0: Mutex<Option<Instant>>,
}

impl SessionPeer for FakePeer {
    async fn send_text(&self, text: &str) -> Result<(), String> {
        let t0 = self.t0.lock().unwrap().expect("started");
        self.events.lock().unwrap().push((Instant::now() - t0, serde_json::from_str(text).unwrap()));
        Ok(())
    }

    async fn close(&self) {}
}

impl FakePeer {
    /// (ms, type) of every event.
    fn timeline(&self) -> Vec<(u64, String)> {
        let events = self.events.lock().unwrap();
        events.iter().map(|(t, e)| (t.as_millis() as u64, e["type"].as_str().unwrap_or("?").to_string())).collect()
    }

    fn first(&self, kind: &str) -> Option<(u64, Value)> {
        let events = self.events.lock().unwrap();
        events.iter().find(|(_, e)| e["type"] == kind).map(|(t, e)| (t.as_millis() as u64, e.clone()))
    }
}

struct DroppedPackets;

impl PacketSink for DroppedPackets {
    async fn send(&mut self, _packet: bytes::Bytes) -> Result<(), String> {
        Ok(())
    }
}

/// How the fake engine behaves.
#[derive(Clone, Copy, PartialEq)]
enum Llm {
    Answers,
    Overloaded,
}

/// A scripted engine: VAD from frame energy at once, end of turn "finished" after 50 ms, transcripts after
/// 100 ms (the text the test set for the utterance), the reply's words every 30 ms, its speech 80 ms after the
/// text ends. Answers go through the real mailbox sink; cancelled requests are never answered.
struct FakeEngine {
    sink: Arc<dyn AnswerSink>,
    vad_position: u64,
    vad_pending: Vec<f32>,
    transcript: Arc<Mutex<String>>,
    llm: Llm,
    cancelled: Arc<Mutex<HashSet<Tag>>>,
    speech: Option<(Tag, String)>,
}

impl FakeEngine {
    fn later(&self, ms: u64, tag: Tag, answer: Answer) {
        let (sink, cancelled) = (self.sink.clone(), self.cancelled.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            if !cancelled.lock().unwrap().contains(&tag) {
                let _ = sink.deliver(tag, answer);
            }
        });
    }
}

impl ConversationEngine for FakeEngine {
    fn route(&mut self, out: Output) -> Routed {
        match out {
            Output::Vad { samples } => {
                self.vad_pending.extend(samples);
                let mut chunks = Vec::new();
                while self.vad_pending.len() >= 512 {
                    let chunk: Vec<f32> = self.vad_pending.drain(..512).collect();
                    let energy = chunk.iter().map(|s| s * s).sum::<f32>() / 512.0;
                    let probability = if energy > 0.01 { 0.95 } else { 0.02 };
                    chunks.push(ChunkProbability { start_sample: self.vad_position, probability });
                    self.vad_position += 512;
                }
                let _ = self.sink.deliver(0, Answer::Vad(chunks));
            }
            Output::EndOfTurn { id, .. } => self.later(50, id, Answer::EndOfTurn(0.9)),
            Output::Transcribe { id, partial, .. } => {
                let text = if partial { String::new() } else { self.transcript.lock().unwrap().clone() };
                self.later(100, id, Answer::Transcript(transcript(&text)));
            }
            Output::Generate { id, .. } => match self.llm {
                Llm::Overloaded => {
                    self.later(10, id, Answer::Failed(EngineError::Overloaded { what: "LLM batch slots" }))
                }
                Llm::Answers => {
                    let words: Vec<&str> = REPLY.split(' ').collect();
                    for (i, w) in words.iter().enumerate() {
                        let piece = if i == 0 { w.to_string() } else { format!(" {w}") };
                        self.later(30 * (i as u64 + 1), id, Answer::LlmText(piece));
                    }
                    let done = 30 * (words.len() as u64 + 1);
                    self.later(
                        done,
                        id,
                        Answer::LlmDone { reason: parley_models::llm::FinishReason::EndOfText, tokens: 12 },
                    );
                }
            },
            Output::StartSpeech { id } => self.speech = Some((id, String::new())),
            Output::SpeakText { id, text } => {
                if let Some((tts, all)) = self.speech.as_mut().filter(|(tts, _)| *tts == id) {
                    let _ = tts;
                    all.push_str(&text);
                }
            }
            Output::FinishSpeech { id } => {
                if let Some((tts, text)) = self.speech.take().filter(|(tts, _)| *tts == id) {
                    self.later(80, tts, Answer::TtsChunk(speech(&text)));
                    self.later(90, tts, Answer::TtsDone { chunks: 1 });
                }
            }
            Output::EmbedSpeaker { .. } => {}
            Output::Cancel { id } => {
                self.cancelled.lock().unwrap().insert(id);
            }
            other => return Routed::NotEngine(other),
        }
        Routed::Sent
    }
}

fn transcript(text: &str) -> parley_models::asr::Transcript {
    parley_models::asr::Transcript {
        text: text.to_string(),
        segments: Vec::new(),
        no_speech_probability: 0.0,
        average_logprob: 0.0,
        rejected_as_no_speech: text.is_empty(),
    }
}

/// 300 ms of a soft tone per word, each word's span marked.
fn speech(text: &str) -> Chunk {
    let per_word = TTS_RATE as usize * 3 / 10;
    let words: Vec<WordSpan> = text
        .split_whitespace()
        .enumerate()
        .map(|(i, w)| WordSpan { word: w.to_string(), start_sample: i * per_word, end_sample: (i + 1) * per_word })
        .collect();
    let samples = (0..words.len() * per_word).map(|i| (i as f32 * 0.05).sin() * 0.1).collect();
    Chunk {
        index: 0,
        text: text.to_string(),
        phonemes: String::new(),
        samples,
        sample_rate: TTS_RATE,
        start_sample: 0,
        words,
        synthesis_time: Duration::ZERO,
    }
}

/// A running session: its media events, the client's view, and what the user says next.
struct Call {
    media: mpsc::Sender<MediaEvent>,
    peer: Arc<FakePeer>,
    transcript: Arc<Mutex<String>>,
    position: u64,
    t0: Instant,
}

impl Call {
    async fn start(llm: Llm) -> Call {
        let t0 = Instant::now();
        let peer = Arc::new(FakePeer::default());
        *peer.t0.lock().unwrap() = Some(t0);
        let (sink_tx, sink_rx) = oneshot::channel();
        let output = AudioOutput::spawn(TTS_RATE, sink_rx).unwrap();
        let _ = sink_tx.send(DroppedPackets);
        let (mailbox, sink) = SessionMailbox::new(64);
        let transcript = Arc::new(Mutex::new(String::new()));
        let engine = FakeEngine {
            sink,
            vad_position: 0,
            vad_pending: Vec::new(),
            transcript: transcript.clone(),
            llm,
            cancelled: Arc::default(),
            speech: None,
        };
        let (media, events) = mpsc::channel(64);
        let session = ConversationSession {
            id: "s-test".into(),
            peer: peer.clone(),
            output,
            stop: Arc::new(Notify::new()),
            options: SessionOptions::default(),
            config: ConversationConfig::default(),
            engine,
            mailbox,
            permit: None,
            connect_timeout: Duration::from_secs(30),
            created: t0,
        };
        tokio::spawn(session.run(events, ()));
        media.send(MediaEvent::Connected).await.unwrap();
        media.send(MediaEvent::ChannelOpen).await.unwrap();
        Call { media, peer, transcript, position: 0, t0 }
    }

    fn now_ms(&self) -> u64 {
        (Instant::now() - self.t0).as_millis() as u64
    }

    /// Sends `ms` of audio in real (simulated) time: a tone when `speaking`, else silence.
    async fn audio(&mut self, ms: u64, speaking: bool) {
        for _ in 0..ms / 20 {
            let samples: Vec<f32> =
                (0..320).map(|i| if speaking { ((self.position + i) as f32 * 0.2).sin() * 0.3 } else { 0.0 }).collect();
            let frame = AudioFrame::new(16_000, self.position, samples);
            self.position += 320;
            self.media.send(MediaEvent::Audio { frame, received: Instant::now() }).await.unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The user says something (1 s) whose transcript will be `text`.
    async fn say(&mut self, text: &str) {
        *self.transcript.lock().unwrap() = text.to_string();
        self.audio(1_000, true).await;
    }
}

fn position(timeline: &[(u64, String)], kind: &str) -> usize {
    timeline.iter().position(|(_, k)| k == kind).unwrap_or_else(|| panic!("no {kind} in {timeline:#?}"))
}

#[tokio::test(start_paused = true)]
async fn a_turn_gets_a_spoken_reply_on_time() {
    let mut call = Call::start(Llm::Answers).await;
    call.audio(200, false).await;
    call.say("What is the capital of France?").await;
    let speech_end = call.now_ms();
    // The reply is 12 words of 300 ms.
    call.audio(6_000, false).await;

    let timeline = call.peer.timeline();
    let order = [
        "session.created",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "parley.turn.ended",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "output_audio_buffer.started",
        "response.done",
    ];
    let at: Vec<usize> = order.iter().map(|k| position(&timeline, k)).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "out of order: {timeline:#?}");
    let (ended, e) = call.peer.first("parley.turn.ended").unwrap();
    assert_eq!(e["reason"], "semantic");
    // Pause (200 ms of silence) + end of turn (50 ms), within a couple of VAD chunks.
    assert!((speech_end + 200..speech_end + 400).contains(&ended), "turn ended at {ended}, speech end {speech_end}");
    let (text_at, t) = call.peer.first("conversation.item.input_audio_transcription.completed").unwrap();
    assert_eq!(t["transcript"], "What is the capital of France?");
    assert!(text_at < ended + 100, "the final transcript was asked at the pause, so it is ready soon after the end");
    // Reply text (12 words × 30 ms) + speech (80 ms) + one output frame.
    let (audio_at, _) = call.peer.first("output_audio_buffer.started").unwrap();
    assert!((ended + 400..ended + 600).contains(&audio_at), "first audio at {audio_at}, turn end {ended}");
    let (_, done) = call.peer.first("response.done").unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["played_text"], REPLY);
    let (_, latency) = call.peer.first("parley.turn.latency").unwrap();
    assert!(latency["latency"]["audio_sent_ms"].as_f64().unwrap() > 0.0);
}

#[tokio::test(start_paused = true)]
async fn a_barge_in_stops_the_reply_within_a_frame_and_keeps_only_the_words_heard() {
    let mut call = Call::start(Llm::Answers).await;
    call.audio(200, false).await;
    call.say("Tell me about Paris.").await;
    // Wait for the reply's audio to start, then let about 1.2 s of it play.
    while call.peer.first("output_audio_buffer.started").is_none() {
        call.audio(20, false).await;
    }
    call.audio(1_200, false).await;
    let barge_start = call.now_ms();
    call.say("Wait, stop.").await;
    call.audio(1_500, false).await;

    let (paused_at, done) = call.peer.first("response.done").unwrap();
    assert_eq!(done["status"], "interrupted", "{:#?}", call.peer.timeline());
    // Real words over the reply interrupt it once their (partial or final) transcript is in.
    assert!(paused_at > barge_start, "stopped at {paused_at}, speech from {barge_start}");
    let heard = done["played_text"].as_str().unwrap();
    assert!(!heard.is_empty() && REPLY.starts_with(heard) && heard.len() < REPLY.len(), "heard {heard:?}");
    // About 1.2 s of 300 ms words were sent before the speech paused the reply.
    let words = heard.split(' ').count();
    assert!((3..=5).contains(&words), "{words} words heard: {heard:?}");
    // The interruption is the user's next turn.
    let timeline = call.peer.timeline();
    let transcripts: Vec<&(u64, String)> =
        timeline.iter().filter(|(_, k)| k == "conversation.item.input_audio_transcription.completed").collect();
    assert_eq!(transcripts.len(), 2, "{timeline:#?}");
}

#[tokio::test(start_paused = true)]
async fn an_engine_error_is_told_to_the_client_and_the_session_goes_on() {
    let mut call = Call::start(Llm::Overloaded).await;
    call.audio(200, false).await;
    call.say("Hello?").await;
    call.audio(1_500, false).await;
    let (err_at, error) = call.peer.first("error").expect("an error event");
    assert_eq!(error["error"]["code"], "overloaded");
    assert!(error["error"]["message"].as_str().unwrap().contains("say it again"));
    let (done_at, done) = call.peer.first("response.done").unwrap();
    assert_eq!(done["status"], "failed");
    assert!(done_at >= err_at);
    assert!(call.peer.first("output_audio_buffer.started").is_none());
    // The session still listens: the next utterance starts a new item.
    call.say("Hello again?").await;
    call.audio(1_000, false).await;
    let starts = call.peer.timeline().iter().filter(|(_, k)| k == "input_audio_buffer.speech_started").count();
    assert_eq!(starts, 2);
}
