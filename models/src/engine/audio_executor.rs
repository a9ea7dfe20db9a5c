//! The audio executor: two threads, one owning the VAD model and every session's VAD stream, one owning the
//! end-of-turn model. Each tick a thread takes everything that arrived and runs one batched call: Silero
//! over all streams with a whole chunk waiting, or Smart Turn over all pending end-of-turn checks. They are
//! separate so a 80–300 ms end-of-turn call never delays a 32 ms VAD tick, and the VAD thread is favoured by
//! the OS scheduler (real-time work) over every other compute thread.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver};

use super::error::EngineError;
use super::executor_thread::ExecutorThread;
use super::mailbox::{Answer, ChannelSink, Outbox, ReplyTo};
use crate::speaker::{SpeakerEmbedder, SpeakerEmbedding};
use crate::turn::SmartTurn;
use crate::vad::{ChunkProbability, SileroVad, VadStream};

enum Command {
    Vad { session: u64, samples: Vec<f32>, at: std::time::Instant, reply: ReplyTo },
    EndOfTurn { audio: Vec<f32>, at: std::time::Instant, reply: ReplyTo },
    Speaker { audio: Vec<f32>, reply: ReplyTo },
    Close { session: u64 },
    Shutdown,
}

/// Counters of what the executor batched (for tests and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioExecutorStats {
    pub vad_calls: u64,
    pub vad_chunks: u64,
    pub max_vad_batch: usize,
    pub turn_calls: u64,
    pub turn_checks: u64,
}

/// A cloneable handle to the audio executor thread.
#[derive(Clone)]
pub struct AudioExecutorHandle {
    thread: ExecutorThread<Command>,
    turn_thread: ExecutorThread<Command>,
    stats: std::sync::Arc<std::sync::Mutex<AudioExecutorStats>>,
}

impl std::fmt::Debug for AudioExecutorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AudioExecutorHandle")
    }
}

impl AudioExecutorHandle {
    /// Starts the thread; `queue` bounds the commands waiting for it.
    pub fn spawn(vad: SileroVad, turn: SmartTurn, queue: usize) -> Self {
        Self::spawn_with(vad, turn, queue, usize::MAX)
    }

    /// [`spawn`](Self::spawn) with at most `max_batch` streams (or clips) per model call (1 = no batching,
    /// for comparisons).
    pub fn spawn_with(vad: SileroVad, turn: SmartTurn, queue: usize, max_batch: usize) -> Self {
        Self::spawn_full(vad, turn, None, queue, max_batch)
    }

    /// [`spawn_with`](Self::spawn_with), with the speaker embedder on the end-of-turn thread.
    pub fn spawn_full(
        vad: SileroVad,
        turn: SmartTurn,
        speaker: Option<SpeakerEmbedder>,
        queue: usize,
        max_batch: usize,
    ) -> Self {
        let max_batch = max_batch.max(1);
        let stats = std::sync::Arc::new(std::sync::Mutex::new(AudioExecutorStats::default()));
        let shared = stats.clone();
        let turn_stats = stats.clone();
        // Per-frame work must keep up with audio whatever else runs: favoured by the OS scheduler.
        let thread = ExecutorThread::spawn_with_nice("vad".into(), "VAD command queue", queue, -10, move |rx| {
            run(Some(vad), None, None, rx, shared, max_batch)
        });
        let turn_thread = ExecutorThread::spawn("end-of-turn".into(), "end-of-turn queue", queue, move |rx| {
            run(None, Some(turn), speaker, rx, turn_stats, max_batch)
        });
        Self { thread, turn_thread, stats }
    }

    /// Queues 16 kHz samples of a session's stream; the answer holds the probabilities of every chunk that
    /// became whole (possibly none).
    pub fn vad(
        &self,
        session: u64,
        samples: Vec<f32>,
    ) -> Result<Receiver<Result<Vec<ChunkProbability>, EngineError>>, EngineError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let reply = ChannelSink::reply_to(
            tx,
            |a| match a {
                Answer::Vad(chunks) => Some(Ok(chunks)),
                Answer::Failed(e) => Some(Err(e)),
                _ => None,
            },
            0,
        );
        self.vad_to(session, samples, reply)?;
        Ok(rx)
    }

    /// [`vad`](Self::vad), answered in `reply`'s mailbox ([`Answer::Vad`]).
    pub fn vad_to(&self, session: u64, samples: Vec<f32>, reply: ReplyTo) -> Result<(), EngineError> {
        self.thread.try_send(Command::Vad { session, samples, at: std::time::Instant::now(), reply })
    }

    /// Asks whether `audio` (the user's speech so far, 16 kHz) ends a finished turn.
    pub fn end_of_turn(&self, audio: Vec<f32>) -> Result<Receiver<Result<f32, EngineError>>, EngineError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let reply = ChannelSink::reply_to(
            tx,
            |a| match a {
                Answer::EndOfTurn(p) => Some(Ok(p)),
                Answer::Failed(e) => Some(Err(e)),
                _ => None,
            },
            0,
        );
        self.end_of_turn_to(audio, reply)?;
        Ok(rx)
    }

    /// [`end_of_turn`](Self::end_of_turn), answered in `reply`'s mailbox ([`Answer::EndOfTurn`]).
    pub fn end_of_turn_to(&self, audio: Vec<f32>, reply: ReplyTo) -> Result<(), EngineError> {
        self.turn_thread.try_send(Command::EndOfTurn { audio, at: std::time::Instant::now(), reply })
    }

    /// The speaker embedding of `audio` (16 kHz speech), for telling the primary speaker from others.
    pub fn speaker_embedding(
        &self,
        audio: Vec<f32>,
    ) -> Result<Receiver<Result<SpeakerEmbedding, EngineError>>, EngineError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let reply = ChannelSink::reply_to(
            tx,
            |a| match a {
                Answer::SpeakerEmbedding(e) => Some(Ok(e)),
                Answer::Failed(e) => Some(Err(e)),
                _ => None,
            },
            0,
        );
        self.speaker_embedding_to(audio, reply)?;
        Ok(rx)
    }

    /// [`speaker_embedding`](Self::speaker_embedding), answered in `reply`'s mailbox.
    pub fn speaker_embedding_to(&self, audio: Vec<f32>, reply: ReplyTo) -> Result<(), EngineError> {
        self.turn_thread.try_send(Command::Speaker { audio, reply })
    }

    /// Forgets a session's VAD stream.
    pub fn close(&self, session: u64) {
        self.thread.send(Command::Close { session });
    }

    pub fn stats(&self) -> AudioExecutorStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    pub fn shutdown(&self) {
        self.thread.shutdown(Command::Shutdown);
        self.turn_thread.shutdown(Command::Shutdown);
    }
}

/// A VAD answer later than one 32 ms chunk of audio is a deadline miss.
const VAD_DEADLINE: std::time::Duration = std::time::Duration::from_millis(32);
/// An end-of-turn decision later than this adds audibly to the turn gap: a deadline miss.
const END_OF_TURN_DEADLINE: std::time::Duration = std::time::Duration::from_millis(200);

/// One thread's loop: the VAD thread has `vad`, the end-of-turn thread `turn`.
fn run(
    mut vad: Option<SileroVad>,
    mut turn: Option<SmartTurn>,
    mut speaker: Option<SpeakerEmbedder>,
    commands: Receiver<Command>,
    stats: std::sync::Arc<std::sync::Mutex<AudioExecutorStats>>,
    max_batch: usize,
) {
    let mut streams: HashMap<u64, VadStream> = HashMap::new();
    let mut outbox = Outbox::new();
    loop {
        let first = if outbox.is_empty() {
            let Ok(first) = commands.recv() else { return };
            Some(first)
        } else {
            // Answers held for a full mailbox: retry them soon even if nothing arrives.
            outbox.retry();
            match commands.recv_timeout(super::OUTBOX_RETRY) {
                Ok(c) => Some(c),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        };
        let mut vad_replies: Vec<(u64, std::time::Instant, ReplyTo)> = Vec::new();
        let mut turn_requests: Vec<(Vec<f32>, std::time::Instant, ReplyTo)> = Vec::new();
        let mut next = first;
        while let Some(command) = next.take().or_else(|| commands.try_recv().ok()) {
            match command {
                Command::Vad { session, samples, at, reply } => {
                    streams.entry(session).or_default().push(&samples);
                    vad_replies.push((session, at, reply));
                }
                Command::EndOfTurn { audio, at, reply } => turn_requests.push((audio, at, reply)),
                Command::Speaker { audio, reply } => {
                    let started = std::time::Instant::now();
                    let result = match speaker.as_mut() {
                        Some(s) => {
                            s.embed(&audio).map_err(|e| EngineError::Model { stage: "speaker", message: e.to_string() })
                        }
                        None => Err(EngineError::Model { stage: "speaker", message: "no speaker model loaded".into() }),
                    };
                    super::metrics::step("audio", "speaker", started.elapsed(), 1);
                    let answer = match result {
                        Ok(e) => Answer::SpeakerEmbedding(e),
                        Err(e) => Answer::Failed(e),
                    };
                    outbox.send(&reply, answer);
                }
                Command::Close { session } => {
                    streams.remove(&session);
                }
                Command::Shutdown => return,
            }
        }
        let mut local = AudioExecutorStats::default();
        // VAD: step every stream with a whole chunk together until none has one.
        let mut results: HashMap<u64, Result<Vec<ChunkProbability>, String>> = HashMap::new();
        while let Some(vad) = vad.as_mut() {
            let mut ready: Vec<(u64, &mut VadStream)> =
                streams.iter_mut().filter(|(_, s)| s.has_chunk()).map(|(id, s)| (*id, s)).take(max_batch).collect();
            if ready.is_empty() {
                break;
            }
            let ids: Vec<u64> = ready.iter().map(|(id, _)| *id).collect();
            let mut refs: Vec<&mut VadStream> = ready.iter_mut().map(|(_, s)| &mut **s).collect();
            local.vad_calls += 1;
            local.vad_chunks += refs.len() as u64;
            local.max_vad_batch = local.max_vad_batch.max(refs.len());
            let started = std::time::Instant::now();
            let result = vad.step(&mut refs);
            super::metrics::step("audio", "silero-vad", started.elapsed(), refs.len());
            match result {
                Ok(probs) => {
                    for (id, p) in ids.into_iter().zip(probs) {
                        if let (Some(p), Ok(list)) = (p, results.entry(id).or_insert_with(|| Ok(Vec::new()))) {
                            list.push(p);
                        }
                    }
                }
                Err(e) => {
                    for id in ids {
                        results.insert(id, Err(e.to_string()));
                        streams.remove(&id);
                    }
                    break;
                }
            }
        }
        for (session, at, reply) in vad_replies {
            if at.elapsed() > VAD_DEADLINE {
                super::metrics::deadline_miss("audio", "silero-vad");
            }
            // A session's chunks of this tick go to its first request's reply; later ones in the same tick get none.
            let answer = match results.remove(&session) {
                Some(Ok(list)) => Answer::Vad(list),
                Some(Err(message)) => Answer::Failed(EngineError::Model { stage: "vad", message }),
                None => Answer::Vad(Vec::new()),
            };
            outbox.send(&reply, answer);
        }
        // End of turn: batched calls of up to `max_batch` clips.
        for group in turn_requests.chunks(max_batch) {
            let Some(turn) = turn.as_mut() else { break };
            let clips: Vec<&[f32]> = group.iter().map(|(a, ..)| a.as_slice()).collect();
            local.turn_calls += 1;
            local.turn_checks += clips.len() as u64;
            let started = std::time::Instant::now();
            let result = turn.probabilities(&clips);
            super::metrics::step("audio", "smart-turn", started.elapsed(), clips.len());
            match result {
                Ok(probs) => {
                    for ((_, at, reply), p) in group.iter().zip(probs) {
                        if at.elapsed() > END_OF_TURN_DEADLINE {
                            super::metrics::deadline_miss("audio", "smart-turn");
                        }
                        outbox.send(reply, Answer::EndOfTurn(p));
                    }
                }
                Err(e) => {
                    for (_, _, reply) in group {
                        let e = EngineError::Model { stage: "end of turn", message: e.to_string() };
                        outbox.send(reply, Answer::Failed(e));
                    }
                }
            }
        }
        if let Ok(mut s) = stats.lock() {
            s.vad_calls += local.vad_calls;
            s.vad_chunks += local.vad_chunks;
            s.max_vad_batch = s.max_vad_batch.max(local.max_vad_batch);
            s.turn_calls += local.turn_calls;
            s.turn_checks += local.turn_checks;
        }
    }
}
