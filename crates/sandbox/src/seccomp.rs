//! The seccomp policy: defence in depth behind the namespaces, kept as data.
//!
//! `seccomp.json` (the format of the `seccompiler` crate, with a comment on every rule)
//! holds three filters:
//! - `deny_eperm`: calls a graded program never needs and that widen the kernel surface an
//!   exploit can reach (ptrace, mount, new namespaces, bpf, keyrings, io_uring, ...). They
//!   fail with `EPERM`, so a program that merely probes gets an error, not a crash.
//! - `deny_enosys`: `clone3`, whose flags sit in memory a filter cannot read and so cannot be
//!   checked for namespace flags; `ENOSYS` makes glibc fall back to `clone`, which is checked.
//!
//! - `unprivileged`, in that tier only: what namespaces would otherwise contain, above all
//!   leaving the run's process group (`setsid`, `setpgid`) and acting on other processes of
//!   the same uid (limits, scheduling, memory of pids other than the caller's own).
//!
//! They are compiled once, when a `Sandbox` is created; the child only loads the bytes.

use seccompiler::{BpfProgram, TargetArch};

use crate::error::Error;
use crate::Isolation;

/// The policy file, embedded so the binary carries it.
pub const POLICY_JSON: &str = include_str!("seccomp.json");

/// The compiled filters, in the order they are loaded.
pub(crate) struct Filters {
    pub(crate) programs: Vec<BpfProgram>,
}

impl Filters {
    pub(crate) fn compile(isolation: Isolation) -> Result<Filters, Error> {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| Error::Unavailable(format!("seccomp: unsupported architecture: {e}")))?;
        let mut map = seccompiler::compile_from_json(POLICY_JSON.as_bytes(), arch)
            .map_err(|e| Error::Unavailable(format!("seccomp policy does not compile: {e}")))?;
        let names: &[&str] = match isolation {
            Isolation::Namespaces => &["deny_eperm", "deny_enosys"],
            Isolation::Unprivileged => &["deny_eperm", "deny_enosys", "unprivileged"],
        };
        let programs = names
            .iter()
            .map(|name| {
                map.remove(*name)
                    .ok_or_else(|| Error::Unavailable(format!("seccomp policy lacks {name}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filters { programs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_compiles_for_this_machine() {
        for (isolation, count) in [(Isolation::Namespaces, 2), (Isolation::Unprivileged, 3)] {
            let filters = Filters::compile(isolation).unwrap();
            assert_eq!(filters.programs.len(), count);
            assert!(filters.programs.iter().all(|p| !p.is_empty()));
        }
    }

    #[test]
    fn every_rule_says_why() {
        let policy: serde_json::Value = serde_json::from_str(POLICY_JSON).unwrap();
        for (name, filter) in policy.as_object().unwrap() {
            for rule in filter["filter"].as_array().unwrap() {
                let comment = rule["comment"].as_str().unwrap_or("");
                assert!(comment.len() > 3, "{name}: {rule} has no comment");
            }
        }
    }

    #[test]
    fn escapes_are_denied() {
        let policy: serde_json::Value = serde_json::from_str(POLICY_JSON).unwrap();
        let denied: Vec<&str> = policy["deny_eperm"]["filter"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["syscall"].as_str().unwrap())
            .collect();
        for call in [
            "ptrace",
            "mount",
            "unshare",
            "setns",
            "bpf",
            "keyctl",
            "perf_event_open",
        ] {
            assert!(denied.contains(&call), "{call} is not denied");
        }
    }
}
