//! # parley-web
//!
//! The `parley` server and command line: configuration (TOML + `PARLEY_*` env + flags), the axum HTTP
//! server (WHIP-style signaling at `/v1/sessions`, the browser demo page, `/healthz`, `/metrics`), the
//! per-session drivers that connect a `parley-media` peer to a `parley-pipeline` core, and the `parley`
//! commands over the model store and stage models. It holds no pipeline logic.

pub mod app_state;
pub mod cli;
pub mod config;
pub mod conversation_session;
pub mod echo_session;
pub mod engine_link;
pub mod metrics;
pub mod models_cmd;
pub mod server;
pub mod session_lifecycle;
pub mod session_mailbox;
pub mod sessions;
pub mod signaling;
pub mod stage_cmds;

use clap::Parser;

use cli::{Cli, Command};
use config::{Config, Sources};

/// Entry point shared by the binary and tests: parses arguments, loads config, runs the command.
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> anyhow::Result<i32> {
    let cli = Cli::parse_from(args);
    let mut overrides = cli.set.clone();
    if let Some(level) = &cli.log_level {
        overrides.push(("log.level".into(), level.clone()));
    }
    if let Command::Serve(s) = &cli.command {
        if let Some(h) = &s.host {
            overrides.push(("server.host".into(), h.clone()));
        }
        if let Some(p) = s.port {
            overrides.push(("server.port".into(), p.to_string()));
        }
        if let Some(k) = &s.pipeline {
            overrides.push(("pipeline.kind".into(), k.clone()));
        }
        if let Some(d) = s.echo_delay_ms {
            overrides.push(("pipeline.echo_delay_ms".into(), d.to_string()));
        }
        if let Some(ips) = &s.ice_ips {
            overrides.push(("webrtc.ice_ips".into(), ips.clone()));
        }
    }
    let sources = Sources { file: cli.config.clone(), env: std::env::vars().collect(), overrides };
    let config = Config::load(&sources)?;
    init_logging(&config);
    if config.engine.threads != 0 && !parley_kernels::parallel::set_threads(config.threads()) {
        tracing::warn!("engine.threads set after the kernel pool started; it keeps its thread count");
    }
    match cli.command {
        Command::Serve(_) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(server::serve(config))?;
            Ok(0)
        }
        Command::Models(cmd) => models_cmd::run(&config, cmd),
        Command::Config => {
            print!("{}", config.to_toml());
            Ok(0)
        }
        Command::Vad(args) => stage_cmds::vad::run(&config, args),
        Command::Turn(args) => stage_cmds::turn::run(&config, args),
        Command::Transcribe(args) => stage_cmds::transcribe::run(&config, args),
        Command::Say(args) => stage_cmds::say::run(&config, args),
        Command::Chat(args) => stage_cmds::chat::run(&config, args),
    }
}

fn init_logging(config: &Config) {
    // ONNX Runtime logs every graph optimisation at info; keep it to warnings unless asked for explicitly.
    let filter = std::env::var("PARLEY_LOG").unwrap_or_else(|_| format!("{},ort=warn", config.log.level));
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let json = config.log.format == config::LogFormat::Json;
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
