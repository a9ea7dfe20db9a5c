//! Text normalisation: turns written English into the words a speaker would say, word by word.
//!
//! espeak-ng reads digits and symbols itself, but badly for a voice assistant ("$3.50" → "dollar three point
//! five zero"). This module owns the readings of numbers, money, percentages, times, ordinals, years,
//! abbreviations and symbols. It works per whitespace-separated *original word* and keeps that word beside
//! its spoken form ([`SpokenWord`]), so later stages can say which original words a stretch of audio covers —
//! the conversation needs that to cut the assistant's context to what was actually played.
//!
//! Never panics on any input: unknown tokens pass through for espeak-ng to read.

use super::numbers;

/// One original word (whitespace-separated token) and what is said for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpokenWord {
    /// The word as written, punctuation included ("$3.50,").
    pub original: String,
    /// The words to say, with clause punctuation kept at the end ("three dollars and fifty cents,"); may be
    /// empty (a lone quote mark).
    pub spoken: String,
}

/// Punctuation that may trail a word and that espeak-ng / Piper treat as prosody.
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', '"', '\'', ')', ']', '}', '”', '’', '»', '…'];
const LEADING: &[char] = &['"', '\'', '(', '[', '{', '“', '‘', '«'];

/// Abbreviations read as words when written with their period (lowercase key without the final period).
fn abbreviation(core: &str, next: Option<&str>) -> Option<&'static str> {
    let lower = core.to_lowercase();
    let capital_next = next.and_then(|n| n.trim_start_matches(LEADING).chars().next()).is_some_and(char::is_uppercase);
    let digit_next = next.and_then(|n| n.chars().next()).is_some_and(|c| c.is_ascii_digit());
    Some(match lower.as_str() {
        "dr" => "Doctor",
        "mr" => "Mister",
        "mrs" => "Missus",
        "ms" => "Miz",
        "prof" => "Professor",
        "jr" => "Junior",
        "sr" => "Senior",
        "st" if capital_next => "Saint",
        "st" => "Street",
        "ave" => "Avenue",
        "e.g" => "for example",
        "i.e" => "that is",
        "etc" => "et cetera",
        "vs" => "versus",
        "approx" => "approximately",
        "no" if digit_next => "number",
        _ => return None,
    })
}

/// Scale words that may follow a money amount ("$2 million" → "two million dollars").
fn is_scale_word(w: &str) -> bool {
    matches!(w.to_lowercase().trim_end_matches(TRAILING), "thousand" | "million" | "billion" | "trillion")
}

/// Normalises one clause into its words. Joining the `spoken` fields with spaces gives the text for espeak-ng.
pub fn normalize_clause(clause: &str) -> Vec<SpokenWord> {
    let tokens: Vec<&str> = clause.split_whitespace().collect();
    let mut out: Vec<SpokenWord> = Vec::with_capacity(tokens.len());
    // A currency unit waiting for its scale word ("$2 million" → "two" … "million dollars").
    let mut pending_unit: Option<String> = None;
    for (i, token) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).copied();
        let last = i + 1 == tokens.len();
        let mut spoken = normalize_token(token, next, last);
        if let Some(unit) = pending_unit.take() {
            let (core, trail) = split_trailing(&spoken);
            spoken = format!("{core} {unit}{trail}");
        }
        if let Some((amount, unit)) = money_with_scale(token, next) {
            spoken = amount;
            pending_unit = Some(unit);
        }
        out.push(SpokenWord { original: token.to_string(), spoken });
    }
    out
}

/// The spoken text of a whole clause (what espeak-ng reads).
pub fn spoken_text(words: &[SpokenWord]) -> String {
    words.iter().map(|w| w.spoken.as_str()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Convenience for tests and callers that need only the text: normalise and join.
pub fn normalize_text(text: &str) -> String {
    spoken_text(&normalize_clause(text))
}

fn split_trailing(s: &str) -> (&str, &str) {
    let core = s.trim_end_matches(TRAILING);
    (core, &s[core.len()..])
}

/// "$2 million" → ("two", "million dollars") split across two words; None for other tokens.
fn money_with_scale(token: &str, next: Option<&str>) -> Option<(String, String)> {
    let next = next?;
    if !is_scale_word(next) {
        return None;
    }
    let core = token.trim_start_matches(LEADING).trim_end_matches(TRAILING);
    let (unit, amount) = currency_prefix(core)?;
    if !is_number(amount) {
        return None;
    }
    Some((numbers::decimal(&amount.replace(',', "")), unit.plural.to_string()))
}

struct Currency {
    singular: &'static str,
    plural: &'static str,
    cent: &'static str,
    cents: &'static str,
}

fn currency_prefix(core: &str) -> Option<(Currency, &str)> {
    let mut chars = core.chars();
    let first = chars.next()?;
    let unit = match first {
        '$' => Currency { singular: "dollar", plural: "dollars", cent: "cent", cents: "cents" },
        '£' => Currency { singular: "pound", plural: "pounds", cent: "penny", cents: "pence" },
        '€' => Currency { singular: "euro", plural: "euros", cent: "cent", cents: "cents" },
        '¥' => Currency { singular: "yen", plural: "yen", cent: "sen", cents: "sen" },
        _ => return None,
    };
    Some((unit, chars.as_str()))
}

/// Digits with optional thousands commas and an optional decimal part ("1,234.5"), optionally signed.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '−', '+']).unwrap_or(s);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let int_ok = if int.contains(',') {
        let groups: Vec<&str> = int.split(',').collect();
        groups[0].len() <= 3
            && !groups[0].is_empty()
            && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
            && groups[1..].iter().all(|g| g.len() == 3)
    } else {
        int.chars().all(|c| c.is_ascii_digit())
    };
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.chars().all(|c| c.is_ascii_digit()));
    int_ok && frac_ok && (!int.is_empty() || frac.is_some())
}

fn money(unit: &Currency, amount: &str) -> String {
    let clean = amount.replace(',', "");
    let (int, frac) = clean.split_once('.').unwrap_or((&clean, ""));
    let whole = int.trim_start_matches('0');
    let cents: u32 = match frac.len() {
        0 => 0,
        1 => frac.parse::<u32>().unwrap_or(0) * 10,
        _ => frac[..2].parse().unwrap_or(0),
    };
    let main = if whole.is_empty() {
        None
    } else {
        let n = numbers::cardinal(whole);
        Some(format!("{n} {}", if whole == "1" { unit.singular } else { unit.plural }))
    };
    let small = (cents > 0).then(|| {
        format!("{} {}", numbers::cardinal(&cents.to_string()), if cents == 1 { unit.cent } else { unit.cents })
    });
    match (main, small) {
        (Some(m), Some(s)) => format!("{m} and {s}"),
        (Some(m), None) => m,
        (None, Some(s)) => s,
        (None, None) => format!("zero {}", unit.plural),
    }
}

/// "3:30" → "three thirty", "3:00" → "three o'clock", "3:05" → "three oh five"; None if not a time.
fn clock_time(core: &str) -> Option<String> {
    let (h, m) = core.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 || !(h.chars().chain(m.chars()).all(|c| c.is_ascii_digit())) {
        return None;
    }
    let (hour, minute): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if hour > 24 || minute > 59 {
        return None;
    }
    let hour_words = numbers::cardinal(&hour.to_string());
    Some(match minute {
        0 => format!("{hour_words} o'clock"),
        1..=9 => format!("{hour_words} oh {}", numbers::cardinal(&minute.to_string())),
        _ => format!("{hour_words} {}", numbers::cardinal(&minute.to_string())),
    })
}

fn meridiem(core: &str) -> Option<&'static str> {
    match core.to_lowercase().as_str() {
        "am" | "a.m" | "a.m." => Some("A M"),
        "pm" | "p.m" | "p.m." => Some("P M"),
        _ => None,
    }
}

/// Symbols read as words when they stand alone or sit between other characters.
fn symbol_word(c: char) -> Option<&'static str> {
    Some(match c {
        '&' => "and",
        '+' => "plus",
        '=' => "equals",
        '@' => "at",
        '%' => "percent",
        '°' => "degrees",
        _ => return None,
    })
}

/// Normalises one token (with its neighbour for context).
fn normalize_token(token: &str, next: Option<&str>, last: bool) -> String {
    let lead_trimmed = token.trim_start_matches(LEADING);
    let core_end = lead_trimmed.trim_end_matches(TRAILING);
    let mut trail = &lead_trimmed[core_end.len()..];
    let core = core_end;

    // Abbreviation with its period: "Dr." / "e.g." / "etc.,".
    if let Some(rest) = trail.strip_prefix('.')
        && let Some(word) = abbreviation(core, next)
    {
        // Mid-clause the period is the abbreviation's own; at the end it also ends the sentence.
        trail = if last && rest.is_empty() { "." } else { rest };
        return format!("{word}{trail}");
    }
    // "a.m." / "p.m." keep a final period that belongs to them.
    if let Some(m) = meridiem(core).or_else(|| meridiem(&format!("{core}.")).filter(|_| trail.starts_with('.'))) {
        let t = if trail.starts_with('.') && !(last && trail == ".") { &trail[1..] } else { trail };
        return format!("{m}{t}");
    }
    if core.is_empty() {
        // Pure punctuation (a dash, a lone quote) or a lone symbol.
        let symbols: Vec<&str> = token.chars().filter_map(symbol_word).collect();
        return if symbols.is_empty() { String::new() } else { format!("{}{trail}", symbols.join(" ")) };
    }
    let spoken = normalize_core(core, next).unwrap_or_else(|| spell_symbols(core));
    format!("{spoken}{trail}")
}

/// The reading of a token without its surrounding punctuation, or None to leave it to espeak-ng.
fn normalize_core(core: &str, next: Option<&str>) -> Option<String> {
    // Money: "$3.50", "-$5" is rare enough to skip.
    if let Some((unit, amount)) = currency_prefix(core)
        && is_number(amount)
    {
        return Some(money(&unit, amount));
    }
    // Percent: "50%", "-2.5%".
    if let Some(n) = core.strip_suffix('%')
        && is_number(n)
    {
        return Some(format!("{} percent", numbers::decimal(&n.replace(',', ""))));
    }
    // Degrees: "20°", "20°C", "-5°F".
    if let Some((n, scale)) = core.split_once('°')
        && is_number(n)
    {
        let scale = match scale {
            "C" | "c" => " Celsius",
            "F" | "f" => " Fahrenheit",
            _ => "",
        };
        return Some(format!("{} degrees{scale}", numbers::decimal(&n.replace(',', ""))));
    }
    // Times: "3:30", "3:30pm".
    let lower = core.to_lowercase();
    for suffix in ["am", "pm"] {
        if let Some(t) = lower.strip_suffix(suffix)
            && let Some(time) = clock_time(t)
        {
            return Some(format!("{time} {}", meridiem(suffix).unwrap_or_default()));
        }
    }
    if let Some(time) = clock_time(core) {
        return Some(time);
    }
    // Ordinals: "1st", "22nd", "3rd", "4th".
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(n) = lower.strip_suffix(suffix)
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit() || c == ',')
            && n.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            return Some(numbers::ordinal(n));
        }
    }
    // Decades: "1990s" → "nineteen nineties".
    if let Some(n) = lower.strip_suffix('s')
        && n.len() == 4
        && n.ends_with('0')
        && n.chars().all(|c| c.is_ascii_digit())
    {
        let y: u32 = n.parse().ok()?;
        let words = numbers::year(y);
        return Some(match words.strip_suffix('y') {
            Some(stem) => format!("{stem}ies"),
            None => format!("{words}s"),
        });
    }
    // Plain numbers: years, cardinals with commas, decimals, negatives.
    if is_number(core) {
        let plain = core.chars().all(|c| c.is_ascii_digit());
        if plain && core.len() == 4 && !core.starts_with('0') {
            let y: u32 = core.parse().ok()?;
            let before_unit = next.is_some_and(|n| n.trim_end_matches(TRAILING).eq_ignore_ascii_case("percent"));
            if (1100..=2099).contains(&y) && !before_unit {
                return Some(numbers::year(y));
            }
        }
        return Some(numbers::decimal(&core.replace(',', "")));
    }
    // Ranges: "10-20" → "ten to twenty".
    if let Some((a, b)) = core.split_once(['-', '–'])
        && is_number(a)
        && is_number(b)
        && !a.starts_with(['-', '+'])
    {
        return Some(format!("{} to {}", numbers::decimal(&a.replace(',', "")), numbers::decimal(&b.replace(',', ""))));
    }
    None
}

/// Symbols inside a word become spaced words: "R&D" → "R and D", "a+b" → "a plus b".
fn spell_symbols(core: &str) -> String {
    if !core.chars().any(|c| symbol_word(c).is_some()) {
        return core.to_string();
    }
    let mut out = String::with_capacity(core.len() + 8);
    for c in core.chars() {
        match symbol_word(c) {
            Some(w) => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
                out.push_str(w);
                out.push(' ');
            }
            None => out.push(c),
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        normalize_text(s)
    }

    #[test]
    fn numbers_in_text() {
        assert_eq!(n("I have 3 cats."), "I have three cats.");
        assert_eq!(n("It was -5 outside"), "It was minus five outside");
        assert_eq!(n("pi is 3.14"), "pi is three point one four");
        assert_eq!(
            n("1,234,567 people"),
            "one million two hundred and thirty-four thousand five hundred and sixty-seven people"
        );
        assert_eq!(n("in 1999,"), "in nineteen ninety-nine,");
        assert_eq!(n("in the 1990s"), "in the nineteen nineties");
        assert_eq!(n("pages 10-20"), "pages ten to twenty");
        assert_eq!(n("0042"), "forty-two");
    }

    #[test]
    fn ordinals_in_text() {
        assert_eq!(n("the 1st, 2nd, 3rd and 21st"), "the first, second, third and twenty-first");
        assert_eq!(n("on May 4th."), "on May fourth.");
    }

    #[test]
    fn money_and_percent() {
        assert_eq!(n("$3.50"), "three dollars and fifty cents");
        assert_eq!(n("$1"), "one dollar");
        assert_eq!(n("$0.01"), "one cent");
        assert_eq!(n("$1,000."), "one thousand dollars.");
        assert_eq!(n("£2.5"), "two pounds and fifty pence");
        assert_eq!(n("$2 million"), "two million dollars");
        assert_eq!(n("50% off"), "fifty percent off");
        assert_eq!(n("2.5%"), "two point five percent");
    }

    #[test]
    fn times() {
        assert_eq!(n("at 3:30 pm"), "at three thirty P M");
        assert_eq!(n("at 3:30pm."), "at three thirty P M.");
        assert_eq!(n("by 10:05 a.m. today"), "by ten oh five A M today");
        assert_eq!(n("at 7:00"), "at seven o'clock");
    }

    #[test]
    fn abbreviations() {
        assert_eq!(n("Dr. Smith and Mr. Jones"), "Doctor Smith and Mister Jones");
        assert_eq!(n("Mrs. Brown lives on Main St."), "Missus Brown lives on Main Street.");
        assert_eq!(n("St. Louis"), "Saint Louis");
        assert_eq!(n("fruit, e.g. apples, etc."), "fruit, for example apples, et cetera.");
        assert_eq!(n("cats vs. dogs"), "cats versus dogs");
    }

    #[test]
    fn symbols() {
        assert_eq!(n("salt & pepper"), "salt and pepper");
        assert_eq!(n("2 + 2 = 4"), "two plus two equals four");
        assert_eq!(n("R&D"), "R and D");
        assert_eq!(n("me@home"), "me at home");
        assert_eq!(n("20°C"), "twenty degrees Celsius");
        assert_eq!(n("it is 70° outside"), "it is seventy degrees outside");
    }

    #[test]
    fn odd_input_never_panics() {
        for s in ["", "   ", "...", "?!", "😀🎉", "$", "$.", "%", "-", "1.2.3", ":", "99:99", "1st1st", "¥", "£,", "—"]
        {
            let _ = n(s);
        }
        let long = "word 123 ".repeat(2000);
        assert!(n(&long).contains("one hundred and twenty-three"));
    }

    #[test]
    fn original_words_are_kept() {
        let w = normalize_clause("Pay $3.50, now");
        assert_eq!(w.iter().map(|w| w.original.as_str()).collect::<Vec<_>>(), ["Pay", "$3.50,", "now"]);
        assert_eq!(w[1].spoken, "three dollars and fifty cents,");
    }
}
