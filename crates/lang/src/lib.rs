//! Languages: the registry (`languages.toml`), the compile cache, and the two steps every
//! caller needs: [`Toolchain::prepare`] (compile once, cached) and [`Toolchain::execute`]
//! (run the result in a fresh box). [`Toolchain::run`] does both for one run request.
//!
//! Compilers run in the sandbox too, with their own limits: a compiler fed hostile source
//! (`#include "/dev/zero"`) is an untrusted process like any other.

pub mod base64_bytes;
mod cache;
mod outcome;
mod registry;
mod submission;
mod warm;

use std::path::PathBuf;
use std::sync::Arc;

pub use cache::{CompileCache, CompileReport, Entry};
pub use outcome::{RunOutcome, RunResponse, RunStatus};
pub use registry::{Language, LanguageInfo, Refusal, Registry, DEFAULT_LANGUAGES_TOML};
use sandbox::{Clamp, Command, Limits, LimitsRequest, RunReport, Sandbox, SandboxBox};
pub use submission::Submission;
use warm::WarmPool;
pub use warm::WarmStats;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request names a language the registry does not have (or whose toolchain is
    /// missing here).
    #[error("unknown language {language:?}; known: {}", known.join(", "))]
    UnknownLanguage {
        language: String,
        known: Vec<String>,
    },
    /// `languages.toml` is malformed.
    #[error("invalid language configuration: {0}")]
    Config(String),
    #[error("compile cache: {0}")]
    Cache(String),
    /// The request itself cannot be run as given (a file name with a `/` in it).
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Sandbox(#[from] sandbox::Error),
}

/// Limits and places a [`Toolchain`] works with.
#[derive(Clone, Debug)]
pub struct ToolchainConfig {
    /// The registry's text (`languages.toml`).
    pub languages_toml: String,
    pub cache_dir: PathBuf,
    pub cache_max_bytes: u64,
    /// Limits of a run where the request leaves them out.
    pub run_defaults: Limits,
    /// The most a request may ask for.
    pub run_maxima: Limits,
    /// Limits of every compilation.
    pub compile_limits: Limits,
    /// How many programs of each language with a warm runtime wait for runs (`warm`); 0:
    /// none, every run starts cold.
    pub warm_runtimes: usize,
}

impl Default for ToolchainConfig {
    fn default() -> Self {
        ToolchainConfig {
            languages_toml: DEFAULT_LANGUAGES_TOML.to_owned(),
            cache_dir: sandbox::default_state_dir().join("cache"),
            cache_max_bytes: 512 << 20,
            run_defaults: Limits::RUN_DEFAULTS,
            run_maxima: Limits::MAXIMA,
            compile_limits: Limits {
                cpu_time_ms: 10_000,
                wall_time_ms: 20_000,
                memory_kib: 512 * 1024,
                // Go's and Java's compilers run many threads.
                processes: 128,
                stdout_bytes: 1 << 20,
                stderr_bytes: 64 << 10,
                file_size_bytes: 128 << 20,
                open_files: 256,
            },
            warm_runtimes: 0,
        }
    }
}

/// A request to run one program once. Its serde form (bytes as base64) is how a stored
/// submission keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunRequest {
    pub language: String,
    #[serde(with = "base64_bytes")]
    pub source: Vec<u8>,
    /// The source's file name in the box; the language's own (`main.py`) when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Files beside the source, there when it compiles and when it runs: modules, headers,
    /// data the program reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    #[serde(with = "base64_bytes")]
    pub stdin: Vec<u8>,
    pub args: Vec<String>,
    pub limits: LimitsRequest,
}

/// A file of a run request.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct File {
    pub name: String,
    #[serde(with = "base64_bytes")]
    pub contents: Vec<u8>,
}

impl RunRequest {
    /// Why its file names cannot be used, if they cannot: each a plain file name, none twice.
    pub fn check_files(&self) -> Result<(), Error> {
        let mut seen = std::collections::BTreeSet::new();
        let names = self
            .source_name
            .iter()
            .chain(self.files.iter().map(|f| &f.name));
        for name in names {
            if !submission::plain_name(name) {
                return Err(Error::InvalidRequest(format!(
                    "{name:?} is not a plain file name (no `/`, not `.` or `..`, at most 255 bytes)"
                )));
            }
            if !seen.insert(name.as_str()) {
                return Err(Error::InvalidRequest(format!("two files named {name:?}")));
            }
        }
        Ok(())
    }
}

/// A submission ready to run: compiled (artifacts in the cache) or interpreted (its files),
/// with the command line that runs it.
#[derive(Clone, Debug)]
pub struct Program {
    pub language: Arc<Language>,
    files: ProgramFiles,
    run: Vec<String>,
}

#[derive(Clone, Debug)]
enum ProgramFiles {
    Compiled(Entry),
    Source(Arc<Submission>),
}

impl Program {
    /// How its compilation went, for a compiled language.
    pub fn compile_report(&self) -> Option<&CompileReport> {
        match &self.files {
            ProgramFiles::Compiled(entry) => Some(&entry.report),
            ProgramFiles::Source(_) => None,
        }
    }

    /// The compile error a run reported, for a language whose runs check their sources
    /// before running them: what it wrote to stderr is the compile output.
    pub fn compile_error(&self, run: &RunReport) -> Option<CompileReport> {
        let code = self.language.compile_error_exit?;
        (run.status == sandbox::Status::RunTimeError && run.exit_code == Some(code)).then(|| {
            CompileReport {
                success: false,
                output: String::from_utf8_lossy(&run.stderr.bytes).into_owned(),
                limit_exceeded: None,
                exit_code: run.exit_code,
                signal: None,
                cpu_time_ms: run.cpu_time_ms,
                wall_time_ms: run.wall_time_ms,
                memory_kib: run.memory_kib,
                cached: false,
            }
        })
    }
}

/// The result of preparing a submission.
#[derive(Clone, Debug)]
pub enum Prepared {
    Ready(Program),
    CompileError(CompileReport),
}

pub struct Toolchain {
    registry: Registry,
    sandbox: Sandbox,
    cache: CompileCache,
    warm: WarmPool,
    config: ToolchainConfig,
}

impl Toolchain {
    pub fn new(sandbox: Sandbox, config: ToolchainConfig) -> Result<Toolchain, Error> {
        Ok(Toolchain {
            registry: Registry::load(&config.languages_toml)?,
            cache: CompileCache::open(&config.cache_dir, config.cache_max_bytes)?,
            warm: WarmPool::new(sandbox.clone(), config.warm_runtimes),
            sandbox,
            config,
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The compile cache's directory; the judge keeps derived time limits there too.
    pub fn cache_dir(&self) -> &std::path::Path {
        &self.config.cache_dir
    }

    /// A language by id or alias.
    pub fn language(&self, name: &str) -> Result<&Arc<Language>, Error> {
        self.registry
            .get(name)
            .ok_or_else(|| Error::UnknownLanguage {
                language: name.to_owned(),
                known: self.registry.ids(),
            })
    }

    /// Concrete run limits for a request: defaults where it is silent, clamped to maxima.
    pub fn run_limits(&self, request: &LimitsRequest) -> (Limits, Vec<Clamp>) {
        request.resolve(&self.config.run_defaults, &self.config.run_maxima)
    }

    /// Compiles a submission once (or finds it in the cache). Interpreted languages need
    /// nothing but an entry point.
    pub async fn prepare(
        &self,
        language: &str,
        submission: &Submission,
    ) -> Result<Prepared, Error> {
        let language = self.language(language)?.clone();
        if let Some(message) = language.refusal(submission) {
            return Ok(Prepared::CompileError(CompileReport::refused(message)));
        }
        if language.compile.is_none() {
            return Ok(match submission.expand(&language, &language.run) {
                Ok(run) => Prepared::Ready(Program {
                    language,
                    files: ProgramFiles::Source(Arc::new(submission.clone())),
                    run,
                }),
                Err(message) => Prepared::CompileError(CompileReport::refused(message)),
            });
        }
        let key = CompileCache::key(&language, submission, self.sandbox.isolation());
        let entry = self
            .cache
            .get_or_compile(&key, |staging| self.compile(&language, submission, staging))
            .await?;
        if !entry.report.success {
            return Ok(Prepared::CompileError(entry.report));
        }
        Ok(match submission.expand(&language, &language.run) {
            Ok(run) => Prepared::Ready(Program {
                language,
                files: ProgramFiles::Compiled(entry),
                run,
            }),
            Err(message) => Prepared::CompileError(CompileReport::refused(message)),
        })
    }

    async fn compile(
        &self,
        language: &Language,
        submission: &Submission,
        staging: PathBuf,
    ) -> Result<CompileReport, Error> {
        let limits = self.config.compile_limits;
        let compile = language.compile.as_deref().unwrap_or_default();
        let argv = match submission.expand(language, compile) {
            Ok(argv) => argv,
            Err(message) => return Ok(CompileReport::refused(message)),
        };
        let boxed = self.sandbox.new_box()?;
        for (name, bytes) in &submission.files {
            boxed.write_file(name, bytes)?;
        }
        let command = command(language, &argv, &[], limits, Vec::new());
        let report = self.sandbox.run(&boxed, &command).await?;
        let mut output = String::from_utf8_lossy(&report.stdout.bytes).into_owned();
        output.push_str(&String::from_utf8_lossy(&report.stderr.bytes));
        let mut success = report.status == sandbox::Status::Ok;
        if let Some(limit) = report.limit_exceeded {
            output.push_str(&format!(
                "\njudgelet: compilation stopped: its {} limit was exceeded\n",
                limit.as_str()
            ));
        }
        let left = boxed.list_files()?;
        for pattern in &language.artifacts {
            if !success {
                break;
            }
            let names: Vec<&String> = left.iter().filter(|name| matches(pattern, name)).collect();
            if names.is_empty() {
                success = false;
                output.push_str(&format!("judgelet: the compiler left no {pattern}\n"));
            }
            for name in names {
                let Some(bytes) = boxed.read_file(name, limits.file_size_bytes)? else {
                    continue;
                };
                cache::write_artifact(&staging, name, &bytes)
                    .map_err(|e| Error::Cache(format!("store {name}: {e}")))?;
            }
        }
        Ok(CompileReport {
            success,
            output,
            limit_exceeded: report.limit_exceeded,
            exit_code: report.exit_code,
            signal: report.signal,
            cpu_time_ms: report.cpu_time_ms,
            wall_time_ms: report.wall_time_ms,
            memory_kib: report.memory_kib,
            cached: false,
        })
    }

    /// Runs a prepared program in a fresh box.
    pub async fn execute(
        &self,
        program: &Program,
        stdin: Vec<u8>,
        args: &[String],
        limits: Limits,
    ) -> Result<RunReport, Error> {
        self.execute_with(program, &[], stdin, args, limits).await
    }

    /// Runs a prepared program in a fresh box, with `files` beside it (a compiled program's
    /// box holds only what its compilation left).
    async fn execute_with(
        &self,
        program: &Program,
        files: &[File],
        stdin: Vec<u8>,
        args: &[String],
        limits: Limits,
    ) -> Result<RunReport, Error> {
        let language = &program.language;
        let mut report = match (&program.files, language.warm_entry) {
            (ProgramFiles::Source(submission), Some(entry_at)) if self.warm.enabled() => {
                let parked = self.warm.take(&language.id, &limits);
                let report = match parked {
                    Some(parked) => {
                        let message = warm::message(&program.run, entry_at, args);
                        warm::go(parked, &submission.files, &stdin, &message).await
                    }
                    None => self.cold(program, files, stdin, args, limits).await,
                };
                // After the run, not beside it: the next start would slow this run down.
                self.replenish(language, entry_at, limits);
                report?
            }
            _ => self.cold(program, files, stdin, args, limits).await?,
        };
        let out_of_memory = program
            .language
            .out_of_memory
            .as_deref()
            .is_some_and(|marker| {
                report.status == sandbox::Status::RunTimeError
                    && String::from_utf8_lossy(&report.stderr.bytes).contains(marker)
            });
        if out_of_memory {
            report.status = sandbox::Status::MemoryLimitExceeded;
            report.limit_exceeded = Some(sandbox::LimitKind::Memory);
        }
        Ok(report)
    }

    /// Starts `program` in a new box, as every run of a language without a warm runtime.
    async fn cold(
        &self,
        program: &Program,
        files: &[File],
        stdin: Vec<u8>,
        args: &[String],
        limits: Limits,
    ) -> Result<RunReport, Error> {
        let boxed = self.new_box_for(program)?;
        if let ProgramFiles::Compiled(_) = program.files {
            for file in files {
                boxed.write_file(&file.name, &file.contents)?;
            }
        }
        let command = command(&program.language, &program.run, args, limits, stdin);
        Ok(self.sandbox.run(&boxed, &command).await?)
    }

    /// Starts the warm runtimes of every language that has one, for runs with the default
    /// limits, in the background (the first runs need not start cold).
    pub fn warm_up(&self) {
        if !self.warm.enabled() {
            return;
        }
        for language in self.registry.languages() {
            if let Some(entry_at) = language.warm_entry {
                for _ in 0..self.config.warm_runtimes {
                    self.replenish(language, entry_at, self.config.run_defaults);
                }
            }
        }
    }

    fn replenish(&self, language: &Language, entry_at: usize, limits: Limits) {
        let started = warm::started(&language.run, entry_at);
        let command = command(language, &started, &[], limits, Vec::new());
        self.warm.replenish(&language.id, command);
    }

    /// The warm runtimes now (`/metrics`).
    pub fn warm_stats(&self) -> WarmStats {
        self.warm.stats()
    }

    /// A fresh box holding what `program` needs to run; add files, then [`Toolchain::command`].
    pub fn new_box_for(&self, program: &Program) -> Result<SandboxBox, Error> {
        let boxed = self.sandbox.new_box()?;
        match &program.files {
            ProgramFiles::Compiled(entry) => {
                for name in &entry.artifacts {
                    boxed.add_readonly(&entry.dir.join(name), name)?;
                }
            }
            ProgramFiles::Source(submission) => {
                for (name, bytes) in &submission.files {
                    boxed.write_file(name, bytes)?;
                }
            }
        }
        Ok(boxed)
    }

    /// The command that runs `program` with `args` appended.
    pub fn command(&self, program: &Program, args: &[String], limits: Limits) -> Command {
        command(&program.language, &program.run, args, limits, Vec::new())
    }

    /// Prepares and runs one request.
    pub async fn run(&self, request: RunRequest) -> Result<RunOutcome, Error> {
        let (limits, clamped) = self.run_limits(&request.limits);
        let language = self.language(&request.language)?.clone();
        request.check_files()?;
        let named = request.source_name.is_some() || !request.files.is_empty();
        let name = request
            .source_name
            .clone()
            .unwrap_or_else(|| language.source_name_for(&request.source));
        let mut files = vec![(name.clone(), request.source)];
        files.extend(
            request
                .files
                .iter()
                .map(|f| (f.name.clone(), f.contents.clone())),
        );
        let submission = Submission {
            files,
            entry: named.then_some(name),
        };
        let (compile, run) = match self.prepare(&language.id, &submission).await? {
            Prepared::CompileError(report) => (Some(report), None),
            Prepared::Ready(program) => {
                let report = self
                    .execute_with(
                        &program,
                        &request.files,
                        request.stdin,
                        &request.args,
                        limits,
                    )
                    .await?;
                match program.compile_error(&report) {
                    Some(compile) => (Some(compile), None),
                    None => (program.compile_report().cloned(), Some(report)),
                }
            }
        };
        Ok(RunOutcome {
            language,
            compile,
            run,
            limits,
            clamped,
            isolation: self.sandbox().isolation(),
        })
    }
}

fn command(
    language: &Language,
    argv: &[String],
    extra_args: &[String],
    limits: Limits,
    stdin: Vec<u8>,
) -> Command {
    let mut command = Command::new(&argv[0], limits);
    // Runtimes with their own heap limit (the JVM) follow the run's memory limit.
    let memory_mib = (limits.memory_kib / 1024).to_string();
    command
        .args(
            argv[1..]
                .iter()
                .map(|a| a.replace("{memory_mib}", &memory_mib)),
        )
        .args(extra_args.iter().cloned())
        .stdin(stdin);
    for (key, value) in &language.env {
        command.env(key, value);
    }
    command.readonly = language.readonly.clone();
    command
}

/// `*` in an artifact pattern matches any run of characters (`*.class`).
fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}
