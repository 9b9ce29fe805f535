//! Grading: a submission against a problem's test cases, with the problem's validator.
//!
//! ```text
//! ProblemPackage::load ─▶ Grader::grade ─▶ compile once (lang) ─▶ test cases in parallel on
//!   the sandbox, evaluated in order (on_reject) ─▶ validator ─▶ verdicts folded by group
//! ```
//!
//! Problems come in the Kattis problem package format ([`package`]) or inline in a request
//! ([`ProblemPackage::inline`]). The grader makes no system call of its own: programs run
//! through `lang::Toolchain` and the sandbox.

pub mod archive;
pub mod expectations;
pub mod package;
pub mod validator;
pub mod verdict;
pub mod verify;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use lang::{CompileReport, Prepared, Program, Submission, Toolchain};
use sandbox::{Hangup, Limits, LimitsRequest, Pipes, RunReport};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

pub use package::{ProblemPackage, TimeLimit, TimeLimitSource};
pub use verdict::Verdict;

use package::{Group, Item, TestCase, TestData, ValidatorSpec};
use verdict::{aggregate, Graded};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The package is malformed; the path names the file.
    #[error("{}: {message}", path.display())]
    Package { path: PathBuf, message: String },
    /// The problem's output validator does not compile: the problem's fault, not the
    /// submission's.
    #[error("the output validator of {problem} does not compile:\n{output}")]
    ValidatorCompile { problem: String, output: String },
    #[error(transparent)]
    Lang(#[from] lang::Error),
    #[error(transparent)]
    Sandbox(#[from] sandbox::Error),
    /// A case's run reported that the submission does not compile (an interpreted
    /// language checks its sources as it starts). Never leaves [`Grader::grade`], which
    /// reports the compile error.
    #[error("the submission does not compile")]
    SubmissionCompile(Box<CompileReport>),
}

/// One test case's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    pub name: String,
    pub sample: bool,
    pub verdict: Verdict,
    /// For scoring problems: the case's score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    pub cpu_time_ms: f64,
    pub wall_time_ms: f64,
    pub memory_kib: u64,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// For a wrong answer on a sample test (or when secret data may be shown): the first
    /// difference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// What the validator tells the team (`teammessage.txt`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A graded submission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradeReport {
    pub problem: String,
    pub language: String,
    pub verdict: Verdict,
    /// Scoring problems: the score, and the most there is.
    pub score: Option<f64>,
    pub max_score: Option<f64>,
    pub time_limit: TimeLimit,
    pub memory_limit_mib: u64,
    pub compile: Option<CompileReport>,
    /// The cases run, in order. Cases not run (after a failure, with `on_reject: break`)
    /// are counted in `skipped`.
    pub tests: Vec<TestReport>,
    pub skipped: usize,
    /// The most CPU time and memory any case used.
    pub cpu_time_ms: f64,
    pub memory_kib: u64,
    /// The sandbox tier every run of the grading had.
    pub isolation: sandbox::Isolation,
}

/// The limits a problem's runs get, and where each came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EffectiveLimits {
    /// `None` while it is being derived.
    pub time_limit: Option<TimeLimit>,
    pub memory_mib: u64,
    pub memory_source: LimitOrigin,
    pub output_mib: u64,
    pub output_source: LimitOrigin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitOrigin {
    /// `problem.yaml` states it.
    ProblemYaml,
    /// The judge's default, the package being silent.
    Default,
}

/// Defaults for problems that do not say.
#[derive(Clone, Debug)]
pub struct GraderConfig {
    pub default_time_limit_s: f64,
    pub default_memory_mib: u64,
    pub default_output_mib: u64,
    /// Limits of an output validator's run.
    pub validator_limits: Limits,
    /// The CPU time an accepted submission may take while a time limit is being derived.
    pub derivation_cap_s: f64,
    /// How many times slower this judge runs than the machines the packages' time limits were
    /// set on. Verification stretches its runs by it (besides the packages' safety margin),
    /// so a slower judge does not file the authors' accepted solutions as too slow; a
    /// submission filed as too slow is still judged at the limit itself. Grading is not
    /// affected.
    pub slowness: f64,
}

impl Default for GraderConfig {
    fn default() -> Self {
        GraderConfig {
            default_time_limit_s: 2.0,
            default_memory_mib: 1024,
            default_output_mib: 8,
            validator_limits: Limits {
                cpu_time_ms: 30_000,
                wall_time_ms: 60_000,
                memory_kib: 2 * 1024 * 1024,
                ..Limits::RUN_DEFAULTS
            },
            derivation_cap_s: 20.0,
            slowness: 1.0,
        }
    }
}

/// How one grading runs.
#[derive(Clone)]
pub struct GradeOptions {
    /// Honour `on_reject: break` (the format's default): stop at the first failure.
    pub stop_at_first_failure: bool,
    /// Show hints and validator messages for secret cases too (off: samples only).
    pub reveal_secret: bool,
    /// Where each run takes its sandbox slot.
    pub slots: Arc<dyn Slots>,
    /// What to call as a time limit derivation times each accepted submission.
    pub on_timing: Option<OnTiming>,
}

/// Told of each accepted submission a time limit derivation is about to time.
pub type OnTiming = Arc<dyn Fn(&verify::PackagedSubmission) + Send + Sync>;

impl GradeOptions {
    /// Options for a grader of its own, running up to `parallelism` cases at once.
    pub fn new(parallelism: usize) -> GradeOptions {
        GradeOptions {
            stop_at_first_failure: true,
            reveal_secret: false,
            slots: Arc::new(OwnSlots {
                semaphore: Arc::new(Semaphore::new(parallelism.max(1))),
                capacity: parallelism.max(1),
            }),
            on_timing: None,
        }
    }
}

/// Where grading takes a sandbox slot for each run: a semaphore of its own (the CLI), or
/// the server's admission control, which shares its slots with every other request.
pub trait Slots: Send + Sync {
    /// Runs that may go at once.
    fn capacity(&self) -> usize;
    /// Waits for a slot, held until the permit is dropped; `None` when the slots are closed.
    fn acquire(&self) -> Pin<Box<dyn Future<Output = Option<SlotPermit>> + Send + '_>>;
}

/// A held slot; dropping it frees the slot.
pub struct SlotPermit(pub Box<dyn Send + Sync>);

/// Slots of a grader's own.
struct OwnSlots {
    semaphore: Arc<Semaphore>,
    capacity: usize,
}

impl Slots for OwnSlots {
    fn capacity(&self) -> usize {
        self.capacity
    }

    fn acquire(&self) -> Pin<Box<dyn Future<Output = Option<SlotPermit>> + Send + '_>> {
        Box::pin(async move {
            let permit = self.semaphore.clone().acquire_owned().await.ok()?;
            Some(SlotPermit(Box::new(permit)))
        })
    }
}

/// Keeps a derived limit, written whole or not at all (a temporary file renamed); a failure
/// only means the next process derives again.
fn store_derived(path: &std::path::Path, limit: &TimeLimit) {
    let write = || -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(path);
        std::fs::create_dir_all(dir)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut file, &serde_json::to_vec(limit)?)?;
        file.persist(path)?;
        Ok(())
    };
    if let Err(e) = write() {
        tracing::warn!(path = %path.display(), error = %e, "cannot keep a derived time limit");
    }
}

pub struct Grader {
    toolchain: Arc<Toolchain>,
    config: GraderConfig,
    /// Time limits derived from packages' accepted submissions, by package directory.
    derived: Mutex<HashMap<PathBuf, TimeLimit>>,
}

/// Everything a test case's run needs, shared by the cases of one grading.
struct Context {
    toolchain: Arc<Toolchain>,
    package: Arc<ProblemPackage>,
    program: Program,
    validator: Option<Program>,
    limits: Limits,
    validator_limits: Limits,
    reveal_secret: bool,
    slots: Arc<dyn Slots>,
}

impl Grader {
    pub fn new(toolchain: Arc<Toolchain>, config: GraderConfig) -> Grader {
        Grader {
            toolchain,
            config,
            derived: Mutex::new(HashMap::new()),
        }
    }

    pub fn toolchain(&self) -> &Arc<Toolchain> {
        &self.toolchain
    }

    /// The problem's time limit: stated, derived (once, from its accepted submissions), or
    /// the default.
    pub async fn time_limit(
        &self,
        package: &Arc<ProblemPackage>,
        options: &GradeOptions,
    ) -> Result<TimeLimit, Error> {
        if let Some(limit) = package.time_limit {
            return Ok(limit);
        }
        if let Some(limit) = self
            .derived
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&package.dir)
        {
            return Ok(*limit);
        }
        // Another process may have derived it: the cache outlives processes.
        let stored = self.derived_path(package);
        let limit = match stored
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice::<TimeLimit>(&bytes).ok())
        {
            Some(limit) => limit,
            None => {
                let limit = verify::derive_time_limit(self, package, options).await?.0;
                if let Some(path) = &stored {
                    store_derived(path, &limit);
                }
                limit
            }
        };
        self.derived
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(package.dir.clone(), limit);
        Ok(limit)
    }

    /// Where a derived time limit of `package` is kept: in the compile cache's directory,
    /// named by what the derivation depends on (the package's files, the toolchains, the
    /// tier and the derivation's settings), so any change derives anew. `None` when the
    /// package cannot be read whole.
    fn derived_path(&self, package: &ProblemPackage) -> Option<PathBuf> {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        hash.update(package::content_hash(&package.dir).ok()?);
        for language in self.toolchain.registry().languages() {
            hash.update(format!("\0{}\0{}", language.id, language.version));
        }
        hash.update(format!(
            "\0{:?}\0{}\0{}",
            self.toolchain.sandbox().isolation(),
            self.config.derivation_cap_s,
            self.config.default_time_limit_s
        ));
        let key = hex::encode(hash.finalize());
        Some(self.toolchain.cache_dir().join("time-limits").join(key))
    }

    /// The limits `package`'s runs get, each with where it came from. The time limit is
    /// `None` while it waits to be derived (the package states none, and has accepted
    /// submissions to derive it from: the first [`Grader::time_limit`] does).
    pub fn effective_limits(&self, package: &ProblemPackage) -> EffectiveLimits {
        let time_limit = package.time_limit.or_else(|| {
            let derived = self
                .derived
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&package.dir)
                .copied();
            let accepted = verify::list_submissions(self, package)
                .0
                .iter()
                .any(verify::PackagedSubmission::must_pass);
            derived.or((!accepted).then_some(TimeLimit {
                seconds: self.config.default_time_limit_s,
                source: TimeLimitSource::Default,
            }))
        });
        let origin = |stated: Option<u64>, default: u64| match stated {
            Some(value) => (value, LimitOrigin::ProblemYaml),
            None => (default, LimitOrigin::Default),
        };
        let (memory_mib, memory_source) =
            origin(package.memory_mib, self.config.default_memory_mib);
        let (output_mib, output_source) =
            origin(package.output_mib, self.config.default_output_mib);
        EffectiveLimits {
            time_limit,
            memory_mib,
            memory_source,
            output_mib,
            output_source,
        }
    }

    /// Grades `submission` (in `language`) against `package`. `on_test` hears of each case
    /// as it is judged, in order.
    pub async fn grade(
        &self,
        package: &Arc<ProblemPackage>,
        language: &str,
        submission: Submission,
        options: &GradeOptions,
        on_test: &(dyn Fn(&TestReport) + Send + Sync),
    ) -> Result<GradeReport, Error> {
        let time_limit = self.time_limit(package, options).await?;
        self.grade_within(package, language, submission, options, time_limit, on_test)
            .await
    }

    pub(crate) async fn grade_within(
        &self,
        package: &Arc<ProblemPackage>,
        language: &str,
        submission: Submission,
        options: &GradeOptions,
        time_limit: TimeLimit,
        on_test: &(dyn Fn(&TestReport) + Send + Sync),
    ) -> Result<GradeReport, Error> {
        let language = self.toolchain.language(language)?.clone();
        let mut names: Vec<&str> = vec![&language.id];
        names.extend(language.aliases.iter().map(String::as_str));
        let submission = submission.with_files(package.include_files(&names)?);
        let memory_mib = package.memory_mib.unwrap_or(self.config.default_memory_mib);
        let mut report = GradeReport {
            problem: package.id.clone(),
            language: language.id.clone(),
            verdict: Verdict::CompileError,
            score: None,
            max_score: package
                .scoring
                .then(|| package.root.settings.range.map_or(0.0, |r| r.1)),
            time_limit,
            memory_limit_mib: memory_mib,
            compile: None,
            tests: Vec::new(),
            skipped: 0,
            cpu_time_ms: 0.0,
            memory_kib: 0,
            isolation: self.toolchain.sandbox().isolation(),
        };
        let program = match self.toolchain.prepare(&language.id, &submission).await? {
            Prepared::CompileError(compile) => {
                report.compile = Some(compile);
                report.skipped = package.cases.len();
                return Ok(report);
            }
            Prepared::Ready(program) => program,
        };
        report.compile = program.compile_report().cloned();
        let validator = self.prepare_validator(package).await?;
        let cpu_ms = (time_limit.seconds * 1000.0).ceil() as u64;
        let (limits, _) = self.toolchain.run_limits(&LimitsRequest {
            cpu_time_ms: Some(cpu_ms),
            wall_time_ms: Some(cpu_ms * 3 / 2 + 500),
            memory_kib: Some(memory_mib * 1024),
            stdout_bytes: Some(package.output_mib.unwrap_or(self.config.default_output_mib) << 20),
            ..LimitsRequest::default()
        });
        let validator_limits = Limits {
            wall_time_ms: self
                .config
                .validator_limits
                .wall_time_ms
                .max(limits.wall_time_ms + 2_000),
            ..self.config.validator_limits
        };
        let context = Arc::new(Context {
            toolchain: self.toolchain.clone(),
            package: package.clone(),
            program,
            validator,
            limits,
            validator_limits,
            reveal_secret: options.reveal_secret,
            slots: options.slots.clone(),
        });
        let window = options.slots.capacity().max(1) + 1;
        let mut scheduler = Scheduler::new(context, window);
        let mut evaluation = Evaluation {
            scheduler: &mut scheduler,
            stop_at_first_failure: options.stop_at_first_failure,
            reports: Vec::new(),
            on_test,
        };
        let graded = match evaluation.group(&package.root).await {
            Err(Error::SubmissionCompile(compile)) => {
                report.compile = Some(*compile);
                report.skipped = package.cases.len();
                return Ok(report);
            }
            graded => graded?,
        };
        report.tests = evaluation.reports;
        report.skipped = package.cases.len() - report.tests.len();
        report.verdict = match package.scoring {
            true => graded.verdict,
            // Pass-fail: the first case not accepted, in order (the Kattis rule).
            false => report
                .tests
                .iter()
                .map(|t| t.verdict)
                .find(|v| *v != Verdict::Accepted)
                .unwrap_or(Verdict::Accepted),
        };
        report.score = package.scoring.then_some(graded.score);
        report.cpu_time_ms = report
            .tests
            .iter()
            .map(|t| t.cpu_time_ms)
            .fold(0.0, f64::max);
        report.memory_kib = report.tests.iter().map(|t| t.memory_kib).max().unwrap_or(0);
        Ok(report)
    }

    /// Compiles the package's programs (its output validator and its input validators), as
    /// a check before the package is taken in: the first that does not compile is the
    /// error.
    pub async fn compile_validators(&self, package: &ProblemPackage) -> Result<(), Error> {
        self.prepare_validator(package).await?;
        for path in &package.input_validators {
            verify::prepare_input_validator(self, path).await?;
        }
        Ok(())
    }

    async fn prepare_validator(&self, package: &ProblemPackage) -> Result<Option<Program>, Error> {
        let ValidatorSpec::Custom { dir, .. } = &package.validator else {
            return Ok(None);
        };
        let read = Submission::read(dir).map_err(|e| Error::Package {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        let files: Vec<(String, Vec<u8>)> = read
            .files
            .into_iter()
            .map(|(name, bytes)| (name, package.substitute(bytes)))
            .collect();
        let registry = self.toolchain.registry();
        let language = files
            .iter()
            .find_map(|(name, _)| registry.for_path(Path::new(name)))
            .ok_or_else(|| Error::Package {
                path: dir.clone(),
                message: "no source file of a known language in the output validator".into(),
            })?
            .id
            .clone();
        let submission = Submission { files, entry: None };
        match self.toolchain.prepare(&language, &submission).await? {
            Prepared::Ready(program) => Ok(Some(program)),
            Prepared::CompileError(report) => Err(Error::ValidatorCompile {
                problem: package.id.clone(),
                output: report.output,
            }),
        }
    }
}

/// Runs test cases ahead of the evaluation, `window` at a time, in order.
struct Scheduler {
    context: Arc<Context>,
    handles: Vec<Option<JoinHandle<Result<TestReport, Error>>>>,
    skipped: Vec<bool>,
    window: usize,
}

impl Scheduler {
    fn new(context: Arc<Context>, window: usize) -> Scheduler {
        let cases = context.package.cases.len();
        Scheduler {
            context,
            handles: (0..cases).map(|_| None).collect(),
            skipped: vec![false; cases],
            window,
        }
    }

    /// Starts the next `window` cases from `from` that are neither started nor skipped.
    fn fill(&mut self, from: usize) {
        let mut ahead = 0;
        for i in from..self.handles.len() {
            if ahead == self.window {
                break;
            }
            if self.skipped[i] {
                continue;
            }
            ahead += 1;
            if self.handles[i].is_none() {
                let context = self.context.clone();
                self.handles[i] = Some(tokio::spawn(run_case(context, i)));
            }
        }
    }

    async fn result(&mut self, index: usize) -> Result<TestReport, Error> {
        self.fill(index);
        let handle = self.handles[index].take().expect("a case is awaited once");
        handle.await.map_err(|e| {
            Error::Sandbox(sandbox::Error::Io {
                context: "a test case's task failed",
                source: std::io::Error::other(e.to_string()),
            })
        })?
    }

    /// Cases that will not count: aborting a task kills its run.
    fn skip(&mut self, index: usize) {
        self.skipped[index] = true;
        if let Some(handle) = self.handles[index].take() {
            handle.abort();
        }
    }
}

/// Walks the test data tree in order, folding results group by group.
struct Evaluation<'a> {
    scheduler: &'a mut Scheduler,
    stop_at_first_failure: bool,
    reports: Vec<TestReport>,
    on_test: &'a (dyn Fn(&TestReport) + Send + Sync),
}

impl Evaluation<'_> {
    fn group<'g>(
        &'g mut self,
        group: &'g Group,
    ) -> Pin<Box<dyn Future<Output = Result<Graded, Error>> + Send + 'g>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(group.items.len());
            for (position, item) in group.items.iter().enumerate() {
                let graded = match item {
                    Item::Case(index) => {
                        let mut report = self.scheduler.result(*index).await?;
                        let accepted = report.verdict == Verdict::Accepted;
                        let score = match accepted {
                            true => group.settings.accept_score,
                            false => group.settings.reject_score,
                        };
                        if self.scheduler.context.package.scoring {
                            report.score = Some(score);
                        }
                        (self.on_test)(&report);
                        let verdict = report.verdict;
                        self.reports.push(report);
                        Graded { verdict, score }
                    }
                    Item::Group(child) => self.group(child).await?,
                };
                results.push(graded);
                if graded.verdict != Verdict::Accepted
                    && group.settings.on_reject_break
                    && self.stop_at_first_failure
                {
                    for rest in &group.items[position + 1..] {
                        skip_item(self.scheduler, rest);
                    }
                    break;
                }
            }
            Ok(aggregate(&group.settings, &results))
        })
    }
}

fn skip_item(scheduler: &mut Scheduler, item: &Item) {
    match item {
        Item::Case(index) => scheduler.skip(*index),
        Item::Group(group) => group.items.iter().for_each(|i| skip_item(scheduler, i)),
    }
}

async fn run_case(context: Arc<Context>, index: usize) -> Result<TestReport, Error> {
    let _slot = context.slots.acquire().await.ok_or_else(|| {
        Error::Sandbox(sandbox::Error::Io {
            context: "the grading slots closed",
            source: std::io::Error::other("closed"),
        })
    })?;
    let case = &context.package.cases[index];
    match context.package.interactive {
        true => run_interactive(&context, case).await,
        false => run_batch(&context, case).await,
    }
}

/// The report of a case from the submission's run, before validation.
fn base_report(case: &TestCase, run: &RunReport, verdict: Verdict) -> TestReport {
    TestReport {
        name: case.name.clone(),
        sample: case.sample,
        verdict,
        score: None,
        cpu_time_ms: run.cpu_time_ms,
        wall_time_ms: run.wall_time_ms,
        memory_kib: run.memory_kib,
        exit_code: run.exit_code,
        signal: run.signal,
        hint: None,
        message: None,
    }
}

async fn run_batch(context: &Context, case: &TestCase) -> Result<TestReport, Error> {
    match (context.package.passes, &context.validator) {
        (Some(passes), Some(validator)) => run_passes(context, case, validator, passes).await,
        _ => run_once(context, case).await,
    }
}

/// A multi-pass case: the submission runs on the case's input, then on each `nextpass.in`
/// its output validator writes when it accepts a pass, at most `passes` times. Limits apply
/// to each pass; the report shows the slowest pass and the most memory any pass used. The
/// validator's feedback directory (its box) persists between passes, as the format has it.
async fn run_passes(
    context: &Context,
    case: &TestCase,
    validator: &Program,
    passes: u32,
) -> Result<TestReport, Error> {
    let toolchain = &context.toolchain;
    let shown = case.sample || context.reveal_secret;
    let boxed = validator_box(context, validator, case)?;
    let mut input = case.input.read().await?;
    let (mut slowest_cpu, mut slowest_wall, mut memory) = (0.0f64, 0.0f64, 0);
    for pass in 1..=passes {
        let run = submission_run(context, input).await?;
        slowest_cpu = slowest_cpu.max(run.cpu_time_ms);
        slowest_wall = slowest_wall.max(run.wall_time_ms);
        memory = memory.max(run.memory_kib);
        let mut report = base_report(case, &run, run.status.into());
        (report.cpu_time_ms, report.wall_time_ms, report.memory_kib) =
            (slowest_cpu, slowest_wall, memory);
        if report.verdict != Verdict::Accepted {
            report.message = Some(format!("in pass {pass}"));
            return Ok(report);
        }
        let mut command =
            toolchain.command(validator, &validator_args(case), context.validator_limits);
        command.stdin = run.stdout.bytes;
        let judged = toolchain.sandbox().run(&boxed, &command).await?;
        apply_validator(&mut report, &judged, &boxed, shown)?;
        // No larger than the validator could write.
        let next = boxed.read_file("nextpass.in", context.validator_limits.file_size_bytes)?;
        let judge_error = |why: &str| {
            tracing::error!(case = %case.name, pass, "multi-pass validator: {why}");
            Verdict::InternalError
        };
        match (report.verdict, next) {
            (Verdict::Accepted, Some(next)) if pass < passes => {
                boxed.remove_file("nextpass.in")?;
                input = next;
            }
            (Verdict::Accepted, Some(_)) => {
                report.verdict = judge_error("asked for more passes than validation_passes");
                return Ok(report);
            }
            (Verdict::WrongAnswer, Some(_)) => {
                report.verdict = judge_error("wrote nextpass.in and rejected");
                return Ok(report);
            }
            (verdict, _) => {
                if verdict == Verdict::WrongAnswer && passes > 1 {
                    report
                        .message
                        .get_or_insert_with(|| format!("in pass {pass}"));
                }
                return Ok(report);
            }
        }
    }
    unreachable!("the last pass returns")
}

/// The submission's run on `input`; one that says the submission does not compile is the
/// error that ends the grading.
async fn submission_run(context: &Context, input: Vec<u8>) -> Result<RunReport, Error> {
    let run = context
        .toolchain
        .execute(&context.program, input, &[], context.limits)
        .await?;
    uncompiled(context, &run)?;
    Ok(run)
}

fn uncompiled(context: &Context, run: &RunReport) -> Result<(), Error> {
    match context.program.compile_error(run) {
        Some(compile) => Err(Error::SubmissionCompile(Box::new(compile))),
        None => Ok(()),
    }
}

async fn run_once(context: &Context, case: &TestCase) -> Result<TestReport, Error> {
    let input = case.input.read().await?;
    let toolchain = &context.toolchain;
    let run = submission_run(context, input).await?;
    let mut report = base_report(case, &run, run.status.into());
    if report.verdict != Verdict::Accepted {
        return Ok(report);
    }
    let shown = case.sample || context.reveal_secret;
    match &context.validator {
        None => {
            let answer = case.answer.read().await?;
            let flags = validator::Flags::parse(&case.validator_flags).map_err(|message| {
                Error::Package {
                    path: context.package.dir.join("problem.yaml"),
                    message,
                }
            })?;
            if let Err(mismatch) = validator::compare(&answer, &run.stdout.bytes, &flags) {
                report.verdict = Verdict::WrongAnswer;
                report.hint = shown.then_some(mismatch.message);
            }
        }
        Some(validator) if testlib(&context.package) => {
            // testlib: `checker input output answer`; 0 accepts, 1, 2 (presentation) and 4
            // reject, anything else is the checker's failure. Its comment is on stderr.
            let boxed = validator_box(context, validator, case)?;
            boxed.write_file("team.out", &run.stdout.bytes)?;
            let args = ["judge.in", "team.out", "judge.ans"].map(str::to_owned);
            let command = toolchain.command(validator, &args, context.validator_limits);
            let judged = toolchain.sandbox().run(&boxed, &command).await?;
            let comment = String::from_utf8_lossy(&judged.stderr.bytes)
                .trim()
                .to_owned();
            report.verdict = match judged.exit_code {
                Some(0) => Verdict::Accepted,
                Some(1 | 2 | 4) => Verdict::WrongAnswer,
                _ => {
                    tracing::error!(case = %report.name, %comment, "testlib checker failed");
                    Verdict::InternalError
                }
            };
            if shown && report.verdict == Verdict::WrongAnswer && !comment.is_empty() {
                report.hint = Some(comment);
            }
        }
        Some(validator) => {
            let boxed = validator_box(context, validator, case)?;
            let mut command =
                toolchain.command(validator, &validator_args(case), context.validator_limits);
            command.stdin = run.stdout.bytes.clone();
            let judged = toolchain.sandbox().run(&boxed, &command).await?;
            apply_validator(&mut report, &judged, &boxed, shown)?;
        }
    }
    Ok(report)
}

fn testlib(package: &ProblemPackage) -> bool {
    matches!(
        package.validator,
        ValidatorSpec::Custom { testlib: true, .. }
    )
}

fn validator_args(case: &TestCase) -> Vec<String> {
    let mut args = vec![
        "judge.in".to_owned(),
        "judge.ans".to_owned(),
        "/box".to_owned(),
    ];
    args.extend(case.validator_flags.iter().cloned());
    args
}

/// A box with the validator and the case's input and answer files.
fn validator_box(
    context: &Context,
    validator: &Program,
    case: &TestCase,
) -> Result<sandbox::SandboxBox, Error> {
    let boxed = context.toolchain.new_box_for(validator)?;
    for (data, name) in [(&case.input, "judge.in"), (&case.answer, "judge.ans")] {
        match data {
            TestData::File(path) => {
                // Test files may be symlinks within the package: link the file itself.
                let real = std::fs::canonicalize(path).map_err(|e| Error::Package {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                boxed.add_readonly(&real, name)?;
            }
            TestData::Inline(bytes) => boxed.write_file(name, bytes)?,
        }
    }
    Ok(boxed)
}

/// Reads a validator's verdict (exit 42 accepts, 43 rejects, anything else is a judge
/// error) and feedback into `report`.
fn apply_validator(
    report: &mut TestReport,
    judged: &RunReport,
    boxed: &sandbox::SandboxBox,
    shown: bool,
) -> Result<(), Error> {
    let feedback = |name: &str| -> Result<Option<String>, Error> {
        Ok(boxed
            .read_file(name, 64 << 10)?
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .filter(|t| !t.is_empty()))
    };
    report.verdict = match judged.exit_code {
        Some(42) => Verdict::Accepted,
        Some(43) => Verdict::WrongAnswer,
        _ => {
            tracing::error!(
                case = %report.name,
                status = judged.status.as_str(),
                exit_code = ?judged.exit_code,
                stderr = %String::from_utf8_lossy(&judged.stderr.bytes),
                "output validator failed"
            );
            Verdict::InternalError
        }
    };
    report.message = feedback("teammessage.txt")?;
    if shown && report.verdict == Verdict::WrongAnswer {
        report.hint = feedback("judgemessage.txt")?;
    }
    Ok(())
}

/// An interactive case: the validator's stdout is the submission's stdin and back. Whoever
/// stops talking first decides, as problemtools has it: a validator that rejects first makes a
/// wrong answer (and the submission is killed); otherwise a submission over its time limit is
/// TLE, one that failed is RTE (or MLE), and else the validator's verdict stands. A
/// submission that closed its output first is let run to its own end (within its limits)
/// even when the validator then rejects: a crash or an overrun after falling silent is its
/// verdict.
async fn run_interactive(context: &Context, case: &TestCase) -> Result<TestReport, Error> {
    let Some(validator) = &context.validator else {
        return Err(Error::Package {
            path: context.package.dir.clone(),
            message: "an interactive problem needs an output validator".into(),
        });
    };
    let toolchain = &context.toolchain;
    let sandbox = toolchain.sandbox();
    let validator_box = validator_box(context, validator, case)?;
    let submission_box = toolchain.new_box_for(&context.program)?;
    let (submission_reads, validator_writes) = std::io::pipe().map_err(sandbox_io)?;
    let (validator_reads, submission_writes) = std::io::pipe().map_err(sandbox_io)?;
    // Which side stopped talking first, as the kernel ordered the two pipes' hang-ups.
    let mut hangup = sandbox::first_hangup(
        submission_reads.try_clone().map_err(sandbox_io)?.into(),
        validator_reads.try_clone().map_err(sandbox_io)?.into(),
    )
    .map_err(sandbox_io)?;
    let validator_command =
        toolchain.command(validator, &validator_args(case), context.validator_limits);
    let submission_command = toolchain.command(&context.program, &[], context.limits);
    let judging = sandbox.run_piped(
        &validator_box,
        &validator_command,
        Pipes {
            stdin: validator_reads.into(),
            stdout: validator_writes.into(),
        },
    );
    let solving = sandbox.run_piped(
        &submission_box,
        &submission_command,
        Pipes {
            stdin: submission_reads.into(),
            stdout: submission_writes.into(),
        },
    );
    tokio::pin!(judging, solving);
    // The order, once it had to be known before both ended (a watch resolves once).
    let mut order = None;
    let (judged, solved) = tokio::select! {
        judged = &mut judging => {
            let judged = judged?;
            if judged.exit_code != Some(43) {
                (judged, Some(solving.await?))
            } else if *order.insert((&mut hangup).await.map_err(sandbox_io)?) == Hangup::Second {
                // The submission stopped talking first (it closed its output), and the
                // validator rejected what it had: the submission's own end decides, within
                // its limits, since a crash or an overrun after it fell silent is what its
                // author needs to see. If it then exits cleanly, the rejection stands.
                (judged, Some(solving.await?))
            } else {
                // The rejection came first: a submission still running is killed. It may be
                // ending anyway (it read the end): a moment for its report, for its time and
                // memory.
                let solved = tokio::time::timeout(std::time::Duration::from_millis(200), &mut solving).await;
                match solved {
                    Ok(solved) => (judged, Some(solved?)),
                    Err(_) => (judged, None),
                }
            }
        }
        solved = &mut solving => {
            let solved = solved?;
            (judging.await?, Some(solved))
        }
    };
    let shown = case.sample || context.reveal_secret;
    let rejected_first = judged.exit_code == Some(43)
        && match order {
            Some(order) => order,
            // Both have ended, so both pipes have hung up.
            None => hangup.await.map_err(sandbox_io)?,
        } == Hangup::First;
    if let Some(solved) = &solved {
        uncompiled(context, solved)?;
    }
    let mut report = match &solved {
        Some(solved) => base_report(case, solved, solved.status.into()),
        None => TestReport {
            name: case.name.clone(),
            sample: case.sample,
            verdict: Verdict::WrongAnswer,
            score: None,
            cpu_time_ms: 0.0,
            wall_time_ms: judged.wall_time_ms,
            memory_kib: 0,
            exit_code: None,
            signal: None,
            hint: None,
            message: None,
        },
    };
    if rejected_first || report.verdict == Verdict::Accepted {
        apply_validator(&mut report, &judged, &validator_box, shown)?;
    }
    Ok(report)
}

fn sandbox_io(source: std::io::Error) -> Error {
    Error::Sandbox(sandbox::Error::Io {
        context: "connect submission and validator",
        source,
    })
}
