//! The TTS executor: one thread that owns the Piper voice and every session's speech stream, and synthesises
//! one clause per tick, always for the stream that has produced the fewest chunks so far (the earliest
//! submitted first among equals). So a long reply is interleaved with others and can never delay another
//! session's first audio by more than one clause. A stream whose session's mailbox is full pauses until its
//! held chunks are taken (back-pressure; nothing is dropped).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};

use super::error::EngineError;
use super::executor_thread::ExecutorThread;
use super::mailbox::{Answer, ChannelSink, NO_SESSION, Outbox, ReplyTo, RequestKey, Sent};
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
    Start { reply: ReplyTo },
    Push { key: RequestKey, text: String },
    Finish { key: RequestKey },
    Cancel { key: RequestKey },
    Shutdown,
}

fn anonymous(id: RequestId) -> RequestKey {
    RequestKey { session: NO_SESSION, tag: id }
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
        let map = |a| match a {
            Answer::TtsChunk(c) => Some(TtsEvent::Chunk(c)),
            Answer::TtsDone { chunks } => Some(TtsEvent::Done(Ok(chunks))),
            Answer::Failed(e) => Some(TtsEvent::Done(Err(e))),
            _ => None,
        };
        self.start_to(ChannelSink::reply_to(events, map, id))?;
        Ok((id, rx))
    }

    /// Opens a stream answered in `reply`'s mailbox ([`Answer::TtsChunk`], then [`Answer::TtsDone`]); text and
    /// the end are sent by the request's key.
    pub fn start_to(&self, reply: ReplyTo) -> Result<(), EngineError> {
        self.thread.try_send(Command::Start { reply })
    }

    pub fn push(&self, id: RequestId, text: impl Into<String>) -> Result<(), EngineError> {
        self.push_key(anonymous(id), text)
    }

    /// [`push`](Self::push) to a session's stream.
    pub fn push_key(&self, key: RequestKey, text: impl Into<String>) -> Result<(), EngineError> {
        self.thread.try_send(Command::Push { key, text: text.into() })
    }

    /// No more text: the rest is spoken and then `Done` follows.
    pub fn finish(&self, id: RequestId) -> Result<(), EngineError> {
        self.finish_key(anonymous(id))
    }

    /// [`finish`](Self::finish) of a session's stream.
    pub fn finish_key(&self, key: RequestKey) -> Result<(), EngineError> {
        self.thread.try_send(Command::Finish { key })
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
        self.cancel_key(anonymous(id));
    }

    /// [`cancel`](Self::cancel) of a session's stream.
    pub fn cancel_key(&self, key: RequestKey) {
        self.thread.send(Command::Cancel { key });
    }

    pub fn shutdown(&self) {
        self.thread.shutdown(Command::Shutdown);
    }
}

struct Active {
    stream: TtsStream,
    reply: ReplyTo,
    chunks: usize,
    arrived: u64,
    /// Nothing to synthesise until more text or `finish` arrives.
    starved: bool,
}

fn run(voice: Arc<PiperVoice>, commands: Receiver<Command>) {
    let mut active: HashMap<RequestKey, Active> = HashMap::new();
    let mut outbox = Outbox::new();
    let mut arrivals = 0u64;
    loop {
        for key in outbox.retry() {
            active.remove(&key);
        }
        // Streams whose mailbox is full wait (back-pressure) until their held chunks are taken.
        let ready = |a: &Active, outbox: &Outbox| !a.starved && !outbox.holds_for(&a.reply);
        let busy = active.values().any(|a| ready(a, &outbox));
        let first = if busy {
            commands.try_recv().ok()
        } else if outbox.is_empty() {
            commands.recv().ok().or(Some(Command::Shutdown))
        } else {
            match commands.recv_timeout(super::OUTBOX_RETRY) {
                Ok(c) => Some(c),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => Some(Command::Shutdown),
            }
        };
        let mut next = first;
        while let Some(command) = next.take().or_else(|| commands.try_recv().ok()) {
            match command {
                Command::Start { reply } => {
                    arrivals += 1;
                    let a = Active { stream: voice.stream(), reply, chunks: 0, arrived: arrivals, starved: true };
                    active.insert(a.reply.key, a);
                }
                Command::Push { key, text } => {
                    if let Some(a) = active.get_mut(&key) {
                        if let Err(e) = a.stream.push_text(&text) {
                            outbox.send(&a.reply, Answer::Failed(model_error(e)));
                            active.remove(&key);
                        } else {
                            a.starved = false;
                        }
                    }
                }
                Command::Finish { key } => {
                    if let Some(a) = active.get_mut(&key) {
                        if let Err(e) = a.stream.finish() {
                            outbox.send(&a.reply, Answer::Failed(model_error(e)));
                            active.remove(&key);
                        } else {
                            a.starved = false;
                        }
                    }
                }
                Command::Cancel { key } => {
                    active.remove(&key);
                }
                Command::Shutdown => return,
            }
        }
        // One clause for the stream with the fewest chunks so far (first audio first), oldest among equals.
        let Some(key) = active
            .iter()
            .filter(|(_, a)| ready(a, &outbox))
            .min_by_key(|(_, a)| (a.chunks, a.arrived))
            .map(|(key, _)| *key)
        else {
            continue;
        };
        let Some(a) = active.get_mut(&key) else { continue };
        let started = std::time::Instant::now();
        match a.stream.next_chunk(&voice) {
            Ok(Some(chunk)) => {
                metrics::step("tts", "piper-joe", started.elapsed(), 1);
                a.chunks += 1;
                if outbox.send(&a.reply, Answer::TtsChunk(chunk)) == Sent::Closed {
                    // The listener is gone: stop speaking for it.
                    active.remove(&key);
                }
            }
            Ok(None) if a.stream.is_done() => {
                outbox.send(&a.reply, Answer::TtsDone { chunks: a.chunks });
                active.remove(&key);
            }
            Ok(None) => a.starved = true,
            Err(e) => {
                outbox.send(&a.reply, Answer::Failed(model_error(e)));
                active.remove(&key);
            }
        }
    }
}

fn model_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Model { stage: "tts", message: e.to_string() }
}
