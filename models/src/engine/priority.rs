//! Priorities *between* executors. Every executor has its own thread, and they share the CPU: a slow-path
//! LLM prefill of a few hundred tokens would otherwise take half the cores for seconds while a session waits
//! for its fast-path first token. Interactive executors (the fast LLM) mark themselves busy on a shared
//! [`PriorityGate`]; background ones (the slow LLM) check it before each step and hold off while it is busy,
//! up to a bounded wait so they are never starved. Their own steps are short (the scheduler's token budget
//! splits long prompts into chunks), so a fast request waits at most one slow step.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// See the module docs. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct PriorityGate {
    busy: Arc<AtomicUsize>,
}

/// What an executor does with the gate.
#[derive(Debug, Clone)]
pub enum GateRole {
    /// Marks the gate busy while it has work.
    Interactive(PriorityGate),
    /// Waits (at most `max_wait` per step) while the gate is busy.
    Background { gate: PriorityGate, max_wait: Duration },
}

impl PriorityGate {
    pub fn new() -> Self {
        Self::default()
    }

    /// Interactive executors holding work.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Acquire)
    }

    /// Marks one interactive executor busy until the guard drops.
    pub fn hold(&self) -> BusyGuard {
        self.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard { busy: self.busy.clone() }
    }

    /// Waits while any interactive executor is busy, at most `max_wait`; returns how long it waited.
    pub fn yield_to_interactive(&self, max_wait: Duration) -> Duration {
        let start = Instant::now();
        while self.busy() > 0 && start.elapsed() < max_wait {
            std::thread::sleep(Duration::from_micros(500));
        }
        start.elapsed()
    }
}

/// Keeps the gate busy while alive.
#[derive(Debug)]
pub struct BusyGuard {
    busy: Arc<AtomicUsize>,
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_work_waits_for_interactive_work_but_not_forever() {
        let gate = PriorityGate::new();
        assert!(gate.yield_to_interactive(Duration::from_secs(1)) < Duration::from_millis(100), "nothing to wait for");
        let guard = gate.hold();
        assert_eq!(gate.busy(), 1);
        let waited = gate.yield_to_interactive(Duration::from_millis(20));
        assert!(waited >= Duration::from_millis(20), "waited {waited:?}");
        let g2 = gate.clone();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(10));
            drop(guard);
        });
        let waited = g2.yield_to_interactive(Duration::from_secs(5));
        release.join().unwrap();
        assert!(waited < Duration::from_secs(1), "released early: waited {waited:?}");
        assert_eq!(gate.busy(), 0);
    }
}
