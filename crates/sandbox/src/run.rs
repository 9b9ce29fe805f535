//! The supervisor of one run: start it, feed and drain it, hold it to its limits, measure
//! it, and make sure nothing of it is left, also when the caller gives up on it.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::unix::pipe;
use tokio::time::{sleep_until, Instant};

use crate::cgroup::RunCgroup;
use crate::child::Record;
use crate::cpus::CpuLease;
use crate::error::{Error, Result, Stage};
use crate::limits::Limits;
use crate::mounts::INNER_UID;
use crate::process;
use crate::report::{Captured, LimitKind, RunReport, Status};
use crate::spawner::{SpawnFds, SpawnRequest};
use crate::unprivileged;
use crate::{Command, Inner, Isolation, Pipes, SandboxBox};

pub(crate) async fn run(
    inner: &Inner,
    boxed: &SandboxBox,
    command: &Command,
    pipes: Option<Pipes>,
) -> Result<RunReport> {
    // Held until the run is over, however it ends.
    let cpu = inner.cpu_pool.as_ref().map(|pool| pool.acquire());
    let (stdin, stdout) = match pipes {
        Some(Pipes { stdin, stdout }) => (stdin, Some(stdout)),
        None => (stdin_memfd(&command.stdin)?, None),
    };
    let started = start(inner, boxed, command, stdin, stdout, cpu.as_ref()).await?;
    finish(started, inner, cpu.as_ref()).await
}

/// A run whose program has been started: what [`finish`] supervises and measures.
pub(crate) struct Started {
    running: Running,
    stdout: Capture,
    stderr: Capture,
    status_read: OwnedFd,
    pub(crate) limits: Limits,
    /// When the run's clock started, and the CPU time its tree had used by then: a parked
    /// run's clock starts when it is told to go, its warm-up not counted.
    pub(crate) start: Instant,
    pub(crate) cpu_ns_before: u64,
}

impl Started {
    /// CPU time so far and, where judgelet reads it, memory.
    pub(crate) fn usage(&self) -> io::Result<(u64, Option<u64>)> {
        self.running
            .tree
            .as_ref()
            .expect("known until measured")
            .usage()
    }

    /// Current memory in bytes of the run's tree (its cgroup's charge).
    pub(crate) fn memory_bytes(&self) -> u64 {
        match self.running.tree.as_ref() {
            Some(Tree::Cgroup(cgroup)) => cgroup.memory_bytes().unwrap_or(0),
            Some(Tree::Group { init }) => {
                unprivileged::tree_usage(*init).map_or(0, |u| u.memory_bytes)
            }
            None => 0,
        }
    }

    /// Whether the tree's init has ended.
    pub(crate) fn ended(&self) -> bool {
        self.running
            .pidfd
            .as_ref()
            .is_none_or(|pidfd| process::wait_exit(pidfd.get_ref(), Duration::ZERO).is_ok())
    }

    /// Pins every task of the run to `cpu`, from outside (the program may not).
    pub(crate) fn pin(&self, cpu: u32) -> io::Result<()> {
        match self.running.tree.as_ref() {
            Some(Tree::Cgroup(cgroup)) => cgroup.tasks()?.into_iter().try_for_each(|task| {
                let mask = crate::cpus::mask(cpu);
                // SAFETY: the mask is a valid cpu_set_t that outlives the call.
                let done = unsafe {
                    libc::sched_setaffinity(task, std::mem::size_of::<libc::cpu_set_t>(), &mask)
                };
                let error = io::Error::last_os_error();
                // A task that ended meanwhile needs no CPU.
                match done == 0 || error.raw_os_error() == Some(libc::ESRCH) {
                    true => Ok(()),
                    false => Err(error),
                }
            }),
            _ => Ok(()),
        }
    }
}

/// Starts `command` in `boxed`, its stdin and stdout (judgelet's capture if `None`) given.
pub(crate) async fn start(
    inner: &Inner,
    boxed: &SandboxBox,
    command: &Command,
    stdin: OwnedFd,
    stdout: Option<OwnedFd>,
    cpu: Option<&CpuLease<'_>>,
) -> Result<Started> {
    let limits = command.limits;
    let cgroup = match &inner.cgroups {
        Some(cgroups) => Some(
            cgroups
                .new_run(&limits)
                .map_err(Error::io("create the run's cgroup"))?,
        ),
        None => None,
    };

    // The caller's pipes are moved in and closed here once the child has them, so that the
    // other end sees end-of-file when the program ends.
    let (stdout_read, stdout_write) = match stdout {
        Some(stdout) => (None, stdout),
        None => {
            let (read, write) = pipe_pair()?;
            (Some(read), write)
        }
    };
    let (stderr_read, stderr_write) = pipe_pair()?;
    let (status_read, status_write) = pipe_pair()?;
    let (control_read, control_write) = pipe_pair()?;
    let cgroup_procs = match &cgroup {
        Some(cgroup) => cgroup
            .open_procs()
            .map_err(Error::io("open the run's cgroup"))?,
        None => Vec::new(),
    };
    let lease = boxed.lease();
    // Without a mount namespace (unprivileged), the program sees the box and its tmp
    // directory at their host paths, and runs as the slot's host ids, or judgelet's own.
    let (ids, switch_ids, uid) = match (boxed.tmp_dir(), lease.shared_ids) {
        (None, _) => ((INNER_UID, INNER_UID), true, Uid::Own),
        (Some(_), false) => ((lease.host_uid, lease.host_gid), true, Uid::Own),
        (Some(_), true) => (
            (lease.host_uid, lease.host_gid),
            false,
            Uid::Shared(lease.host_uid),
        ),
    };
    let path = |value: &str| match boxed.tmp_dir() {
        Some(tmp_dir) => unprivileged::translate(value, boxed.path(), tmp_dir),
        None => value.to_owned(),
    };
    let request = SpawnRequest {
        box_dir: boxed.path().to_owned(),
        tmp_dir: boxed.tmp_dir().map(Path::to_owned),
        ids,
        switch_ids,
        memory_kib: limits.memory_kib,
        readonly: command.readonly.clone(),
        rlimits: rlimits(&limits, uid),
        cpu: cpu.map(CpuLease::cpu),
        program: path(&command.program.to_string_lossy()).into(),
        args: command.args.iter().map(|a| path(a)).collect(),
        env: command
            .env
            .iter()
            .map(|(k, v)| (k.clone(), path(v)))
            .collect(),
    };
    let fds = SpawnFds {
        stdin: &stdin,
        stdout: &stdout_write,
        stderr: &stderr_write,
        status: &status_write,
        control: &control_read,
        namespaces: lease.namespaces.as_ref().map(|ns| (&ns.user, &ns.net)),
        cgroup_procs: &cgroup_procs,
    };

    let start = Instant::now();
    let pidfd = inner
        .spawner
        .spawn(&request, fds)
        .await
        .map_err(|source| Error::Setup {
            stage: Stage::Namespaces,
            source,
        })?;
    // The child has its copies; ours would keep the pipes open past the program's end.
    drop((
        stdin,
        stdout_write,
        stderr_write,
        status_write,
        control_read,
        cgroup_procs,
    ));

    let tree = match cgroup {
        Some(cgroup) => Tree::Cgroup(cgroup),
        None => Tree::Group {
            init: process::pidfd_pid(&pidfd).map_err(Error::io("find the box's init"))?,
        },
    };
    let running = Running {
        // SAFETY: an OwnedFd keeps its descriptor open and unchanged until it is dropped.
        pidfd: Some(unsafe {
            AsyncFd::register_with_interest(pidfd, Interest::READABLE)
                .map_err(|e| Error::io("watch the box's init")(e.into()))?
        }),
        tree: Some(tree),
        control: Some(control_write),
    };
    Ok(Started {
        running,
        stdout: Capture::new(stdout_read, limits.stdout_bytes)?,
        stderr: Capture::new(stderr_read, limits.stderr_bytes)?,
        status_read,
        limits,
        start,
        cpu_ns_before: 0,
    })
}

/// Supervises a started run to its end and reports it.
pub(crate) async fn finish(
    started: Started,
    inner: &Inner,
    cpu: Option<&CpuLease<'_>>,
) -> Result<RunReport> {
    let Started {
        mut running,
        mut stdout,
        mut stderr,
        status_read,
        limits,
        start,
        cpu_ns_before,
    } = started;
    let (killed, peak_memory) = running
        .supervise(
            &mut stdout,
            &mut stderr,
            &limits,
            (start, cpu_ns_before),
            inner.cpus,
        )
        .await?;
    let wall = start.elapsed();

    running.pidfd = None;
    let tree = running
        .tree
        .take()
        .expect("the tree is known until the run is measured");
    let mut record_bytes = Vec::new();
    File::from(status_read)
        .read_to_end(&mut record_bytes)
        .map_err(Error::io("read the box's report"))?;
    let record = Record::decode(&record_bytes);
    let report = measure(
        record,
        (killed, peak_memory),
        (&tree, cpu_ns_before),
        limits,
        wall,
        stdout.finish(),
        stderr.finish(),
    )?;
    Ok(RunReport {
        cpu: cpu.map(CpuLease::cpu),
        cpu_shared: cpu.is_some_and(|lease| lease.shared),
        ..report
    })
}

/// What a run's processes are, to measure and kill them together.
enum Tree {
    /// The run's cgroup; killing `init` ends its pid namespace.
    Cgroup(RunCgroup),
    /// `unprivileged` tier: `init` (not a pid namespace's) and the program's process group
    /// under it. Closing the control pipe makes `init` kill and reap the group.
    Group { init: libc::pid_t },
}

/// How often the unprivileged tier reads a run's memory: what a program can allocate and
/// touch in this time is how far it can pass its limit (8 to 26 MB measured for a C
/// program touching 4 GB, docs/deploy.md).
const MEMORY_CHECK: Duration = Duration::from_millis(10);

impl Tree {
    /// CPU time so far, and memory where judgelet (not a cgroup) holds the limit.
    fn usage(&self) -> io::Result<(u64, Option<u64>)> {
        match self {
            Tree::Cgroup(cgroup) => Ok((cgroup.cpu_time_ns()?, None)),
            Tree::Group { init } => {
                let usage = unprivileged::tree_usage(*init)?;
                Ok((usage.cpu_ns, Some(usage.memory_bytes)))
            }
        }
    }

    /// When to look again: when the CPU limit could first be passed; without a cgroup, also
    /// soon enough to catch memory.
    fn next_check(&self, remaining_cpu_ns: u64, cpus: u64) -> Duration {
        let cpu = cpu_check_after(remaining_cpu_ns, cpus);
        match self {
            Tree::Cgroup(_) => cpu,
            Tree::Group { .. } => cpu.min(MEMORY_CHECK),
        }
    }
}

/// A started run. Dropping it before the end (the caller's future was dropped) kills the
/// tree and reaps it off the async runtime.
struct Running {
    pidfd: Option<AsyncFd<OwnedFd>>,
    tree: Option<Tree>,
    /// Its only holder is this process: closing it tells `init` to end the run.
    control: Option<OwnedFd>,
}

impl Running {
    /// Waits for the end of the tree and of its output, killing it when a limit is reached.
    /// Returns the limit it was killed for, if any, and the most memory seen where judgelet
    /// reads it.
    async fn supervise(
        &mut self,
        stdout: &mut Capture,
        stderr: &mut Capture,
        limits: &Limits,
        (start, cpu_ns_before): (Instant, u64),
        cpus: u64,
    ) -> Result<(Option<LimitKind>, u64)> {
        let pidfd = self.pidfd.as_ref().expect("supervised once");
        let tree = self.tree.as_ref().expect("supervised once");
        let control = &mut self.control;
        let cpu_limit_ns = limits.cpu_time_ms * 1_000_000;
        let wall_deadline = start + Duration::from_millis(limits.wall_time_ms);
        let memory_limit = limits.memory_kib * 1024;
        let mut check = start + tree.next_check(cpu_limit_ns, cpus);
        let mut peak_memory = 0;
        let mut killed: Option<LimitKind> = None;
        let (mut exited, mut out_done, mut err_done) = (false, false, false);
        let mut kill = |why: LimitKind, killed: &mut Option<LimitKind>| -> Result<()> {
            if killed.is_none() {
                *killed = Some(why);
                match tree {
                    Tree::Cgroup(_) => {
                        process::kill(pidfd.get_ref()).map_err(Error::io("kill a run"))?
                    }
                    Tree::Group { .. } => drop(control.take()),
                }
            }
            Ok(())
        };
        while !(exited && out_done && err_done) {
            tokio::select! {
                r = process::exited(pidfd), if !exited => {
                    r.map_err(Error::io("wait for the box's init"))?;
                    exited = true;
                }
                r = stdout.fill(), if !out_done => match r.map_err(Error::io("read stdout"))? {
                    Fill::Eof => out_done = true,
                    Fill::Exceeded => kill(LimitKind::Stdout, &mut killed)?,
                    Fill::More => {}
                },
                r = stderr.fill(), if !err_done => match r.map_err(Error::io("read stderr"))? {
                    Fill::Eof => err_done = true,
                    Fill::Exceeded | Fill::More => {}
                },
                () = sleep_until(wall_deadline), if !exited && killed.is_none() => {
                    kill(LimitKind::WallTime, &mut killed)?;
                }
                () = sleep_until(check), if !exited && killed.is_none() => {
                    let (used, memory) = tree
                        .usage()
                        .map_err(Error::io("read CPU time and memory"))?;
                    let used = used.saturating_sub(cpu_ns_before);
                    peak_memory = peak_memory.max(memory.unwrap_or(0));
                    if used > cpu_limit_ns {
                        kill(LimitKind::CpuTime, &mut killed)?;
                    } else if memory.is_some_and(|m| m > memory_limit) {
                        kill(LimitKind::Memory, &mut killed)?;
                    } else {
                        check = Instant::now() + tree.next_check(cpu_limit_ns - used, cpus);
                    }
                }
            }
        }
        Ok((killed, peak_memory))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let Some(pidfd) = self.pidfd.take().map(AsyncFd::into_inner) else {
            return;
        };
        let cgroup = match self.tree.take() {
            Some(Tree::Cgroup(cgroup)) => {
                let _ = process::kill(&pidfd);
                Some(cgroup)
            }
            // init kills and reaps the group once the control pipe closes, then exits;
            // killing init would leave the group behind.
            Some(Tree::Group { .. }) | None => None,
        };
        drop(self.control.take());
        let reaper = Reaper { pidfd, cgroup };
        // Waiting must not block a runtime thread. A runtime that is shutting down drops the
        // task unrun, and with it the reaper, which then waits right there: shutdown is
        // where blocking is fine.
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(move || drop(reaper))),
            Err(_) => drop(reaper),
        }
    }
}

/// Removes a killed run's cgroup once its tree is gone (a millisecond or two after the kill).
/// Without a cgroup, init's exit is the tree's end: it exits after reaping the whole group.
struct Reaper {
    pidfd: OwnedFd,
    cgroup: Option<RunCgroup>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if let Err(e) = process::wait_exit(&self.pidfd, Duration::from_secs(5)) {
            tracing::warn!(error = %e, "a killed run did not end");
        }
        if let Some(cgroup) = self.cgroup.take() {
            cgroup.wait_empty(Duration::from_secs(5));
        }
    }
}

/// The soonest the tree could pass its CPU limit, given what is left of it and how many
/// CPUs it could use at once; polling no sooner keeps the check cheap and the overshoot
/// within a few milliseconds.
fn cpu_check_after(remaining_ns: u64, cpus: u64) -> Duration {
    Duration::from_nanos(remaining_ns / cpus.max(1))
        .clamp(Duration::from_millis(2), Duration::from_millis(200))
}

fn measure(
    record: Option<Record>,
    (killed, peak_memory): (Option<LimitKind>, u64),
    (tree, cpu_ns_before): (&Tree, u64),
    limits: Limits,
    wall: Duration,
    stdout: Captured,
    stderr: Captured,
) -> Result<RunReport> {
    if let Some(record) = record.filter(|r| r.kind == Record::SETUP_FAILED) {
        return Err(Error::Setup {
            stage: record.stage(),
            source: io::Error::from_raw_os_error(record.errno),
        });
    }
    let cgroup = match tree {
        Tree::Cgroup(cgroup) => Some(cgroup),
        Tree::Group { .. } => None,
    };
    let oom = match cgroup {
        Some(cgroup) => cgroup.oom_kills().map_err(Error::io("read OOM kills"))? > 0,
        None => false,
    };
    let exited = record.filter(|r| r.kind == Record::EXITED);
    let (exit_code, signal) = match exited {
        Some(r) if libc::WIFEXITED(r.wait_status) => (Some(libc::WEXITSTATUS(r.wait_status)), None),
        Some(r) if libc::WIFSIGNALED(r.wait_status) => (None, Some(libc::WTERMSIG(r.wait_status))),
        Some(r) => {
            return Err(Error::Io {
                context: "the box reported an unknown wait status",
                source: io::Error::other(format!("{:#x}", r.wait_status)),
            })
        }
        // init was killed before the program ended, and the program with it.
        None if killed.is_some() || oom => (None, Some(libc::SIGKILL)),
        None => {
            return Err(Error::Io {
                context: "the box's init ended without a report",
                source: io::Error::other("no record"),
            })
        }
    };
    let cpu_ns = cgroup
        .and_then(|c| c.cpu_time_ns().ok())
        .or_else(|| exited.map(|r| (r.utime_us + r.stime_us) * 1000))
        .unwrap_or(0)
        .saturating_sub(cpu_ns_before);
    // The cgroup's peak is what the tree was charged, the figure the limit applies to. The
    // largest RSS also counts shared library pages charged to others (a JVM's exceed its
    // heap), so it only stands in where the kernel keeps no peak (cgroup v2 before 5.19).
    // Without a cgroup: the most the group held at once as sampled, or the largest single
    // process if that was more (between two samples).
    let memory_kib = match (cgroup, cgroup.and_then(RunCgroup::memory_peak_bytes)) {
        (Some(_), Some(bytes)) => bytes / 1024,
        (Some(_), None) => exited.map_or(0, |r| r.maxrss_kib),
        (None, _) => (peak_memory / 1024).max(exited.map_or(0, |r| r.maxrss_kib)),
    };
    let limit_exceeded = classify(killed, oom, cpu_ns > limits.cpu_time_ms * 1_000_000, signal);
    let status = match (limit_exceeded, exit_code) {
        (Some(limit), _) => limit.status(),
        (None, Some(0)) => Status::Ok,
        (None, _) => Status::RunTimeError,
    };
    Ok(RunReport {
        status,
        limit_exceeded,
        exit_code,
        signal,
        cpu_time_ms: cpu_ns as f64 / 1e6,
        wall_time_ms: wall.as_secs_f64() * 1e3,
        memory_kib,
        stdout,
        stderr,
        limits,
        isolation: match tree {
            Tree::Cgroup(_) => Isolation::Namespaces,
            Tree::Group { .. } => Isolation::Unprivileged,
        },
        cpu: None,
        cpu_shared: false,
    })
}

/// Which limit ended a run. What judgelet itself acted on comes first; then the kernel's
/// OOM kill; then CPU time used beyond the limit (a program that finished between two
/// checks); then the rlimit signals.
fn classify(
    killed: Option<LimitKind>,
    oom: bool,
    cpu_over: bool,
    signal: Option<i32>,
) -> Option<LimitKind> {
    killed
        .or(oom.then_some(LimitKind::Memory))
        .or(cpu_over.then_some(LimitKind::CpuTime))
        .or(match signal {
            Some(libc::SIGXCPU) => Some(LimitKind::CpuTime),
            Some(libc::SIGXFSZ) => Some(LimitKind::FileSize),
            _ => None,
        })
}

/// Whose processes `RLIMIT_NPROC` counts.
#[derive(Clone, Copy)]
enum Uid {
    /// A uid of the run's own (its slot's).
    Own,
    /// A uid other processes have too (judgelet's, in the `unprivileged` tier without uid
    /// switching): the limit is what they have now plus the run's.
    Shared(u32),
}

fn rlimits(limits: &Limits, uid: Uid) -> Vec<(libc::c_int, u64)> {
    // RLIMIT_CPU is only a backstop, a second past the limit, for when the supervisor is
    // starved; the measured CPU time is what decides.
    let cpu_seconds = limits.cpu_time_ms.div_ceil(1000) + 1;
    let processes = u64::from(limits.processes)
        + match uid {
            Uid::Own => 0,
            Uid::Shared(uid) => unprivileged::tasks_of(uid),
        };
    vec![
        (libc::RLIMIT_CPU as _, cpu_seconds),
        (libc::RLIMIT_FSIZE as _, limits.file_size_bytes),
        (libc::RLIMIT_NOFILE as _, limits.open_files.into()),
        (libc::RLIMIT_NPROC as _, processes),
        // Deep recursion is legitimate in contest code: the stack may use all the memory.
        (libc::RLIMIT_STACK as _, limits.memory_kib * 1024),
        (libc::RLIMIT_CORE as _, 0),
    ]
}

enum Fill {
    More,
    Eof,
    /// The stream passed its limit (reported once).
    Exceeded,
}

/// Reads one output stream: keeps the first `cap` bytes, counts the rest.
struct Capture {
    /// `None` when stdout goes to a pipe of the caller's: nothing to read here.
    pipe: Option<pipe::Receiver>,
    cap: u64,
    captured: Captured,
    buffer: Box<[u8]>,
}

impl Capture {
    fn new(read_end: impl Into<Option<OwnedFd>>, cap: u64) -> Result<Capture> {
        let pipe = match read_end.into() {
            Some(fd) => {
                Some(pipe::Receiver::from_owned_fd(fd).map_err(Error::io("watch an output pipe"))?)
            }
            None => None,
        };
        Ok(Capture {
            pipe,
            cap,
            captured: Captured::default(),
            buffer: vec![0; 64 * 1024].into_boxed_slice(),
        })
    }

    async fn fill(&mut self) -> io::Result<Fill> {
        let Some(pipe) = &mut self.pipe else {
            return Ok(Fill::Eof);
        };
        let n = pipe.read(&mut self.buffer).await?;
        if n == 0 {
            return Ok(Fill::Eof);
        }
        let before = self.captured.total_bytes;
        self.captured.total_bytes += n as u64;
        let room = self.cap.saturating_sub(self.captured.bytes.len() as u64) as usize;
        self.captured
            .bytes
            .extend_from_slice(&self.buffer[..n.min(room)]);
        Ok(
            match before <= self.cap && self.captured.total_bytes > self.cap {
                true => Fill::Exceeded,
                false => Fill::More,
            },
        )
    }

    fn finish(self) -> Captured {
        self.captured
    }
}

/// A pipe, both ends close-on-exec.
fn pipe_pair() -> Result<(OwnedFd, OwnedFd)> {
    let (read, write) = io::pipe().map_err(Error::io("create a pipe"))?;
    Ok((read.into(), write.into()))
}

/// Stdin as an in-memory file: nothing to write concurrently with the run, so a program
/// that reads no input can never block judgelet, and any size works.
pub(crate) fn stdin_memfd(bytes: &[u8]) -> Result<OwnedFd> {
    // SAFETY: memfd_create returns a new descriptor that we own.
    let fd = unsafe { libc::memfd_create(c"stdin".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io("create stdin")(io::Error::last_os_error()));
    }
    let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.write_all(bytes).map_err(Error::io("write stdin"))?;
    file.rewind().map_err(Error::io("write stdin"))?;
    Ok(file.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_judgelet_acted_on_decides_first() {
        let classify = |killed, oom, cpu, signal| classify(killed, oom, cpu, signal);
        assert_eq!(
            classify(Some(LimitKind::WallTime), true, true, None),
            Some(LimitKind::WallTime)
        );
        assert_eq!(classify(None, true, true, Some(9)), Some(LimitKind::Memory));
        assert_eq!(classify(None, false, true, None), Some(LimitKind::CpuTime));
        assert_eq!(
            classify(None, false, false, Some(libc::SIGXFSZ)),
            Some(LimitKind::FileSize)
        );
        assert_eq!(classify(None, false, false, Some(libc::SIGSEGV)), None);
    }

    #[test]
    fn cpu_checks_come_no_sooner_than_the_limit_could_be_passed() {
        assert_eq!(
            cpu_check_after(1_000_000_000, 2),
            Duration::from_millis(200)
        );
        assert_eq!(cpu_check_after(100_000_000, 2), Duration::from_millis(50));
        assert_eq!(cpu_check_after(1_000, 2), Duration::from_millis(2));
    }
}
