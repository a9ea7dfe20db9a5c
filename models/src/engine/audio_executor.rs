//! The audio executor: one thread that owns the VAD and end-of-turn models and every session's VAD stream.
//! Each tick it takes everything that arrived, runs one batched Silero call over all streams with a whole
//! chunk waiting (VAD is real-time work and goes first), then one batched Smart Turn call over all pending
//! end-of-turn checks, and answers each request on its own channel.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender};

use super::executor_thread::ExecutorThread;
use super::llm_executor::EngineError;
use crate::turn::SmartTurn;
use crate::vad::{ChunkProbability, SileroVad, VadStream};

enum Command {
    Vad { session: u64, samples: Vec<f32>, reply: VadReply },
    EndOfTurn { audio: Vec<f32>, reply: TurnReply },
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
        let stats = std::sync::Arc::new(std::sync::Mutex::new(AudioExecutorStats::default()));
        let shared = stats.clone();
        let thread = ExecutorThread::spawn("audio-models".into(), "audio command queue", queue, move |rx| {
            run(vad, turn, rx, shared)
        });
        Self { thread, stats }
    }

    /// Queues 16 kHz samples of a session's stream; the answer holds the probabilities of every chunk that
    /// became whole (possibly none).
    pub fn vad(
        &self,
        session: u64,
        samples: Vec<f32>,
    ) -> Result<Receiver<Result<Vec<ChunkProbability>, EngineError>>, EngineError> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.thread.try_send(Command::Vad { session, samples, reply })?;
        Ok(rx)
    }

    /// Asks whether `audio` (the user's speech so far, 16 kHz) ends a finished turn.
    pub fn end_of_turn(&self, audio: Vec<f32>) -> Result<Receiver<Result<f32, EngineError>>, EngineError> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.thread.try_send(Command::EndOfTurn { audio, reply })?;
        Ok(rx)
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
    }
}

type VadReply = SyncSender<Result<Vec<ChunkProbability>, EngineError>>;
type TurnReply = SyncSender<Result<f32, EngineError>>;

fn run(
    mut vad: SileroVad,
    mut turn: SmartTurn,
    commands: Receiver<Command>,
    stats: std::sync::Arc<std::sync::Mutex<AudioExecutorStats>>,
) {
    let mut streams: HashMap<u64, VadStream> = HashMap::new();
    loop {
        let Ok(first) = commands.recv() else { return };
        let mut vad_replies: Vec<(u64, VadReply)> = Vec::new();
        let mut turn_requests: Vec<(Vec<f32>, TurnReply)> = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take().or_else(|| commands.try_recv().ok()) {
            match command {
                Command::Vad { session, samples, reply } => {
                    streams.entry(session).or_default().push(&samples);
                    vad_replies.push((session, reply));
                }
                Command::EndOfTurn { audio, reply } => turn_requests.push((audio, reply)),
                Command::Close { session } => {
                    streams.remove(&session);
                }
                Command::Shutdown => return,
            }
        }
        let mut local = AudioExecutorStats::default();
        // VAD: step every stream with a whole chunk together until none has one.
        let mut results: HashMap<u64, Result<Vec<ChunkProbability>, String>> = HashMap::new();
        loop {
            let mut ready: Vec<(u64, &mut VadStream)> =
                streams.iter_mut().filter(|(_, s)| s.has_chunk()).map(|(id, s)| (*id, s)).collect();
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
        for (session, reply) in vad_replies {
            // A session's chunks of this tick go to its first request's reply; later ones in the same tick get none.
            let answer = match results.remove(&session) {
                Some(Ok(list)) => Ok(list),
                Some(Err(message)) => Err(EngineError::Model { stage: "vad", message }),
                None => Ok(Vec::new()),
            };
            let _ = reply.try_send(answer);
        }
        // End of turn: one batched call.
        if !turn_requests.is_empty() {
            let clips: Vec<&[f32]> = turn_requests.iter().map(|(a, _)| a.as_slice()).collect();
            local.turn_calls += 1;
            local.turn_checks += clips.len() as u64;
            let started = std::time::Instant::now();
            let result = turn.probabilities(&clips);
            super::metrics::step("audio", "smart-turn", started.elapsed(), clips.len());
            match result {
                Ok(probs) => {
                    for ((_, reply), p) in turn_requests.iter().zip(probs) {
                        let _ = reply.try_send(Ok(p));
                    }
                }
                Err(e) => {
                    for (_, reply) in &turn_requests {
                        let _ =
                            reply.try_send(Err(EngineError::Model { stage: "end of turn", message: e.to_string() }));
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
