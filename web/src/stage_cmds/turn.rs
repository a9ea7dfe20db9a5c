//! `parley turn FILE.wav`: probability that the speaker finished their turn at the end of the clip.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use parley_models::turn::SmartTurn;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct TurnArgs {
    /// WAV file ending where the turn decision is wanted (the last 8 s are used).
    pub file: PathBuf,
}

pub fn run(config: &Config, args: TurnArgs) -> anyhow::Result<i32> {
    let audio = super::audio::read_speech_wav(&args.file)?;
    let store = super::model_store(config);
    let mut turn = SmartTurn::load(&store, config.threads()).context("loading the end-of-turn model")?;
    let started = Instant::now();
    let p = turn.probability(&audio)?;
    tracing::info!(ms = started.elapsed().as_secs_f64() * 1e3, "end-of-turn scored");
    println!("{}", serde_json::json!({"eot_probability": (p as f64 * 1e4).round() / 1e4}));
    Ok(0)
}
