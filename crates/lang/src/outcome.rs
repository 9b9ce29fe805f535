//! The outcome of a run request, and its JSON form: the report `judgelet run --json` prints
//! and the `run` function returns.

use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use sandbox::{Captured, Clamp, Isolation, LimitKind, Limits, RunReport, Status};

use crate::cache::CompileReport;
use crate::registry::Language;

/// How a run request ended, as the design names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Ok,
    CompileError,
    RunTimeError,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    OutputLimitExceeded,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Ok,
        RunStatus::CompileError,
        RunStatus::RunTimeError,
        RunStatus::TimeLimitExceeded,
        RunStatus::MemoryLimitExceeded,
        RunStatus::OutputLimitExceeded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::CompileError => "compile_error",
            RunStatus::Ok => Status::Ok.as_str(),
            RunStatus::RunTimeError => Status::RunTimeError.as_str(),
            RunStatus::TimeLimitExceeded => Status::TimeLimitExceeded.as_str(),
            RunStatus::MemoryLimitExceeded => Status::MemoryLimitExceeded.as_str(),
            RunStatus::OutputLimitExceeded => Status::OutputLimitExceeded.as_str(),
        }
    }
}

impl From<Status> for RunStatus {
    fn from(status: Status) -> RunStatus {
        match status {
            Status::Ok => RunStatus::Ok,
            Status::RunTimeError => RunStatus::RunTimeError,
            Status::TimeLimitExceeded => RunStatus::TimeLimitExceeded,
            Status::MemoryLimitExceeded => RunStatus::MemoryLimitExceeded,
            Status::OutputLimitExceeded => RunStatus::OutputLimitExceeded,
        }
    }
}

/// A run request's result: the compilation (if any) and the run (unless it did not compile).
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub language: Arc<Language>,
    pub compile: Option<CompileReport>,
    pub run: Option<RunReport>,
    pub limits: Limits,
    pub clamped: Vec<Clamp>,
    /// The sandbox's isolation tier, which the compilation and the run had.
    pub isolation: Isolation,
}

impl RunOutcome {
    pub fn status(&self) -> RunStatus {
        match &self.run {
            Some(run) => run.status.into(),
            None => RunStatus::CompileError,
        }
    }

    /// The bytes the program wrote to stdout (empty when it did not run).
    pub fn stdout(&self) -> &[u8] {
        self.run.as_ref().map_or(&[], |r| &r.stdout.bytes)
    }

    /// What to show a person when the run failed, after its stdout: the compiler's
    /// diagnostics and the program's stderr, each under a marked heading, then how it ended.
    ///
    /// ```text
    /// --- stderr ---
    /// Traceback (most recent call last): ...
    /// --- run_time_error: exit code 1 ---
    /// ```
    pub fn diagnostic(&self) -> String {
        let mut text = String::new();
        let mut section = |title: &str, body: &str| {
            if !body.is_empty() {
                text.push_str(&format!("--- {title} ---\n{body}"));
                if !body.ends_with('\n') {
                    text.push('\n');
                }
            }
        };
        if let Some(compile) = self.compile.as_ref().filter(|c| !c.success) {
            section("compile output", &compile.output);
        }
        let how = match &self.run {
            Some(run) => {
                section("stderr", &String::from_utf8_lossy(&run.stderr.bytes));
                match (run.limit_exceeded, run.exit_code, run.signal) {
                    (Some(limit), _, _) => format!("{} limit exceeded", limit.as_str()),
                    (None, _, Some(signal)) => format!("killed by signal {signal}"),
                    (None, Some(code), None) => format!("exit code {code}"),
                    (None, None, None) => String::new(),
                }
            }
            None => "the program did not compile".to_owned(),
        };
        text.push_str(&format!("--- {}: {how} ---\n", self.status().as_str()));
        text
    }

    pub fn response(&self) -> RunResponse {
        let run = self.run.as_ref();
        let stream =
            |pick: fn(&RunReport) -> &Captured| run.map(pick).map(Stream::of).unwrap_or_default();
        let (stdout, stderr) = (stream(|r| &r.stdout), stream(|r| &r.stderr));
        RunResponse {
            language: self.language.id.clone(),
            status: self.status(),
            limit_exceeded: run.and_then(|r| r.limit_exceeded),
            exit_code: run.and_then(|r| r.exit_code),
            signal: run.and_then(|r| r.signal),
            stdout: stdout.text,
            stdout_base64: stdout.base64,
            stdout_bytes: stdout.total,
            stdout_truncated: stdout.truncated,
            stderr: stderr.text,
            stderr_base64: stderr.base64,
            stderr_bytes: stderr.total,
            stderr_truncated: stderr.truncated,
            compile_output: self
                .compile
                .as_ref()
                .map(|c| c.output.clone())
                .unwrap_or_default(),
            cpu_time_ms: run.map_or(0.0, |r| round_us(r.cpu_time_ms)),
            wall_time_ms: run.map_or(0.0, |r| round_us(r.wall_time_ms)),
            memory_kib: run.map_or(0, |r| r.memory_kib),
            compile: self.compile.clone(),
            limits: self.limits,
            clamped: self.clamped.clone(),
            isolation: self.isolation,
            cpu: run.and_then(|r| r.cpu),
            cpu_shared: run.is_some_and(|r| r.cpu_shared),
        }
    }
}

/// The JSON report of one run request.
///
/// Program output is text in `stdout`/`stderr`; when it is not valid UTF-8 the text is a
/// lossy rendering and the exact bytes are in `stdout_base64`/`stderr_base64`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResponse {
    pub language: String,
    pub status: RunStatus,
    /// The limit that ended the run, if one did.
    pub limit_exceeded: Option<LimitKind>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_base64: Option<String>,
    /// Bytes written in all (more than `stdout` holds when truncated).
    pub stdout_bytes: u64,
    pub stdout_truncated: bool,
    pub stderr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_base64: Option<String>,
    pub stderr_bytes: u64,
    pub stderr_truncated: bool,
    /// The compiler's diagnostics; empty for interpreted languages.
    pub compile_output: String,
    pub cpu_time_ms: f64,
    pub wall_time_ms: f64,
    pub memory_kib: u64,
    /// The compilation's own measurements, and whether it came from the cache.
    pub compile: Option<CompileReport>,
    /// The limits the run was held to.
    pub limits: Limits,
    /// Requested limits the server changed (above its maxima).
    pub clamped: Vec<Clamp>,
    /// How the run was isolated: `namespaces` or `unprivileged`.
    pub isolation: Isolation,
    /// The CPU the run was pinned to (`null` when runs are not pinned).
    #[serde(default)]
    pub cpu: Option<u32>,
    /// More runs at once than CPUs: this one shared its CPU with another.
    #[serde(default)]
    pub cpu_shared: bool,
}

#[derive(Default)]
struct Stream {
    text: String,
    base64: Option<String>,
    total: u64,
    truncated: bool,
}

impl Stream {
    fn of(captured: &Captured) -> Stream {
        let (text, base64) = match std::str::from_utf8(&captured.bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (
                String::from_utf8_lossy(&captured.bytes).into_owned(),
                Some(base64::engine::general_purpose::STANDARD.encode(&captured.bytes)),
            ),
        };
        Stream {
            text,
            base64,
            total: captured.total_bytes,
            truncated: captured.truncated(),
        }
    }
}

fn round_us(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
