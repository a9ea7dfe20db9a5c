//! Numbers as English words: cardinals, ordinals, years, decimals and digit strings.
//!
//! Owns only the arithmetic of spelling numbers; deciding *which* reading a token gets (a year, money, a time)
//! is [`super::normalize`]'s job. Everything works on digit strings so that arbitrarily long input never
//! overflows: beyond the largest named scale the digits are read one by one.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];
const SCALES: [&str; 7] = ["", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion"];

/// 0..=99 in words, hyphenating compound tens ("twenty-one").
fn below_hundred(n: u32) -> String {
    match n {
        0..=19 => ONES[n as usize].to_string(),
        _ if n.is_multiple_of(10) => TENS[(n / 10) as usize].to_string(),
        _ => format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize]),
    }
}

/// 1..=999 in words ("three hundred five" is read "three hundred and five", the common spoken form).
fn below_thousand(n: u32) -> String {
    let (h, rest) = (n / 100, n % 100);
    match (h, rest) {
        (0, r) => below_hundred(r),
        (h, 0) => format!("{} hundred", ONES[h as usize]),
        (h, r) => format!("{} hundred and {}", ONES[h as usize], below_hundred(r)),
    }
}

/// Each digit as a word: "007" → "zero zero seven".
pub fn digits(s: &str) -> String {
    s.chars().filter_map(|c| c.to_digit(10)).map(|d| ONES[d as usize]).collect::<Vec<_>>().join(" ")
}

/// A non-negative integer given as ASCII digits (commas and leading zeros allowed) in words.
pub fn cardinal(s: &str) -> String {
    let clean: String = s.chars().filter(char::is_ascii_digit).collect();
    let trimmed = clean.trim_start_matches('0');
    if trimmed.is_empty() {
        return "zero".to_string();
    }
    if trimmed.len() > 3 * SCALES.len() {
        return digits(trimmed);
    }
    // Groups of three from the right.
    let bytes = trimmed.as_bytes();
    let mut groups = Vec::new();
    let mut end = bytes.len();
    while end > 0 {
        let start = end.saturating_sub(3);
        let value: u32 = trimmed[start..end].parse().unwrap_or(0);
        groups.push(value);
        end = start;
    }
    let mut parts = Vec::new();
    for (scale, &value) in groups.iter().enumerate().rev() {
        if value == 0 {
            continue;
        }
        let words = below_thousand(value);
        parts.push(if scale == 0 { words } else { format!("{words} {}", SCALES[scale]) });
    }
    parts.join(" ")
}

/// A number with an optional sign and decimal part: "-3.25" → "minus three point two five".
pub fn decimal(s: &str) -> String {
    let (sign, body) = match s.strip_prefix(['-', '−']) {
        Some(rest) => ("minus ", rest),
        None => ("", s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let int_words = if int.is_empty() { "zero".to_string() } else { cardinal(int) };
    match frac {
        Some(f) if !f.is_empty() => format!("{sign}{int_words} point {}", digits(f)),
        _ => format!("{sign}{int_words}"),
    }
}

/// The ordinal of a non-negative integer: "21" → "twenty-first".
pub fn ordinal(s: &str) -> String {
    let words = cardinal(s);
    // Only the last word changes: "one hundred and twenty-one" → "... twenty-first".
    let split = words.rfind([' ', '-']).map(|i| i + 1).unwrap_or(0);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// A four-digit year the way people say it: 1999 → "nineteen ninety-nine", 2005 → "two thousand five",
/// 1900 → "nineteen hundred", 2010 → "twenty ten".
pub fn year(y: u32) -> String {
    let (hi, lo) = (y / 100, y % 100);
    if !(1000..=9999).contains(&y) {
        return cardinal(&y.to_string());
    }
    if hi % 10 == 0 && lo < 10 {
        // 2000..2009, 1000..1009: "two thousand five"
        return if lo == 0 {
            format!("{} thousand", ONES[(hi / 10) as usize])
        } else {
            format!("{} thousand {}", ONES[(hi / 10) as usize], ONES[lo as usize])
        };
    }
    match lo {
        0 => format!("{} hundred", below_hundred(hi)),
        1..=9 => format!("{} oh {}", below_hundred(hi), ONES[lo as usize]),
        _ => format!("{} {}", below_hundred(hi), below_hundred(lo)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        assert_eq!(cardinal("0"), "zero");
        assert_eq!(cardinal("7"), "seven");
        assert_eq!(cardinal("21"), "twenty-one");
        assert_eq!(cardinal("100"), "one hundred");
        assert_eq!(cardinal("105"), "one hundred and five");
        assert_eq!(
            cardinal("1,234,567"),
            "one million two hundred and thirty-four thousand five hundred and sixty-seven"
        );
        assert_eq!(cardinal("1000000"), "one million");
        assert_eq!(cardinal("007"), "seven");
        // Too long for named scales: digit by digit, never a panic.
        assert_eq!(cardinal(&"1".repeat(30)).split(' ').count(), 30);
    }

    #[test]
    fn decimals_and_negatives() {
        assert_eq!(decimal("3.14"), "three point one four");
        assert_eq!(decimal("-5"), "minus five");
        assert_eq!(decimal("-0.5"), "minus zero point five");
        assert_eq!(decimal(".5"), "zero point five");
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal("1"), "first");
        assert_eq!(ordinal("2"), "second");
        assert_eq!(ordinal("3"), "third");
        assert_eq!(ordinal("4"), "fourth");
        assert_eq!(ordinal("12"), "twelfth");
        assert_eq!(ordinal("20"), "twentieth");
        assert_eq!(ordinal("21"), "twenty-first");
        assert_eq!(ordinal("100"), "one hundredth");
        assert_eq!(ordinal("122"), "one hundred and twenty-second");
    }

    #[test]
    fn years() {
        assert_eq!(year(1999), "nineteen ninety-nine");
        assert_eq!(year(1900), "nineteen hundred");
        assert_eq!(year(2000), "two thousand");
        assert_eq!(year(2005), "two thousand five");
        assert_eq!(year(2010), "twenty ten");
        assert_eq!(year(2024), "twenty twenty-four");
        assert_eq!(year(1905), "nineteen oh five");
    }
}
