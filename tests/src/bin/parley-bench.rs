//! `parley-bench`: the latency harness. It talks to any parley server through the public signaling API only
//! (WebRTC callers made by `POST /v1/sessions`), plays scenarios of recorded speech, and measures at the
//! client what a caller experiences: voice-to-voice latency, end-of-turn decisions, barge-in stop time, false
//! barge-ins and cut-offs, SID-Bench's APT, the transcript's word error rate, the server's stages and the
//! network round trip; for 1..N concurrent sessions, a ramp to the highest N holding an SLO, or a soak.
//!
//! Its subcommands `engine`, `llm` and `asr` are the stage benchmarks (`parley_tests::stage_bench`): the models
//! in process, without a server.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use parley_media::PeerConfig;
use parley_tests::bench::load::{LoadOptions, preflight, run_level};
use parley_tests::bench::report::{Drift, Report};
use parley_tests::bench::sources;
use parley_tests::calibrate::calibrate;
use parley_tests::stage_bench;
use parley_tests::voice_turn::quantile;

/// Measures a parley server the way a caller experiences it (WebRTC through `POST /v1/sessions`).
///
/// Examples:
///   parley-bench --url http://127.0.0.1:8080                      # the default scenario set, 1 session
///   parley-bench --sessions 4 --out report/                       # 4 concurrent callers
///   parley-bench --sessions 1,2,3                                 # each level in turn, one report
///   parley-bench --ramp --slo-ms 1500                             # highest N with voice-to-voice P90 ≤ SLO
///   parley-bench --duration 600 --sessions 2                      # a 10-minute soak (latency drift)
///   parley-bench --scenarios sid/en_test_lines.jsonl              # an external SID-Bench set
///   parley-bench --calibrate                                      # against `parley serve --pipeline echo`
///
/// The stage benchmarks, in process on the model store (no server; `parley-bench engine --help` etc.):
///   parley-bench engine --sessions 1,2,4 --mode both              # simulated conversations
///   parley-bench llm --model fast --prompt 32,128 --gen 64        # LLM tok/s, parley vs candle
///   parley-bench asr tests/fixtures/sentence_1.wav                # Whisper's time, parley vs candle
#[derive(Debug, Parser)]
#[command(version, about, long_about, verbatim_doc_comment, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The server.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Bearer token sent with every request (`Authorization: Bearer TOKEN`), for servers behind auth.
    #[arg(long, env = "PARLEY_TOKEN")]
    token: Option<String>,
    /// Scenario set: a .json/.toml scenario file, a SID-Bench .jsonl file, or a folder (scenarios.json,
    /// *.jsonl, or WAV + JSON annotation pairs). Default: the generated set in tests/scenarios/default.
    #[arg(long)]
    scenarios: Option<PathBuf>,
    /// Play only the scenarios whose name or kind contains one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// The question SID-Bench clips are played over (its reply must be long).
    #[arg(long)]
    lead_in: Option<PathBuf>,
    /// Where report.json and report.html go.
    #[arg(long, default_value = "parley-bench-report")]
    out: PathBuf,
    /// Concurrent callers; a list (`1,2,4`) runs each level in turn, in one report.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    sessions: Vec<usize>,
    /// Between one caller's start and the next's, ms.
    #[arg(long, default_value_t = 1_500)]
    stagger_ms: u64,
    /// Run 1, 2, 4, ... sessions (up to --max-sessions) and report the highest that holds --slo-ms.
    #[arg(long)]
    ramp: bool,
    #[arg(long, default_value_t = 8)]
    max_sessions: usize,
    /// The voice-to-voice P90 a concurrency level must hold, ms.
    #[arg(long, default_value_t = 1_500.0)]
    slo_ms: f64,
    /// Soak: keep playing the scenarios for this many seconds and report the latency drift.
    #[arg(long)]
    duration: Option<u64>,
    /// Local addresses the callers offer for WebRTC (ICE); default loopback. Use this machine's address
    /// to test a remote server.
    #[arg(long = "ice-ip", default_value = "127.0.0.1")]
    ice_ips: Vec<IpAddr>,
    /// Keep every call's raw timeline (events, sent marks, received levels) in report.json.
    #[arg(long)]
    timelines: bool,
    /// Calibrate against a server running `--pipeline echo`: play tone bursts and print the echo offset.
    #[arg(long)]
    calibrate: bool,
    /// Calibration rounds.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Longest echo delay to wait for when calibrating, in ms (the server's `--echo-delay-ms` or more).
    #[arg(long, default_value_t = 1_000)]
    max_delay_ms: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the default scenario set with the Piper voice on the model store (`parley models fetch`).
    Generate {
        /// Output folder.
        #[arg(long, default_value = "tests/scenarios/default")]
        out: PathBuf,
    },
    /// Simulated conversations on the shared engine (real models, in process); JSON per run with per-stage
    /// latency percentiles.
    Engine(stage_bench::engine::BenchEngineArgs),
    /// Prompt and decode tokens/s of a language model, parley's kernels against candle's.
    Llm(stage_bench::llm::BenchLlmArgs),
    /// Whisper on one WAV file: total, log-mel, encoder and per-token decode time, parley's decoder against
    /// candle's.
    Asr(stage_bench::asr::BenchAsrArgs),
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    match args.command {
        Some(Command::Generate { out }) => generate(&out),
        Some(Command::Engine(a)) => stage(|| stage_bench::engine::run(&a.config.load()?, a)),
        Some(Command::Llm(a)) => stage(|| stage_bench::llm::run(&a.config.load()?, a)),
        Some(Command::Asr(a)) => stage(|| stage_bench::asr::run(&a.config.load()?, a)),
        None => {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(harness(args))
        }
    }
}

/// Runs a stage benchmark the way `parley` ran its commands: the thread defaults set before any thread starts,
/// and an error printed as `error: ...` with exit status 2.
fn stage(bench: impl FnOnce() -> anyhow::Result<i32>) -> ! {
    parley_models::set_thread_defaults();
    match bench() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

async fn harness(args: Args) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_string();
    if args.calibrate {
        let offsets = calibrate(&base, args.rounds.max(1), Duration::from_millis(args.max_delay_ms))
            .await
            .with_context(|| format!("calibrating against {base}"))?;
        println!("calibration offset p50={:.0} ms p90={:.0} ms", quantile(&offsets, 0.5), quantile(&offsets, 0.9));
        return Ok(());
    }
    let path = args.scenarios.clone().unwrap_or_else(sources::default_set);
    let lead_in = args.lead_in.clone().unwrap_or_else(sources::default_lead_in);
    let mut scenarios = sources::load(&path, &lead_in)?;
    if !args.only.is_empty() {
        scenarios.retain(|s| args.only.iter().any(|o| s.name.contains(o.as_str()) || s.kind.contains(o.as_str())));
        anyhow::ensure!(
            !scenarios.is_empty(),
            "no scenario in {} matches --only {}",
            path.display(),
            args.only.join(",")
        );
    }
    let scenarios = Arc::new(scenarios);
    preflight(&base, args.token.as_deref()).await?;

    let mut options = LoadOptions {
        base: base.clone(),
        token: args.token.clone(),
        peer: PeerConfig { ice_ips: args.ice_ips.clone(), jitter_depth: 1, ..Default::default() },
        sessions: 1,
        stagger: Duration::from_millis(args.stagger_ms),
        duration: args.duration.map(Duration::from_secs),
        keep_timelines: args.timelines,
    };
    let turns_per_pass: usize = scenarios.iter().map(|s| s.turns.len()).sum();
    let levels: Vec<usize> = if args.ramp {
        std::iter::successors(Some(1usize), |n| Some(n * 2)).take_while(|n| *n <= args.max_sessions.max(1)).collect()
    } else {
        args.sessions.iter().map(|n| (*n).max(1)).collect()
    };
    let started_unix_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let mut report = Report {
        server: base.clone(),
        scenarios: path.display().to_string(),
        scenario_count: scenarios.len(),
        started_unix_s,
        slo_ms: args.slo_ms,
        levels: Vec::new(),
        ramp_best_sessions: args.ramp.then_some(0),
        drift: None,
    };
    for n in levels {
        options.sessions = n;
        let progress = match options.duration {
            Some(d) => ProgressBar::new(d.as_secs())
                .with_style(style("{spinner} {msg} {elapsed_precise} [{wide_bar}] {pos}/{len} s")?),
            None => ProgressBar::new((turns_per_pass * n) as u64)
                .with_style(style("{msg} [{wide_bar}] {pos}/{len} turns ({eta} left)")?),
        };
        progress.set_message(format!("{n} session(s)"));
        let ticker = options.duration.map(|_| {
            let p = progress.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    p.inc(1);
                }
            })
        });
        let level = run_level(
            scenarios.clone(),
            &options,
            &if ticker.is_some() { ProgressBar::hidden() } else { progress.clone() },
        )
        .await;
        if let Some(t) = ticker {
            t.abort();
        }
        progress.finish_and_clear();
        let p90 = level.summary.latency.get("voice_to_voice_ms").map(|s| s.p90);
        eprintln!(
            "{n} session(s): voice-to-voice P90 {}",
            p90.map_or_else(|| "not measured".to_string(), |p| format!("{p:.0} ms"))
        );
        let holds = p90.is_some_and(|p| p <= args.slo_ms);
        if options.duration.is_some() {
            report.drift = Some(Drift::of(&level));
        }
        report.levels.push(level);
        if args.ramp {
            if !holds {
                break;
            }
            report.ramp_best_sessions = Some(n);
        }
    }
    report.write(&args.out).with_context(|| format!("writing the report to {}", args.out.display()))?;
    print!("{}", report.text());
    println!("\nreports: {}/report.json, {}/report.html", args.out.display(), args.out.display());
    let measured = report.levels.iter().any(|l| l.summary.latency.contains_key("voice_to_voice_ms"));
    if !measured {
        anyhow::bail!("no turn was measured (see the errors above); is the server running the conversation pipeline?");
    }
    Ok(())
}

fn style(template: &str) -> anyhow::Result<ProgressStyle> {
    Ok(ProgressStyle::with_template(template)?.progress_chars("=> "))
}

fn generate(out: &std::path::Path) -> anyhow::Result<()> {
    use parley_models::store::{Manifest, ModelStore};
    // A user's command, not a test: an incomplete store is an error here, never a skip or a CI panic.
    let store = ModelStore::new(ModelStore::default_root(), Manifest::default_cpu());
    anyhow::ensure!(
        store.is_complete(),
        "the model store at {} is incomplete: run `parley models fetch` first (the generator speaks with Piper)",
        store.root().display()
    );
    let engine =
        parley_models::engine::EngineHandle::start(&store, Default::default()).context("starting the engine")?;
    let set = parley_tests::bench::generate::generate(&engine, out)?;
    let turns: usize = set.scenarios.iter().map(|s| s.turns.len()).sum();
    println!("wrote {} scenarios ({turns} turns) to {}", set.scenarios.len(), out.join("scenarios.json").display());
    Ok(())
}
