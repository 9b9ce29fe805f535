//! Verdicts and how a group's results fold into one (the format's default grader).

use serde::{Deserialize, Serialize};

use crate::package::GroupSettings;

/// A judgement, as the design names them (short forms AC, WA, TLE, MLE, RTE, OLE, CE, IE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    WrongAnswer,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    RunTimeError,
    OutputLimitExceeded,
    CompileError,
    /// judgelet's or the problem's fault (a validator that crashed): never the student's.
    InternalError,
}

impl Verdict {
    pub fn short(self) -> &'static str {
        match self {
            Verdict::Accepted => "AC",
            Verdict::WrongAnswer => "WA",
            Verdict::TimeLimitExceeded => "TLE",
            Verdict::MemoryLimitExceeded => "MLE",
            Verdict::RunTimeError => "RTE",
            Verdict::OutputLimitExceeded => "OLE",
            Verdict::CompileError => "CE",
            Verdict::InternalError => "IE",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::WrongAnswer => "wrong_answer",
            Verdict::TimeLimitExceeded => "time_limit_exceeded",
            Verdict::MemoryLimitExceeded => "memory_limit_exceeded",
            Verdict::RunTimeError => "run_time_error",
            Verdict::OutputLimitExceeded => "output_limit_exceeded",
            Verdict::CompileError => "compile_error",
            Verdict::InternalError => "internal_error",
        }
    }

    /// For `worst_error`: judge errors first, then RTE, MLE, TLE, OLE, WA.
    fn severity(self) -> u8 {
        match self {
            Verdict::InternalError => 0,
            Verdict::CompileError => 1,
            Verdict::RunTimeError => 2,
            Verdict::MemoryLimitExceeded => 3,
            Verdict::TimeLimitExceeded => 4,
            Verdict::OutputLimitExceeded => 5,
            Verdict::WrongAnswer => 6,
            Verdict::Accepted => 7,
        }
    }
}

impl From<sandbox::Status> for Verdict {
    fn from(status: sandbox::Status) -> Verdict {
        match status {
            sandbox::Status::Ok => Verdict::Accepted,
            sandbox::Status::RunTimeError => Verdict::RunTimeError,
            sandbox::Status::TimeLimitExceeded => Verdict::TimeLimitExceeded,
            sandbox::Status::MemoryLimitExceeded => Verdict::MemoryLimitExceeded,
            sandbox::Status::OutputLimitExceeded => Verdict::OutputLimitExceeded,
        }
    }
}

/// A verdict with its score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Graded {
    pub verdict: Verdict,
    pub score: f64,
}

/// Folds the results of a group's items (in order) with its grader flags: verdict by
/// `worst_error` (default), `first_error` or `always_accept`, overridden by
/// `accept_if_any_accepted`; score by `sum` (default), `avg`, `min` or `max`;
/// `ignore_sample` keeps only the last item (the secret group); clamped to `range`.
pub fn aggregate(settings: &GroupSettings, items: &[Graded]) -> Graded {
    let flag = |f: &str| settings.grader_flags.iter().any(|g| g == f);
    let items = match flag("ignore_sample") {
        true => &items[items.len().saturating_sub(1)..],
        false => items,
    };
    let verdicts = items.iter().map(|g| g.verdict);
    let any_accepted = items.iter().any(|g| g.verdict == Verdict::Accepted);
    let verdict = if flag("always_accept") || (flag("accept_if_any_accepted") && any_accepted) {
        Verdict::Accepted
    } else if flag("first_error") {
        verdicts
            .into_iter()
            .find(|v| *v != Verdict::Accepted)
            .unwrap_or(Verdict::Accepted)
    } else {
        verdicts
            .min_by_key(|v| v.severity())
            .unwrap_or(Verdict::Accepted)
    };
    let scores = items.iter().map(|g| g.score);
    let score = if items.is_empty() {
        0.0
    } else if flag("min") {
        scores.fold(f64::INFINITY, f64::min)
    } else if flag("max") {
        scores.fold(f64::NEG_INFINITY, f64::max)
    } else if flag("avg") {
        scores.sum::<f64>() / items.len() as f64
    } else {
        scores.sum()
    };
    let score = match settings.range {
        Some((lo, hi)) => score.clamp(lo, hi),
        None => score,
    };
    Graded { verdict, score }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(flags: &str) -> GroupSettings {
        GroupSettings {
            grader_flags: flags.split_whitespace().map(str::to_owned).collect(),
            ..GroupSettings::default()
        }
    }

    fn g(verdict: Verdict, score: f64) -> Graded {
        Graded { verdict, score }
    }

    #[test]
    fn worst_error_is_the_default_and_sum_the_default_score() {
        let items = [
            g(Verdict::WrongAnswer, 0.0),
            g(Verdict::TimeLimitExceeded, 0.0),
            g(Verdict::Accepted, 2.0),
        ];
        assert_eq!(
            aggregate(&settings(""), &items),
            g(Verdict::TimeLimitExceeded, 2.0)
        );
        assert_eq!(
            aggregate(&settings("first_error"), &items).verdict,
            Verdict::WrongAnswer
        );
    }

    #[test]
    fn a_subtask_scored_by_min_gets_nothing_if_any_case_fails() {
        let all = [g(Verdict::Accepted, 50.0), g(Verdict::Accepted, 50.0)];
        assert_eq!(
            aggregate(&settings("min"), &all),
            g(Verdict::Accepted, 50.0)
        );
        let one_fails = [g(Verdict::Accepted, 50.0), g(Verdict::WrongAnswer, 0.0)];
        assert_eq!(
            aggregate(&settings("min"), &one_fails),
            g(Verdict::WrongAnswer, 0.0)
        );
    }

    #[test]
    fn partial_credit_is_accepted_with_accept_if_any_accepted() {
        let subtasks = [g(Verdict::Accepted, 50.0), g(Verdict::WrongAnswer, 0.0)];
        let secret = aggregate(&settings("first_error accept_if_any_accepted"), &subtasks);
        assert_eq!(secret, g(Verdict::Accepted, 50.0));
        let root = aggregate(
            &settings("ignore_sample"),
            &[g(Verdict::Accepted, 0.0), secret],
        );
        assert_eq!(root, g(Verdict::Accepted, 50.0));
    }

    #[test]
    fn scores_are_clamped_to_the_range() {
        let s = GroupSettings {
            range: Some((0.0, 10.0)),
            ..settings("")
        };
        assert_eq!(
            aggregate(&s, &[g(Verdict::Accepted, 7.0), g(Verdict::Accepted, 7.0)]).score,
            10.0
        );
    }
}
