//! The TTS executor: one thread that owns the Piper voice and every session's speech stream, and synthesises
//! one clause per tick, always for the stream that has produced the fewest chunks so far (the earliest
//! submitted first among equals). So a long reply is interleaved with others and can never delay another
//! session's first audio by more than one clause.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender};

use super::executor_thread::ExecutorThread;
use super::llm_executor::EngineError;
use super::metrics;
use super::scheduler::RequestId;
use crate::tts::{Chunk, PiperVoice, TtsStream};

/// What a synthesis stream carries.
#[derive(Debug)]
pub enum TtsEvent {
    /// One clause of audio with its word spans.
    Chunk(Chunk),
    /// All text pushed so far has been spoken and the stream was finished (or it failed).
    Done(Result<usize, EngineError>),
}

enum Command {
    Start { id: RequestId, events: SyncSender<TtsEvent> },
    Push { id: RequestId, text: String },
    Finish { id: RequestId },
    Cancel { id: RequestId },
    Shutdown,
}

/// A cloneable handle to the TTS executor thread.
#[derive(Clone)]
pub struct TtsExecutorHandle {
    thread: ExecutorThread<Command>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
    sample_rate: u32,
}

impl std::fmt::Debug for TtsExecutorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TtsExecutorHandle")
    }
}

impl TtsExecutorHandle {
    /// Starts the thread; `queue` bounds the commands waiting for it.
    pub fn spawn(voice: Arc<PiperVoice>, queue: usize) -> Self {
        let sample_rate = voice.sample_rate();
        let thread = ExecutorThread::spawn("tts".into(), "TTS command queue", queue, move |rx| run(voice, rx));
        Self { thread, next_id: Arc::new(std::sync::atomic::AtomicU64::new(1)), sample_rate }
    }

    /// The voice's rate: every chunk's samples are at it.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Opens a stream for text that will arrive in pieces (an LLM reply); chunks arrive on the receiver.
    pub fn start(&self, buffer: usize) -> Result<(RequestId, Receiver<TtsEvent>), EngineError> {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (events, rx) = mpsc::sync_channel(buffer.max(1));
        self.thread.try_send(Command::Start { id, events })?;
        Ok((id, rx))
    }

    pub fn push(&self, id: RequestId, text: impl Into<String>) -> Result<(), EngineError> {
        self.thread.try_send(Command::Push { id, text: text.into() })
    }

    /// No more text: the rest is spoken and then `Done` follows.
    pub fn finish(&self, id: RequestId) -> Result<(), EngineError> {
        self.thread.try_send(Command::Finish { id })
    }

    /// Speaks a whole text.
    pub fn speak(&self, text: &str) -> Result<(RequestId, Receiver<TtsEvent>), EngineError> {
        let (id, rx) = self.start(256)?;
        self.push(id, text)?;
        self.finish(id)?;
        Ok((id, rx))
    }

    /// Stops a stream at once (barge-in); its espeak-ng processes are killed.
    pub fn cancel(&self, id: RequestId) {
        self.thread.send(Command::Cancel { id });
    }

    pub fn shutdown(&self) {
        self.thread.shutdown(Command::Shutdown);
    }
}

struct Active {
    stream: TtsStream,
    events: SyncSender<TtsEvent>,
    chunks: usize,
    arrived: u64,
    /// Nothing to synthesise until more text or `finish` arrives.
    starved: bool,
}

fn run(voice: Arc<PiperVoice>, commands: Receiver<Command>) {
    let mut active: HashMap<RequestId, Active> = HashMap::new();
    let mut arrivals = 0u64;
    loop {
        let busy = active.values().any(|a| !a.starved);
        let first = if busy { commands.try_recv().ok() } else { commands.recv().ok().or(Some(Command::Shutdown)) };
        let mut next = first;
        while let Some(command) = next.take().or_else(|| commands.try_recv().ok()) {
            match command {
                Command::Start { id, events } => {
                    arrivals += 1;
                    active.insert(
                        id,
                        Active { stream: voice.stream(), events, chunks: 0, arrived: arrivals, starved: true },
                    );
                }
                Command::Push { id, text } => {
                    if let Some(a) = active.get_mut(&id) {
                        if let Err(e) = a.stream.push_text(&text) {
                            let _ = a.events.try_send(TtsEvent::Done(Err(model_error(e))));
                            active.remove(&id);
                        } else {
                            a.starved = false;
                        }
                    }
                }
                Command::Finish { id } => {
                    if let Some(a) = active.get_mut(&id) {
                        if let Err(e) = a.stream.finish() {
                            let _ = a.events.try_send(TtsEvent::Done(Err(model_error(e))));
                            active.remove(&id);
                        } else {
                            a.starved = false;
                        }
                    }
                }
                Command::Cancel { id } => {
                    active.remove(&id);
                }
                Command::Shutdown => return,
            }
        }
        // One clause for the stream with the fewest chunks so far (first audio first), oldest among equals.
        let Some(id) =
            active.iter().filter(|(_, a)| !a.starved).min_by_key(|(_, a)| (a.chunks, a.arrived)).map(|(id, _)| *id)
        else {
            continue;
        };
        let Some(a) = active.get_mut(&id) else { continue };
        let started = std::time::Instant::now();
        match a.stream.next_chunk(&voice) {
            Ok(Some(chunk)) => {
                metrics::step("tts", "piper-joe", started.elapsed(), 1);
                a.chunks += 1;
                if a.events.try_send(TtsEvent::Chunk(chunk)).is_err() {
                    // The listener is gone or not reading: stop speaking for it.
                    active.remove(&id);
                }
            }
            Ok(None) if a.stream.is_done() => {
                let _ = a.events.try_send(TtsEvent::Done(Ok(a.chunks)));
                active.remove(&id);
            }
            Ok(None) => a.starved = true,
            Err(e) => {
                let _ = a.events.try_send(TtsEvent::Done(Err(model_error(e))));
                active.remove(&id);
            }
        }
    }
}

fn model_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Model { stage: "tts", message: e.to_string() }
}
