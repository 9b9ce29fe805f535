//! What example submissions must get, case by case: `submissions/submissions.yaml` (or
//! `submissions.json`, the same keys in JSON) of the 2025-09 format.
//!
//! Each top-level key is a glob over submission paths relative to `submissions/` (`*` within a
//! name, `{a,b}` alternatives; a submission matches when it or a folder above it does). Its
//! `language` and `entrypoint` say how to run what it matches; `permitted` (every case's
//! verdict in this set of `AC`, `WA`, `TLE`, `RTE`), `required` (some case's verdict in it),
//! `score` (a number, or an inclusive range) and `message` (a substring of some case's judge
//! message) say what it must get, over all cases or, under a key naming test cases or groups
//! (globs relative to `data/`), over those. The folders have default rules (`accepted` permits
//! only `AC`, `wrong_answer` permits `AC` and `WA` and requires `WA`, ...), which a key naming
//! the folder itself overrides key by key.

use std::path::Path;

use serde::Serialize;
use serde_norway::Value;

use crate::verdict::Verdict;
use crate::{GradeReport, TestReport};

/// A case's result as the expectations name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Code {
    AC,
    WA,
    TLE,
    RTE,
}

impl Code {
    fn parse(text: &str) -> Option<Code> {
        match text {
            "AC" => Some(Code::AC),
            "WA" => Some(Code::WA),
            "TLE" => Some(Code::TLE),
            "RTE" => Some(Code::RTE),
            _ => None,
        }
    }

    /// What a case got, at the limit of `limit_ms`: an accepted case slower than the limit
    /// (run with a margin) is both `AC` and `TLE`, time-sensitive. Memory and output limits
    /// are run-time errors here, as the format has no codes of their own for them; a judge
    /// error is none of them.
    fn of(test: &TestReport, limit_ms: f64) -> &'static [Code] {
        match test.verdict {
            Verdict::Accepted if test.cpu_time_ms > limit_ms => &[Code::AC, Code::TLE],
            Verdict::Accepted => &[Code::AC],
            Verdict::WrongAnswer => &[Code::WA],
            Verdict::TimeLimitExceeded => &[Code::TLE],
            Verdict::RunTimeError | Verdict::MemoryLimitExceeded | Verdict::OutputLimitExceeded => {
                &[Code::RTE]
            }
            _ => &[],
        }
    }
}

/// One requirement on a submission's results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rule {
    /// The cases it is about (globs over case and group names); `None`: every case.
    pub cases: Option<Vec<String>>,
    pub permitted: Option<Vec<Code>>,
    pub required: Option<Vec<Code>>,
    /// The submission's score, inclusive.
    pub score: Option<(f64, f64)>,
    pub message: Option<String>,
}

fn codes(list: &[Code]) -> String {
    let names: Vec<String> = list.iter().map(|c| format!("{c:?}")).collect();
    names.join(",")
}

impl Rule {
    fn is_empty(&self) -> bool {
        self.permitted.is_none()
            && self.required.is_none()
            && self.score.is_none()
            && self.message.is_none()
    }

    /// The folder's rule when `submissions.yaml` says nothing of it.
    fn default_for(folder: &str) -> Option<Rule> {
        use Code::*;
        let (permitted, required): (Option<&[Code]>, Option<&[Code]>) = match folder {
            "accepted" => (Some(&[AC]), None),
            "rejected" => (None, Some(&[RTE, TLE, WA])),
            "wrong_answer" => (Some(&[AC, WA]), Some(&[WA])),
            "time_limit_exceeded" => (Some(&[AC, TLE]), Some(&[TLE])),
            "run_time_error" => (Some(&[AC, RTE]), Some(&[RTE])),
            "brute_force" => (Some(&[AC, RTE, TLE]), Some(&[RTE, TLE])),
            _ => return None,
        };
        Some(Rule {
            permitted: permitted.map(<[Code]>::to_vec),
            required: required.map(<[Code]>::to_vec),
            ..Rule::default()
        })
    }

    /// Whether it must be accepted on every case: a solution to derive a time limit from.
    pub fn all_accepted(&self) -> bool {
        self.cases.is_none() && self.permitted.as_deref() == Some(&[Code::AC])
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(permitted) = &self.permitted {
            parts.push(format!("permitted {}", codes(permitted)));
        }
        if let Some(required) = &self.required {
            parts.push(format!("required {}", codes(required)));
        }
        if let Some((low, high)) = self.score {
            parts.push(match low == high {
                true => format!("score {low}"),
                false => format!("score {low}..{high}"),
            });
        }
        if let Some(message) = &self.message {
            parts.push(format!("message {message:?}"));
        }
        let said = parts.join(" ");
        match &self.cases {
            Some(cases) => format!("{}: {said}", cases.join(",")),
            None => said,
        }
    }

    /// Checks `report` (run with a margin) at the limit of `limit_ms`: `Err` says what is
    /// not met.
    pub fn check(&self, report: &GradeReport, limit_ms: f64) -> Result<(), String> {
        if report.verdict == Verdict::CompileError {
            return Err("it did not compile".into());
        }
        let scope: Vec<&TestReport> = report
            .tests
            .iter()
            .filter(|t| self.cases.as_ref().is_none_or(|p| matches_path(p, &t.name)))
            .collect();
        if let Some(permitted) = &self.permitted {
            if let Some(test) = scope
                .iter()
                .find(|t| !Code::of(t, limit_ms).iter().any(|c| permitted.contains(c)))
            {
                return Err(format!(
                    "{} got {}, not permitted ({})",
                    test.name,
                    test.verdict.short(),
                    self.describe()
                ));
            }
        }
        if let Some(required) = &self.required {
            let met = scope
                .iter()
                .any(|t| Code::of(t, limit_ms).iter().any(|c| required.contains(c)));
            if !met {
                return Err(format!(
                    "no case got what is required ({})",
                    self.describe()
                ));
            }
        }
        if let Some((low, high)) = self.score {
            if self.cases.is_some() {
                return Err(format!(
                    "a score for test groups is not checked by judgelet ({})",
                    self.describe()
                ));
            }
            let score = report.score.unwrap_or(0.0);
            if !(low..=high).contains(&score) {
                return Err(format!("score {score} ({})", self.describe()));
            }
        }
        if let Some(message) = &self.message {
            let said = scope.iter().any(|t| {
                [&t.hint, &t.message]
                    .into_iter()
                    .flatten()
                    .any(|m| m.contains(message.as_str()))
            });
            if !said {
                return Err(format!("no judge message says {message:?}"));
            }
        }
        Ok(())
    }
}

struct Entry {
    patterns: Vec<String>,
    /// The key as written: a folder's name overrides that folder's default rule.
    key: String,
    language: Option<String>,
    entrypoint: Option<String>,
    /// Its rule over every case, and its rules over groups of cases.
    rule: Rule,
    groups: Vec<Rule>,
}

/// `submissions.yaml` (or `.json`), read.
#[derive(Default)]
pub struct SubmissionsFile {
    entries: Vec<Entry>,
}

fn code_list(value: &Value, what: &str) -> Result<Vec<Code>, String> {
    let items: Vec<&Value> = match value {
        Value::Sequence(items) => items.iter().collect(),
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| {
            item.as_str()
                .and_then(Code::parse)
                .ok_or_else(|| format!("{what}: {item:?} is not one of AC, WA, TLE, RTE"))
        })
        .collect()
}

/// The rule in a mapping, and what else it holds (test case and group keys).
fn read_rule(
    map: &serde_norway::Mapping,
    at: &str,
) -> Result<(Rule, Vec<(String, Value)>), String> {
    let mut rule = Rule::default();
    let mut rest = Vec::new();
    for (key, value) in map {
        let key = key.as_str().unwrap_or_default();
        let at_key = format!("{at}.{key}");
        match key {
            "permitted" => rule.permitted = Some(code_list(value, &at_key)?),
            "required" => rule.required = Some(code_list(value, &at_key)?),
            "score" => {
                rule.score = Some(match value {
                    Value::Sequence(pair) if pair.len() == 2 => {
                        match (pair[0].as_f64(), pair[1].as_f64()) {
                            (Some(low), Some(high)) => (low, high),
                            _ => return Err(format!("{at_key}: not two numbers")),
                        }
                    }
                    number => {
                        let n = number
                            .as_f64()
                            .ok_or_else(|| format!("{at_key}: not a number or a range"))?;
                        (n, n)
                    }
                })
            }
            "message" => {
                rule.message = Some(
                    value
                        .as_str()
                        .ok_or_else(|| format!("{at_key}: not text"))?
                        .to_owned(),
                )
            }
            // Kept for how to run, or said nothing of judging.
            "language" | "entrypoint" | "authors" | "model_solution" | "use_for_time_limit" => {}
            _ => rest.push((key.to_owned(), value.clone())),
        }
    }
    Ok((rule, rest))
}

impl SubmissionsFile {
    /// The file in `root` (`submissions/`), if there is one. `Err` names the file and what
    /// in it is wrong.
    pub fn load(root: &Path) -> Result<SubmissionsFile, String> {
        let (path, text) = match ["submissions.yaml", "submissions.json"]
            .iter()
            .map(|name| root.join(name))
            .find_map(|path| std::fs::read_to_string(&path).ok().map(|text| (path, text)))
        {
            Some(found) => found,
            None => return Ok(SubmissionsFile::default()),
        };
        let fault = |message: String| format!("{}: {message}", path.display());
        // JSON is YAML too.
        let value: Value = serde_norway::from_str(&text).map_err(|e| fault(e.to_string()))?;
        let Value::Mapping(map) = value else {
            return Err(fault("not a mapping of submission globs".into()));
        };
        let mut entries = Vec::new();
        for (key, value) in &map {
            let key = key
                .as_str()
                .ok_or_else(|| fault(format!("{key:?} is not a glob")))?
                .to_owned();
            let Value::Mapping(settings) = value else {
                return Err(fault(format!("{key}: not a mapping")));
            };
            let field = |k: &str| settings.get(k).and_then(Value::as_str).map(str::to_owned);
            let (rule, rest) = read_rule(settings, &key).map_err(fault)?;
            let mut groups = Vec::new();
            for (cases, value) in rest {
                let Value::Mapping(inner) = &value else {
                    return Err(fault(format!(
                        "{key}.{cases}: not a mapping of expectations"
                    )));
                };
                let (mut group, unknown) =
                    read_rule(inner, &format!("{key}.{cases}")).map_err(fault)?;
                if let Some((name, _)) = unknown.first() {
                    return Err(fault(format!("{key}.{cases}.{name}: not an expectation")));
                }
                group.cases = Some(expand_braces(&cases));
                groups.push(group);
            }
            entries.push(Entry {
                patterns: expand_braces(&key),
                key,
                language: field("language"),
                entrypoint: field("entrypoint"),
                rule,
                groups,
            });
        }
        Ok(SubmissionsFile { entries })
    }

    fn matching<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries
            .iter()
            .filter(move |e| matches_path(&e.patterns, name))
    }

    /// The language and entry point for the submission `name` (`accepted/a.py`).
    pub fn settings(&self, name: &str) -> (Option<String>, Option<String>) {
        let mut language = None;
        let mut entry = None;
        for found in self.matching(name) {
            language = language.or_else(|| found.language.clone());
            entry = entry.or_else(|| found.entrypoint.clone());
        }
        (language, entry)
    }

    /// What the submission `name` in `folder` must get, when the file says anything of it:
    /// its folder's rule (as the file overrides it) and every rule of the keys matching it.
    /// Empty when the file says nothing of it: then its folder alone decides.
    pub fn rules(&self, name: &str, folder: &str) -> Vec<Rule> {
        let matched: Vec<&Entry> = self
            .matching(name)
            .filter(|e| !e.rule.is_empty() || !e.groups.is_empty())
            .collect();
        if matched.is_empty() {
            return Vec::new();
        }
        let mut base = Rule::default_for(folder);
        let mut rules = Vec::new();
        for entry in &matched {
            if entry.key == folder {
                let base = base.get_or_insert_with(Rule::default);
                let own = &entry.rule;
                base.permitted = own.permitted.clone().or(base.permitted.take());
                base.required = own.required.clone().or(base.required.take());
                base.score = own.score.or(base.score);
                base.message = own.message.clone().or(base.message.take());
            } else if !entry.rule.is_empty() {
                rules.push(entry.rule.clone());
            }
            rules.extend(entry.groups.iter().cloned());
        }
        base.into_iter()
            .filter(|r| !r.is_empty())
            .chain(rules)
            .collect()
    }
}

/// Whether a glob of `patterns` matches `name` or a folder (group) above it.
fn matches_path(patterns: &[String], name: &str) -> bool {
    let mut prefixes = name
        .char_indices()
        .filter(|(_, c)| *c == '/')
        .map(|(at, _)| &name[..at])
        .chain([name]);
    prefixes.any(|prefix| patterns.iter().any(|p| glob(p, prefix)))
}

/// `{a,b}` alternatives expanded, nested and several alike.
fn expand_braces(pattern: &str) -> Vec<String> {
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_owned()];
    };
    let mut depth = 0;
    let mut close = None;
    let mut cuts = Vec::new();
    for (at, c) in pattern[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + at);
                    break;
                }
            }
            ',' if depth == 1 => cuts.push(open + at),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_owned()];
    };
    let mut bounds = vec![open];
    bounds.extend(cuts);
    bounds.push(close);
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    bounds
        .windows(2)
        .flat_map(|w| expand_braces(&format!("{head}{}{tail}", &pattern[w[0] + 1..w[1]])))
        .collect()
}

/// `*` matches within one path component.
pub(crate) fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len())
                .take_while(|&i| !tail[..i].contains('/'))
                .any(|i| tail.is_char_boundary(i) && glob(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_within_a_component_and_braces_expand() {
        assert!(glob("accepted/*.py", "accepted/a.py"));
        assert!(!glob("accepted/*.py", "accepted/a.cc"));
        assert!(glob("time_limit_exceeded/*", "time_limit_exceeded/tle.py"));
        assert!(!glob("accepted/*", "wrong_answer/x.py"));
        assert!(!glob("secret/*", "secret/g/1"));
        assert_eq!(
            expand_braces("author.{py,cpp}"),
            ["author.py", "author.cpp"]
        );
        assert_eq!(
            expand_braces("{a,b{c,d}}/{x,y}"),
            ["a/x", "a/y", "bc/x", "bc/y", "bd/x", "bd/y"]
        );
        assert_eq!(expand_braces("no{brace"), ["no{brace"]);
        // A folder above matches too.
        assert!(matches_path(&["accepted".into()], "accepted/a.py"));
        assert!(matches_path(&["secret/*-easy".into()], "secret/1-easy/3"));
        assert!(!matches_path(&["secret/*-easy".into()], "secret/1-hard/3"));
    }

    #[test]
    fn a_folder_key_overrides_its_default_and_other_keys_add_rules() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("submissions.yaml"),
            "time_limit_exceeded:\n  permitted: [AC, WA, TLE]\n\
             time_limit_exceeded/{a,b}.py:\n  sample:\n    permitted: [AC]\n\
             other.py:\n  language: python\n",
        )
        .unwrap();
        let file = SubmissionsFile::load(dir.path()).unwrap();
        let rules = file.rules("time_limit_exceeded/a.py", "time_limit_exceeded");
        assert_eq!(rules.len(), 2, "{rules:?}");
        assert_eq!(rules[0].describe(), "permitted AC,WA,TLE required TLE");
        assert_eq!(rules[1].describe(), "sample: permitted AC");
        assert!(
            file.rules("time_limit_exceeded/c.py", "time_limit_exceeded")
                .len()
                == 1
        );
        assert!(file.rules("accepted/x.py", "accepted").is_empty());
        assert_eq!(file.settings("other.py").0.as_deref(), Some("python"));
        // The same in JSON.
        std::fs::remove_file(dir.path().join("submissions.yaml")).unwrap();
        std::fs::write(
            dir.path().join("submissions.json"),
            r#"{"wrong_answer/*": {"secret": {"permitted": ["AC", "WA"], "required": "WA"}}}"#,
        )
        .unwrap();
        let file = SubmissionsFile::load(dir.path()).unwrap();
        let rules = file.rules("wrong_answer/x.py", "wrong_answer");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].describe(), "secret: permitted AC,WA required WA");
        std::fs::write(
            dir.path().join("submissions.yaml"),
            "a.py:\n  permitted: [OK]\n",
        )
        .unwrap();
        let error = SubmissionsFile::load(dir.path()).err().unwrap();
        assert!(
            error.contains("submissions.yaml: a.py.permitted") && error.contains("OK"),
            "{error}"
        );
    }
}
