//! IPA phonemes from the `espeak-ng` program, in the form Piper voices were trained on.
//!
//! espeak-ng is GPL-3, so parley runs the *program* as a child process and never links `libespeak-ng`; the
//! project stays MIT OR Apache-2.0. One process per clause (about 12 ms): `espeak-ng --stdin` buffers until end
//! of input, so a long-lived process would not stream. [`Phonemizer::spawn`] starts the process and returns at
//! once; the caller collects the result later with [`PendingPhonemes::wait`], which lets the stream phonemise
//! clause N+1 while clause N is being synthesised.
//!
//! `espeak-ng -q --ipa -v VOICE` prints one line per espeak clause with words separated by spaces and stress
//! marks (ˈ ˌ) and length marks (ː) inline — the same IPA piper-phonemize gets from the library with
//! `espeakPHONEMES_IPA`. The library also reports each clause's punctuation, which Piper appends to the
//! phonemes (`wˈɜːld, hˈaʊ ɑːɹ juː?`); the program drops it, so [`attach_punctuation`] puts it back from the
//! input text.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::TtsError;

/// Punctuation Piper keeps as phonemes at the end of an espeak clause.
const CLAUSE_PUNCTUATION: &[char] = &['.', ',', ';', ':', '!', '?'];

/// Runs `espeak-ng` for a voice. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Phonemizer {
    program: PathBuf,
    voice: String,
}

/// A clause's phonemes: the Piper-style string and the phoneme count of each espeak word, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phonemes {
    /// Words separated by spaces, clause punctuation attached: `həlˈoʊ wˈɜːld, hˈaʊ ɑːɹ juː?`.
    pub text: String,
    /// Characters (phonemes, stress and length marks) of each word espeak printed.
    pub word_lengths: Vec<usize>,
}

impl Phonemizer {
    /// `espeak-ng` from `PATH` with an espeak voice name such as `en-us`.
    pub fn new(voice: impl Into<String>) -> Self {
        Self { program: PathBuf::from("espeak-ng"), voice: voice.into() }
    }

    /// Uses a specific program (tests, unusual installs).
    pub fn with_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    pub fn voice(&self) -> &str {
        &self.voice
    }

    /// Checks that the program runs and knows the voice; the error says how to install it.
    pub fn check(&self) -> Result<(), TtsError> {
        self.phonemize("test").map(|_| ())
    }

    /// Starts phonemising `text` in a child process and returns without waiting.
    pub fn spawn(&self, text: &str) -> Result<PendingPhonemes, TtsError> {
        let mut child = Command::new(&self.program)
            .args(["-q", "--ipa", "-v", &self.voice])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => TtsError::EspeakMissing { program: self.program.display().to_string() },
                _ => TtsError::Espeak { text: text.to_string(), message: e.to_string() },
            })?;
        // Clauses are short (a few hundred bytes), far below a pipe's buffer, so this write never blocks.
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let written = stdin.write_all(text.as_bytes()).and_then(|_| stdin.write_all(b"\n"));
        drop(stdin);
        let pending = PendingPhonemes { child: Some(child), text: text.to_string() };
        written.map_err(|e| TtsError::Espeak { text: text.to_string(), message: format!("writing stdin: {e}") })?;
        Ok(pending)
    }

    /// Phonemises `text` and waits for the result.
    pub fn phonemize(&self, text: &str) -> Result<Phonemes, TtsError> {
        self.spawn(text)?.wait()
    }
}

/// An `espeak-ng` process at work on one clause. Dropping it kills the process.
#[derive(Debug)]
pub struct PendingPhonemes {
    child: Option<Child>,
    text: String,
}

impl PendingPhonemes {
    /// Waits for the process and returns the clause's phonemes.
    pub fn wait(mut self) -> Result<Phonemes, TtsError> {
        let text = std::mem::take(&mut self.text);
        let err = |message: String| TtsError::Espeak { text: text.clone(), message };
        // On an early return the process is killed and reaped by `Drop`.
        let child = self.child.as_mut().ok_or_else(|| err("the process was already collected".into()))?;
        let mut stdout = String::new();
        let mut stderr = String::new();
        if let Some(mut out) = child.stdout.take() {
            out.read_to_string(&mut stdout).map_err(|e| err(format!("reading output: {e}")))?;
        }
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        let status = child.wait().map_err(|e| err(e.to_string()))?;
        self.child = None;
        if !status.success() {
            return Err(err(format!("{status}: {}", stderr.trim())));
        }
        Ok(attach_punctuation(&stdout, &text))
    }
}

impl Drop for PendingPhonemes {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The punctuation that ends each espeak clause in `text`: a run of punctuation followed by whitespace or the end.
fn clause_punctuation(text: &str) -> Vec<Option<char>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if CLAUSE_PUNCTUATION.contains(&chars[i]) || chars[i] == '…' {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !chars[i].is_alphanumeric() {
                i += 1;
            }
            if i == chars.len() || chars[i].is_whitespace() {
                let run = &chars[start..i];
                // "?!" reads as a question; "..." as a full stop.
                let mark = ['?', '!', '.', ';', ':', ',']
                    .into_iter()
                    .find(|m| run.contains(m))
                    .or_else(|| run.contains(&'…').then_some('.'));
                out.push(mark);
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Joins espeak's output lines Piper's way, with each clause's punctuation from the input text.
pub fn attach_punctuation(ipa: &str, text: &str) -> Phonemes {
    let lines: Vec<Vec<&str>> =
        ipa.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).filter(|w| !w.is_empty()).collect();
    let marks = clause_punctuation(text);
    // One mark per line when espeak split where the text has punctuation; otherwise only the final mark is sure.
    let per_line: Vec<Option<char>> = if marks.len() == lines.len() {
        marks
    } else {
        let last = text.trim_end().chars().last().filter(|c| CLAUSE_PUNCTUATION.contains(c));
        (0..lines.len()).map(|i| if i + 1 == lines.len() { last } else { None }).collect()
    };
    let mut out = Phonemes::default();
    for (words, mark) in lines.iter().zip(per_line) {
        if !out.text.is_empty() && !out.text.ends_with(' ') {
            out.text.push(' ');
        }
        out.text.push_str(&words.join(" "));
        if let Some(m) = mark {
            out.text.push(m);
            // piper-phonemize writes ", " / "; " / ": " (the clause goes on) but "." / "?" / "!" (a sentence ends).
            if matches!(m, ',' | ';' | ':') {
                out.text.push(' ');
            }
        }
        out.word_lengths.extend(words.iter().map(|w| w.chars().count()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_goes_back_on_each_clause() {
        let p = attach_punctuation("həlˈoʊ wˈɜːld\nhˈaʊ ɑːɹ juː\n", "Hello world, how are you?");
        assert_eq!(p.text, "həlˈoʊ wˈɜːld, hˈaʊ ɑːɹ juː?");
        assert_eq!(attach_punctuation("aɪ θˈɪŋk sˈoʊ\n", "I think so;").text, "aɪ θˈɪŋk sˈoʊ; ");
        assert_eq!(p.word_lengths, [6, 6, 4, 3, 3]);
    }

    #[test]
    fn decimals_are_not_clause_punctuation() {
        assert_eq!(clause_punctuation("3.5 and 3:30, ok?!"), [Some(','), Some('?')]);
        assert_eq!(clause_punctuation("wait... \"what?\""), [Some('.'), Some('?')]);
    }

    #[test]
    fn mismatched_lines_keep_only_the_final_mark() {
        let p = attach_punctuation("ɐ\nb\n", "a b.");
        assert_eq!(p.text, "ɐ b.");
        assert_eq!(attach_punctuation("", "...").text, "");
    }
}
