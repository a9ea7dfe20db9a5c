//! The ASR executor: one thread that owns Whisper and transcribes every session's utterances. Requests that
//! arrive together go through one batched encoder pass ([`WhisperAsr::transcribe_batch`]), then each is decoded;
//! audio longer than one 30 s window is transcribed on its own. Each request has a priority class and a
//! deadline: when more are waiting than one pass takes, the most urgent (class, then deadline) go first, and a
//! result later than its deadline is counted as a miss. A waiting request can be cancelled (its reader gets
//! [`EngineError::Cancelled`] at once); one in the running pass finishes with it.

use std::sync::mpsc::{self, Receiver, SyncSender};

use super::executor_thread::ExecutorThread;
use super::llm_executor::EngineError;
use super::metrics;
use super::scheduler::{Priority, RequestId};
use crate::asr::{Transcript, WINDOW_SAMPLES, WhisperAsr};

type Reply = SyncSender<Result<Transcript, EngineError>>;

enum Command {
    Transcribe { id: RequestId, audio: Vec<f32>, priority: Priority, deadline: std::time::Instant, reply: Reply },
    Cancel(RequestId),
    Shutdown,
}

/// A waiting request.
struct Pending {
    id: RequestId,
    audio: Vec<f32>,
    priority: Priority,
    deadline: std::time::Instant,
    reply: Reply,
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
        let (reply, rx) = mpsc::sync_channel(1);
        let deadline = std::time::Instant::now() + deadline;
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.thread.try_send(Command::Transcribe { id, audio, priority, deadline, reply })?;
        Ok((id, rx))
    }

    /// Cancels a waiting request: its reader gets [`EngineError::Cancelled`]. A request already in the
    /// running pass is answered normally.
    pub fn cancel(&self, id: RequestId) {
        self.thread.send(Command::Cancel(id));
    }

    pub fn shutdown(&self) {
        self.thread.shutdown(Command::Shutdown);
    }
}

fn run(mut asr: WhisperAsr, commands: Receiver<Command>, max_batch: usize) {
    let mut waiting: Vec<Pending> = Vec::new();
    loop {
        if waiting.is_empty() {
            let Ok(first) = commands.recv() else { return };
            if !take(first, &mut waiting) {
                return;
            }
        }
        while let Ok(command) = commands.try_recv() {
            if !take(command, &mut waiting) {
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
            let _ = p.reply.try_send(result);
        }
    }
}

/// Adds a command to the waiting list; false on shutdown.
fn take(command: Command, waiting: &mut Vec<Pending>) -> bool {
    match command {
        Command::Transcribe { id, audio, priority, deadline, reply } => {
            waiting.push(Pending { id, audio, priority, deadline, reply });
            true
        }
        Command::Cancel(id) => {
            if let Some(i) = waiting.iter().position(|p| p.id == id) {
                let _ = waiting.remove(i).reply.try_send(Err(EngineError::Cancelled));
            }
            true
        }
        Command::Shutdown => false,
    }
}
