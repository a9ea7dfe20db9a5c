//! The LLM executor: one thread that owns a loaded model, every session's sequence (KV cache kept between
//! turns for prefix reuse, least recently used dropped beyond a limit) and the [`LlmScheduler`]. Each step it
//! advances every admitted request together in one batched forward pass — decode tokens and budgeted prompt
//! chunks side by side — and streams text to each request's mailbox ([`ReplyTo`]; a full mailbox holds the
//! text back in order, bounded by the request's `max_tokens`). Sessions talk to it through a cloneable
//! [`LlmExecutorHandle`]; model compute never runs on the caller's thread or an async runtime.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::error::EngineError;
use super::executor_thread::ExecutorThread;
use super::mailbox::{Answer, ChannelSink, NO_SESSION, Outbox, ReplyTo, RequestKey, Sent};
use super::metrics;
use super::priority::{BusyGuard, GateRole};
use super::scheduler::{Admission, LlmScheduler, Priority, RequestId, SchedulerConfig, Work};
use crate::llm::{
    ChatMessage, FinishReason, IncrementalDetokenizer, LlmError, LlmModel, LlmSequence, Sampler, SamplingParams,
    StopMatcher,
};

/// One generation request from a session.
#[derive(Debug, Clone)]
pub struct LlmRequest {
    pub session: u64,
    pub messages: Vec<ChatMessage>,
    pub sampling: SamplingParams,
    pub max_tokens: usize,
    pub stop: Vec<String>,
    pub priority: Priority,
    /// When the first token is wanted, from submission.
    pub deadline: Duration,
}

/// What a request's stream carries.
#[derive(Debug)]
pub enum LlmEvent {
    /// Newly generated text (never a split character, never part of a stop string).
    Text(String),
    /// The end: why, and how many tokens were generated — or the error.
    Done(Result<(FinishReason, usize), EngineError>),
}

/// Executor limits.
#[derive(Debug, Clone)]
pub struct LlmExecutorConfig {
    pub scheduler: SchedulerConfig,
    /// Sessions whose KV cache is kept between turns.
    pub cached_sessions: usize,
    /// Bytes of KV cache kept for sessions between turns; beyond it the least recently used are dropped.
    pub cached_kv_bytes: usize,
    /// Commands waiting for the executor.
    pub command_queue: usize,
    /// Events buffered per request; a request whose reader falls this far behind is cancelled.
    pub event_buffer: usize,
    /// How this executor shares the CPU with the others (fast path marks itself busy, slow path yields).
    pub gate: Option<GateRole>,
}

impl Default for LlmExecutorConfig {
    fn default() -> Self {
        Self {
            scheduler: SchedulerConfig::default(),
            cached_sessions: 64,
            cached_kv_bytes: 1 << 30,
            command_queue: 256,
            event_buffer: 1024,
            gate: None,
        }
    }
}

enum Command {
    Generate { id: RequestId, request: LlmRequest, reply: ReplyTo },
    Cancel(RequestKey),
    Shutdown,
}

/// What an LLM executor has cached and reused (for tests, the bench and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LlmExecutorStats {
    /// Sessions whose KV cache is kept between turns, and its bytes.
    pub cached_sessions: usize,
    pub cached_kv_bytes: usize,
    /// Prompt tokens not recomputed thanks to a kept cache.
    pub reused_prompt_tokens: u64,
    /// Kept caches dropped for the count or memory budget.
    pub evicted: u64,
}

/// A cloneable handle to an LLM executor thread.
#[derive(Clone)]
pub struct LlmExecutorHandle {
    thread: ExecutorThread<Command>,
    stats: Arc<std::sync::Mutex<LlmExecutorStats>>,
    next_id: Arc<std::sync::atomic::AtomicU64>,
    event_buffer: usize,
}

impl std::fmt::Debug for LlmExecutorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LlmExecutorHandle")
    }
}

impl LlmExecutorHandle {
    /// Starts the executor thread for `model`.
    pub fn spawn(model: Arc<LlmModel>, config: LlmExecutorConfig) -> Self {
        let event_buffer = config.event_buffer;
        let stats = Arc::new(std::sync::Mutex::new(LlmExecutorStats::default()));
        let shared = stats.clone();
        let (name, capacity) = (format!("llm-{}", model.id()), config.command_queue);
        // Background (slow-path) work runs at a lower OS priority than everything else.
        let nice = if matches!(config.gate, Some(GateRole::Background { .. })) { 5 } else { 0 };
        let thread = ExecutorThread::spawn_with_nice(name, "LLM command queue", capacity, nice, move |rx| {
            Executor::new(model, config, shared).run(rx)
        });
        Self { thread, stats, next_id: Arc::new(std::sync::atomic::AtomicU64::new(1)), event_buffer }
    }

    /// Submits a request; its text and its end arrive on the returned bounded stream. Dropping the receiver
    /// cancels the request.
    pub fn generate(&self, request: LlmRequest) -> Result<(RequestId, Receiver<LlmEvent>), EngineError> {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (events, rx) = mpsc::sync_channel(self.event_buffer);
        let map = |a| match a {
            Answer::LlmText(t) => Some(LlmEvent::Text(t)),
            Answer::LlmDone { reason, tokens } => Some(LlmEvent::Done(Ok((reason, tokens)))),
            Answer::Failed(e) => Some(LlmEvent::Done(Err(e))),
            _ => None,
        };
        let reply = ChannelSink::reply_to(events, map, id);
        self.thread.try_send(Command::Generate { id, request, reply })?;
        Ok((id, rx))
    }

    /// Submits a request answered in `reply`'s mailbox ([`Answer::LlmText`] pieces, then [`Answer::LlmDone`]
    /// or [`Answer::Failed`]).
    pub fn generate_to(&self, request: LlmRequest, reply: ReplyTo) -> Result<(), EngineError> {
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.thread.try_send(Command::Generate { id, request, reply })
    }

    /// Cancels a request; its slot and batch place are free from the next step.
    pub fn cancel(&self, id: RequestId) {
        self.cancel_key(RequestKey { session: NO_SESSION, tag: id });
    }

    /// [`cancel`](Self::cancel) of a session's request.
    pub fn cancel_key(&self, key: RequestKey) {
        self.thread.send(Command::Cancel(key));
    }

    pub fn stats(&self) -> LlmExecutorStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Stops the executor and waits for its thread.
    pub fn shutdown(&self) {
        self.thread.shutdown(Command::Shutdown);
    }
}

struct Active {
    session: u64,
    seq: LlmSequence,
    prompt: Vec<u32>,
    last: u32,
    sampler: Sampler,
    detok: IncrementalDetokenizer,
    stops: StopMatcher,
    generated: usize,
    max_tokens: usize,
    reply: ReplyTo,
    submitted: Instant,
    deadline: Duration,
    started: bool,
}

struct Executor {
    model: Arc<LlmModel>,
    config: LlmExecutorConfig,
    scheduler: LlmScheduler,
    active: HashMap<RequestId, Active>,
    /// Sequences of sessions between turns, with when each was last used.
    idle: HashMap<u64, (LlmSequence, Instant)>,
    started: Instant,
    /// Held while an interactive executor has work.
    busy: Option<BusyGuard>,
    stats: Arc<std::sync::Mutex<LlmExecutorStats>>,
    /// Answers a full mailbox refused, retried each step.
    outbox: Outbox,
}

impl Executor {
    fn new(model: Arc<LlmModel>, config: LlmExecutorConfig, stats: Arc<std::sync::Mutex<LlmExecutorStats>>) -> Self {
        let scheduler = LlmScheduler::new(config.scheduler.clone());
        Self {
            model,
            config,
            scheduler,
            active: HashMap::new(),
            idle: HashMap::new(),
            started: Instant::now(),
            busy: None,
            stats,
            outbox: Outbox::new(),
        }
    }

    fn run(mut self, commands: Receiver<Command>) {
        loop {
            for key in self.outbox.retry() {
                self.cancel(key);
            }
            // Block while idle (retrying held answers now and then); otherwise take whatever arrived and step.
            if self.scheduler.is_idle() {
                let wait = if self.outbox.is_empty() { Duration::from_secs(3600) } else { super::OUTBOX_RETRY };
                match commands.recv_timeout(wait) {
                    Ok(c) => {
                        if !self.handle(c) {
                            return;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            while let Ok(c) = commands.try_recv() {
                if !self.handle(c) {
                    return;
                }
            }
            match &self.config.gate {
                Some(GateRole::Interactive(gate)) => {
                    if self.scheduler.is_idle() {
                        self.busy = None;
                    } else if self.busy.is_none() {
                        self.busy = Some(gate.hold());
                    }
                }
                Some(GateRole::Background { gate, max_wait }) if !self.scheduler.is_idle() => {
                    gate.yield_to_interactive(*max_wait);
                }
                _ => {}
            }
            self.step();
            if self.scheduler.is_idle() {
                self.busy = None;
            }
        }
    }

    /// Applies one command; false on shutdown.
    fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Generate { id, request, reply } => self.admit(id, request, reply),
            Command::Cancel(key) => self.cancel(key),
            Command::Shutdown => return false,
        }
        true
    }

    /// Ends the request `key` (if it is still running) as cancelled.
    fn cancel(&mut self, key: RequestKey) {
        let Some((&id, a)) = self.active.iter().find(|(_, a)| a.reply.key == key) else { return };
        let generated = a.generated;
        self.end(id, Ok((FinishReason::Cancelled, generated)))
    }

    fn admit(&mut self, id: RequestId, request: LlmRequest, reply: ReplyTo) {
        let prepared = (|| -> Result<(LlmSequence, Vec<u32>, Sampler), LlmError> {
            let prompt = self.model.encode_chat(&request.messages)?;
            let mut seq = match self.idle.remove(&request.session) {
                Some((seq, _)) => seq,
                None => self.model.new_sequence(),
            };
            // Keep the cached prefix this prompt shares; feed at least one token to have logits.
            let common = seq.tokens().iter().zip(&prompt).take_while(|(a, b)| a == b).count();
            let keep = common.min(prompt.len().saturating_sub(1));
            seq.truncate(&self.model, keep)?;
            if let Ok(mut s) = self.stats.lock() {
                s.reused_prompt_tokens += keep as u64;
            }
            Ok((seq, prompt[keep..].to_vec(), Sampler::new(&request.sampling)?))
        })();
        let (seq, prompt, sampler) = match prepared {
            Ok(p) => p,
            Err(e) => {
                self.outbox.send(&reply, Answer::Failed(Box::new(e).into()));
                return;
            }
        };
        let deadline_us = (self.started.elapsed() + request.deadline).as_micros() as u64;
        if self.scheduler.submit(id, request.priority, deadline_us, prompt.len()) == Admission::Overloaded {
            self.idle.insert(request.session, (seq, Instant::now()));
            self.outbox.send(&reply, Answer::Failed(EngineError::Overloaded { what: "LLM batch slots" }));
            return;
        }
        let active = Active {
            session: request.session,
            seq,
            prompt,
            last: 0,
            sampler,
            detok: IncrementalDetokenizer::new(),
            stops: StopMatcher::new(&request.stop),
            generated: 0,
            max_tokens: request.max_tokens,
            reply,
            submitted: Instant::now(),
            deadline: request.deadline,
            started: false,
        };
        self.active.insert(id, active);
    }

    fn step(&mut self) {
        let plan = self.scheduler.plan();
        if plan.is_empty() {
            return;
        }
        // Pull the planned sequences out of `active` so the batch can borrow them mutably together.
        let mut taken: Vec<(RequestId, Work, Active)> =
            plan.iter().filter_map(|(id, w)| self.active.remove(id).map(|a| (*id, *w, a))).collect();
        let inputs: Vec<Vec<u32>> = taken
            .iter()
            .map(|(_, w, a)| match w {
                Work::Prefill { start, len, .. } => a.prompt[*start..start + len].to_vec(),
                Work::Decode => vec![a.last],
            })
            .collect();
        let model_id = self.model.id().to_string();
        let (mut prefill_tokens, mut decode_tokens) = (0, 0);
        for ((_, work, a), input) in taken.iter_mut().zip(&inputs) {
            if !a.started {
                a.started = true;
                metrics::queue_wait("llm", &model_id, a.submitted.elapsed());
            }
            match work {
                Work::Decode => decode_tokens += input.len(),
                Work::Prefill { .. } => prefill_tokens += input.len(),
            }
        }
        let mut items: Vec<(&mut LlmSequence, &[u32])> =
            taken.iter_mut().zip(&inputs).map(|((_, _, a), t)| (&mut a.seq, t.as_slice())).collect();
        let step_started = Instant::now();
        let result = LlmSequence::feed_batch(&self.model, &mut items);
        drop(items);
        metrics::step("llm", &model_id, step_started.elapsed(), inputs.len());
        metrics::tokens(&model_id, prefill_tokens, decode_tokens);
        let logits = match result {
            Ok(l) => l,
            Err(e) => {
                let message = e.to_string();
                for (id, _, a) in taken {
                    self.active.insert(id, a);
                    self.end(id, Err(EngineError::Llm(Box::new(LlmError::InvalidOption(message.clone())))));
                }
                return;
            }
        };
        for ((id, work, mut a), logits) in taken.into_iter().zip(logits) {
            if matches!(work, Work::Prefill { last: false, .. }) {
                self.active.insert(id, a);
                continue;
            }
            let outcome = self.emit_next(&mut a, &logits);
            self.active.insert(id, a);
            if let Some(outcome) = outcome {
                self.end(id, outcome);
            }
        }
    }

    /// Samples the next token of a request and streams its text; `Some` when the request is over.
    fn emit_next(
        &mut self,
        a: &mut Active,
        logits: &candle_core::Tensor,
    ) -> Option<Result<(FinishReason, usize), EngineError>> {
        let model = self.model.clone();
        let token = match a.sampler.sample(logits) {
            Ok(t) => t,
            Err(source) => {
                let e = LlmError::Compute { model: model.id().into(), what: "sampling", source };
                return Some(Err(Box::new(e).into()));
            }
        };
        a.generated += 1;
        a.last = token;
        if a.generated == 1 {
            metrics::first_token(model.id(), a.submitted.elapsed(), a.deadline);
        }
        if model.stop_token_ids().contains(&token) {
            return Some(Ok((self.flush(a, FinishReason::EndOfText), a.generated)));
        }
        let piece = match a.detok.push(model.tokenizer(), token) {
            Ok(p) => p,
            Err(message) => {
                let what = "decoding generated tokens";
                return Some(Err(Box::new(LlmError::Tokenizer { model: model.id().into(), what, message }).into()));
            }
        };
        let scan = a.stops.push(&piece);
        if !scan.emit.is_empty() && self.outbox.send(&a.reply, Answer::LlmText(scan.emit)) == Sent::Closed {
            return Some(Ok((FinishReason::Cancelled, a.generated)));
        }
        if scan.stopped {
            return Some(Ok((FinishReason::StopString, a.generated)));
        }
        if a.generated >= a.max_tokens {
            return Some(Ok((self.flush(a, FinishReason::MaxTokens), a.generated)));
        }
        None
    }

    /// Releases held-back text at a natural end.
    fn flush(&mut self, a: &mut Active, reason: FinishReason) -> FinishReason {
        let tail = a.detok.finish(self.model.tokenizer()).unwrap_or_default();
        let mut scan = a.stops.push(&tail);
        if !scan.stopped {
            scan.emit.push_str(&a.stops.finish());
        }
        if !scan.emit.is_empty() {
            self.outbox.send(&a.reply, Answer::LlmText(scan.emit));
        }
        if scan.stopped { FinishReason::StopString } else { reason }
    }

    /// Ends a request: frees its slot, keeps its session's cache for the next turn, tells the reader — last,
    /// so that a reader who sees `Done` also sees the cache and the stats it left behind.
    fn end(&mut self, id: RequestId, outcome: Result<(FinishReason, usize), EngineError>) {
        self.scheduler.finish(id);
        if let Some(a) = self.active.remove(&id) {
            self.idle.insert(a.session, (a.seq, Instant::now()));
            self.evict();
            let answer = match outcome {
                Ok((reason, tokens)) => Answer::LlmDone { reason, tokens },
                Err(e) => Answer::Failed(e),
            };
            self.outbox.send(&a.reply, answer);
        }
    }

    /// Drops the least recently used kept caches beyond the count and memory budgets.
    fn evict(&mut self) {
        let mut bytes: usize = self.idle.values().map(|(seq, _)| seq.kv_bytes()).sum();
        let mut evicted = 0;
        while self.idle.len() > self.config.cached_sessions
            || (bytes > self.config.cached_kv_bytes && !self.idle.is_empty())
        {
            let Some(oldest) = self.idle.iter().min_by_key(|(_, (_, t))| *t).map(|(s, _)| *s) else { break };
            if let Some((seq, _)) = self.idle.remove(&oldest) {
                bytes -= seq.kv_bytes();
                evicted += 1;
            }
        }
        metrics::kv_cache(self.model.id(), self.idle.len(), bytes);
        if let Ok(mut s) = self.stats.lock() {
            s.cached_sessions = self.idle.len();
            s.cached_kv_bytes = bytes;
            s.evicted += evicted;
        }
    }
}
