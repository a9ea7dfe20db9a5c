//! `parley-bench`: the latency harness. It talks to any parley server through the public signaling API only.
//! So far: `--calibrate` against `parley serve --pipeline echo --echo-delay-ms D`, which must print an offset
//! of D plus the transport's cost.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use parley_tests::calibrate::calibrate;
use parley_tests::voice_turn::quantile;

/// Measures a parley server the way a caller experiences it (WebRTC through `POST /v1/sessions`).
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: String,
    /// Calibrate against a server running `--pipeline echo`: play tone bursts and print the echo offset.
    #[arg(long)]
    calibrate: bool,
    /// Calibration rounds.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Longest echo delay to wait for, in ms (the server's `--echo-delay-ms` or more).
    #[arg(long, default_value_t = 1_000)]
    max_delay_ms: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.calibrate {
        anyhow::bail!("nothing to do: only --calibrate is implemented so far");
    }
    let base = args.url.trim_end_matches('/').to_string();
    let offsets = calibrate(&base, args.rounds.max(1), Duration::from_millis(args.max_delay_ms))
        .await
        .with_context(|| format!("calibrating against {base}"))?;
    println!("calibration offset p50={:.0} ms p90={:.0} ms", quantile(&offsets, 0.5), quantile(&offsets, 0.9));
    Ok(())
}
