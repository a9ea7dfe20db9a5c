//! The stage benchmarks of `parley-bench engine|llm|asr`: the shared engine under simulated conversations
//! ([`engine`], [`conversation_sim`], [`engine_priority`]), one language model's prompt and decode speed ([`llm`]) and
//! Whisper on one clip ([`asr`]), parley's kernels beside candle's. They run the models in process (no server),
//! on the model store and configuration the `parley` server would use: each subcommand takes the server's
//! `--config`, `--set` and `--log-level` ([`ConfigArgs`]).

pub mod asr;
pub mod conversation_sim;
pub mod engine;
pub mod engine_priority;
pub mod llm;

use std::path::PathBuf;

use clap::Args;
use parley_web::config::{Config, Sources};

/// The configuration flags of the `parley` server, for the model store, engine options and threads a
/// benchmark uses.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, short = 'c', env = "PARLEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Set any configuration key, e.g. --set engine.threads=2 (repeatable; wins over file and env).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Log level: error, warn, info, debug or trace (shorthand for --set log.level=LEVEL).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

impl ConfigArgs {
    /// Loads the configuration the way `parley` does (defaults, file, `PARLEY_*` environment, flags), starts
    /// logging to stderr and applies `engine.threads` to the kernel pool.
    pub fn load(&self) -> anyhow::Result<Config> {
        let mut overrides = self.set.clone();
        if let Some(level) = &self.log_level {
            overrides.push(("log.level".into(), level.clone()));
        }
        let sources = Sources { file: self.config.clone(), env: std::env::vars().collect(), overrides };
        let config = Config::load(&sources)?;
        init_logging(&config);
        if config.engine.threads != 0 && !parley_kernels::parallel::set_threads(config.threads()) {
            tracing::warn!("engine.threads set after the kernel pool started; it keeps its thread count");
        }
        Ok(config)
    }
}

fn init_logging(config: &Config) {
    // ONNX Runtime logs every graph optimisation at info; keep it to warnings unless asked for explicitly.
    let filter = std::env::var("PARLEY_LOG").unwrap_or_else(|_| format!("{},ort=warn", config.log.level));
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let json = config.log.format == parley_web::config::LogFormat::Json;
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}
