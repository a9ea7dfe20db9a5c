//! The ASR executor: one thread that owns Whisper and transcribes every session's utterances. Requests that
//! arrive together go through one batched encoder pass ([`WhisperAsr::transcribe_batch`]), then each is decoded;
//! audio longer than one 30 s window is transcribed on its own.

use std::sync::mpsc::{self, Receiver, SyncSender};

use super::executor_thread::ExecutorThread;
use super::llm_executor::EngineError;
use super::metrics;
use crate::asr::{Transcript, WINDOW_SAMPLES, WhisperAsr};

type Reply = SyncSender<Result<Transcript, EngineError>>;

enum Command {
    Transcribe { audio: Vec<f32>, reply: Reply },
    Shutdown,
}

/// A cloneable handle to the ASR executor thread.
#[derive(Clone)]
pub struct AsrExecutorHandle {
    thread: ExecutorThread<Command>,
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
        Self { thread: ExecutorThread::spawn("asr".into(), "ASR queue", queue, move |rx| run(asr, rx, max_batch)) }
    }

    /// Transcribes 16 kHz audio (an utterance so far, or a whole one).
    pub fn transcribe(&self, audio: Vec<f32>) -> Result<Receiver<Result<Transcript, EngineError>>, EngineError> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.thread.try_send(Command::Transcribe { audio, reply })?;
        Ok(rx)
    }

    pub fn shutdown(&self) {
        self.thread.shutdown(Command::Shutdown);
    }
}

fn run(mut asr: WhisperAsr, commands: Receiver<Command>, max_batch: usize) {
    loop {
        let Ok(first) = commands.recv() else { return };
        let mut batch: Vec<(Vec<f32>, Reply)> = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take().or_else(|| commands.try_recv().ok()) {
            match command {
                Command::Transcribe { audio, reply } => batch.push((audio, reply)),
                Command::Shutdown => return,
            }
        }
        let (short, long): (Vec<_>, Vec<_>) = batch.into_iter().partition(|(a, _)| a.len() <= WINDOW_SAMPLES);
        for short in short.chunks(max_batch) {
            let clips: Vec<&[f32]> = short.iter().map(|(a, _)| a.as_slice()).collect();
            let started = std::time::Instant::now();
            let result = asr.transcribe_batch(&clips);
            metrics::step("asr", "whisper-tiny-en", started.elapsed(), clips.len());
            match result {
                Ok(transcripts) => {
                    for ((_, reply), t) in short.iter().zip(transcripts) {
                        let _ = reply.try_send(Ok(t));
                    }
                }
                Err(e) => {
                    for (_, reply) in short {
                        let _ = reply.try_send(Err(EngineError::Model { stage: "asr", message: e.to_string() }));
                    }
                }
            }
        }
        for (audio, reply) in long {
            let result =
                asr.transcribe(&audio).map_err(|e| EngineError::Model { stage: "asr", message: e.to_string() });
            let _ = reply.try_send(result);
        }
    }
}
