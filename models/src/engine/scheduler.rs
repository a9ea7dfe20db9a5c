//! The LLM executor's scheduling state, as a plain struct with time as a parameter (no clocks, no threads).
//!
//! Each step of the executor advances every admitted sequence: sequences that have finished their prompt decode
//! one token; sequences still in their prompt get a chunk of it, under a per-step token budget, so a long
//! prompt never stalls other sessions' tokens by more than the budget (Dynamic SplitFuse). Requests wait in
//! order of priority class, then deadline; beyond the waiting-queue capacity a new request is refused with
//! [`Admission::Overloaded`] at once instead of queueing forever. Cancelling frees the slot for the next step.

use std::cmp::Ordering;

/// Identifies one request for the life of the engine.
pub type RequestId = u64;

/// Priority classes, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Per-frame work that must keep up with audio (VAD).
    RealTime,
    /// The fast path a user is waiting on (first words of a reply).
    Interactive,
    /// The slow path continuing a reply.
    Slow,
    /// Anything that can wait.
    Background,
}

/// Scheduler limits.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// Sequences advanced together in one step (batch slots).
    pub max_running: usize,
    /// Tokens (decode + prompt chunks) computed in one step.
    pub token_budget: usize,
    /// Requests allowed to wait for a slot; more are refused.
    pub max_waiting: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self { max_running: 8, token_budget: 64, max_waiting: 32 }
    }
}

/// The answer to a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// It has a batch slot and runs from the next step.
    Running,
    /// It waits for a slot.
    Waiting,
    /// Capacity is exhausted; the caller gets a typed error now.
    Overloaded,
}

/// What one request does in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Feed prompt tokens `[start, start + len)`; `last` when this chunk completes the prompt (its logits give
    /// the first generated token).
    Prefill { start: usize, len: usize, last: bool },
    /// Feed the previously generated token.
    Decode,
}

#[derive(Debug, Clone)]
struct Request {
    id: RequestId,
    priority: Priority,
    deadline_us: u64,
    prompt_len: usize,
    prefilled: usize,
    arrived: u64,
}

impl Request {
    fn order(&self, other: &Self) -> Ordering {
        (self.priority, self.deadline_us, self.arrived).cmp(&(other.priority, other.deadline_us, other.arrived))
    }
}

/// Scheduling state of one LLM executor.
#[derive(Debug, Clone)]
pub struct LlmScheduler {
    config: SchedulerConfig,
    running: Vec<Request>,
    waiting: Vec<Request>,
    arrivals: u64,
}

impl LlmScheduler {
    pub fn new(config: SchedulerConfig) -> Self {
        assert!(config.max_running > 0 && config.token_budget > 0, "invalid {config:?}");
        Self { config, running: Vec::new(), waiting: Vec::new(), arrivals: 0 }
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Offers a request with `prompt_len` tokens still to feed (after any cached prefix).
    pub fn submit(&mut self, id: RequestId, priority: Priority, deadline_us: u64, prompt_len: usize) -> Admission {
        let request =
            Request { id, priority, deadline_us, prompt_len: prompt_len.max(1), prefilled: 0, arrived: self.arrivals };
        self.arrivals += 1;
        if self.running.len() < self.config.max_running && self.waiting.is_empty() {
            self.running.push(request);
            return Admission::Running;
        }
        if self.waiting.len() >= self.config.max_waiting {
            return Admission::Overloaded;
        }
        let at = self.waiting.partition_point(|w| w.order(&request) != Ordering::Greater);
        self.waiting.insert(at, request);
        self.promote();
        if self.running.iter().any(|r| r.id == id) { Admission::Running } else { Admission::Waiting }
    }

    /// Removes a request wherever it is; true if it was known. Its slot is free for the next step.
    pub fn cancel(&mut self, id: RequestId) -> bool {
        let before = self.running.len() + self.waiting.len();
        self.running.retain(|r| r.id != id);
        self.waiting.retain(|r| r.id != id);
        let removed = self.running.len() + self.waiting.len() < before;
        self.promote();
        removed
    }

    /// A request finished (end of text, stop string, max tokens): same as cancel.
    pub fn finish(&mut self, id: RequestId) -> bool {
        self.cancel(id)
    }

    pub fn running(&self) -> usize {
        self.running.len()
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// The work of the next step: every decoding request gets one token, then prompt chunks in order of
    /// priority and deadline fill the rest of the token budget. Advances the prompt positions it hands out.
    pub fn plan(&mut self) -> Vec<(RequestId, Work)> {
        let mut plan = Vec::with_capacity(self.running.len());
        let mut budget = self.config.token_budget;
        for r in &self.running {
            if r.prefilled >= r.prompt_len {
                plan.push((r.id, Work::Decode));
                budget = budget.saturating_sub(1);
            }
        }
        let mut prefilling: Vec<usize> =
            (0..self.running.len()).filter(|&i| self.running[i].prefilled < self.running[i].prompt_len).collect();
        prefilling.sort_by(|&a, &b| self.running[a].order(&self.running[b]));
        for i in prefilling {
            if budget == 0 {
                break;
            }
            let r = &mut self.running[i];
            let len = budget.min(r.prompt_len - r.prefilled);
            let start = r.prefilled;
            r.prefilled += len;
            budget -= len;
            plan.push((r.id, Work::Prefill { start, len, last: r.prefilled == r.prompt_len }));
        }
        plan
    }

    fn promote(&mut self) {
        while self.running.len() < self.config.max_running && !self.waiting.is_empty() {
            self.running.push(self.waiting.remove(0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_running: usize, token_budget: usize, max_waiting: usize) -> SchedulerConfig {
        SchedulerConfig { max_running, token_budget, max_waiting }
    }

    #[test]
    fn decodes_ride_with_budgeted_prompt_chunks() {
        let mut s = LlmScheduler::new(config(4, 10, 4));
        assert_eq!(s.submit(1, Priority::Interactive, 100, 3), Admission::Running);
        assert_eq!(s.plan(), [(1, Work::Prefill { start: 0, len: 3, last: true })]);
        // A long prompt arrives: it is fed 9 tokens per step while request 1 decodes alongside.
        assert_eq!(s.submit(2, Priority::Slow, 100, 25), Admission::Running);
        assert_eq!(s.plan(), [(1, Work::Decode), (2, Work::Prefill { start: 0, len: 9, last: false })]);
        assert_eq!(s.plan(), [(1, Work::Decode), (2, Work::Prefill { start: 9, len: 9, last: false })]);
        assert_eq!(s.plan(), [(1, Work::Decode), (2, Work::Prefill { start: 18, len: 7, last: true })]);
        assert_eq!(s.plan(), [(1, Work::Decode), (2, Work::Decode)]);
    }

    #[test]
    fn prompt_chunks_go_by_class_then_deadline() {
        let mut s = LlmScheduler::new(config(4, 8, 4));
        s.submit(1, Priority::Slow, 10, 8);
        s.submit(2, Priority::Interactive, 50, 8);
        s.submit(3, Priority::Interactive, 20, 8);
        assert_eq!(s.plan(), [(3, Work::Prefill { start: 0, len: 8, last: true })]);
        assert_eq!(s.plan(), [(3, Work::Decode), (2, Work::Prefill { start: 0, len: 7, last: false })]);
    }

    #[test]
    fn waiting_requests_are_ordered_and_overload_is_refused() {
        let mut s = LlmScheduler::new(config(1, 8, 2));
        assert_eq!(s.submit(1, Priority::Slow, 0, 4), Admission::Running);
        assert_eq!(s.submit(2, Priority::Background, 0, 4), Admission::Waiting);
        assert_eq!(s.submit(3, Priority::Interactive, 99, 4), Admission::Waiting);
        assert_eq!(s.submit(4, Priority::Interactive, 0, 4), Admission::Overloaded);
        assert_eq!((s.running(), s.waiting()), (1, 2));
        // When the slot frees, the interactive request goes first.
        assert!(s.finish(1));
        assert_eq!(s.plan(), [(3, Work::Prefill { start: 0, len: 4, last: true })]);
    }

    #[test]
    fn cancelling_frees_the_slot_for_the_next_step() {
        let mut s = LlmScheduler::new(config(2, 16, 4));
        s.submit(1, Priority::Interactive, 0, 2);
        s.submit(2, Priority::Interactive, 0, 2);
        s.submit(3, Priority::Interactive, 0, 2);
        s.plan();
        assert!(s.cancel(1));
        assert!(!s.cancel(1), "already gone");
        let plan = s.plan();
        assert!(plan.iter().all(|(id, _)| *id != 1));
        assert!(plan.contains(&(3, Work::Prefill { start: 0, len: 2, last: true })));
        assert!(s.cancel(3) && s.cancel(2));
        assert!(s.is_idle() && s.plan().is_empty());
    }

    #[test]
    fn the_budget_is_never_exceeded() {
        let mut s = LlmScheduler::new(config(8, 12, 8));
        for id in 0..8 {
            s.submit(id, Priority::Interactive, id * 7 % 5, 5 + id as usize * 3);
        }
        for _ in 0..20 {
            let plan = s.plan();
            let tokens: usize = plan
                .iter()
                .map(|(_, w)| match w {
                    Work::Decode => 1,
                    Work::Prefill { len, .. } => *len,
                })
                .sum();
            assert!(tokens <= 12, "{plan:?}");
        }
        assert_eq!(s.plan().len(), 8, "all eight decode once prompts are in");
    }
}
