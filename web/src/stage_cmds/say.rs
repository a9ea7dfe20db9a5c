//! `parley say`: speak text with the Piper voice into a WAV file, clause by clause as the server would.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use parley_models::tts::PiperVoice;

use crate::config::Config;

/// Speak text with the Piper voice (espeak-ng phonemes) into a 16-bit mono WAV file.
///
/// Prints to stderr the time to the first chunk of audio, the real-time factor (synthesis time / audio duration)
/// and the number of chunks (one per clause). Needs the model store (`parley models fetch`) and the
/// `espeak-ng` program (`apt install espeak-ng`).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  parley say \"It costs $3.50, see you at 3:30 pm.\" -o reply.wav\n  \
                        echo \"Hello there.\" | parley say - -o hello.wav --json")]
pub struct SayArgs {
    /// The text to speak; `-` reads it from stdin.
    #[arg(value_name = "TEXT")]
    pub text: String,
    /// Where to write the WAV file (the voice's sample rate, 22050 Hz for the default voice).
    #[arg(long, short = 'o', value_name = "OUT.wav")]
    pub output: PathBuf,
    /// Print one JSON line per chunk to stdout: its text, start/end ms and each word with its estimated ms span.
    #[arg(long)]
    pub json: bool,
    /// No random variation (noise scales 0): the same text always gives the same audio.
    #[arg(long)]
    pub deterministic: bool,
    /// Speaking slowness: 1.0 is the voice's own rate, 1.2 is 20% slower. Default: the voice's config.
    #[arg(long, value_name = "SCALE")]
    pub length_scale: Option<f32>,
}

pub fn run(config: &Config, args: SayArgs) -> anyhow::Result<i32> {
    let text = if args.text == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        args.text.clone()
    };
    if let Some(scale) = args.length_scale
        && !(scale.is_finite() && scale > 0.0 && scale <= 10.0)
    {
        anyhow::bail!("--length-scale must be between 0 and 10, got {scale}");
    }

    let store = crate::stage_cmds::model_store(config);
    let load_started = Instant::now();
    let mut voice = PiperVoice::load(&store, config.threads())?;
    let mut scales = voice.scales();
    if args.deterministic {
        scales = scales.deterministic();
    }
    if let Some(length) = args.length_scale {
        scales.length_scale = length;
    }
    voice.set_scales(scales);
    let load_ms = load_started.elapsed().as_secs_f64() * 1000.0;

    let started = Instant::now();
    let mut first_chunk_ms = None;
    let mut samples = Vec::new();
    let mut chunks = 0;
    let rate = voice.sample_rate();
    for chunk in voice.chunks(&text)? {
        let chunk = chunk?;
        first_chunk_ms.get_or_insert(started.elapsed().as_secs_f64() * 1000.0);
        chunks += 1;
        if args.json {
            let words: Vec<_> = chunk
                .words
                .iter()
                .map(|w| serde_json::json!({"word": w.word, "start_ms": round(w.start_ms(rate)), "end_ms": round(w.end_ms(rate))}))
                .collect();
            let line = serde_json::json!({
                "index": chunk.index,
                "text": chunk.text,
                "phonemes": chunk.phonemes,
                "start_ms": round(chunk.start_ms()),
                "end_ms": round(chunk.end_ms()),
                "words": words,
            });
            println!("{line}");
        }
        samples.extend_from_slice(&chunk.samples);
    }
    let total_ms = started.elapsed().as_secs_f64() * 1000.0;
    parley_media::write_wav(&args.output, rate, &samples)?;

    let audio_ms = samples.len() as f64 * 1000.0 / rate as f64;
    let rtf = if audio_ms > 0.0 { total_ms / audio_ms } else { 0.0 };
    eprintln!(
        "{}: {:.2} s of audio at {rate} Hz in {chunks} chunk(s); first chunk after {:.0} ms; total {:.0} ms; \
         real-time factor {rtf:.3}; voice loaded in {load_ms:.0} ms; {} thread(s)",
        args.output.display(),
        audio_ms / 1000.0,
        first_chunk_ms.unwrap_or(0.0),
        total_ms,
        config.threads(),
    );
    Ok(0)
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}
