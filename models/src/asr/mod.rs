//! Speech recognition: Whisper tiny.en in candle, offline and streaming.
