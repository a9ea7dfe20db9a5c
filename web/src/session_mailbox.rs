//! A session's one mailbox for the engine's answers: the engine's executors deliver into it from their
//! threads ([`AnswerSink`], never blocking), and the session's driver awaits them in order. Bounded, with the
//! engine's overload policy ([`parley_models::engine::mailbox`]): when full, a VAD answer replaces the oldest
//! VAD answer still waiting (counted in `parley_mailbox_vad_dropped_total`), and any other answer is refused
//! so that its executor holds it back (nothing but VAD is ever dropped). Dropping the mailbox closes it: the
//! engine then stops working for the session.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use parley_models::engine::{Answer, AnswerSink, Refused, Tag};
use tokio::sync::Notify;

/// Answers waiting at most, by default (about 20 s of VAD answers, or several whole replies).
pub const MAILBOX_CAPACITY: usize = 1024;

/// The receiving side (see the module docs).
pub struct SessionMailbox {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    arrived: Notify,
    capacity: usize,
}

#[derive(Default)]
struct State {
    answers: VecDeque<(Tag, Answer)>,
    closed: bool,
    vad_dropped: u64,
}

impl SessionMailbox {
    /// A mailbox of `capacity` answers and the sink the engine delivers into.
    pub fn new(capacity: usize) -> (Self, Arc<dyn AnswerSink>) {
        let shared =
            Arc::new(Shared { state: Mutex::new(State::default()), arrived: Notify::new(), capacity: capacity.max(1) });
        (Self { shared: shared.clone() }, shared)
    }

    /// The next answer, in the order delivered.
    pub async fn recv(&self) -> (Tag, Answer) {
        loop {
            if let Some(answer) = self.lock().answers.pop_front() {
                return answer;
            }
            // A delivery between the check and here leaves a permit: no wake-up is lost.
            self.shared.arrived.notified().await;
        }
    }

    /// VAD answers dropped because the session was not reading.
    pub fn vad_dropped(&self) -> u64 {
        self.lock().vad_dropped
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SessionMailbox {
    fn drop(&mut self) {
        let mut state = self.lock();
        state.closed = true;
        state.answers.clear();
    }
}

impl AnswerSink for Shared {
    fn deliver(&self, tag: Tag, answer: Answer) -> Result<(), Refused> {
        {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.closed {
                return Err(Refused::Closed);
            }
            if state.answers.len() >= self.capacity {
                if !answer.is_droppable() {
                    return Err(Refused::Full(Box::new(answer)));
                }
                state.vad_dropped += 1;
                metrics::counter!("parley_mailbox_vad_dropped_total").increment(1);
                match state.answers.iter().position(|(_, a)| a.is_droppable()) {
                    Some(oldest) => {
                        state.answers.remove(oldest);
                    }
                    None => return Ok(()),
                }
            }
            state.answers.push_back((tag, answer));
        }
        self.arrived.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_models::vad::ChunkProbability;

    fn vad(p: f32) -> Answer {
        Answer::Vad(vec![ChunkProbability { start_sample: 0, probability: p }])
    }

    #[tokio::test]
    async fn a_full_mailbox_drops_the_oldest_vad_and_refuses_the_rest() {
        let (mailbox, sink) = SessionMailbox::new(2);
        sink.deliver(0, vad(0.1)).unwrap();
        sink.deliver(5, Answer::EndOfTurn(0.9)).unwrap();
        // Full: a new VAD answer replaces the oldest one; an end-of-turn answer is refused, not lost.
        sink.deliver(0, vad(0.2)).unwrap();
        assert!(
            matches!(sink.deliver(6, Answer::EndOfTurn(0.1)), Err(Refused::Full(a)) if matches!(*a, Answer::EndOfTurn(_)))
        );
        assert_eq!(mailbox.vad_dropped(), 1);
        assert!(matches!(mailbox.recv().await, (5, Answer::EndOfTurn(_))));
        match mailbox.recv().await {
            (0, Answer::Vad(chunks)) => assert_eq!(chunks[0].probability, 0.2),
            other => panic!("{other:?}"),
        }
        drop(mailbox);
        assert!(matches!(sink.deliver(0, vad(0.3)), Err(Refused::Closed)));
    }

    #[tokio::test]
    async fn a_waiting_reader_wakes_on_delivery() {
        let (mailbox, sink) = SessionMailbox::new(4);
        let reader = tokio::spawn(async move { mailbox.recv().await.0 });
        tokio::task::yield_now().await;
        std::thread::spawn(move || sink.deliver(9, Answer::EndOfTurn(0.5)).unwrap()).join().unwrap();
        assert_eq!(reader.await.unwrap(), 9);
    }
}
