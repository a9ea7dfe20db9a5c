//! Text to speech: normalisation, clause splitting, espeak-ng phonemes, the Piper voice, streaming synthesis.
