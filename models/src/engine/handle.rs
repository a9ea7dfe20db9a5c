//! The engine as one object: every stage model loaded once (and warmed up), each behind its executor thread,
//! reachable through one cloneable [`EngineHandle`], with session admission.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::asr_executor::AsrExecutorHandle;
use super::audio_executor::AudioExecutorHandle;
use super::error::EngineError;
use super::llm_executor::{LlmExecutorConfig, LlmExecutorHandle};
use super::mailbox::AnswerSink;
use super::priority::{GateRole, PriorityGate};
use super::scheduler::SchedulerConfig;
use super::session_link::SessionLink;
use super::tts_executor::TtsExecutorHandle;
use crate::asr::WhisperAsr;
use crate::llm::{FAST_MODEL, LlmModel, LoadOptions, SLOW_MODEL};
use crate::store::ModelStore;
use crate::tts::PiperVoice;
use crate::turn::SmartTurn;
use crate::vad::SileroVad;

/// Whether executors batch work across sessions (the product) or take one request per model call (for
/// measuring what batching buys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchMode {
    #[default]
    Batched,
    Serial,
}

/// What the engine loads and its limits.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Sessions admitted at once; more get [`EngineError::Overloaded`].
    pub max_sessions: usize,
    /// Load the slow-path LLM too (1.1 GB, several seconds).
    pub slow_model: bool,
    pub mode: BatchMode,
    /// Per-step prompt-token budget of the fast LLM's scheduler (chunked prefill).
    pub token_budget: usize,
    /// The slow LLM's per-step prompt-token budget: small, so a fast request arriving mid-step waits little.
    pub slow_token_budget: usize,
    /// Sequences stepped together per LLM.
    pub max_batch: usize,
    /// Sessions whose KV cache is kept between turns (least recently used dropped beyond).
    pub cached_sessions: usize,
    /// Bytes of KV cache kept between turns, per LLM (least recently used dropped beyond).
    pub cached_kv_bytes: usize,
    /// Threads for the ONNX models (VAD, end of turn, TTS).
    pub onnx_threads: usize,
    /// Longest a slow-path step waits for fast-path work to finish.
    pub slow_max_yield: Duration,
    /// Bound of each executor's command queue.
    pub queue: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            max_sessions: 8,
            slow_model: false,
            mode: BatchMode::Batched,
            token_budget: 64,
            slow_token_budget: 16,
            max_batch: 8,
            cached_sessions: 64,
            cached_kv_bytes: 1 << 30,
            onnx_threads: 1,
            slow_max_yield: Duration::from_millis(500),
            queue: 256,
        }
    }
}

/// The running engine. Clone it freely: every clone talks to the same executors.
#[derive(Clone, Debug)]
pub struct EngineHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    audio: AudioExecutorHandle,
    asr: AsrExecutorHandle,
    fast: LlmExecutorHandle,
    slow: Option<LlmExecutorHandle>,
    tts: TtsExecutorHandle,
    sessions: AtomicUsize,
    options: EngineOptions,
    loaded: Vec<(String, Duration)>,
}

/// An admitted session; its place is given back when dropped.
#[derive(Debug)]
pub struct SessionPermit {
    engine: EngineHandle,
    id: u64,
}

impl SessionPermit {
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for SessionPermit {
    fn drop(&mut self) {
        self.engine.inner.audio.close(self.id);
        self.engine.inner.sessions.fetch_sub(1, Ordering::AcqRel);
    }
}

impl EngineHandle {
    /// Loads every model from `store`, warms each with one call, and starts the executors.
    pub fn start(store: &ModelStore, options: EngineOptions) -> Result<Self, EngineError> {
        let model_err = |stage: &'static str| move |e: String| EngineError::Model { stage, message: e };
        let mut loaded = Vec::new();
        let mut timed = |name: &str, started: Instant| {
            let took = started.elapsed();
            tracing::info!(model = name, ms = took.as_millis() as u64, "loaded and warmed");
            loaded.push((name.to_string(), took));
        };
        let serial = options.mode == BatchMode::Serial;
        let max_batch = if serial { 1 } else { options.max_batch.max(1) };

        let t = Instant::now();
        let mut vad = SileroVad::load(store, options.onnx_threads).map_err(|e| model_err("vad")(e.to_string()))?;
        vad.process(&mut crate::vad::VadStream::default(), &[0.0; 1024])
            .map_err(|e| model_err("vad")(e.to_string()))?;
        let mut turn = SmartTurn::load(store, options.onnx_threads).map_err(|e| model_err("turn")(e.to_string()))?;
        turn.probability(&[0.0; 16_000]).map_err(|e| model_err("turn")(e.to_string()))?;
        let mut speaker = crate::speaker::SpeakerEmbedder::load(store, options.onnx_threads)
            .map_err(|e| model_err("speaker")(e.to_string()))?;
        let tone: Vec<f32> = (0..16_000).map(|i| (i as f32 * 0.07).sin() * 0.1).collect();
        speaker.embed(&tone).map_err(|e| model_err("speaker")(e.to_string()))?;
        timed("silero-vad + smart-turn + speaker", t);

        let t = Instant::now();
        let mut asr = WhisperAsr::load(store).map_err(|e| model_err("asr")(e.to_string()))?;
        asr.transcribe(&[0.0; 16_000]).map_err(|e| model_err("asr")(e.to_string()))?;
        timed("whisper-tiny-en", t);

        let t = Instant::now();
        let voice = PiperVoice::load(store, options.onnx_threads).map_err(|e| model_err("tts")(e.to_string()))?;
        voice.synthesize_all("Hello.").map_err(|e| model_err("tts")(e.to_string()))?;
        timed("piper", t);

        let gate = PriorityGate::new();
        let llm_config = |role: GateRole, token_budget: usize| LlmExecutorConfig {
            scheduler: SchedulerConfig {
                max_running: max_batch,
                token_budget: token_budget.max(1),
                max_waiting: options.max_sessions.max(1) * 4,
            },
            cached_sessions: options.cached_sessions,
            cached_kv_bytes: options.cached_kv_bytes,
            command_queue: options.queue,
            gate: Some(role),
            ..LlmExecutorConfig::default()
        };
        let load_llm = |id: &str| -> Result<Arc<LlmModel>, EngineError> {
            let model = LlmModel::load_with(store, id, &LoadOptions::default())?;
            let mut seq = model.new_sequence();
            let warm = model.encode("Hello")?;
            seq.feed(&model, &warm)?;
            Ok(Arc::new(model))
        };
        let t = Instant::now();
        let fast = LlmExecutorHandle::spawn(
            load_llm(FAST_MODEL)?,
            llm_config(GateRole::Interactive(gate.clone()), options.token_budget),
        );
        timed(FAST_MODEL, t);
        let slow = if options.slow_model {
            let t = Instant::now();
            let role = GateRole::Background { gate: gate.clone(), max_wait: options.slow_max_yield };
            let handle = LlmExecutorHandle::spawn(load_llm(SLOW_MODEL)?, llm_config(role, options.slow_token_budget));
            timed(SLOW_MODEL, t);
            Some(handle)
        } else {
            None
        };

        let audio = AudioExecutorHandle::spawn_full(vad, turn, Some(speaker), options.queue, max_batch);
        let asr = AsrExecutorHandle::spawn_with(asr, options.queue, max_batch);
        let tts = TtsExecutorHandle::spawn(Arc::new(voice), options.queue);
        Ok(Self {
            inner: Arc::new(Inner { audio, asr, fast, slow, tts, sessions: AtomicUsize::new(0), options, loaded }),
        })
    }

    /// Admits a session, or says the engine is full.
    pub fn open_session(&self) -> Result<SessionPermit, EngineError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let limit = self.inner.options.max_sessions;
        let admitted = self
            .inner
            .sessions
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1))
            .is_ok();
        if !admitted {
            return Err(EngineError::Overloaded { what: "sessions" });
        }
        Ok(SessionPermit { engine: self.clone(), id: NEXT.fetch_add(1, Ordering::Relaxed) })
    }

    /// The line of an admitted session: its requests are answered in `mailbox`, tagged with its own ids.
    pub fn link(&self, permit: &SessionPermit, mailbox: Arc<dyn AnswerSink>) -> SessionLink {
        SessionLink::new(self.clone(), permit, mailbox)
    }

    /// Sessions admitted now.
    pub fn sessions(&self) -> usize {
        self.inner.sessions.load(Ordering::Acquire)
    }

    pub fn audio(&self) -> &AudioExecutorHandle {
        &self.inner.audio
    }

    pub fn asr(&self) -> &AsrExecutorHandle {
        &self.inner.asr
    }

    /// The fast-path LLM (interactive: the slow path yields to it).
    pub fn fast(&self) -> &LlmExecutorHandle {
        &self.inner.fast
    }

    /// The slow-path LLM, when loaded.
    pub fn slow(&self) -> Option<&LlmExecutorHandle> {
        self.inner.slow.as_ref()
    }

    pub fn tts(&self) -> &TtsExecutorHandle {
        &self.inner.tts
    }

    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// Each model loaded, with its load-and-warm-up time.
    pub fn loaded(&self) -> &[(String, Duration)] {
        &self.inner.loaded
    }

    /// Stops every executor and waits for their threads.
    pub fn shutdown(&self) {
        self.inner.audio.shutdown();
        self.inner.asr.shutdown();
        self.inner.fast.shutdown();
        if let Some(slow) = &self.inner.slow {
            slow.shutdown();
        }
        self.inner.tts.shutdown();
    }
}
