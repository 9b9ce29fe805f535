//! CPU pinning: each run is pinned to one CPU of those judgelet may use, the one fewest runs
//! are pinned to, so that while runs are no more than CPUs each has a CPU of its own: a
//! multi-threaded program cannot slow its neighbours, and times are reproducible. The program
//! cannot widen its affinity (seccomp denies `sched_setaffinity`), and its children inherit
//! it. With more runs than CPUs at once, runs share, and their reports say so.
//!
//! Affinity rather than a cpuset cgroup: it works alike in both tiers, on cgroup v1 and v2,
//! without the cpuset controller delegated; the seccomp rule makes it as binding.

use std::sync::Mutex;

/// The CPUs runs are pinned to, with how many runs each holds.
pub(crate) struct CpuPool {
    cpus: Vec<u32>,
    runs: Mutex<Vec<u32>>,
}

/// A run's CPU, given back when dropped.
pub(crate) struct CpuLease<'a> {
    pool: &'a CpuPool,
    index: usize,
    /// Another run was pinned to it already.
    pub shared: bool,
}

impl CpuLease<'_> {
    pub(crate) fn cpu(&self) -> u32 {
        self.pool.cpus[self.index]
    }
}

impl Drop for CpuLease<'_> {
    fn drop(&mut self) {
        let mut runs = self.pool.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs[self.index] -= 1;
    }
}

impl CpuPool {
    /// The CPUs this process may run on.
    pub(crate) fn of_this_process() -> std::io::Result<CpuPool> {
        // SAFETY: cpu_set_t is plain data; sched_getaffinity writes at most its size.
        let cpus = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
                .map(|cpu| cpu as u32)
                .collect::<Vec<_>>()
        };
        Ok(CpuPool::new(cpus))
    }

    fn new(cpus: Vec<u32>) -> CpuPool {
        CpuPool {
            runs: Mutex::new(vec![0; cpus.len()]),
            cpus,
        }
    }

    /// The CPU fewest runs are pinned to (the lowest of those).
    pub(crate) fn acquire(&self) -> CpuLease<'_> {
        let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let index = (0..runs.len()).min_by_key(|&i| runs[i]).unwrap_or(0);
        let shared = runs[index] > 0;
        runs[index] += 1;
        CpuLease {
            pool: self,
            index,
            shared,
        }
    }
}

/// The affinity mask of one CPU, built before the child so that it only passes it on.
pub(crate) fn mask(cpu: u32) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if (cpu as usize) < libc::CPU_SETSIZE as usize {
            libc::CPU_SET(cpu as usize, &mut set);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_get_cpus_of_their_own_until_there_are_more_runs_than_cpus() {
        let pool = CpuPool::new(vec![2, 5]);
        let first = pool.acquire();
        let second = pool.acquire();
        assert_eq!((first.cpu(), first.shared), (2, false));
        assert_eq!((second.cpu(), second.shared), (5, false));
        let third = pool.acquire();
        assert!(third.shared);
        drop(first);
        drop(third);
        // The freed CPU is the least used again.
        let fourth = pool.acquire();
        assert_eq!((fourth.cpu(), fourth.shared), (2, false));
    }

    #[test]
    fn this_process_may_run_somewhere() {
        assert!(!CpuPool::of_this_process().unwrap().cpus.is_empty());
    }
}
