//! The ASR executor: one thread that owns Whisper and transcribes every session's utterances. Requests that
//! arrive together go through one batched encoder pass ([`WhisperAsr::transcribe_batch`]), then each is decoded;
//! audio longer than one 30 s window is transcribed on its own. Each request has a priority class and a
//! deadline: when more are waiting than one pass takes, the most urgent (class, then deadline) go first, and a
//! result later than its deadline is counted as a miss. A waiting request can be cancelled (it is answered
//! [`EngineError::Cancelled`] at once); one in the running pass finishes with it. Answers go to each request's
//! mailbox ([`ReplyTo`]).

use std::sync::mpsc::{self, Receiver};

use super::error::EngineError;
use super::executor_thread::ExecutorThread;
use super::mailbox::{Answer, ChannelSink, Outbox, ReplyTo, RequestKey};
use super::metrics;
use super::scheduler::{Priority, RequestId};
use crate::asr::{Transcript, WINDOW_SAMPLES, WhisperAsr};

enum Command {
    Transcribe { audio: Vec<f32>, priority: Priority, deadline: std::time::Instant, reply: ReplyTo },
    Cancel(RequestKey),
    Shutdown,
}

/// A waiting request.
struct Pending {
    audio: Vec<f32>,
    priority: Priority,
    deadline: std::time::Instant,
    reply: ReplyTo,
}

/// The deadline of [`AsrExecutorHandle::transcribe`]: a final transcript a user is waiting on.
pub const ASR_DEFAULT_DEADLINE: std::time::Duration = std::time::Duration::from_millis(1500);

/// A cloneable handle to the ASR executor thread.
#[derive(Clone)]
pub struct AsrExecutorHandle {
    thread: ExecutorThread<Command>,
    next_id: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for AsrExecutorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsrExecutorHandle")
    }
}

impl AsrExecutorHandle {
    /// Starts the thread; `queue` bounds the requests waiting for it (more are refused as overload).
    pub fn spawn(asr: WhisperAsr, queue: usize) -> Self {
        Self::spawn_with(asr, queue, usize::MAX)
    }

    /// [`spawn`](Self::spawn) with at most `max_batch` utterances per encoder pass (1 = no batching).
    pub fn spawn_with(asr: WhisperAsr, queue: usize, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        Self {
            thread: ExecutorThread::spawn("asr".into(), "ASR queue", queue, move |rx| run(asr, rx, max_batch)),
            next_id: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(1)),
        }
    }

    /// Transcribes 16 kHz audio (an utterance so far, or a whole one) as interactive work due in
    /// [`ASR_DEFAULT_DEADLINE`].
    pub fn transcribe(&self, audio: Vec<f32>) -> Result<Receiver<Result<Transcript, EngineError>>, EngineError> {
        Ok(self.transcribe_with(audio, Priority::Interactive, ASR_DEFAULT_DEADLINE)?.1)
    }

    /// [`transcribe`](Self::transcribe) with a priority class (a streaming partial can be `Background`) and a
    /// deadline from now; the id can [`cancel`](Self::cancel) it.
    pub fn transcribe_with(
        &self,
        audio: Vec<f32>,
        priority: Priority,
        deadline: std::time::Duration,
    ) -> Result<(RequestId, Receiver<Result<Transcript, EngineError>>), EngineError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let map = |a| match a {
            Answer::Transcript(t) => Some(Ok(t)),
            Answer::Failed(e) => Some(Err(e)),
            _ => None,
        };
        self.transcribe_to(audio, priority, deadline, ChannelSink::reply_to(tx, map, id))?;
        Ok((id, rx))
    }

    /// [`transcribe_with`](Self::transcribe_with), answered in `reply`'s mailbox ([`Answer::Transcript`]).
    pub fn transcribe_to(
        &self,
        audio: Vec<f32>,
        priority: Priority,
        deadline: std::time::Duration,
        reply: ReplyTo,
    ) -> Result<(), EngineError> {
        let deadline = std::time::Instant::now() + deadline;
        self.thread.try_send(Command::Transcribe { audio, priority, deadline, reply })
    }

    /// Cancels a waiting request: it is answered [`EngineError::Cancelled`]. A request already in the
    /// running pass is answered normally.
    pub fn cancel(&self, id: RequestId) {
        self.cancel_key(RequestKey { session: super::mailbox::NO_SESSION, tag: id });
    }

    /// [`cancel`](Self::cancel) of a session's request.
    pub fn cancel_key(&self, key: RequestKey) {
        self.thread.send(Command::Cancel(key));
    }

    pub fn shutdown(&self) {
        self.thread.shutdown(Command::Shutdown);
    }
}

fn run(mut asr: WhisperAsr, commands: Receiver<Command>, max_batch: usize) {
    let mut waiting: Vec<Pending> = Vec::new();
    let mut outbox = Outbox::new();
    loop {
        outbox.retry();
        if waiting.is_empty() {
            let first = if outbox.is_empty() {
                commands.recv().map_err(|_| ())
            } else {
                match commands.recv_timeout(super::OUTBOX_RETRY) {
                    Ok(c) => Ok(c),
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
                }
            };
            let Ok(first) = first else { return };
            if !take(first, &mut waiting, &mut outbox) {
                return;
            }
        }
        while let Ok(command) = commands.try_recv() {
            if !take(command, &mut waiting, &mut outbox) {
                return;
            }
        }
        if waiting.is_empty() {
            continue;
        }
        // The most urgent first; one pass of up to `max_batch` short utterances, or one long one.
        waiting.sort_by_key(|p| (p.priority, p.deadline));
        let first_long = waiting[0].audio.len() > WINDOW_SAMPLES;
        let n = if first_long {
            1
        } else {
            waiting.iter().take(max_batch).take_while(|p| p.audio.len() <= WINDOW_SAMPLES).count()
        };
        let batch: Vec<Pending> = waiting.drain(..n).collect();
        let started = std::time::Instant::now();
        let results: Vec<Result<Transcript, EngineError>> = if first_long {
            vec![
                asr.transcribe(&batch[0].audio)
                    .map_err(|e| EngineError::Model { stage: "asr", message: e.to_string() }),
            ]
        } else {
            let clips: Vec<&[f32]> = batch.iter().map(|p| p.audio.as_slice()).collect();
            match asr.transcribe_batch(&clips) {
                Ok(transcripts) => transcripts.into_iter().map(Ok).collect(),
                Err(e) => {
                    batch.iter().map(|_| Err(EngineError::Model { stage: "asr", message: e.to_string() })).collect()
                }
            }
        };
        metrics::step("asr", "whisper-tiny-en", started.elapsed(), batch.len());
        let now = std::time::Instant::now();
        for (p, result) in batch.into_iter().zip(results) {
            if now > p.deadline {
                metrics::deadline_miss("asr", "whisper-tiny-en");
            }
            let answer = match result {
                Ok(t) => Answer::Transcript(t),
                Err(e) => Answer::Failed(e),
            };
            outbox.send(&p.reply, answer);
        }
    }
}

/// Adds a command to the waiting list; false on shutdown.
fn take(command: Command, waiting: &mut Vec<Pending>, outbox: &mut Outbox) -> bool {
    match command {
        Command::Transcribe { audio, priority, deadline, reply } => {
            waiting.push(Pending { audio, priority, deadline, reply });
            true
        }
        Command::Cancel(key) => {
            if let Some(i) = waiting.iter().position(|p| p.reply.key == key) {
                let p = waiting.remove(i);
                outbox.send(&p.reply, Answer::Failed(EngineError::Cancelled));
            }
            true
        }
        Command::Shutdown => false,
    }
}
