//! Concurrent callers: N sessions started a stagger apart, each playing the scenario set (every scenario in
//! its own call, so histories do not leak between scenarios) once, or over and over until a soak's duration
//! has passed. Network round trips (`GET /healthz`) are sampled before each call.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::ProgressBar;
use parley_media::MediaEvent;
use serde::Serialize;
use tokio::time::Instant;

use super::metrics::{TurnResult, measure};
use super::player::Player;
use super::scenario::Scenario;
use super::summary::{Summary, summarize};
use super::timeline::Timeline;
use crate::caller::Caller;
use crate::http;

/// How to reach the server and how hard to push it.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub base: String,
    pub token: Option<String>,
    /// The callers' WebRTC settings (which local addresses to offer).
    pub peer: parley_media::PeerConfig,
    pub sessions: usize,
    /// Between one caller's start and the next's.
    pub stagger: Duration,
    /// Keep playing the set until this has passed (a soak); once through when `None`.
    pub duration: Option<Duration>,
    /// Keep every scenario's raw timeline in the result (for looking into a surprising number).
    pub keep_timelines: bool,
}

/// One concurrency level's results.
#[derive(Debug, Clone, Serialize)]
pub struct LevelResult {
    pub sessions: usize,
    pub wall_s: f64,
    pub summary: Summary,
    pub turns: Vec<TurnResult>,
    pub rtt_ms: Vec<f64>,
    /// Calls that could not be made or broke, with the reason.
    pub errors: Vec<String>,
    /// With `keep_timelines`: what each call saw.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timelines: Vec<RecordedCall>,
}

/// The raw record of one scenario's call.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedCall {
    pub scenario: String,
    pub session: usize,
    pub timeline: Timeline,
}

/// Checks the server answers at all (a clear error instead of a hang), and times one round trip (ms).
pub async fn preflight(base: &str, token: Option<&str>) -> anyhow::Result<f64> {
    let start = Instant::now();
    let r = http::request_with(base, "GET", "/healthz", None, b"", token)
        .await
        .with_context(|| format!("the server at {base} does not answer"))?;
    if r.status != 200 {
        anyhow::bail!("the server at {base} answered /healthz with HTTP {}: {}", r.status, r.body);
    }
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

/// Runs `options.sessions` callers over `scenarios`; `progress` counts turns.
pub async fn run_level(scenarios: Arc<Vec<Scenario>>, options: &LoadOptions, progress: &ProgressBar) -> LevelResult {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for session in 0..options.sessions {
        let scenarios = scenarios.clone();
        let options = options.clone();
        let progress = progress.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(options.stagger * session as u32).await;
            caller_loop(session, &scenarios, &options, started, &progress).await
        }));
    }
    let (mut turns, mut rtt_ms, mut errors, mut timelines) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for task in tasks {
        match task.await {
            Ok(c) => {
                turns.extend(c.turns);
                rtt_ms.extend(c.rtt);
                errors.extend(c.errors);
                timelines.extend(c.timelines);
            }
            Err(e) => errors.push(format!("a caller task failed: {e}")),
        }
    }
    turns.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    LevelResult {
        sessions: options.sessions,
        wall_s: started.elapsed().as_secs_f64(),
        summary: summarize(&turns, &rtt_ms),
        turns,
        rtt_ms,
        errors,
        timelines,
    }
}

/// What one caller collected.
#[derive(Default)]
struct CallerOutcome {
    turns: Vec<TurnResult>,
    rtt: Vec<f64>,
    errors: Vec<String>,
    timelines: Vec<RecordedCall>,
}

async fn caller_loop(
    session: usize,
    scenarios: &[Scenario],
    options: &LoadOptions,
    started: Instant,
    progress: &ProgressBar,
) -> CallerOutcome {
    let mut out = CallerOutcome::default();
    // Callers start at different scenarios so they do not all play the same clip at once.
    let order = (0..scenarios.len()).cycle().skip(session % scenarios.len().max(1));
    for (played, index) in order.enumerate() {
        let done = match options.duration {
            Some(d) => started.elapsed() >= d,
            None => played >= scenarios.len(),
        };
        if done {
            break;
        }
        let scenario = &scenarios[index];
        if let Ok(ms) = preflight(&options.base, options.token.as_deref()).await {
            out.rtt.push(ms);
        }
        match play_one(scenario, options, session, started).await {
            Ok((results, error, timeline)) => {
                if let Some(e) = error {
                    out.errors.push(format!("session {session}, {}: {e:#}", scenario.name));
                }
                out.turns.extend(results);
                if options.keep_timelines {
                    out.timelines.push(RecordedCall { scenario: scenario.name.clone(), session, timeline });
                }
            }
            Err(e) => {
                out.errors.push(format!("session {session}, {}: {e:#}", scenario.name));
                out.turns.extend(scenario.turns.iter().enumerate().map(|(i, _)| TurnResult {
                    scenario: scenario.name.clone(),
                    kind: scenario.kind.clone(),
                    session,
                    turn: i,
                    at_s: started.elapsed().as_secs_f64(),
                    error: Some(format!("{e:#}")),
                    ..Default::default()
                }));
            }
        }
        progress.inc(scenario.turns.len() as u64);
    }
    out
}

/// One scenario in one call: the turns it measured (with the scenario's error, if it broke midway).
async fn play_one(
    scenario: &Scenario,
    options: &LoadOptions,
    session: usize,
    started: Instant,
) -> anyhow::Result<(Vec<TurnResult>, Option<anyhow::Error>, Timeline)> {
    let mut caller = Caller::connect_with(&options.base, &options.peer, None, options.token.as_deref()).await?;
    caller
        .wait_for("connected", Duration::from_secs(15), |e| matches!(e, MediaEvent::Connected))
        .await
        .context("the WebRTC connection did not come up")?;
    let offset = started.elapsed().as_secs_f64();
    let (timeline, error) = Player::new(&mut caller).play(scenario).await;
    let _ = caller.hang_up().await;
    let mut results = measure(scenario, &timeline, session, offset);
    if let Some(e) = &error {
        for r in results.iter_mut().filter(|r| r.error.is_none() && r.voice_to_voice_ms.is_none()) {
            r.error = Some(format!("{e:#}"));
        }
    }
    Ok((results, error, timeline))
}
