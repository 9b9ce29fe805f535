//! Per-run limits: what a request may ask for, the server's defaults and maxima, and the
//! concrete [`Limits`] a run gets after clamping.

use serde::{Deserialize, Serialize};

/// The limits one run is held to. Every field is concrete; a request's optional fields
/// ([`LimitsRequest`]) are resolved against defaults and clamped to maxima first.
///
/// Units follow the measurement names of the reports (`cpu_time_ms`, `memory_kib`), so a
/// client compares a measurement against its limit without converting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// CPU time of the whole process tree (user + system).
    pub cpu_time_ms: u64,
    /// Wall-clock time from start to the end of the tree.
    pub wall_time_ms: u64,
    /// Peak memory of the tree (cgroup), including files it writes to its box and `/tmp`.
    pub memory_kib: u64,
    /// Processes and threads alive at once.
    pub processes: u32,
    /// Bytes of stdout; one more ends the run with `output_limit_exceeded`.
    pub stdout_bytes: u64,
    /// Bytes of stderr kept in the report; the rest is drained and counted, never an error.
    pub stderr_bytes: u64,
    /// Largest file the program may write.
    pub file_size_bytes: u64,
    /// Open file descriptors per process.
    pub open_files: u32,
}

impl Limits {
    /// Defaults for running a submission, in the spirit of contest judges.
    pub const RUN_DEFAULTS: Limits = Limits {
        cpu_time_ms: 2_000,
        wall_time_ms: 5_000,
        memory_kib: 256 * 1024,
        processes: 64,
        stdout_bytes: 16 << 20,
        stderr_bytes: 64 << 10,
        file_size_bytes: 64 << 20,
        open_files: 256,
    };

    /// The most a request may ask for unless the operator configures otherwise.
    pub const MAXIMA: Limits = Limits {
        cpu_time_ms: 30_000,
        wall_time_ms: 60_000,
        memory_kib: 2 * 1024 * 1024,
        processes: 256,
        stdout_bytes: 64 << 20,
        stderr_bytes: 1 << 20,
        file_size_bytes: 256 << 20,
        open_files: 1024,
    };

    /// Below these a run cannot even start a runtime; smaller requests are raised to them.
    pub const MINIMA: Limits = Limits {
        cpu_time_ms: 1,
        wall_time_ms: 1,
        memory_kib: 4 * 1024,
        processes: 1,
        stdout_bytes: 0,
        stderr_bytes: 0,
        file_size_bytes: 0,
        open_files: 8,
    };

    /// Every field of `self` no larger than the same field of `maxima`.
    pub fn min(self, maxima: &Limits) -> Limits {
        Limits {
            cpu_time_ms: self.cpu_time_ms.min(maxima.cpu_time_ms),
            wall_time_ms: self.wall_time_ms.min(maxima.wall_time_ms),
            memory_kib: self.memory_kib.min(maxima.memory_kib),
            processes: self.processes.min(maxima.processes),
            stdout_bytes: self.stdout_bytes.min(maxima.stdout_bytes),
            stderr_bytes: self.stderr_bytes.min(maxima.stderr_bytes),
            file_size_bytes: self.file_size_bytes.min(maxima.file_size_bytes),
            open_files: self.open_files.min(maxima.open_files),
        }
    }
}

/// Limits as a request states them: any field may be left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsRequest {
    pub cpu_time_ms: Option<u64>,
    pub wall_time_ms: Option<u64>,
    pub memory_kib: Option<u64>,
    pub processes: Option<u32>,
    pub stdout_bytes: Option<u64>,
    pub stderr_bytes: Option<u64>,
    pub file_size_bytes: Option<u64>,
    pub open_files: Option<u32>,
}

/// A requested limit that the server changed: above its maximum or below the minimum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clamp {
    pub limit: String,
    pub requested: u64,
    pub applied: u64,
}

impl LimitsRequest {
    /// Concrete limits: requested values where given, `defaults` elsewhere, each clamped to
    /// `[MINIMA, maxima]`. A wall time left out follows the CPU time (twice it plus a second),
    /// so asking for a long CPU limit alone does not end in a wall-time kill.
    pub fn resolve(&self, defaults: &Limits, maxima: &Limits) -> (Limits, Vec<Clamp>) {
        let mut clamps = Vec::new();
        let min = Limits::MINIMA;
        let mut pick = |name: &str, requested: Option<u64>, default: u64, lo: u64, hi: u64| {
            let value = requested.unwrap_or(default);
            let applied = value.clamp(lo, hi.max(lo));
            if requested.is_some() && applied != value {
                clamps.push(Clamp {
                    limit: name.to_owned(),
                    requested: value,
                    applied,
                });
            }
            applied
        };
        let cpu = pick(
            "cpu_time_ms",
            self.cpu_time_ms,
            defaults.cpu_time_ms,
            min.cpu_time_ms,
            maxima.cpu_time_ms,
        );
        let wall_default = match self.cpu_time_ms {
            Some(_) => defaults.wall_time_ms.max(cpu.saturating_mul(2) + 1_000),
            None => defaults.wall_time_ms,
        };
        let limits = Limits {
            cpu_time_ms: cpu,
            wall_time_ms: pick(
                "wall_time_ms",
                self.wall_time_ms,
                wall_default,
                min.wall_time_ms,
                maxima.wall_time_ms,
            ),
            memory_kib: pick(
                "memory_kib",
                self.memory_kib,
                defaults.memory_kib,
                min.memory_kib,
                maxima.memory_kib,
            ),
            processes: pick(
                "processes",
                self.processes.map(u64::from),
                defaults.processes.into(),
                min.processes.into(),
                maxima.processes.into(),
            ) as u32,
            stdout_bytes: pick(
                "stdout_bytes",
                self.stdout_bytes,
                defaults.stdout_bytes,
                min.stdout_bytes,
                maxima.stdout_bytes,
            ),
            stderr_bytes: pick(
                "stderr_bytes",
                self.stderr_bytes,
                defaults.stderr_bytes,
                min.stderr_bytes,
                maxima.stderr_bytes,
            ),
            file_size_bytes: pick(
                "file_size_bytes",
                self.file_size_bytes,
                defaults.file_size_bytes,
                min.file_size_bytes,
                maxima.file_size_bytes,
            ),
            open_files: pick(
                "open_files",
                self.open_files.map(u64::from),
                defaults.open_files.into(),
                min.open_files.into(),
                maxima.open_files.into(),
            ) as u32,
        };
        (limits, clamps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_request_gives_defaults_without_clamps() {
        let (limits, clamps) =
            LimitsRequest::default().resolve(&Limits::RUN_DEFAULTS, &Limits::MAXIMA);
        assert_eq!(limits, Limits::RUN_DEFAULTS);
        assert!(clamps.is_empty());
    }

    #[test]
    fn requests_above_maxima_are_clamped_and_reported() {
        let request = LimitsRequest {
            memory_kib: Some(64 * 1024 * 1024),
            cpu_time_ms: Some(500),
            ..Default::default()
        };
        let (limits, clamps) = request.resolve(&Limits::RUN_DEFAULTS, &Limits::MAXIMA);
        assert_eq!(limits.memory_kib, Limits::MAXIMA.memory_kib);
        assert_eq!(limits.cpu_time_ms, 500);
        assert_eq!(
            clamps,
            vec![Clamp {
                limit: "memory_kib".into(),
                requested: 64 * 1024 * 1024,
                applied: Limits::MAXIMA.memory_kib
            }]
        );
    }

    #[test]
    fn wall_time_follows_a_long_cpu_request() {
        let request = LimitsRequest {
            cpu_time_ms: Some(10_000),
            ..Default::default()
        };
        let (limits, _) = request.resolve(&Limits::RUN_DEFAULTS, &Limits::MAXIMA);
        assert_eq!(limits.wall_time_ms, 21_000);
    }

    #[test]
    fn zero_memory_is_raised_to_the_minimum() {
        let request = LimitsRequest {
            memory_kib: Some(0),
            ..Default::default()
        };
        let (limits, clamps) = request.resolve(&Limits::RUN_DEFAULTS, &Limits::MAXIMA);
        assert_eq!(limits.memory_kib, Limits::MINIMA.memory_kib);
        assert_eq!(clamps.len(), 1);
    }
}
