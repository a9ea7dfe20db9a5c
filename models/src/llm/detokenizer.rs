//! Streaming detokenisation that never splits a UTF-8 character.
//!
//! Byte-level BPE tokenizers (SmolLM2, Qwen) spread one multi-byte character (an emoji, often an accented
//! letter) over several tokens; decoding a prefix of them yields U+FFFD. SentencePiece-style decoders also
//! change a token's text depending on its left neighbour (leading spaces). So text is produced by decoding a
//! short window of recent tokens twice — without and with the new ones — and emitting the difference only
//! once the window decodes to complete characters. This is the scheme of text-generation-inference's
//! `decode_token`.

/// Decodes token ids to text (implemented for `tokenizers::Tokenizer`; tests use small fakes).
pub trait TokenDecoder {
    /// The text of `ids`, skipping special tokens; incomplete UTF-8 becomes U+FFFD.
    fn decode_ids(&self, ids: &[u32]) -> Result<String, String>;
}

impl TokenDecoder for tokenizers::Tokenizer {
    fn decode_ids(&self, ids: &[u32]) -> Result<String, String> {
        self.decode(ids, true).map_err(|e| e.to_string())
    }
}

/// Turns a stream of token ids into a stream of text pieces made of whole characters.
#[derive(Debug, Clone, Default)]
pub struct IncrementalDetokenizer {
    ids: Vec<u32>,
    /// Start of the window decoded for context.
    prefix_offset: usize,
    /// End of the tokens whose text was already emitted.
    read_offset: usize,
}

impl IncrementalDetokenizer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one token and returns the text that became complete (often empty while a character is split).
    pub fn push(&mut self, decoder: &dyn TokenDecoder, id: u32) -> Result<String, String> {
        self.ids.push(id);
        let prefix = decoder.decode_ids(&self.ids[self.prefix_offset..self.read_offset])?;
        let full = decoder.decode_ids(&self.ids[self.prefix_offset..])?;
        if full.len() > prefix.len()
            && !full.ends_with(char::REPLACEMENT_CHARACTER)
            && let Some(new) = full.strip_prefix(prefix.as_str())
        {
            let new = new.to_string();
            self.prefix_offset = self.read_offset;
            self.read_offset = self.ids.len();
            // Keep the window short: only its tail is context for the next token.
            self.compact();
            return Ok(new);
        }
        Ok(String::new())
    }

    /// The text still held back (an incomplete character at the end of the stream decodes lossily).
    pub fn finish(&mut self, decoder: &dyn TokenDecoder) -> Result<String, String> {
        if self.read_offset == self.ids.len() {
            return Ok(String::new());
        }
        let prefix = decoder.decode_ids(&self.ids[self.prefix_offset..self.read_offset])?;
        let full = decoder.decode_ids(&self.ids[self.prefix_offset..])?;
        self.prefix_offset = self.read_offset;
        self.read_offset = self.ids.len();
        Ok(match full.strip_prefix(prefix.as_str()) {
            Some(rest) => rest.to_string(),
            None => full,
        })
    }

    /// Forget everything (a new reply starts).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn compact(&mut self) {
        if self.prefix_offset > 0 {
            self.ids.drain(..self.prefix_offset);
            self.read_offset -= self.prefix_offset;
            self.prefix_offset = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A byte-level tokenizer: token id `b` is the byte `b`; ids ≥ 256 are special and skipped.
    struct Bytes;
    impl TokenDecoder for Bytes {
        fn decode_ids(&self, ids: &[u32]) -> Result<String, String> {
            let bytes: Vec<u8> = ids.iter().filter(|&&i| i < 256).map(|&i| i as u8).collect();
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
    }

    fn stream(text: &str) -> Vec<String> {
        let mut d = IncrementalDetokenizer::new();
        let mut pieces: Vec<String> = text.bytes().map(|b| d.push(&Bytes, b as u32).unwrap()).collect();
        pieces.push(d.finish(&Bytes).unwrap());
        pieces
    }

    #[test]
    fn multi_byte_characters_come_out_whole() {
        let text = "Café 😀 naïve — 日本";
        let pieces = stream(text);
        assert_eq!(pieces.concat(), text);
        for p in &pieces {
            assert!(!p.contains(char::REPLACEMENT_CHARACTER), "split character in {pieces:?}");
        }
        // The emoji's four bytes yield nothing, nothing, nothing, then the whole emoji.
        let emoji_at = text.find('😀').unwrap();
        assert_eq!(pieces[emoji_at..emoji_at + 4], ["", "", "", "😀"]);
    }

    #[test]
    fn special_tokens_are_skipped_and_ascii_streams_per_token() {
        let mut d = IncrementalDetokenizer::new();
        assert_eq!(d.push(&Bytes, b'h' as u32).unwrap(), "h");
        assert_eq!(d.push(&Bytes, 300).unwrap(), "");
        assert_eq!(d.push(&Bytes, b'i' as u32).unwrap(), "i");
    }

    #[test]
    fn an_incomplete_character_at_the_end_is_flushed_lossily() {
        let mut d = IncrementalDetokenizer::new();
        assert_eq!(d.push(&Bytes, b'a' as u32).unwrap(), "a");
        assert_eq!(d.push(&Bytes, 0xF0).unwrap(), "");
        assert_eq!(d.finish(&Bytes).unwrap(), "\u{FFFD}");
    }

    /// A SentencePiece-like decoder where a word-initial marker turns into a space except at the start.
    struct Pieces(Vec<&'static str>);
    impl TokenDecoder for Pieces {
        fn decode_ids(&self, ids: &[u32]) -> Result<String, String> {
            let s: String = ids.iter().map(|&i| self.0[i as usize]).collect::<String>().replace('▁', " ");
            Ok(s.strip_prefix(' ').map(str::to_string).unwrap_or(s))
        }
    }

    #[test]
    fn leading_space_rules_keep_spaces_between_words() {
        let dec = Pieces(vec!["▁Hello", "▁world", "!"]);
        let mut d = IncrementalDetokenizer::new();
        let out: String = [0, 1, 2].iter().map(|&i| d.push(&dec, i).unwrap()).collect();
        assert_eq!(out, "Hello world!");
    }
}
