//! Voice activity detection: Silero v6 (batched streams) and a segmenter with hysteresis.
