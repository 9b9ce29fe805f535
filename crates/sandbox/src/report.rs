//! What a run produced and how it ended. A verdict is a value: a program that crashed or
//! ran out of time is a [`RunReport`], never an `Err`.

use serde::{Deserialize, Serialize};

use crate::limits::Limits;

/// How one run ended, as the design names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    RunTimeError,
    TimeLimitExceeded,
    MemoryLimitExceeded,
    OutputLimitExceeded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::RunTimeError => "run_time_error",
            Status::TimeLimitExceeded => "time_limit_exceeded",
            Status::MemoryLimitExceeded => "memory_limit_exceeded",
            Status::OutputLimitExceeded => "output_limit_exceeded",
        }
    }
}

/// The limit that ended a run, when one did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    CpuTime,
    WallTime,
    Memory,
    Stdout,
    FileSize,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::CpuTime => "cpu_time",
            LimitKind::WallTime => "wall_time",
            LimitKind::Memory => "memory",
            LimitKind::Stdout => "stdout",
            LimitKind::FileSize => "file_size",
        }
    }

    pub fn status(self) -> Status {
        match self {
            LimitKind::CpuTime | LimitKind::WallTime => Status::TimeLimitExceeded,
            LimitKind::Memory => Status::MemoryLimitExceeded,
            LimitKind::Stdout | LimitKind::FileSize => Status::OutputLimitExceeded,
        }
    }
}

/// Bytes a program wrote to one stream: the first bytes up to the cap, and how many it wrote
/// in all. Bytes are kept exactly; turning them into text is for whoever shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    pub bytes: Vec<u8>,
    pub total_bytes: u64,
}

impl Captured {
    pub fn truncated(&self) -> bool {
        self.total_bytes > self.bytes.len() as u64
    }
}

/// Everything measured about one run.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub status: Status,
    /// Which limit ended the run, if one did.
    pub limit_exceeded: Option<LimitKind>,
    /// Exit code of the main process, when it exited on its own.
    pub exit_code: Option<i32>,
    /// Signal that ended the main process, when one did.
    pub signal: Option<i32>,
    /// CPU time of the whole tree (user + system).
    pub cpu_time_ms: f64,
    pub wall_time_ms: f64,
    /// Peak memory of the whole tree.
    pub memory_kib: u64,
    pub stdout: Captured,
    pub stderr: Captured,
    /// The limits the run was held to.
    pub limits: Limits,
    /// The isolation tier the run had.
    pub isolation: crate::Isolation,
    /// The CPU the run was pinned to, when runs are pinned.
    pub cpu: Option<u32>,
    /// Another run was pinned to the same CPU when this one started: more runs at once than
    /// CPUs, so they shared.
    pub cpu_shared: bool,
}
