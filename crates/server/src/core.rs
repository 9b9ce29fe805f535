//! The core requests every front door translates to, and the one path that runs them.
//!
//! A front door (the OpenFaaS functions, later Judge0, Piston, Jobe) decodes its wire format
//! into a [`Job`], has it [checked](check) against what this server has, and [executes](execute)
//! it, now (a client waiting) or later (a stored submission, run by the queue). Its serde
//! form is what the store keeps.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::admission::{Lane, Place};
use crate::error::ApiError;
use crate::AppState;

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    Run(lang::RunRequest),
    Grade(GradeRequest),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeRequest {
    pub language: String,
    #[serde(with = "lang::base64_bytes")]
    pub source: Vec<u8>,
    pub problem: ProblemSource,
    /// Honour `on_reject: break` (the format's default).
    pub stop_at_first_failure: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemSource {
    /// A problem of the archive, by id (`GET /problems`).
    Archive(String),
    /// Tests given in the request.
    Inline {
        tests: Vec<InlineTest>,
        /// The default validator's flags.
        validator_flags: Vec<String>,
        /// Default 2 s.
        time_limit_ms: Option<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InlineTest {
    #[serde(with = "lang::base64_bytes")]
    pub input: Vec<u8>,
    #[serde(with = "lang::base64_bytes")]
    pub answer: Vec<u8>,
}

/// A job this server can run: its language is here, its problem is known.
pub enum Checked {
    Run(lang::RunRequest),
    Grade(Grading),
}

pub struct Grading {
    package: Arc<judge::ProblemPackage>,
    language: String,
    submission: lang::Submission,
    stop_at_first_failure: bool,
}

/// Checks a job before it is admitted or stored, so that a bad one is refused to the client
/// that sent it.
pub fn check(state: &AppState, job: Job) -> Result<Checked, ApiError> {
    match job {
        Job::Run(request) => {
            state.toolchain.language(&request.language)?;
            request.check_files()?;
            Ok(Checked::Run(request))
        }
        Job::Grade(request) => {
            let language = state.toolchain.language(&request.language)?.clone();
            let package = match request.problem {
                ProblemSource::Archive(id) => state.problems.get(&id)?,
                ProblemSource::Inline {
                    tests,
                    validator_flags,
                    time_limit_ms,
                } => Arc::new(
                    judge::ProblemPackage::inline(
                        tests.into_iter().map(|t| (t.input, t.answer)).collect(),
                        validator_flags,
                        time_limit_ms.map(|ms| ms as f64 / 1000.0),
                    )
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?,
                ),
            };
            Ok(Checked::Grade(Grading {
                package,
                submission: lang::Submission::single(&language, request.source),
                language: language.id.clone(),
                stop_at_first_failure: request.stop_at_first_failure,
            }))
        }
    }
}

/// What running a job gave.
pub enum Report {
    Run(lang::RunOutcome),
    Grade(judge::GradeReport),
}

impl Report {
    /// The run status or the verdict, for metrics.
    pub fn status(&self) -> &'static str {
        match self {
            Report::Run(outcome) => outcome.status().as_str(),
            Report::Grade(report) => report.verdict.as_str(),
        }
    }

    /// The JSON a synchronous JSON request gets.
    pub fn to_json(&self) -> serde_json::Value {
        let json = match self {
            Report::Run(outcome) => serde_json::to_value(outcome.response()),
            Report::Grade(report) => serde_json::to_value(report),
        };
        // Reports are plain data: serialising them cannot fail.
        json.unwrap_or_default()
    }
}

/// How a job was admitted.
pub enum Admitted {
    /// A client waits: it holds a place in the interactive queue.
    Interactive(Place),
    /// A stored submission, run on slots nobody interactive waits for; told when it starts.
    Background(Box<dyn FnOnce() + Send>),
}

impl Admitted {
    fn lane(&self) -> Lane {
        match self {
            Admitted::Interactive(_) => Lane::Interactive,
            Admitted::Background(_) => Lane::Background,
        }
    }

    /// The job has its slot (or, grading, begins): the wait is over.
    fn start(self) -> Option<Place> {
        match self {
            Admitted::Interactive(mut place) => {
                place.start();
                Some(place)
            }
            Admitted::Background(on_start) => {
                on_start();
                None
            }
        }
    }
}

/// Runs a checked job on the sandbox slots. `on_test` hears of each graded case as it is
/// judged.
pub async fn execute(
    state: &AppState,
    job: Checked,
    admitted: Admitted,
    on_test: &(dyn Fn(&judge::TestReport) + Send + Sync),
) -> Result<Report, ApiError> {
    let lane = admitted.lane();
    match job {
        Checked::Run(request) => {
            let _slot = state.admission.slot(lane).await?;
            let _place = admitted.start();
            Ok(Report::Run(state.toolchain.run(request).await?))
        }
        Checked::Grade(grading) => {
            // Its runs take their slots one by one.
            let _place = admitted.start();
            let options = judge::GradeOptions {
                stop_at_first_failure: grading.stop_at_first_failure,
                reveal_secret: false,
                slots: state.admission.for_grading(lane),
                on_timing: None,
            };
            let report = state
                .grader
                .grade(
                    &grading.package,
                    &grading.language,
                    grading.submission,
                    &options,
                    on_test,
                )
                .await
                .map_err(|e| match e {
                    judge::Error::Lang(e) => e.into(),
                    other => ApiError::Internal(other.to_string()),
                })?;
            Ok(Report::Grade(report))
        }
    }
}
