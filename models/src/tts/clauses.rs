//! Clause splitting, for whole texts and for text that arrives a few characters at a time from an LLM.
//!
//! A clause is the unit of synthesis: short enough that its audio is ready quickly, long enough to carry natural
//! prosody. Clauses end at `.`, `!`, `?`, `;`, `:`, `…` and line breaks, and at commas once the clause is long
//! ([`MIN_WORDS_BEFORE_COMMA`]); a very long run without punctuation is cut at a word boundary
//! ([`MAX_WORDS`]). Periods of abbreviations ("Dr.", "e.g.") and inside numbers ("3.50", "3:30") never split.
//!
//! Each boundary decision looks only at the text since the previous boundary and at most one word ahead, and is
//! made only once the characters it depends on have arrived. So pushing text in any pieces gives exactly the
//! clauses of pushing it whole — [`ClauseSplitter`] relies on that, and the tests check it.

/// A comma ends a clause only when the clause already has this many words (short phrases keep their flow).
pub const MIN_WORDS_BEFORE_COMMA: usize = 6;
/// A clause with no punctuation is cut after this many words.
pub const MAX_WORDS: usize = 40;
/// A single "word" longer than this (no spaces at all) is cut here, in characters.
pub const MAX_CHARS: usize = 400;

const TERMINATORS: &[char] = &['.', '!', '?', ';', ':', ',', '…'];
/// Characters that may follow a terminator and still belong to its clause (closing quotes, more punctuation).
const CLOSERS: &[char] = &['.', '!', '?', ';', ':', ',', '…', '"', '\'', ')', ']', '}', '”', '’', '»'];

/// Words whose period is their own, never a sentence end.
const ABBREVIATIONS: &[&str] = &[
    "dr", "mr", "mrs", "ms", "prof", "jr", "sr", "st", "vs", "e.g", "i.e", "approx", "no", "mt", "ft", "ave", "a.m",
    "p.m",
];

/// Splits a whole text into clauses (trimmed, never empty).
pub fn split_clauses(text: &str) -> Vec<String> {
    let mut splitter = ClauseSplitter::default();
    let mut clauses = splitter.push(text);
    clauses.extend(splitter.finish());
    clauses
}

/// Incremental clause splitter: [`push`](Self::push) text as it arrives, get each clause once it is complete,
/// [`finish`](Self::finish) at the end of the text for the rest.
#[derive(Debug, Default, Clone)]
pub struct ClauseSplitter {
    pending: String,
}

impl ClauseSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds text and returns the clauses it completed, in order.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.pending.push_str(text);
        let mut out = Vec::new();
        while let Some(end) = find_boundary(&self.pending) {
            let clause = self.pending[..end].trim().to_string();
            self.pending.drain(..end);
            if has_content(&clause) {
                out.push(clause);
            }
        }
        out
    }

    /// Ends the text: the remainder, if it has anything to say, is the last clause.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.pending);
        let rest = rest.trim();
        has_content(rest).then(|| rest.to_string())
    }

    /// Text received but not yet part of a complete clause.
    pub fn pending(&self) -> &str {
        &self.pending
    }
}

/// Whether a clause has anything but whitespace (punctuation-only clauses are kept: the caller decides).
fn has_content(s: &str) -> bool {
    !s.trim().is_empty()
}

/// Is the word ending at a period an abbreviation or an initial ("J.", "U.S.")?
fn is_abbreviation(word: &str) -> bool {
    let w = word.trim_start_matches(['"', '\'', '(', '[', '“', '‘']).trim_end_matches('.').to_lowercase();
    ABBREVIATIONS.contains(&w.as_str()) || (w.chars().count() == 1 && w.chars().all(char::is_alphabetic))
}

/// Byte offset where the first complete clause of `text` ends, or None if no clause is complete yet.
fn find_boundary(text: &str) -> Option<usize> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut words = 0;
    let mut word_start: Option<usize> = None;
    let mut seen_content = false;
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if pos >= MAX_CHARS && i > 0 {
            // A huge run without a usable boundary: cut here, at a char boundary.
            return Some(pos);
        }
        if c.is_whitespace() {
            if word_start.take().is_some() {
                words += 1;
            }
            if c == '\n' && seen_content {
                return Some(pos);
            }
            if words >= MAX_WORDS {
                return Some(pos);
            }
            i += 1;
            continue;
        }
        seen_content = true;
        let start = *word_start.get_or_insert(pos);
        if !TERMINATORS.contains(&c) {
            i += 1;
            continue;
        }
        // A run of terminators and closers, which must be followed by whitespace to end a clause.
        let mut j = i + 1;
        while j < chars.len() && CLOSERS.contains(&chars[j].1) {
            j += 1;
        }
        if j == chars.len() {
            return None; // undecided until the next character arrives
        }
        if !chars[j].1.is_whitespace() {
            i = j; // "3.50", "3:30", "e.g.x" — inside a word
            continue;
        }
        let end = chars[j].0;
        let word = &text[start..end];
        let run: String = chars[i..j].iter().map(|(_, c)| *c).collect();
        let strong = run.contains(['!', '?', ';', ':', '…']) || run.contains("..");
        let boundary = if strong {
            true
        } else if run.starts_with('.') {
            if is_abbreviation(word) {
                // "Dr. Smith" never splits; "U.S. Then" / "etc. The" split before a capital.
                let w = word.trim_end_matches(CLOSERS).to_lowercase();
                let dotted_or_etc = w == "etc" || w.contains('.');
                if dotted_or_etc || w.chars().count() == 1 {
                    match next_visible(&chars, j) {
                        None => return None,
                        Some(n) => dotted_or_etc && n.is_uppercase(),
                    }
                } else {
                    false
                }
            } else {
                true
            }
        } else {
            // Comma.
            words + 1 >= MIN_WORDS_BEFORE_COMMA
        };
        if boundary {
            return Some(end);
        }
        i = j;
    }
    None
}

/// The next non-whitespace character from index `from`, if it has arrived.
fn next_visible(chars: &[(usize, char)], from: usize) -> Option<char> {
    chars[from..].iter().map(|(_, c)| *c).find(|c| !c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_and_strong_punctuation() {
        assert_eq!(
            split_clauses("Hello there. How are you? Great! First; second: third"),
            ["Hello there.", "How are you?", "Great!", "First;", "second:", "third"]
        );
    }

    #[test]
    fn abbreviations_and_decimals_do_not_split() {
        assert_eq!(
            split_clauses("Dr. Smith paid $3.50 at 3:30 pm. Then he left."),
            ["Dr. Smith paid $3.50 at 3:30 pm.", "Then he left."]
        );
        assert_eq!(split_clauses("Fruit, e.g. apples. Done"), ["Fruit, e.g. apples.", "Done"]);
        assert_eq!(split_clauses("J. R. R. Tolkien wrote it."), ["J. R. R. Tolkien wrote it."]);
        assert_eq!(split_clauses("Apples, pears, etc. The end."), ["Apples, pears, etc.", "The end."]);
        assert_eq!(split_clauses("He said \"hi.\" Then left."), ["He said \"hi.\"", "Then left."]);
    }

    #[test]
    fn commas_split_only_long_clauses() {
        assert_eq!(split_clauses("Yes, I think so."), ["Yes, I think so."]);
        assert_eq!(
            split_clauses("When the weather is nice in the spring, we go for long walks."),
            ["When the weather is nice in the spring,", "we go for long walks."]
        );
    }

    #[test]
    fn long_runs_are_cut() {
        let text = "word ".repeat(100);
        let clauses = split_clauses(&text);
        assert_eq!(clauses.len(), 3);
        assert!(clauses.iter().all(|c| c.split_whitespace().count() <= MAX_WORDS));
        let blob = "a".repeat(1000);
        let clauses = split_clauses(&blob);
        assert_eq!(clauses.concat(), blob);
    }

    #[test]
    fn odd_input() {
        assert!(split_clauses("").is_empty());
        assert!(split_clauses("   \n ").is_empty());
        assert_eq!(split_clauses("..."), ["..."]);
        assert_eq!(split_clauses("😀 hi! 🎉"), ["😀 hi!", "🎉"]);
        assert_eq!(split_clauses("one\ntwo"), ["one", "two"]);
    }

    #[test]
    fn incremental_equals_whole() {
        let text = "Dr. Smith paid $3.50 at 3:30 pm. Then, after a long and tiring day at work, he left! \
                    Did he? Yes; e.g. apples, pears, etc. The 1st of May, 1999... Done";
        let whole = split_clauses(text);
        for step in [1, 2, 3, 5, 7, 13] {
            let mut s = ClauseSplitter::new();
            let mut got = Vec::new();
            let chars: Vec<char> = text.chars().collect();
            for piece in chars.chunks(step) {
                got.extend(s.push(&piece.iter().collect::<String>()));
            }
            got.extend(s.finish());
            assert_eq!(got, whole, "pieces of {step} chars");
        }
    }

    #[test]
    fn clause_waits_for_the_next_character() {
        let mut s = ClauseSplitter::new();
        assert!(s.push("It costs 3.").is_empty(), "could be 3.50");
        assert!(s.push("50").is_empty());
        assert_eq!(s.push(" dollars. Bye"), ["It costs 3.50 dollars."]);
        assert_eq!(s.finish().as_deref(), Some("Bye"));
    }
}
