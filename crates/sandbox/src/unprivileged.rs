//! The `unprivileged` isolation tier, for pods that may not create namespaces (a stock
//! OpenFaaS function, a Knative Service): what stands in for each namespace, and what it
//! cannot give (docs/deploy.md lists it for operators).
//!
//! - file system: a Landlock domain per run instead of a mount namespace: the plan's
//!   read-only paths readable and executable, its devices readable and writable, the box and
//!   the box's own tmp directory (standing in for the private `/tmp`) the only writable
//!   places; everything else, `/proc` included, cannot be opened. The box is at its host
//!   path, not `/box`: commands are translated ([`translate`]). `stat` of outside paths
//!   still works (Landlock does not cover it).
//! - processes: the run is one process group, led by its `init`; seccomp denies `setsid`
//!   and `setpgid`, so nothing leaves it, and the group is killed at the end. With Landlock
//!   ABI 6 the run cannot signal anything outside its domain (judgelet, other runs).
//! - users: a distinct uid per slot where the pod may switch uid (`CAP_SETUID`, `CAP_SETGID`,
//!   `CAP_CHOWN`); otherwise every run shares judgelet's uid, and then ABI 6's signal and
//!   abstract-socket scoping is required, as nothing else would keep a program from
//!   signalling judgelet.
//! - network: the seccomp policy's socket rule as in every tier (only Unix sockets); no
//!   network namespace, so abstract Unix sockets of the pod are scoped away by ABI 6.
//! - limits: no cgroup. The supervisor reads the group's CPU time and anonymous resident
//!   memory from `/proc` every 10 ms and kills the run past either limit: what is resident,
//!   as a cgroup counts, not what is reserved (`RLIMIT_DATA` refused the JVM's and Go's
//!   thread stacks and heaps). The kernel's OOM killer prefers the run's processes
//!   (`oom_score_adj` 1000) should the pod run short meanwhile. Processes by `RLIMIT_NPROC`
//!   per uid (shared between runs when the uid is).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use landlock::{
    path_beneath_rules, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope, ABI,
};

use crate::error::{Error, Result};
use crate::mounts::{Entry, MountPlan, BOX_PATH};

/// What the host lets the `unprivileged` tier do, found when the sandbox is created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Host {
    /// Landlock ABI version (1 = Linux 5.13, 6 = 6.12 adds signal and socket scoping).
    pub landlock_abi: i32,
    /// Whether each slot gets a uid of its own (the pod may switch uid).
    pub per_slot_uids: bool,
}

/// Landlock ABI from which a run is scoped: no signals or abstract sockets out of it.
const SCOPING_ABI: i32 = 6;

impl Host {
    /// Fails, naming what is missing, when this host cannot give the tier's guarantees.
    pub(crate) fn probe() -> Result<Host> {
        let landlock_abi = landlock_abi();
        if landlock_abi < 1 {
            return Err(Error::Unavailable(
                "the unprivileged tier needs Landlock (Linux 5.13 or later with landlock in \
                 the lsm= boot list); this kernel has none"
                    .into(),
            ));
        }
        let per_slot_uids = can_switch_uid();
        if !per_slot_uids && landlock_abi < SCOPING_ABI {
            return Err(Error::Unavailable(format!(
                "the unprivileged tier needs either Landlock ABI {SCOPING_ABI} (Linux 6.12, \
                 to keep runs from signalling judgelet) or CAP_SETUID, CAP_SETGID and \
                 CAP_CHOWN (a uid per run); this host has Landlock ABI {landlock_abi} and \
                 not those capabilities"
            )));
        }
        Ok(Host {
            landlock_abi,
            per_slot_uids,
        })
    }
}

fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and the VERSION flag the call only returns a number.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    abi.max(0) as i32
}

/// Whether this process may give boxes to other uids and run programs as them.
fn can_switch_uid() -> bool {
    // CAP_CHOWN, CAP_SETGID and CAP_SETUID (linux/capability.h).
    const NEEDED: u64 = (1 << 0) | (1 << 6) | (1 << 7);
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & NEEDED == NEEDED)
}

/// The Landlock domain of one run, as a ruleset descriptor the program enforces on itself
/// just before `execve`. Built in the spawner, which may allocate.
pub(crate) fn ruleset(
    plan: &MountPlan,
    box_dir: &Path,
    tmp_dir: &Path,
    abi: i32,
) -> io::Result<OwnedFd> {
    let abi = ABI::from(abi);
    let failed = |e: landlock::RulesetError| io::Error::other(format!("landlock: {e}"));
    let mut readable = Vec::new();
    let mut devices = Vec::new();
    for entry in plan.entries() {
        match entry {
            Entry::ReadOnly { path } | Entry::File { path, .. } => readable.push(path.clone()),
            Entry::Device { path } => devices.push(path.clone()),
            // Links resolve to paths of their own; /proc stays closed (other processes of
            // the pod would be in it); /tmp and the box are the run's own directories.
            Entry::Symlink { .. }
            | Entry::Proc { .. }
            | Entry::Tmpfs { .. }
            | Entry::Box { .. } => {}
        }
    }
    let mut ruleset = Ruleset::default()
        // Never weaker than asked: a right this kernel lacks fails the run.
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(failed)?;
    if abi >= ABI::V6 {
        ruleset = ruleset
            .scope(Scope::Signal | Scope::AbstractUnixSocket)
            .map_err(failed)?;
    }
    let created = ruleset
        .create()
        .map_err(failed)?
        .add_rules(path_beneath_rules(&readable, AccessFs::from_read(abi)))
        .map_err(failed)?
        .add_rules(path_beneath_rules(
            &devices,
            AccessFs::ReadFile | AccessFs::WriteFile,
        ))
        .map_err(failed)?
        .add_rules(path_beneath_rules(
            [box_dir, tmp_dir],
            AccessFs::from_all(abi),
        ))
        .map_err(failed)?;
    Option::<OwnedFd>::from(created).ok_or_else(|| io::Error::other("landlock: no ruleset"))
}

/// A command's paths as the run sees them: `/box` and `/tmp` (the directories of the
/// `namespaces` tier's mount view) become the box's and its tmp directory's host paths.
/// Whole path components only: `/boxes` stays.
pub(crate) fn translate(value: &str, box_dir: &Path, tmp_dir: &Path) -> String {
    for (inner, host) in [(BOX_PATH, box_dir), ("/tmp", tmp_dir)] {
        if let Some(rest) = value.strip_prefix(inner) {
            if rest.is_empty() || rest.starts_with('/') {
                return format!("{}{rest}", host.display());
            }
        }
    }
    value.to_owned()
}

/// The tmp directory of a box: a sibling, so it is on the same file system.
pub(crate) fn tmp_dir_of(box_dir: &Path) -> PathBuf {
    let mut name = box_dir.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// What the run under `init` has used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// CPU time (clock-tick resolution): the program's process group (every process of the
    /// run is in it, and those it reaped count in their reaper's), plus what `init` reaped
    /// (orphans come to it). Not init's own group.
    pub cpu_ns: u64,
    /// Anonymous resident memory of the group's processes now: what a cgroup would charge
    /// the run, but for copy-on-write pages a fork left shared, counted in each process.
    /// Pages of files (libraries, the interpreter) are left out, as a cgroup leaves out
    /// page cache other cgroups brought in.
    pub memory_bytes: u64,
}

pub(crate) fn tree_usage(init: libc::pid_t) -> io::Result<Usage> {
    // SAFETY: sysconf has no preconditions.
    let (hz, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK).max(1) as u64,
            libc::sysconf(libc::_SC_PAGESIZE).max(1) as u64,
        )
    };
    let stats: Vec<Stat> = fs::read_dir("/proc")?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            let pid = name.to_str()?.parse::<i32>().ok()?;
            // A process may end between the listing and the read.
            let line = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(pid, &line)
        })
        .collect();
    let (ticks, members) = run_usage(&stats, init);
    let pages: u64 = members
        .iter()
        .filter_map(|pid| fs::read_to_string(format!("/proc/{pid}/statm")).ok())
        .filter_map(|statm| anonymous_pages(&statm))
        .sum();
    Ok(Usage {
        cpu_ns: ticks * 1_000_000_000 / hz,
        memory_bytes: pages * page,
    })
}

/// Resident pages not backed by a file, from `/proc/PID/statm` (resident minus shared).
fn anonymous_pages(statm: &str) -> Option<u64> {
    let mut fields = statm
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse::<u64>().ok());
    let (resident, shared) = (fields.next()??, fields.next()??);
    Some(resident.saturating_sub(shared))
}

/// The clock ticks of the run under `init`, and the processes of its group, from a
/// snapshot of every process.
fn run_usage(stats: &[Stat], init: libc::pid_t) -> (u64, Vec<i32>) {
    // The program's group: that of a child of init that has left init's group (until its
    // setpgid the program is still in init's, which is judgelet's, whose CPU time is not
    // the run's); orphans that came to init are in it too.
    let init_group = stats.iter().find(|s| s.pid == init).map(|s| s.group);
    let group = stats
        .iter()
        .find(|s| s.parent == init && Some(s.group) != init_group)
        .map(|s| s.group);
    let members: Vec<i32> = stats
        .iter()
        .filter(|s| s.pid != init && Some(s.group) == group)
        .map(|s| s.pid)
        .collect();
    let ticks = stats
        .iter()
        .map(|s| match s.pid == init {
            true => s.children_ticks,
            false if Some(s.group) == group => s.own_ticks + s.children_ticks,
            false => 0,
        })
        .sum();
    (ticks, members)
}

/// Tasks (threads included, as `RLIMIT_NPROC` counts them) whose real uid is `uid`, at
/// most a second old. Reading every `/proc/PID/status` costs about 2 ms on a busy host, more
/// than the rest of a run's setup; a headroom estimate does not need it fresher.
pub(crate) fn tasks_of(uid: u32) -> u64 {
    static LAST: Mutex<Option<(Instant, u32, u64)>> = Mutex::new(None);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    match *last {
        Some((at, of, tasks)) if of == uid && at.elapsed() < Duration::from_secs(1) => tasks,
        _ => {
            let tasks = count_tasks_of(uid);
            *last = Some((Instant::now(), uid, tasks));
            tasks
        }
    }
}

fn count_tasks_of(uid: u32) -> u64 {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    let uid = uid.to_string();
    entries
        .flatten()
        .filter_map(|entry| fs::read_to_string(entry.path().join("status")).ok())
        .filter(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next())
                .is_some_and(|real| real == uid)
        })
        .filter_map(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Stat {
    pid: i32,
    parent: i32,
    group: i32,
    /// utime + stime, in clock ticks.
    own_ticks: u64,
    /// cutime + cstime: of the children it reaped.
    children_ticks: u64,
}

/// A `/proc/PID/stat` line. The command name may hold spaces and parentheses: fields are
/// counted after its last `)`.
fn parse_stat(pid: i32, line: &str) -> Option<Stat> {
    let fields: Vec<&str> = line.get(line.rfind(')')? + 2..)?.split(' ').collect();
    // After the name: state(3) ppid(4) pgrp(5) ... utime(14) stime(15) cutime(16) cstime(17).
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        pid,
        parent: fields.get(1)?.parse().ok()?,
        group: fields.get(2)?.parse().ok()?,
        own_ticks: number(11)? + number(12)?,
        children_ticks: number(13)? + number(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_and_tmp_paths_are_translated_by_whole_components() {
        let (b, t) = (Path::new("/s/boxes/7"), Path::new("/s/boxes/7.tmp"));
        assert_eq!(translate("/box/main", b, t), "/s/boxes/7/main");
        assert_eq!(translate("/box", b, t), "/s/boxes/7");
        assert_eq!(translate("/tmp", b, t), "/s/boxes/7.tmp");
        assert_eq!(translate("/boxes/x", b, t), "/boxes/x");
        assert_eq!(translate("-cp", b, t), "-cp");
        assert_eq!(tmp_dir_of(b), t);
    }

    #[test]
    fn a_run_is_its_programs_group_and_what_init_reaped_never_judgelets_group() {
        let stat = |pid, parent, group, own_ticks, children_ticks| Stat {
            pid,
            parent,
            group,
            own_ticks,
            children_ticks,
        };
        let judgelet = stat(10, 1, 10, 5_000, 0);
        let init = stat(20, 10, 10, 1, 7);
        // Before its setpgid the program is still in judgelet's group: nothing of it yet.
        let early = [judgelet.clone(), init.clone(), stat(21, 20, 10, 0, 0)];
        assert_eq!(run_usage(&early, 20), (7, vec![]));
        // Then: the program, its child, an orphan that came to init; another run's process
        // in a group of its own does not count.
        let later = [
            judgelet,
            init,
            stat(21, 20, 21, 30, 2),
            stat(22, 21, 21, 40, 0),
            stat(23, 20, 21, 50, 0),
            stat(31, 30, 31, 999, 0),
        ];
        assert_eq!(run_usage(&later, 20), (7 + 32 + 40 + 50, vec![21, 22, 23]));
        assert_eq!(anonymous_pages("9000 700 200 10 0 600 0\n"), Some(500));
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let line = "42 (a) b (c)) S 1 40 40 0 -1 4194560 0 0 0 0 7 3 2 1 20 0 1 0 5 0 0";
        let stat = Stat {
            pid: 42,
            parent: 1,
            group: 40,
            own_ticks: 10,
            children_ticks: 3,
        };
        assert_eq!(parse_stat(42, line), Some(stat));
    }
}
