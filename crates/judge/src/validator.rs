//! The default output validator of the problem package format: answers compared token by
//! token, with the format's flags. Implemented here rather than run as a program: it is the
//! hot path of grading, and its output is trusted judge data, not untrusted code.
//!
//! Semantics (the format's, as problemtools implements them):
//! - tokens are separated by whitespace, whose amount is ignored unless
//!   `space_change_sensitive`, when every whitespace character must match;
//! - tokens compare case-insensitively (ASCII) unless `case_sensitive`;
//! - with `float_absolute_tolerance e`, `float_relative_tolerance e` or `float_tolerance e`
//!   (both), an answer token that parses whole as a finite number (integers included) needs a
//!   team token that does too, within the absolute or the relative tolerance; `inf` and `nan`
//!   are not numbers here and compare as text;
//! - missing and trailing tokens are wrong answers.

/// Parsed validator flags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Flags {
    pub case_sensitive: bool,
    pub space_change_sensitive: bool,
    pub float_absolute_tolerance: Option<f64>,
    pub float_relative_tolerance: Option<f64>,
}

impl Flags {
    /// Parses `validator_flags` words. Unknown flags are an error: a package that relies on
    /// a flag we ignore would be graded wrongly.
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Flags, String> {
        let mut flags = Flags::default();
        let mut words = words.iter().map(AsRef::as_ref);
        while let Some(word) = words.next() {
            let mut number = || -> Result<f64, String> {
                words
                    .next()
                    .and_then(finite)
                    .ok_or_else(|| format!("{word} needs a number"))
            };
            match word {
                "case_sensitive" => flags.case_sensitive = true,
                "space_change_sensitive" => flags.space_change_sensitive = true,
                "float_absolute_tolerance" => flags.float_absolute_tolerance = Some(number()?),
                "float_relative_tolerance" => flags.float_relative_tolerance = Some(number()?),
                "float_tolerance" => {
                    let e = number()?;
                    flags.float_absolute_tolerance = Some(e);
                    flags.float_relative_tolerance = Some(e);
                }
                other => return Err(format!("unknown default validator flag {other:?}")),
            }
        }
        Ok(flags)
    }

    fn uses_floats(&self) -> bool {
        self.float_absolute_tolerance.is_some() || self.float_relative_tolerance.is_some()
    }
}

/// A token that parses whole as a finite number.
fn finite(token: &str) -> Option<f64> {
    // Rust also parses "inf", "nan" and "infinity"; the format compares those as text.
    token.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Why an output is wrong: a message for the judges, and the first difference for a hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub message: String,
    /// 1-based line of the team output where the difference is.
    pub line: usize,
}

/// Compares `team` output against the `answer`: `Ok(())` is accepted.
pub fn compare(answer: &[u8], team: &[u8], flags: &Flags) -> Result<(), Mismatch> {
    let mut judge = Cursor::new(answer);
    let mut user = Cursor::new(team);
    loop {
        if flags.space_change_sensitive {
            loop {
                match (judge.peek_space(), user.peek_space()) {
                    (Some(j), Some(u)) if j == u => {
                        judge.advance();
                        user.advance();
                    }
                    (Some(j), u) => {
                        return Err(user.mismatch(format!(
                            "space change: expected {:?}, got {}",
                            j as char,
                            u.map_or("a token or the end".to_owned(), |u| format!(
                                "{:?}",
                                u as char
                            ))
                        )))
                    }
                    (None, Some(u)) => {
                        return Err(user.mismatch(format!(
                            "space change: expected a token, got {:?}",
                            u as char
                        )))
                    }
                    (None, None) => break,
                }
            }
        } else {
            judge.skip_space();
            user.skip_space();
        }
        let Some(expected) = judge.token() else {
            break;
        };
        let Some(got) = user.token() else {
            return Err(user.mismatch(format!(
                "output ended while the answer has more, next {:?}",
                lossy(expected)
            )));
        };
        let expected_number = flags
            .uses_floats()
            .then(|| std::str::from_utf8(expected).ok().and_then(finite))
            .flatten();
        let equal = match expected_number {
            Some(j) => {
                let Some(t) = std::str::from_utf8(got).ok().and_then(finite) else {
                    return Err(user.mismatch(format!(
                        "expected a number like {:?}, got {:?}",
                        lossy(expected),
                        lossy(got)
                    )));
                };
                let diff = (j - t).abs();
                flags.float_absolute_tolerance.is_some_and(|e| diff <= e)
                    || flags
                        .float_relative_tolerance
                        .is_some_and(|e| diff <= e * j.abs())
            }
            None if flags.case_sensitive => expected == got,
            None => expected.eq_ignore_ascii_case(got),
        };
        if !equal {
            let mut message = format!("expected {:?}, got {:?}", lossy(expected), lossy(got));
            if expected_number.is_none() && !flags.case_sensitive {
                message.push_str(&case_blind_difference(expected, got));
            }
            return Err(user.mismatch(message));
        }
    }
    user.skip_space();
    match user.token() {
        Some(extra) => Err(user.mismatch(format!("trailing output {:?}", lossy(extra)))),
        None => Ok(()),
    }
}

/// Where two tokens differ when letter case is not compared, for a hint that does not send
/// anyone chasing a capital letter: ` (letter case is not compared: "!" is missing at the end)`.
fn case_blind_difference(expected: &[u8], got: &[u8]) -> String {
    let same = expected
        .iter()
        .zip(got)
        .take_while(|(e, g)| e.eq_ignore_ascii_case(g))
        .count();
    let cases_differ = expected[..same] != got[..same];
    let what = if same == got.len() {
        format!("{:?} is missing at the end", lossy(&expected[same..]))
    } else if same == expected.len() {
        format!("{:?} is extra at the end", lossy(&got[same..]))
    } else {
        format!("they differ from character {}", same + 1)
    };
    match cases_differ {
        true => format!(" (letter case is not compared: {what})"),
        false => format!(" ({what})"),
    }
}

fn lossy(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    match text.chars().count() > 40 {
        true => format!("{}…", text.chars().take(40).collect::<String>()),
        false => text.into_owned(),
    }
}

/// A position in a byte string, counting lines.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
    line: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor {
            bytes,
            at: 0,
            line: 1,
        }
    }

    fn peek_space(&self) -> Option<u8> {
        self.bytes
            .get(self.at)
            .copied()
            .filter(|b| b.is_ascii_whitespace())
    }

    fn advance(&mut self) {
        if self.bytes[self.at] == b'\n' {
            self.line += 1;
        }
        self.at += 1;
    }

    fn skip_space(&mut self) {
        while self.peek_space().is_some() {
            self.advance();
        }
    }

    fn token(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| !b.is_ascii_whitespace())
        {
            self.at += 1;
        }
        (self.at > start).then(|| &self.bytes[start..self.at])
    }

    fn mismatch(&self, message: String) -> Mismatch {
        Mismatch {
            message: format!("line {}: {message}", self.line),
            line: self.line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(answer: &str, team: &str, flags: &[&str]) -> Result<(), String> {
        let flags = Flags::parse(flags).unwrap();
        compare(answer.as_bytes(), team.as_bytes(), &flags).map_err(|m| m.message)
    }

    #[test]
    fn a_hint_says_what_differs_when_case_is_not_compared() {
        assert_eq!(
            check("Hello, World!", "hello, world", &[]),
            Err("line 1: expected \"World!\", got \"world\" (letter case is not compared: \"!\" is missing at the end)".into())
        );
        assert_eq!(
            check("abc", "abcd", &[]),
            Err("line 1: expected \"abc\", got \"abcd\" (\"d\" is extra at the end)".into())
        );
        assert_eq!(
            check("abc", "axc", &["case_sensitive"]),
            Err("line 1: expected \"abc\", got \"axc\"".into())
        );
    }

    #[test]
    fn whitespace_amounts_are_ignored_by_default() {
        assert_eq!(check("1 2\n3\n", "1\n\n2   3", &[]), Ok(()));
        assert_eq!(check("", "\n \n", &[]), Ok(()));
    }

    #[test]
    fn space_change_sensitive_wants_the_same_whitespace() {
        assert_eq!(check("1 2\n", "1 2\n", &["space_change_sensitive"]), Ok(()));
        assert!(check("1 2\n", "1  2\n", &["space_change_sensitive"]).is_err());
        assert!(check("1 2\n", "1 2", &["space_change_sensitive"]).is_err());
        assert!(check("1 2", "1 2\n", &["space_change_sensitive"]).is_err());
    }

    #[test]
    fn case_is_ignored_unless_case_sensitive() {
        assert_eq!(check("Hello World", "hello WORLD", &[]), Ok(()));
        assert!(check("Hello", "hello", &["case_sensitive"]).is_err());
        assert_eq!(check("Hello", "Hello", &["case_sensitive"]), Ok(()));
    }

    #[test]
    fn missing_and_trailing_tokens_are_wrong() {
        let missing = check("1 2 3", "1 2", &[]).unwrap_err();
        assert!(missing.contains("ended"), "{missing}");
        let trailing = check("1 2", "1 2 3", &[]).unwrap_err();
        assert!(trailing.contains("trailing"), "{trailing}");
    }

    #[test]
    fn without_tolerance_numbers_compare_as_text() {
        assert!(check("1.0", "1", &[]).is_err());
        assert!(check("0.5", ".5", &[]).is_err());
    }

    #[test]
    fn absolute_tolerance() {
        let flags = ["float_absolute_tolerance", "1e-6"];
        assert_eq!(check("1.0000000", "1.0000009", &flags), Ok(()));
        assert!(check("1.0", "1.00001", &flags).is_err());
        assert!(check("1000000", "1000000.5", &flags).is_err());
    }

    #[test]
    fn relative_tolerance() {
        let flags = ["float_relative_tolerance", "1e-6"];
        assert_eq!(check("1000000", "1000000.5", &flags), Ok(()));
        assert!(check("0.001", "0.0011", &flags).is_err());
        // Zero allows no relative error at all.
        assert!(check("0", "0.0000001", &flags).is_err());
    }

    #[test]
    fn float_tolerance_sets_both() {
        let flags = ["float_tolerance", "1e-4"];
        assert_eq!(check("0", "0.00005", &flags), Ok(()));
        assert_eq!(check("100000", "100005", &flags), Ok(()));
        assert!(check("1", "1.0002", &flags).is_err());
    }

    #[test]
    fn with_a_tolerance_integers_compare_numerically() {
        let flags = ["float_tolerance", "1e-6"];
        assert_eq!(check("3", "3.0000000001", &flags), Ok(()));
        assert_eq!(check("3", "3e0", &flags), Ok(()));
        assert_eq!(check("2.5", "+2.5", &flags), Ok(()));
        let text = check("3", "three", &flags).unwrap_err();
        assert!(text.contains("number"), "{text}");
    }

    #[test]
    fn inf_and_nan_compare_as_text_even_with_a_tolerance() {
        let flags = ["float_tolerance", "1E-6"];
        assert_eq!(check("inf", "INF", &flags), Ok(()));
        assert_eq!(check("NaN", "nan", &flags), Ok(()));
        assert!(check("inf", "1e308", &flags).is_err());
        assert!(check("NaN", "0", &flags).is_err());
        // A finite answer wants a finite number: "inf" from the team is not one.
        assert!(check("1e308", "inf", &flags).is_err());
        assert_eq!(check("3.333333333E-1", "0.3333333", &flags), Ok(()));
    }

    #[test]
    fn the_first_difference_is_located() {
        let flags = Flags::default();
        let mismatch = compare(b"a\nb\nc\n", b"a\nb\nx\n", &flags).unwrap_err();
        assert_eq!(mismatch.line, 3);
        assert!(mismatch.message.contains("expected \"c\", got \"x\""));
    }

    #[test]
    fn flags_are_checked() {
        assert!(Flags::parse(&["float_tolerance"]).is_err());
        assert!(Flags::parse(&["float_tolerance", "abc"]).is_err());
        assert!(Flags::parse(&["ignore_everything"]).is_err());
        let flags = Flags::parse(&["case_sensitive", "float_relative_tolerance", "0.5"]).unwrap();
        assert!(flags.case_sensitive);
        assert_eq!(flags.float_relative_tolerance, Some(0.5));
        assert_eq!(flags.float_absolute_tolerance, None);
    }
}
