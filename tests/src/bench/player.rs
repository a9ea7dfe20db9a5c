//! Plays one scenario into one call and records what the caller saw ([`Timeline`]): each turn's clip, then
//! (when the turn has one) the clip over the reply a set time after the first reply audio arrives, then waits
//! for the conversation to settle (every reply done, nothing heard or said for a while) before the next turn.

use std::time::Duration;

use anyhow::{Context, bail};
use parley_media::{MediaEvent, SentMark};
use tokio::sync::watch;
use tokio::time::Instant;

use super::scenario::{RATE, Scenario};
use super::timeline::{PlayedClip, Timeline};
use crate::caller::Caller;
use crate::voice_turn::REPLY_LEVEL;

/// How long a turn may take to get its first reply audio.
const REPLY_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a turn may take to settle once everything was played.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Quiet (no events, no reply audio, nothing unsent, no reply open) that counts as settled.
const SETTLED_AFTER: Duration = Duration::from_millis(2_000);

/// One call playing scenarios.
pub struct Player<'a> {
    caller: &'a mut Caller,
    marks: watch::Receiver<SentMark>,
    /// Samples pushed so far: the next clip starts there.
    pushed: u64,
    t0: Instant,
    tl: Timeline,
    open_responses: i64,
    last_activity: Instant,
}

impl<'a> Player<'a> {
    pub fn new(caller: &'a mut Caller) -> Self {
        let output = caller.peer.audio_output().clone();
        assert_eq!(output.source_rate(), RATE, "the caller's output runs at the scenarios' rate");
        let marks = output.sent_marks();
        let pushed = output.sent_source_samples();
        let now = Instant::now();
        Self { caller, marks, pushed, t0: now, tl: Timeline::default(), open_responses: 0, last_activity: now }
    }

    fn ms(&self, at: Instant) -> f64 {
        at.saturating_duration_since(self.t0).as_secs_f64() * 1e3
    }

    /// Plays every turn of `scenario`; returns the timeline (also on failure, with the error).
    pub async fn play(mut self, scenario: &Scenario) -> (Timeline, Option<anyhow::Error>) {
        let result = self.play_turns(scenario).await;
        (self.tl, result.err())
    }

    async fn play_turns(&mut self, scenario: &Scenario) -> anyhow::Result<()> {
        for (i, turn) in scenario.turns.iter().enumerate() {
            let created_before = self.tl.events.len();
            self.push(i, false, turn.audio.as_ref().clone()).await?;
            if turn.expect_reply {
                let reply_at = self
                    .pump_until(REPLY_TIMEOUT, |p| p.reply_audio_since(created_before))
                    .await
                    .with_context(|| format!("turn {}: no reply audio within {REPLY_TIMEOUT:?}", i + 1))?;
                if let (Some(o), Some(at)) = (&turn.during_reply, reply_at) {
                    let play_at = self.t0 + Duration::from_secs_f64(at / 1e3 + o.after_reply_audio_ms as f64 / 1e3);
                    self.pump_until_instant(play_at).await?;
                    self.push(i, true, o.audio.as_ref().clone()).await?;
                }
            }
            self.pump_until(SETTLE_TIMEOUT, |p| p.settled().then_some(())).await.with_context(|| {
                format!("turn {}: the conversation did not settle within {SETTLE_TIMEOUT:?}", i + 1)
            })?;
            self.pump_until_instant(Instant::now() + Duration::from_millis(turn.gap_after_ms)).await?;
        }
        Ok(())
    }

    /// The arrival (ms) of the first loud frame after a `response.created` that came after event `since`.
    fn reply_audio_since(&self, since: usize) -> Option<Option<f64>> {
        let created = self.tl.events[since.min(self.tl.events.len())..]
            .iter()
            .find(|(_, e)| e["type"] == "response.created")
            .map(|(t, _)| *t)?;
        if let Some(t) = self.tl.first_loud(created, f64::INFINITY, REPLY_LEVEL) {
            return Some(Some(t));
        }
        // A reply that ended without audio (failed, or cut at once): go on without an overlap.
        self.tl.events[since.min(self.tl.events.len())..]
            .iter()
            .any(|(t, e)| *t >= created && e["type"] == "response.done")
            .then_some(None)
    }

    fn settled(&self) -> bool {
        let output = self.caller.peer.audio_output();
        output.sent_source_samples() >= self.pushed
            && self.open_responses <= 0
            && self.last_activity.elapsed() >= SETTLED_AFTER
    }

    async fn push(&mut self, turn: usize, overlap: bool, samples: Vec<f32>) -> anyhow::Result<()> {
        let len = samples.len() as u64;
        self.tl.clips.push(PlayedClip { turn, overlap, start_sample: self.pushed, len });
        self.pushed += len;
        self.last_activity = Instant::now();
        let output = self.caller.peer.audio_output().clone();
        output.push(samples).await.context("the caller's output closed")?;
        output.finish().await.context("the caller's output closed")?;
        Ok(())
    }

    /// Records until `done` returns a value or `within` passes.
    async fn pump_until<T>(&mut self, within: Duration, done: impl Fn(&Self) -> Option<T>) -> anyhow::Result<T> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(v) = done(self) {
                return Ok(v);
            }
            if Instant::now() >= deadline {
                bail!("timed out");
            }
            self.step(deadline.min(Instant::now() + Duration::from_millis(100))).await?;
        }
    }

    async fn pump_until_instant(&mut self, until: Instant) -> anyhow::Result<()> {
        while Instant::now() < until {
            self.step(until).await?;
        }
        Ok(())
    }

    /// Handles one event, sent mark or tick (whichever comes first, at the latest `until`).
    async fn step(&mut self, until: Instant) -> anyhow::Result<()> {
        tokio::select! {
            changed = self.marks.changed() => {
                changed.context("the caller's output closed")?;
                let mark = *self.marks.borrow_and_update();
                let ms = self.ms(mark.at);
                self.tl.sent.push((mark.source_samples, ms));
            }
            event = self.caller.events.recv() => {
                match event.context("the session ended")? {
                    MediaEvent::Audio { frame, received } => {
                        let n = frame.samples.len().max(1) as f32;
                        let rms = (frame.samples.iter().map(|v| v * v).sum::<f32>() / n).sqrt();
                        if rms > REPLY_LEVEL {
                            self.last_activity = Instant::now();
                        }
                        let ms = self.ms(received);
                        self.tl.received.push((ms, rms));
                    }
                    MediaEvent::Message(text) => {
                        let v: serde_json::Value = serde_json::from_str(&text).context("the server sent an event that is not JSON")?;
                        match v["type"].as_str() {
                            Some("response.created") => self.open_responses += 1,
                            Some("response.done") => self.open_responses -= 1,
                            _ => {}
                        }
                        self.last_activity = Instant::now();
                        let ms = self.ms(Instant::now());
                        self.tl.events.push((ms, v));
                    }
                    MediaEvent::Closed(reason) => bail!("the session closed: {reason:?}"),
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(until) => {}
        }
        Ok(())
    }
}
