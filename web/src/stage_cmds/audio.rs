//! Reading the WAV a stage command was given, at the 16 kHz the speech models use.

use std::path::Path;

use anyhow::Context;

/// Reads `path` as 16 kHz mono (any WAV layout; resampled with rubato when needed).
pub fn read_speech_wav(path: &Path) -> anyhow::Result<Vec<f32>> {
    let audio = parley_media::read_wav_at(path, 16_000).with_context(|| format!("reading {}", path.display()))?;
    tracing::debug!(file = %path.display(), seconds = audio.duration_seconds(), "read audio");
    Ok(audio.samples)
}
