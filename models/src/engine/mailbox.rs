//! How the engine answers a session: every answer of every executor goes to the session's one bounded
//! mailbox, an [`AnswerSink`], tagged with the session's own request id ([`Tag`]). The session's driver
//! implements the sink (the web crate over a bounded async queue), so this crate stays free of any async
//! runtime, and nothing per request — no thread, task or channel — is created on the session path.
//!
//! **Overload policy of a full mailbox** (the session is not reading fast enough):
//! - VAD answers are per-frame and superseded by the next ones: the sink drops the oldest VAD answer it holds
//!   (and counts it) rather than refuse; an executor never waits for room for one.
//! - Every other answer (end of turn, transcript, LLM text and end, TTS chunk and end, embedding, error) is
//!   never dropped: the sink refuses it with [`Refused::Full`] and the executor keeps it in its [`Outbox`],
//!   in order, retrying each tick; a stream whose answers are held back pauses (TTS synthesises nothing more
//!   for it) or is bounded by its own length (an LLM reply by `max_tokens`).
//! - A sink whose session has gone answers [`Refused::Closed`]; the executor then drops the request.
//!
//! Callers outside a session (the command line, benches, tests) use the per-request receiver APIs of the
//! executors, which wrap a [`ChannelSink`] around one std channel.

use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError};

use super::error::EngineError;
use crate::asr::Transcript;
use crate::llm::FinishReason;
use crate::speaker::SpeakerEmbedding;
use crate::tts::Chunk;
use crate::vad::ChunkProbability;

/// The session's own id for one of its requests (the conversation core's request id).
pub type Tag = u64;

/// Which request of which session: the executors find a request by it (to push text, finish or cancel).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestKey {
    pub session: u64,
    pub tag: Tag,
}

/// The session of requests made outside any session (per-request receiver APIs); admitted sessions are
/// numbered from 1.
pub const NO_SESSION: u64 = 0;

/// One answer of the engine.
#[derive(Debug)]
pub enum Answer {
    /// The speech probabilities of every VAD chunk that became whole (possibly none).
    Vad(Vec<ChunkProbability>),
    /// The probability that the audio ends a finished turn.
    EndOfTurn(f32),
    Transcript(Transcript),
    SpeakerEmbedding(SpeakerEmbedding),
    /// Newly generated reply text (never a split character, never part of a stop string).
    LlmText(String),
    /// The reply is over: why, and how many tokens it took.
    LlmDone {
        reason: FinishReason,
        tokens: usize,
    },
    /// One synthesized clause with its word spans.
    TtsChunk(Chunk),
    /// Everything pushed to the speech stream has been spoken; the number of chunks.
    TtsDone {
        chunks: usize,
    },
    /// The request failed (or was cancelled while it waited).
    Failed(EngineError),
}

impl Answer {
    /// Whether this answer may be dropped under overload (it is superseded by the next ones).
    pub fn is_droppable(&self) -> bool {
        matches!(self, Answer::Vad(_))
    }
}

/// Why a sink did not take an answer.
#[derive(Debug)]
pub enum Refused {
    /// The mailbox is full: the answer comes back to be retried (boxed: the refusal is the rare path).
    Full(Box<Answer>),
    /// The session is gone: drop the request.
    Closed,
}

/// A session's mailbox, as the engine sees it. `deliver` must never block.
pub trait AnswerSink: Send + Sync + 'static {
    fn deliver(&self, tag: Tag, answer: Answer) -> Result<(), Refused>;
}

/// Where one request is answered.
#[derive(Clone)]
pub struct ReplyTo {
    pub key: RequestKey,
    pub sink: Arc<dyn AnswerSink>,
}

impl std::fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReplyTo({}:{})", self.key.session, self.key.tag)
    }
}

impl ReplyTo {
    fn same_sink(&self, other: &ReplyTo) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.sink), Arc::as_ptr(&other.sink))
    }
}

/// What became of an answer given to an [`Outbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// In the mailbox (or, for a droppable answer, dropped by the sink's policy).
    Delivered,
    /// Held back in the outbox until the mailbox has room.
    Held,
    /// The session is gone.
    Closed,
}

/// An executor's answers that a full mailbox refused, kept in order per sink and retried each tick.
#[derive(Default)]
pub struct Outbox {
    held: std::collections::VecDeque<(ReplyTo, Answer)>,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// Delivers `answer`, or holds it behind the answers already held for the same mailbox (answers of one
    /// session keep their order).
    pub fn send(&mut self, to: &ReplyTo, answer: Answer) -> Sent {
        if self.holds_for(to) {
            if answer.is_droppable() {
                return Sent::Delivered;
            }
            self.held.push_back((to.clone(), answer));
            return Sent::Held;
        }
        match to.sink.deliver(to.key.tag, answer) {
            Ok(()) => Sent::Delivered,
            Err(Refused::Full(answer)) if answer.is_droppable() => Sent::Delivered,
            Err(Refused::Full(answer)) => {
                self.held.push_back((to.clone(), *answer));
                Sent::Held
            }
            Err(Refused::Closed) => Sent::Closed,
        }
    }

    /// Whether answers for `to`'s mailbox are held back (its stream should pause).
    pub fn holds_for(&self, to: &ReplyTo) -> bool {
        self.held.iter().any(|(t, _)| t.same_sink(to))
    }

    /// Whether an answer of this very request is held back.
    pub fn holds_request(&self, key: RequestKey) -> bool {
        self.held.iter().any(|(t, _)| t.key == key)
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Retries the held answers in order; a mailbox that refuses again keeps the rest of its answers held.
    /// Returns the requests whose session has gone.
    pub fn retry(&mut self) -> Vec<RequestKey> {
        let mut closed = Vec::new();
        let mut still: std::collections::VecDeque<(ReplyTo, Answer)> = std::collections::VecDeque::new();
        for (to, answer) in self.held.drain(..) {
            if still.iter().any(|(t, _)| t.same_sink(&to)) {
                still.push_back((to, answer));
                continue;
            }
            match to.sink.deliver(to.key.tag, answer) {
                Ok(()) => {}
                Err(Refused::Full(answer)) => still.push_back((to, *answer)),
                Err(Refused::Closed) => closed.push(to.key),
            }
        }
        self.held = still;
        closed
    }
}

/// A sink over one std channel, for the per-request receiver APIs: it maps each answer to the channel's
/// item type (`None`: not for this reader).
pub struct ChannelSink<T> {
    tx: SyncSender<T>,
    map: fn(Answer) -> Option<T>,
}

impl<T: Send + 'static> ChannelSink<T> {
    pub fn reply_to(tx: SyncSender<T>, map: fn(Answer) -> Option<T>, tag: Tag) -> ReplyTo {
        ReplyTo { key: RequestKey { session: NO_SESSION, tag }, sink: Arc::new(Self { tx, map }) }
    }
}

impl<T: Send + 'static> AnswerSink for ChannelSink<T> {
    fn deliver(&self, _tag: Tag, answer: Answer) -> Result<(), Refused> {
        let Some(item) = (self.map)(answer) else { return Ok(()) };
        match self.tx.try_send(item) {
            Ok(()) => Ok(()),
            // The reader is behind: the item is re-made from nothing, so a full per-request channel is the
            // reader's loss (these channels are sized for their whole answer).
            Err(TrySendError::Full(_)) => Err(Refused::Closed),
            Err(TrySendError::Disconnected(_)) => Err(Refused::Closed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A mailbox of `room` answers that records what it took.
    struct Tiny {
        room: Mutex<usize>,
        got: Mutex<Vec<(Tag, String)>>,
        closed: bool,
    }

    impl AnswerSink for Tiny {
        fn deliver(&self, tag: Tag, answer: Answer) -> Result<(), Refused> {
            if self.closed {
                return Err(Refused::Closed);
            }
            let mut room = self.room.lock().unwrap();
            if *room == 0 {
                return Err(Refused::Full(Box::new(answer)));
            }
            *room -= 1;
            let text = match answer {
                Answer::LlmText(t) => t,
                other => format!("{other:?}"),
            };
            self.got.lock().unwrap().push((tag, text));
            Ok(())
        }
    }

    fn reply_to(sink: &Arc<Tiny>, tag: Tag) -> ReplyTo {
        ReplyTo { key: RequestKey { session: 1, tag }, sink: sink.clone() }
    }

    #[test]
    fn a_full_mailbox_holds_answers_in_order_and_drops_only_vad() {
        let sink = Arc::new(Tiny { room: Mutex::new(1), got: Mutex::new(Vec::new()), closed: false });
        let mut outbox = Outbox::new();
        let (a, b) = (reply_to(&sink, 7), reply_to(&sink, 8));
        assert_eq!(outbox.send(&a, Answer::LlmText("one".into())), Sent::Delivered);
        assert_eq!(outbox.send(&a, Answer::LlmText("two".into())), Sent::Held);
        assert_eq!(outbox.send(&b, Answer::Vad(Vec::new())), Sent::Delivered, "VAD is dropped, not held");
        // Another request of the same session queues behind, so the session sees its answers in order.
        assert_eq!(outbox.send(&b, Answer::LlmText("three".into())), Sent::Held);
        assert!(outbox.holds_for(&b) && outbox.holds_request(a.key));
        assert!(outbox.retry().is_empty());
        assert_eq!(sink.got.lock().unwrap().len(), 1, "still full");
        *sink.room.lock().unwrap() = 10;
        assert!(outbox.retry().is_empty());
        assert!(outbox.is_empty());
        let got: Vec<(Tag, String)> = sink.got.lock().unwrap().clone();
        assert_eq!(got, vec![(7, "one".into()), (7, "two".into()), (8, "three".into())]);
    }

    #[test]
    fn a_closed_mailbox_reports_its_requests() {
        let sink = Arc::new(Tiny { room: Mutex::new(0), got: Mutex::new(Vec::new()), closed: true });
        let mut outbox = Outbox::new();
        assert_eq!(outbox.send(&reply_to(&sink, 1), Answer::EndOfTurn(0.9)), Sent::Closed);
        assert!(outbox.is_empty());
    }
}
