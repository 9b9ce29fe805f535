//! Verification of a package: grade every submission in `submissions/<verdict>/` and compare
//! with the verdict its folder expects, like problemtools' `verifyproblem`.
//!
//! Folders: `accepted` (AC, full score on a scoring problem), `partially_accepted` (AC with a
//! score between nothing and full), `wrong_answer`, `time_limit_exceeded`, `run_time_error`
//! (which also accepts judgelet's `memory_limit_exceeded`: the format has no MLE folder and
//! files memory exhaustion under RTE). Other folders are not the format's and are skipped,
//! unless a submission carries DOMjudge's `@EXPECTED_RESULTS@:` header, which says what it
//! must get wherever it is filed, or `submissions.yaml` gives it rules case by case
//! ([`crate::expectations`]), which then decide.
//! Submissions in languages this machine does not run are skipped, and said.
//!
//! As problemtools does, verification runs with the time limit stretched by the package's
//! safety margin (`time_safety_margin`, legacy, default 2; `time_limit_to_tle`, default 1.5):
//! a submission filed as accepted must finish within it, one filed as too slow must be too slow
//! at the limit itself, the others must fail as filed. Limits are set on the authors' machines;
//! the margin keeps a slower judge from calling their accepted solutions too slow. A run whose
//! verdict at the limit itself differs is marked time-sensitive. A judge known to be slower than the authors' machines stretches further
//! (`GraderConfig::slowness`). Grading proper always uses the limit itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use lang::Submission;
use serde::Serialize;

use crate::expectations::{Rule, SubmissionsFile};
use crate::package::{ProblemPackage, TimeLimit, TimeLimitSource};
use crate::verdict::Verdict;
use crate::{Error, GradeOptions, GradeReport, Grader};

const FOLDERS: [&str; 5] = [
    "accepted",
    "partially_accepted",
    "wrong_answer",
    "time_limit_exceeded",
    "run_time_error",
];

/// A submission of a package, with what its folder expects.
#[derive(Clone, Debug)]
pub struct PackagedSubmission {
    /// Relative to `submissions/`, e.g. `accepted/hello.py`.
    pub name: String,
    pub folder: String,
    /// What it must get: its folder, or the results its DOMjudge `@EXPECTED_RESULTS@:`
    /// header lists (any one of them will do), as [`agrees`] names them.
    pub expected: Vec<String>,
    /// What `submissions.yaml` requires of it, case by case, when it says anything of it:
    /// then these decide, every one of them, instead of `expected`.
    pub rules: Vec<Rule>,
    pub path: PathBuf,
    pub language: String,
    pub entry: Option<String>,
}

impl PackagedSubmission {
    /// Whether it must be accepted: a solution a time limit is derived from.
    pub fn must_pass(&self) -> bool {
        match self.rules.is_empty() {
            true => self.expected == ["accepted"],
            false => self.rules.iter().any(Rule::all_accepted),
        }
    }

    /// What it must get, in words.
    pub fn expectation(&self) -> String {
        match self.rules.is_empty() {
            true => self.expected.join(" or "),
            false => {
                let rules: Vec<String> = self.rules.iter().map(Rule::describe).collect();
                rules.join("; ")
            }
        }
    }

    /// Whether `report` (run with the stretched limit; `at_limit` its verdict at the limit
    /// of `limit_ms` itself) is what it must get; `Err` says what is not.
    pub fn check(
        &self,
        report: &GradeReport,
        at_limit: Verdict,
        limit_ms: f64,
    ) -> Result<(), String> {
        if self.rules.is_empty() {
            return match self.expected.iter().any(|e| agrees(e, report, at_limit)) {
                true => Ok(()),
                false => Err(format!("expected {}", self.expectation())),
            };
        }
        self.rules
            .iter()
            .try_for_each(|rule| rule.check(report, limit_ms))
    }

    pub fn read(&self) -> Result<Submission, Error> {
        let mut submission = Submission::read(&self.path).map_err(|e| Error::Package {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        if let Some(entry) = &self.entry {
            submission.entry = Some(entry.clone());
        }
        Ok(submission)
    }
}

/// The verdict the run would have had at `limit_ms`: unchanged if no case took longer, else
/// the first case, in order, that was not accepted or took longer than the limit.
pub fn verdict_at(report: &GradeReport, limit_ms: f64) -> Verdict {
    if report.tests.iter().all(|t| t.cpu_time_ms <= limit_ms) {
        return report.verdict;
    }
    report
        .tests
        .iter()
        .find_map(|t| match t.verdict {
            Verdict::Accepted if t.cpu_time_ms > limit_ms => Some(Verdict::TimeLimitExceeded),
            Verdict::Accepted => None,
            other => Some(other),
        })
        .unwrap_or(report.verdict)
}

/// Whether a graded submission is what its folder says. `report` ran with the stretched
/// limit; `at_limit` is its verdict at the limit itself. Accepted solutions must pass with
/// the margin, too-slow ones must be too slow at the limit, the rest must fail as filed.
pub fn agrees(folder: &str, report: &GradeReport, at_limit: Verdict) -> bool {
    let full = report
        .max_score
        .is_none_or(|max| report.score.is_some_and(|s| s >= max));
    match folder {
        "accepted" => report.verdict == Verdict::Accepted && full,
        "partially_accepted" => {
            report.verdict == Verdict::Accepted && !full && report.score.is_some_and(|s| s > 0.0)
        }
        "wrong_answer" => report.verdict == Verdict::WrongAnswer,
        "time_limit_exceeded" => at_limit == Verdict::TimeLimitExceeded,
        "run_time_error" => matches!(
            report.verdict,
            Verdict::RunTimeError | Verdict::MemoryLimitExceeded
        ),
        // DOMjudge's results that have no folder of the format.
        "output_limit_exceeded" => report.verdict == Verdict::OutputLimitExceeded,
        "compile_error" => report.verdict == Verdict::CompileError,
        _ => false,
    }
}

/// DOMjudge's `@EXPECTED_RESULTS@: CORRECT, TIMELIMIT` header in a submission's source, as
/// the expectations [`agrees`] checks; `Ok(None)` without one, `Err` naming a result it does
/// not know.
fn expected_results(path: &Path) -> Result<Option<Vec<String>>, String> {
    const MARK: &str = "@EXPECTED_RESULTS@:";
    let files: Vec<PathBuf> = match path.is_dir() {
        true => std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect(),
        false => vec![path.to_owned()],
    };
    let Some(listed) = files.iter().find_map(|file| {
        let text = std::fs::read(file).ok()?;
        let text = String::from_utf8_lossy(&text);
        let at = text.find(MARK)?;
        let line = text[at + MARK.len()..].lines().next().unwrap_or_default();
        Some(line.to_owned())
    }) else {
        return Ok(None);
    };
    listed
        .split([',', ' ', '\t'])
        .filter(|result| !result.is_empty())
        .map(|result| {
            // DOMjudge normalises case and `_` the same way.
            let folder = match result.to_ascii_uppercase().replace('_', "-").as_str() {
                "CORRECT" => "accepted",
                "WRONG-ANSWER" | "NO-OUTPUT" => "wrong_answer",
                "TIMELIMIT" => "time_limit_exceeded",
                "RUN-ERROR" => "run_time_error",
                "OUTPUT-LIMIT" => "output_limit_exceeded",
                "COMPILER-ERROR" => "compile_error",
                _ => return Err(format!("{MARK} lists {result:?}, not a DOMjudge result")),
            };
            Ok(folder.to_owned())
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The package's submissions in languages the toolchain knows, and the ones skipped with why.
pub fn list_submissions(
    grader: &Grader,
    package: &ProblemPackage,
) -> (Vec<PackagedSubmission>, Vec<(String, String)>) {
    let root = package.dir.join("submissions");
    // A file that does not read is verify's error; listing goes on without it.
    let settings = SubmissionsFile::load(&root).unwrap_or_default();
    let registry = grader.toolchain().registry();
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let Ok(folders) = std::fs::read_dir(&root) else {
        return (found, skipped);
    };
    let mut folders: Vec<PathBuf> = folders
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let folder_name = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let name = format!(
                "{folder_name}/{}",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            );
            let rules = settings.rules(&name, &folder_name);
            // A DOMjudge header says what to expect wherever the submission is filed.
            let expected = match expected_results(&path) {
                Ok(Some(expected)) => expected,
                Ok(None) if FOLDERS.contains(&folder_name.as_str()) => vec![folder_name.clone()],
                Ok(None) if !rules.is_empty() => Vec::new(),
                Ok(None) => {
                    skipped.push((
                        name,
                        format!(
                            "{folder_name}/ is not a verdict folder of the format, and neither \
                             an @EXPECTED_RESULTS@ header nor submissions.yaml says what it \
                             must get"
                        ),
                    ));
                    continue;
                }
                Err(why) => {
                    skipped.push((name, why));
                    continue;
                }
            };
            let (language, entry) = settings.settings(&name);
            let language = match language {
                Some(language) => registry.get(&language).map(|l| l.id.clone()),
                None if path.is_dir() => std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .find_map(|e| registry.for_path(&e.path()).map(|l| l.id.clone())),
                None => registry.for_path(&path).map(|l| l.id.clone()),
            };
            match language {
                Some(language) => found.push(PackagedSubmission {
                    name,
                    folder: folder_name.clone(),
                    expected,
                    rules,
                    path,
                    language,
                    entry,
                }),
                None => skipped.push((name, "no language this machine runs".into())),
            }
        }
    }
    (found, skipped)
}

/// Derives a time limit the way problemtools does: the slowest accepted submission's slowest
/// case, times the multiplier, rounded up to a whole second. Also returns the accepted
/// submissions' reports (graded with a generous cap), which verification reuses.
pub async fn derive_time_limit(
    grader: &Grader,
    package: &Arc<ProblemPackage>,
    options: &GradeOptions,
) -> Result<(TimeLimit, Vec<(PackagedSubmission, GradeReport, f64)>), Error> {
    let (submissions, _) = list_submissions(grader, package);
    let cap = TimeLimit {
        seconds: grader.config.derivation_cap_s,
        source: TimeLimitSource::Default,
    };
    let mut graded = Vec::new();
    let mut slowest_ms: f64 = 0.0;
    for submission in submissions
        .into_iter()
        .filter(PackagedSubmission::must_pass)
    {
        if let Some(on_timing) = &options.on_timing {
            on_timing(&submission);
        }
        let (report, seconds) = grade_timed(grader, package, &submission, options, cap).await?;
        if report.verdict == Verdict::Accepted {
            slowest_ms = slowest_ms.max(report.cpu_time_ms);
        }
        graded.push((submission, report, seconds));
    }
    let limit = match slowest_ms > 0.0 || !graded.is_empty() {
        true => TimeLimit {
            seconds: (slowest_ms / 1000.0 * package.ac_to_time_limit)
                .ceil()
                .max(1.0),
            source: TimeLimitSource::Derived {
                slowest_accepted_ms: slowest_ms,
                multiplier: package.ac_to_time_limit,
            },
        },
        false => TimeLimit {
            seconds: grader.config.default_time_limit_s,
            source: TimeLimitSource::Default,
        },
    };
    Ok((limit, graded))
}

/// Grades a packaged submission within `limit`; the report, and how long it took.
async fn grade_timed(
    grader: &Grader,
    package: &Arc<ProblemPackage>,
    submission: &PackagedSubmission,
    options: &GradeOptions,
    limit: TimeLimit,
) -> Result<(GradeReport, f64), Error> {
    let start = Instant::now();
    let report = grader
        .grade_within(
            package,
            &submission.language,
            submission.read()?,
            options,
            limit,
            &|_| {},
        )
        .await?;
    Ok((report, start.elapsed().as_secs_f64()))
}

/// One submission's verification.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    pub submission: String,
    pub language: String,
    pub expected: String,
    /// The verdict with the stretched limit.
    pub verdict: Verdict,
    /// The verdict at the time limit itself.
    pub verdict_at_limit: Verdict,
    pub score: Option<f64>,
    pub agrees: bool,
    pub seconds: f64,
    /// The two verdicts differ: this submission's verdict depends on how fast the judge is.
    pub time_sensitive: bool,
    /// The first case that was not accepted, for a quick look at a disagreement.
    pub first_failure: Option<String>,
    /// What it does not meet of what it must get.
    pub unmet: Option<String>,
    /// The case that took the most CPU time, and that time: how close to the limit it runs.
    pub slowest_case: Option<String>,
    pub slowest_ms: f64,
}

/// A package's verification.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub problem: String,
    pub time_limit: TimeLimit,
    pub checked: Vec<Checked>,
    pub skipped: Vec<(String, String)>,
    /// Every input validator's verdict on every test input.
    pub inputs: Vec<InputCheck>,
}

impl Verification {
    pub fn disagreements(&self) -> impl Iterator<Item = &Checked> {
        self.checked.iter().filter(|c| !c.agrees)
    }

    pub fn invalid_inputs(&self) -> impl Iterator<Item = &InputCheck> {
        self.inputs.iter().filter(|c| !c.valid)
    }
}

/// One input validator on one test input.
#[derive(Clone, Debug, Serialize)]
pub struct InputCheck {
    /// The validator, relative to the package (`input_validators/range.py`).
    pub validator: String,
    pub case: String,
    /// It exited 42.
    pub valid: bool,
    /// How it ended and what it said, when it did not accept.
    pub message: String,
}

/// Runs every input validator on every test input, as problemtools does: the input on
/// stdin, the case's `input_validator_flags` as arguments; exit 42 accepts, anything else
/// rejects. A validator that does not compile is the package's fault.
/// Also returns the validators not run, with why (checktestdata and viva scripts).
pub async fn validate_inputs(
    grader: &Grader,
    package: &ProblemPackage,
    options: &GradeOptions,
) -> Result<(Vec<InputCheck>, Vec<(String, String)>), Error> {
    let toolchain = grader.toolchain();
    let mut checks = Vec::new();
    let mut skipped = Vec::new();
    for path in &package.input_validators {
        let name = path
            .strip_prefix(&package.dir)
            .unwrap_or(path)
            .display()
            .to_string();
        let program = match prepare_input_validator(grader, path).await? {
            InputValidator::Ready(program) => program,
            InputValidator::NotRun(why) => {
                skipped.push((name, why));
                continue;
            }
            InputValidator::NoProgram => continue,
        };
        let fault = |message: String| Error::Package {
            path: path.clone(),
            message,
        };
        for case in &package.cases {
            let input = case.input.read().await?;
            let _slot = options
                .slots
                .acquire()
                .await
                .ok_or_else(|| fault("the slots closed while validating inputs".into()))?;
            let run = toolchain
                .execute(
                    &program,
                    input,
                    &case.input_validator_flags,
                    grader.config.validator_limits,
                )
                .await?;
            let valid = run.exit_code == Some(42) && run.limit_exceeded.is_none();
            let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_owned();
            let mut message = match (run.limit_exceeded, run.exit_code, run.signal) {
                _ if valid => String::new(),
                (Some(limit), _, _) => format!("{} limit exceeded", limit.as_str()),
                (None, Some(43), _) => "rejected (exit 43)".to_owned(),
                (None, Some(code), _) => format!("exit code {code}, neither 42 nor 43"),
                (None, None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None, None) => "ended without an exit code".to_owned(),
            };
            for text in [said(&run.stdout.bytes), said(&run.stderr.bytes)] {
                if !valid && !text.is_empty() {
                    message.push_str(": ");
                    message.extend(text.chars().take(500));
                }
            }
            checks.push(InputCheck {
                validator: name.clone(),
                case: case.name.clone(),
                valid,
                message,
            });
        }
    }
    Ok((checks, skipped))
}

/// An entry of `input_validators/`, compiled.
pub(crate) enum InputValidator {
    Ready(lang::Program),
    /// A script of a tool judgelet does not run, with why.
    NotRun(String),
    /// No program: a header beside single-file validators, which goes into their boxes.
    NoProgram,
}

/// Compiles the input validator at `path` (a directory of sources or a single source). One
/// that does not compile is the package's fault.
pub(crate) async fn prepare_input_validator(
    grader: &Grader,
    path: &Path,
) -> Result<InputValidator, Error> {
    let toolchain = grader.toolchain();
    if path.is_file() && toolchain.registry().for_path(path).is_none() {
        return Ok(match path.extension().and_then(|e| e.to_str()) {
            Some(tool @ ("ctd" | "viva")) => InputValidator::NotRun(format!(
                "a {tool} script: judgelet does not run checktestdata or viva"
            )),
            _ => InputValidator::NoProgram,
        });
    }
    let fault = |message: String| Error::Package {
        path: path.to_owned(),
        message,
    };
    let submission = input_validator_sources(grader, path).map_err(fault)?;
    let language = submission
        .files
        .iter()
        .find_map(|(file, _)| toolchain.registry().for_path(Path::new(file)))
        .ok_or_else(|| fault("no source in a language this machine runs".into()))?
        .id
        .clone();
    match toolchain.prepare(&language, &submission).await? {
        lang::Prepared::Ready(program) => Ok(InputValidator::Ready(program)),
        lang::Prepared::CompileError(report) => Err(fault(format!(
            "the input validator does not compile:\n{}",
            report.output
        ))),
    }
}

/// An input validator's sources: a directory's files, or a single source with the files
/// beside it that are no program of their own (headers such as `testlib.h`).
fn input_validator_sources(grader: &Grader, path: &Path) -> Result<Submission, String> {
    if path.is_dir() {
        return Submission::read(path).map_err(|e| e.to_string());
    }
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let registry = grader.toolchain().registry();
    let mut files = vec![(
        name(path).unwrap_or_default(),
        std::fs::read(path).map_err(|e| e.to_string())?,
    )];
    for sibling in std::fs::read_dir(path.parent().unwrap_or(path))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && registry.for_path(p).is_none())
    {
        if let (Some(file), Ok(bytes)) = (name(&sibling), std::fs::read(&sibling)) {
            files.push((file, bytes));
        }
    }
    Ok(Submission {
        entry: Some(files[0].0.clone()),
        files,
    })
}

/// Grades every submission of the package against its folder's verdict.
pub async fn verify(
    grader: &Grader,
    package: &Arc<ProblemPackage>,
    options: &GradeOptions,
    on_checked: &(dyn Fn(&Checked) + Send + Sync),
) -> Result<Verification, Error> {
    // Verifying is checking a package: what grading only warns of is an error here.
    if !package.warnings.is_empty() {
        return Err(Error::Package {
            path: package.dir.join("problem.yaml"),
            message: format!(
                "{} mistake(s):\n  {}",
                package.warnings.len(),
                package.warnings.join("\n  ")
            ),
        });
    }
    SubmissionsFile::load(&package.dir.join("submissions")).map_err(|message| Error::Package {
        path: package.dir.join("submissions"),
        message,
    })?;
    let (inputs, mut skipped) = validate_inputs(grader, package, options).await?;
    let (submissions, listed) = list_submissions(grader, package);
    skipped.extend(listed);
    let mut done: Vec<(PackagedSubmission, GradeReport, f64)> = Vec::new();
    let time_limit = match package.time_limit {
        Some(limit) => limit,
        None => {
            let (limit, accepted) = derive_time_limit(grader, package, options).await?;
            done = accepted;
            limit
        }
    };
    let stretched = TimeLimit {
        seconds: time_limit.seconds * package.tle_margin * grader.config.slowness,
        ..time_limit
    };
    let mut checked = Vec::new();
    let mut record = |submission: &PackagedSubmission, report: &GradeReport, seconds: f64| {
        let limit_ms = time_limit.seconds * 1000.0;
        let at_limit = verdict_at(report, limit_ms);
        let unmet = submission.check(report, at_limit, limit_ms).err();
        let slowest = report
            .tests
            .iter()
            .max_by(|a, b| a.cpu_time_ms.total_cmp(&b.cpu_time_ms));
        let entry = Checked {
            time_sensitive: at_limit != report.verdict,
            submission: submission.name.clone(),
            language: submission.language.clone(),
            expected: submission.expectation(),
            verdict: report.verdict,
            verdict_at_limit: at_limit,
            score: report.score,
            agrees: unmet.is_none(),
            seconds,
            first_failure: report
                .tests
                .iter()
                .find(|t| t.verdict != Verdict::Accepted)
                .map(|t| format!("{}: {}", t.name, t.verdict.short())),
            slowest_case: slowest.map(|t| t.name.clone()),
            slowest_ms: slowest.map_or(0.0, |t| t.cpu_time_ms),
            unmet,
        };
        on_checked(&entry);
        checked.push(entry);
    };
    for (submission, report, seconds) in &done {
        record(submission, report, *seconds);
    }
    for submission in submissions
        .iter()
        .filter(|s| !done.iter().any(|(d, _, _)| d.name == s.name))
    {
        // Expectations case by case need every case's verdict.
        let options = GradeOptions {
            stop_at_first_failure: options.stop_at_first_failure && submission.rules.is_empty(),
            ..options.clone()
        };
        let (report, seconds) =
            grade_timed(grader, package, submission, &options, stretched).await?;
        record(submission, &report, seconds);
    }
    Ok(Verification {
        problem: package.id.clone(),
        time_limit,
        checked,
        skipped,
        inputs,
    })
}
