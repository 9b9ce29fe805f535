//! One fresh cgroup per run, managed through cgroupfs directly.
//!
//! Cgroup v2 where the host delegates the `memory` and `pids` controllers to us; v1 where
//! that is what the host has (one directory per controller). No systemd: neither a typical
//! pod nor a plain VM runs it. A fresh cgroup per run (≈0.25 ms to create and remove here)
//! keeps the peak-memory and CPU counters honest without resetting anything.

use std::fs;
use std::io::{self, ErrorKind};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;
use crate::limits::Limits;

/// Which cgroup version a sandbox uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CgroupVersion {
    V1,
    V2,
}

/// Where the controllers live, before we create anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Hierarchy {
    /// Our own cgroup directory in each v1 controller's hierarchy.
    V1 {
        memory: PathBuf,
        pids: PathBuf,
        cpuacct: PathBuf,
    },
    /// Our own cgroup directory in the unified hierarchy.
    V2 { dir: PathBuf },
}

/// A mount line of `/proc/self/mountinfo` reduced to what cgroup discovery needs.
struct CgroupMount<'a> {
    root: &'a str,
    mount_point: String,
    fstype: &'a str,
    super_options: &'a str,
}

fn parse_mountinfo(mountinfo: &str) -> impl Iterator<Item = CgroupMount<'_>> {
    mountinfo.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let fstype = right.next()?;
        let _source = right.next()?;
        let super_options = right.next().unwrap_or("");
        Some(CgroupMount {
            root: left.get(3)?,
            mount_point: unescape_octal(left.get(4)?),
            fstype,
            super_options,
        })
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Joins a cgroup path from `/proc/self/cgroup` to the mount that shows it.
fn cgroup_dir(mount: &CgroupMount<'_>, cgroup_path: &str) -> PathBuf {
    let relative = cgroup_path
        .strip_prefix(mount.root)
        .unwrap_or(cgroup_path)
        .trim_start_matches('/');
    Path::new(&mount.mount_point).join(relative)
}

/// Finds our cgroup directories from the texts of `/proc/self/mountinfo` and
/// `/proc/self/cgroup`. v2 wins when it offers both `memory` and `pids`, which
/// `controllers_of` reports for a v2 directory.
pub(crate) fn discover(
    mountinfo: &str,
    self_cgroup: &str,
    controllers_of: impl Fn(&Path) -> String,
) -> Result<Hierarchy, String> {
    let mounts: Vec<CgroupMount<'_>> = parse_mountinfo(mountinfo)
        .filter(|m| m.fstype == "cgroup" || m.fstype == "cgroup2")
        .collect();
    let membership: Vec<(&str, &str)> = self_cgroup
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            Some((parts.next()?, parts.next()?))
        })
        .collect();

    let v2_path = membership.iter().find(|(c, _)| c.is_empty()).map(|m| m.1);
    if let (Some(mount), Some(path)) = (mounts.iter().find(|m| m.fstype == "cgroup2"), v2_path) {
        let dir = cgroup_dir(mount, path);
        let controllers = controllers_of(&dir);
        let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
        if has("memory") && has("pids") {
            return Ok(Hierarchy::V2 { dir });
        }
    }

    let v1 = |controller: &str| -> Result<PathBuf, String> {
        let mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.super_options.split(',').any(|o| o == controller))
            .ok_or_else(|| format!("no cgroup v1 hierarchy with the {controller} controller"))?;
        let path = membership
            .iter()
            .find(|(list, _)| list.split(',').any(|c| c == controller))
            .map(|m| m.1)
            .ok_or_else(|| format!("/proc/self/cgroup names no {controller} cgroup"))?;
        Ok(cgroup_dir(mount, path))
    };
    match (v1("memory"), v1("pids"), v1("cpuacct")) {
        (Ok(memory), Ok(pids), Ok(cpuacct)) => Ok(Hierarchy::V1 {
            memory,
            pids,
            cpuacct,
        }),
        (memory, pids, cpuacct) => {
            let missing: Vec<String> = [memory, pids, cpuacct]
                .into_iter()
                .filter_map(Result::err)
                .collect();
            Err(format!(
                "no usable cgroups: cgroup v2 does not offer both the memory and pids \
                 controllers here, and for v1 {}",
                missing.join("; ")
            ))
        }
    }
}

/// The sandbox's own cgroup subtree: one directory per controller (v1) or one (v2), under
/// which each run gets a fresh child.
pub(crate) struct Cgroups {
    version: CgroupVersion,
    /// v1: memory, pids, cpuacct (in this order); v2: one directory.
    parents: Vec<PathBuf>,
    next: AtomicU64,
}

impl Cgroups {
    /// Finds the host's cgroups and creates this instance's subtree.
    pub(crate) fn create(instance: &str, v2_root: Option<&Path>) -> Result<Cgroups, Error> {
        let hierarchy = match v2_root {
            Some(dir) => Hierarchy::V2 {
                dir: dir.to_owned(),
            },
            None => {
                let read = |p: &str| {
                    fs::read_to_string(p).map_err(|e| Error::Unavailable(format!("{p}: {e}")))
                };
                discover(
                    &read("/proc/self/mountinfo")?,
                    &read("/proc/self/cgroup")?,
                    |dir| fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default(),
                )
                .map_err(Error::Unavailable)?
            }
        };
        Self::create_in(instance, hierarchy)
    }

    pub(crate) fn create_in(instance: &str, hierarchy: Hierarchy) -> Result<Cgroups, Error> {
        let unavailable = |what: String| Error::Unavailable(what);
        let (version, parents) = match hierarchy {
            Hierarchy::V1 {
                memory,
                pids,
                cpuacct,
            } => (
                CgroupVersion::V1,
                vec![
                    memory.join(instance),
                    pids.join(instance),
                    cpuacct.join(instance),
                ],
            ),
            Hierarchy::V2 { dir } => {
                delegate_v2(&dir).map_err(unavailable)?;
                (CgroupVersion::V2, vec![dir.join(instance)])
            }
        };
        for parent in &parents {
            if let Some(base) = parent.parent() {
                remove_stale_instances(base);
            }
            fs::create_dir(parent).map_err(|e| {
                unavailable(format!(
                    "cannot create cgroup {}: {e} (judgelet needs write access to cgroupfs: \
                     run as root, or delegate a cgroup v2 subtree)",
                    parent.display()
                ))
            })?;
        }
        if version == CgroupVersion::V2 {
            write(&parents[0].join("cgroup.subtree_control"), "+memory +pids")
                .map_err(|e| unavailable(format!("enable controllers in {:?}: {e}", parents[0])))?;
        }
        Ok(Cgroups {
            version,
            parents,
            next: AtomicU64::new(0),
        })
    }

    pub(crate) fn version(&self) -> CgroupVersion {
        self.version
    }

    /// A fresh cgroup with the run's memory and process limits set.
    pub(crate) fn new_run(&self, limits: &Limits) -> io::Result<RunCgroup> {
        let name = format!("run-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let dirs: Vec<PathBuf> = self.parents.iter().map(|p| p.join(&name)).collect();
        let mut cgroup = RunCgroup {
            version: self.version,
            dirs: Vec::with_capacity(dirs.len()),
        };
        for dir in dirs {
            fs::create_dir(&dir)?;
            cgroup.dirs.push(dir);
        }
        let memory = (limits.memory_kib * 1024).to_string();
        // The run's init is in the cgroup too: the limit is the program's, init's one more.
        let pids = (u64::from(limits.processes) + 1).to_string();
        match self.version {
            CgroupVersion::V1 => {
                write(&cgroup.dirs[0].join("memory.limit_in_bytes"), &memory)?;
                // Present only where swap accounting is on; without it there is no swap to
                // escape to, so a missing file is fine.
                write_if_present(&cgroup.dirs[0].join("memory.memsw.limit_in_bytes"), &memory)?;
                write(&cgroup.dirs[1].join("pids.max"), &pids)?;
            }
            CgroupVersion::V2 => {
                let dir = &cgroup.dirs[0];
                write(&dir.join("memory.max"), &memory)?;
                write_if_present(&dir.join("memory.swap.max"), "0")?;
                // On OOM kill the whole run rather than one process of it: the verdict is MLE
                // either way, and half a process tree left running only burns its time limit.
                write_if_present(&dir.join("memory.oom.group"), "1")?;
                write(&dir.join("pids.max"), &pids)?;
            }
        }
        Ok(cgroup)
    }
}

impl Drop for Cgroups {
    fn drop(&mut self) {
        for parent in &self.parents {
            if let Err(e) = fs::remove_dir(parent) {
                tracing::warn!(cgroup = %parent.display(), error = %e, "cannot remove cgroup");
            }
        }
    }
}

/// Makes `dir` able to hold child cgroups with memory and pids: enables them in its
/// `subtree_control`. v2 allows that only in a cgroup without processes of its own, so when
/// we are alone in `dir` (a container's init), we move into a `supervisor` leaf first.
fn delegate_v2(dir: &Path) -> Result<(), String> {
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    let has = |c: &str| enabled.split_whitespace().any(|x| x == c);
    if has("memory") && has("pids") {
        return Ok(());
    }
    let control = dir.join("cgroup.subtree_control");
    match write(&control, "+memory +pids") {
        Ok(()) => return Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
        Err(e) => {
            return Err(format!(
                "enable memory and pids in {}: {e}",
                control.display()
            ))
        }
    }
    let procs = fs::read_to_string(dir.join("cgroup.procs")).map_err(|e| e.to_string())?;
    let me = std::process::id().to_string();
    if procs.lines().any(|pid| pid != me) {
        return Err(format!(
            "cgroup v2 directory {} holds other processes, so its controllers cannot be \
             delegated; give judgelet a delegated subtree with --cgroup-root",
            dir.display()
        ));
    }
    let leaf = dir.join("supervisor");
    match fs::create_dir(&leaf) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("create {}: {e}", leaf.display())),
    }
    write(&leaf.join("cgroup.procs"), &me).map_err(|e| format!("move into {leaf:?}: {e}"))?;
    write(&control, "+memory +pids").map_err(|e| format!("{}: {e}", control.display()))
}

/// Removes subtrees left by judgelet processes that died without cleaning up.
fn remove_stale_instances(base: &Path) {
    for dir in crate::stale_instances(base) {
        if let Ok(runs) = fs::read_dir(&dir) {
            for run in runs.flatten().filter(|r| r.path().is_dir()) {
                let _ = fs::remove_dir(run.path());
            }
        }
        let _ = fs::remove_dir(&dir);
    }
}

/// One run's cgroup (one directory per v1 controller, or one v2 directory).
pub(crate) struct RunCgroup {
    version: CgroupVersion,
    dirs: Vec<PathBuf>,
}

impl RunCgroup {
    /// `cgroup.procs` of each directory, opened for the child to write itself into.
    pub(crate) fn open_procs(&self) -> io::Result<Vec<OwnedFd>> {
        self.dirs
            .iter()
            .map(|d| {
                let file = fs::OpenOptions::new()
                    .write(true)
                    .open(d.join("cgroup.procs"))?;
                Ok(OwnedFd::from(file))
            })
            .collect()
    }

    /// Waits until no process is left in the cgroup: a killed pid namespace's init may be
    /// reported gone while the kernel still reaps the rest. For threads that may block.
    pub(crate) fn wait_empty(&self, timeout: std::time::Duration) {
        let procs = self.dirs[0].join("cgroup.procs");
        let start = std::time::Instant::now();
        while fs::read_to_string(&procs).is_ok_and(|p| !p.trim().is_empty())
            && start.elapsed() < timeout
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// CPU time of every process that has been in the cgroup, in nanoseconds.
    pub(crate) fn cpu_time_ns(&self) -> io::Result<u64> {
        match self.version {
            CgroupVersion::V1 => read_u64(&self.dirs[2].join("cpuacct.usage")),
            CgroupVersion::V2 => {
                Ok(stat_field(&self.dirs[0].join("cpu.stat"), "usage_usec")? * 1000)
            }
        }
    }

    /// Peak memory in bytes, when the kernel keeps it (v2 needs Linux 5.19).
    pub(crate) fn memory_peak_bytes(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V1 => "memory.max_usage_in_bytes",
            CgroupVersion::V2 => "memory.peak",
        };
        read_u64(&self.dirs[0].join(file)).ok()
    }

    /// Memory charged to the cgroup now, in bytes.
    pub(crate) fn memory_bytes(&self) -> io::Result<u64> {
        let file = match self.version {
            CgroupVersion::V1 => "memory.usage_in_bytes",
            CgroupVersion::V2 => "memory.current",
        };
        read_u64(&self.dirs[0].join(file))
    }

    /// The host ids of every thread in the cgroup.
    pub(crate) fn tasks(&self) -> io::Result<Vec<libc::pid_t>> {
        let file = match self.version {
            CgroupVersion::V1 => "tasks",
            CgroupVersion::V2 => "cgroup.threads",
        };
        Ok(fs::read_to_string(self.dirs[0].join(file))?
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect())
    }

    /// How many processes the OOM killer took in this cgroup.
    pub(crate) fn oom_kills(&self) -> io::Result<u64> {
        match self.version {
            CgroupVersion::V1 => stat_field(&self.dirs[0].join("memory.oom_control"), "oom_kill"),
            CgroupVersion::V2 => stat_field(&self.dirs[0].join("memory.events"), "oom_kill"),
        }
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            // By the time a run is dropped its init has been reaped, and the kernel reaps the
            // whole pid namespace before that: the cgroup is empty. A failure here is a bug
            // to hear about, not a reason to fail the run.
            if let Err(e) = fs::remove_dir(dir) {
                tracing::warn!(cgroup = %dir.display(), error = %e, "cannot remove run cgroup");
            }
        }
    }
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    fs::write(path, value)
}

fn write_if_present(path: &Path, value: &str) -> io::Result<()> {
    match fs::write(path, value) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn read_u64(path: &Path) -> io::Result<u64> {
    fs::read_to_string(path)?
        .trim()
        .parse()
        .map_err(|e| io::Error::new(ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

/// A `key value` line from a flat-keyed cgroup file such as `cpu.stat`.
fn stat_field(path: &Path, key: &str) -> io::Result<u64> {
    let text = fs::read_to_string(path)?;
    text.lines()
        .filter_map(|line| line.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidData,
                format!("{}: no {key}", path.display()),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
30 25 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
33 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const SELF_V1: &str = "\
8:pids:/
4:memory:/process_api/68b4
2:cpuacct:/
0::/
";

    #[test]
    fn v1_is_used_when_v2_has_no_controllers() {
        let found = discover(MOUNTINFO_V1, SELF_V1, |_| String::new()).unwrap();
        assert_eq!(
            found,
            Hierarchy::V1 {
                memory: "/sys/fs/cgroup/memory/process_api/68b4".into(),
                pids: "/sys/fs/cgroup/pids".into(),
                cpuacct: "/sys/fs/cgroup/cpuacct".into(),
            }
        );
    }

    #[test]
    fn v2_wins_when_it_offers_memory_and_pids() {
        let mountinfo = "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let found = discover(mountinfo, "0::/kubepods/pod1/c1\n", |dir| {
            assert_eq!(dir, Path::new("/sys/fs/cgroup/kubepods/pod1/c1"));
            "cpuset cpu io memory pids".into()
        })
        .unwrap();
        assert_eq!(
            found,
            Hierarchy::V2 {
                dir: "/sys/fs/cgroup/kubepods/pod1/c1".into()
            }
        );
    }

    #[test]
    fn a_cgroup_namespace_root_is_stripped() {
        let mountinfo = "29 23 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let found = discover(mountinfo, "0::/kubepods/pod1/c1\n", |_| {
            "memory pids".into()
        });
        assert_eq!(
            found.unwrap(),
            Hierarchy::V2 {
                dir: "/sys/fs/cgroup/c1".into()
            }
        );
    }

    #[test]
    fn missing_controllers_are_named() {
        let mountinfo = "41 30 0:37 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let err = discover(mountinfo, "0::/\n", |_| "cpu io".into()).unwrap_err();
        assert!(err.contains("memory controller"), "{err}");
        assert!(err.contains("pids controller"), "{err}");
    }

    #[test]
    fn octal_escapes_in_mount_points_are_decoded() {
        assert_eq!(unescape_octal(r"/mnt/with\040space"), "/mnt/with space");
        assert_eq!(unescape_octal(r"/plain\"), r"/plain\");
    }

    /// A v2 tree in a temporary directory stands in for cgroupfs: the files judgelet writes
    /// and the values it writes are what this test checks.
    #[test]
    fn v2_run_cgroup_gets_its_limits_written() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("cgroup.subtree_control"), "memory pids").unwrap();
        let cgroups = Cgroups::create_in(
            "judgelet-test",
            Hierarchy::V2 {
                dir: root.path().to_owned(),
            },
        )
        .unwrap();
        let instance = root.path().join("judgelet-test");
        assert_eq!(
            fs::read_to_string(instance.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        let run_dir = instance.join("run-0");
        let limits = Limits {
            memory_kib: 1024,
            processes: 7,
            ..Limits::RUN_DEFAULTS
        };
        let run = cgroups.new_run(&limits).unwrap();
        let read = |f: &str| fs::read_to_string(run_dir.join(f)).unwrap();
        assert_eq!(read("memory.max"), "1048576");
        assert_eq!(read("pids.max"), "8", "the program's 7 and its init");
        fs::write(
            run_dir.join("cpu.stat"),
            "usage_usec 1500\nuser_usec 1000\n",
        )
        .unwrap();
        fs::write(
            run_dir.join("memory.events"),
            "low 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        assert_eq!(run.cpu_time_ns().unwrap(), 1_500_000);
        assert_eq!(run.oom_kills().unwrap(), 1);
        assert_eq!(run.memory_peak_bytes(), None);
        for file in fs::read_dir(&run_dir).unwrap() {
            fs::remove_file(file.unwrap().path()).unwrap();
        }
    }
}
