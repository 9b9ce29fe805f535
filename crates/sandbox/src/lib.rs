//! Run one untrusted process tree in a fresh Linux box, with limits, and measure it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox::Error> {
//! use sandbox::{Command, Limits, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::new(SandboxConfig::default())?;
//! let boxed = sandbox.new_box()?;
//! boxed.write_file("main.py", b"print(input()[::-1])")?;
//! let mut command = Command::new("/usr/bin/python3", Limits::RUN_DEFAULTS);
//! command.args(["main.py"]).stdin(b"olleh\n".to_vec());
//! let report = sandbox.run(&boxed, &command).await?;
//! assert_eq!(report.stdout.bytes, b"hello\n");
//! # Ok(()) }
//! ```
//!
//! Two isolation tiers ([`Isolation`]). In `namespaces`, the default, every run gets fresh
//! pid, mount, IPC and UTS namespaces; a user namespace in which it is
//! uid 1000 (a host uid no other live box has) and a network namespace with no interface up,
//! both its slot's alone while the run lasts; a fresh cgroup (v2 or v1) for memory, processes
//! and CPU accounting; rlimits, a seccomp filter and a clean environment.
//! The box directory is the only writable host path. When the run ends, nothing it started
//! is left. `unprivileged` replaces namespaces and cgroups with Landlock, a process group
//! and rlimits, for pods that may not create namespaces (see `unprivileged.rs`). If the host
//! cannot provide the chosen tier, [`Sandbox::new`] fails and says what is missing.
//!
//! A verdict is a value: time, memory and output limits, crashes and exit codes are a
//! [`RunReport`]; `Err` means judgelet itself failed.

mod boxdir;
mod cgroup;
mod child;
mod cpus;
mod error;
mod limits;
mod mounts;
mod parked;
mod process;
mod report;
mod run;
mod seccomp;
mod slots;
mod spawner;
mod unprivileged;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use boxdir::SandboxBox;
pub use cgroup::CgroupVersion;
pub use error::{Error, Result, Stage};
pub use limits::{Clamp, Limits, LimitsRequest};
pub use mounts::{Entry, MountPlan, BOX_PATH};
pub use parked::Parked;
pub use process::{first_hangup, FirstHangup, Hangup};
pub use report::{Captured, LimitKind, RunReport, Status};
pub use seccomp::POLICY_JSON as SECCOMP_POLICY_JSON;

/// How a run is isolated. The operator chooses; judgelet never falls back from one tier to
/// another, and fails to start when the host cannot give the chosen one.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// Fresh namespaces and a cgroup per run: needs root or `CAP_SYS_ADMIN` (a plain host,
    /// a pod with `SYS_ADMIN`, or one in a user namespace).
    #[default]
    Namespaces,
    /// No namespaces: Landlock, seccomp, rlimits and a process group per run, for pods that
    /// may not create namespaces. What it cannot guarantee is in docs/deploy.md.
    Unprivileged,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Namespaces => "namespaces",
            Isolation::Unprivileged => "unprivileged",
        }
    }
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Isolation {
    type Err = String;

    fn from_str(s: &str) -> Result<Isolation, String> {
        match s {
            "namespaces" => Ok(Isolation::Namespaces),
            "unprivileged" => Ok(Isolation::Unprivileged),
            other => Err(format!(
                "unknown isolation {other:?}: use namespaces or unprivileged"
            )),
        }
    }
}

/// How a [`Sandbox`] is set up on this host.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Where boxes live. A tmpfs is best: files a program writes then count against its
    /// memory limit instead of filling a disk.
    pub state_dir: PathBuf,
    /// First host uid for programs; `uid_count` consecutive uids are used, one per live box.
    pub uid_base: u32,
    pub uid_count: u32,
    /// A delegated cgroup v2 directory; detected from `/proc/self/cgroup` when unset.
    pub cgroup_root: Option<PathBuf>,
    /// Host paths shown read-only to every program, besides `/usr` and the root links.
    pub readonly: Vec<PathBuf>,
    pub isolation: Isolation,
    /// Pin each run to a CPU of its own (see `cpus`); shared when runs outnumber CPUs.
    pub pin_cpus: bool,
}

/// The default state directory: on the tmpfs, one per user (`/dev/shm/judgelet-UID`), so
/// that a run as one user never finds another's boxes in its way.
pub fn default_state_dir() -> PathBuf {
    // SAFETY: geteuid cannot fail and touches no memory.
    let uid = unsafe { libc::geteuid() };
    PathBuf::from(format!("/dev/shm/judgelet-{uid}"))
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            state_dir: default_state_dir(),
            uid_base: 60_000,
            uid_count: 1_000,
            cgroup_root: None,
            readonly: Vec::new(),
            isolation: Isolation::Namespaces,
            pin_cpus: true,
        }
    }
}

/// What a [`Sandbox`] runs: a program and its arguments, environment, stdin and limits.
#[derive(Clone, Debug)]
pub struct Command {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The whole environment: nothing of judgelet's own reaches the program.
    pub env: Vec<(String, String)>,
    pub stdin: Vec<u8>,
    pub limits: Limits,
    /// More host paths to show read-only for this run (a toolchain outside `/usr`).
    pub readonly: Vec<PathBuf>,
}

impl Command {
    /// `program` is a path inside the sandbox; the environment starts as
    /// [`Command::BASE_ENV`].
    pub fn new(program: impl Into<PathBuf>, limits: Limits) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            env: Self::BASE_ENV
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stdin: Vec::new(),
            limits,
            readonly: Vec::new(),
        }
    }

    /// The environment every program starts with.
    pub const BASE_ENV: [(&'static str, &'static str); 4] = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
        ("HOME", BOX_PATH),
        ("TMPDIR", "/tmp"),
    ];

    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, args: I) -> &mut Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    pub fn stdin(&mut self, bytes: Vec<u8>) -> &mut Self {
        self.stdin = bytes;
        self
    }
}

/// A program's stdin and stdout, when they are the caller's pipes rather than judgelet's.
pub struct Pipes {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
}

/// Runs programs in boxes. Cheap to clone; every clone shares one set of cgroups and uids.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    instance_dir: PathBuf,
    boxes_dir: PathBuf,
    isolation: Isolation,
    /// `None` in the `unprivileged` tier, which has no cgroup.
    cgroups: Option<cgroup::Cgroups>,
    /// Forks every run's init (see `spawner`).
    spawner: spawner::Spawner,
    plan: MountPlan,
    slots: slots::Slots,
    next_box: AtomicU64,
    /// CPUs the host has: how fast a tree can burn its CPU limit.
    cpus: u64,
    /// The CPUs runs are pinned to; `None` when they are not.
    cpu_pool: Option<cpus::CpuPool>,
}

static INSTANCES: AtomicU64 = AtomicU64::new(0);

impl Sandbox {
    /// Sets up cgroups, seccomp and the box directory, then runs `/usr/bin/true` in a box to
    /// prove the host gives every kind of isolation. Fails with what is missing otherwise.
    pub fn new(config: SandboxConfig) -> Result<Sandbox> {
        check_kernel()?;
        let instance = format!(
            "judgelet-{}-{}",
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::Relaxed)
        );
        let instance_dir = config.state_dir.join(&instance);
        boxdir::prepare_state_dir(&config.state_dir, &instance_dir)?;
        Self::create(config, instance, instance_dir.clone()).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&instance_dir);
        })
    }

    fn create(config: SandboxConfig, instance: String, instance_dir: PathBuf) -> Result<Sandbox> {
        let root_dir = instance_dir.join("root");
        let boxes_dir = instance_dir.join("boxes");
        for dir in [&root_dir, &boxes_dir] {
            std::fs::create_dir(dir)
                .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let plan = MountPlan::standard(&config.readonly);
        let (cgroups, slot_ids, landlock_abi) = match config.isolation {
            Isolation::Namespaces => (
                Some(cgroup::Cgroups::create(
                    &instance,
                    config.cgroup_root.as_deref(),
                )?),
                slots::SlotIds::Namespaces,
                0,
            ),
            Isolation::Unprivileged => {
                let host = unprivileged::Host::probe()?;
                let ids = match host.per_slot_uids {
                    true => slots::SlotIds::PerSlot,
                    // SAFETY: geteuid and getegid cannot fail.
                    false => slots::SlotIds::Shared(unsafe { libc::geteuid() }, unsafe {
                        libc::getegid()
                    }),
                };
                (None, ids, host.landlock_abi)
            }
        };
        let spawner = spawner::Spawner::start(spawner::SpawnContext {
            plan: plan.clone(),
            // An empty directory each run mounts its root tmpfs on, privately.
            root: root_dir,
            filters: seccomp::Filters::compile(config.isolation)?.programs,
            isolation: config.isolation,
            landlock_abi,
        })
        .map_err(|e| Error::Unavailable(format!("cannot start the sandbox spawner: {e}")))?;
        let inner = Inner {
            isolation: config.isolation,
            cgroups,
            spawner,
            plan,
            slots: slots::Slots::new(
                config.uid_base,
                config.uid_count,
                config.state_dir.join("uid-locks"),
                slot_ids,
            )
            .map_err(|e| Error::Unavailable(format!("cannot lock box uids: {e}")))?,
            next_box: AtomicU64::new(0),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            cpu_pool: match config.pin_cpus {
                true => Some(cpus::CpuPool::of_this_process().map_err(|e| {
                    Error::Unavailable(format!("cannot read the CPUs this process may use: {e}"))
                })?),
                false => None,
            },
            instance_dir,
            boxes_dir,
        };
        let sandbox = Sandbox {
            inner: Arc::new(inner),
        };
        sandbox.self_test()?;
        Ok(sandbox)
    }

    /// Which cgroup version this sandbox uses; `None` in the `unprivileged` tier.
    pub fn cgroup_version(&self) -> Option<CgroupVersion> {
        self.inner.cgroups.as_ref().map(cgroup::Cgroups::version)
    }

    /// How this sandbox isolates runs.
    pub fn isolation(&self) -> Isolation {
        self.inner.isolation
    }

    /// The file system every program sees (before per-command read-only paths).
    pub fn mount_plan(&self) -> &MountPlan {
        &self.inner.plan
    }

    /// A fresh, empty box with its own host uid.
    pub fn new_box(&self) -> Result<SandboxBox> {
        SandboxBox::create(self.inner.clone())
    }

    /// Runs `command` in `boxed` and reports how it went. Dropping the future kills the
    /// run: nothing it started outlives it.
    pub async fn run(&self, boxed: &SandboxBox, command: &Command) -> Result<RunReport> {
        run::run(&self.inner, boxed, command, None).await
    }

    /// Like [`Sandbox::run`], with the program's stdin and stdout on the caller's pipes
    /// (`command.stdin` is not used, and the report has no stdout). For interactive problems:
    /// two runs whose pipes cross. The descriptors are closed once the program has them.
    pub async fn run_piped(
        &self,
        boxed: &SandboxBox,
        command: &Command,
        pipes: Pipes,
    ) -> Result<RunReport> {
        run::run(&self.inner, boxed, command, Some(pipes)).await
    }

    fn self_test(&self) -> Result<()> {
        let boxed = self.new_box()?;
        let command = Command::new("/usr/bin/true", Limits::RUN_DEFAULTS);
        // A thread of its own, so this works whether or not the caller is inside a runtime.
        let report = std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(Error::io("start a runtime for the sandbox self-test"))?
                    .block_on(self.run(&boxed, &command))
            })
            .join()
            .map_err(|_| Error::Unavailable("sandbox self-test panicked".into()))?
        })
        .map_err(|e| Error::Unavailable(format!("self-test run failed: {e}")))?;
        if report.status != Status::Ok {
            return Err(Error::Unavailable(format!(
                "self-test run of /usr/bin/true ended {} (exit code {:?}, signal {:?}): {}",
                report.status.as_str(),
                report.exit_code,
                report.signal,
                String::from_utf8_lossy(&report.stderr.bytes)
            )));
        }
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.instance_dir) {
            tracing::warn!(dir = %self.instance_dir.display(), error = %e, "cannot remove sandbox state");
        }
    }
}

/// clone3 with pidfds needs 5.3, close_range with CLOSE_RANGE_CLOEXEC 5.11.
fn check_kernel() -> Result<()> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_err(|e| Error::Unavailable(format!("cannot read the kernel version: {e}")))?;
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if version < (5, 11) {
        return Err(Error::Unavailable(format!(
            "Linux {} is too old: judgelet needs 5.11 or later (clone3, pidfd, close_range)",
            release.trim()
        )));
    }
    Ok(())
}

/// Directories named `judgelet-<pid>-<n>` under `base` whose judgelet process is gone.
pub(crate) fn stale_instances(base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let pid = name
                .to_str()
                .and_then(|n| n.strip_prefix("judgelet-"))
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<u32>().ok());
            pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        })
        .map(|entry| entry.path())
        .collect()
}

impl Inner {
    fn box_path(&self, id: u64) -> PathBuf {
        self.boxes_dir.join(id.to_string())
    }
}
