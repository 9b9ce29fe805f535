//! A child process held by its pidfd: signal it, wait for it without blocking the runtime,
//! reap it. A pidfd names one process for good, so a recycled pid is never signalled.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The pid a pidfd refers to, from `/proc/self/fdinfo`.
pub(crate) fn pidfd_pid(pidfd: &OwnedFd) -> io::Result<i32> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd()))?;
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "pidfd without a pid"))
}

pub(crate) fn kill(pidfd: &OwnedFd) -> io::Result<()> {
    // SAFETY: plain system call on a descriptor we own.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    match ret {
        0 => Ok(()),
        _ => match io::Error::last_os_error() {
            // Already gone: what we wanted.
            e if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            e => Err(e),
        },
    }
}

/// Collects the exit of a child that has exited (or waits for it).
pub(crate) fn reap(pidfd: &OwnedFd) -> io::Result<()> {
    loop {
        // SAFETY: waitid writes into the zeroed siginfo we pass.
        let ret = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PIDFD,
                pidfd.as_raw_fd() as libc::id_t,
                &mut info,
                libc::WEXITED,
            )
        };
        match ret {
            0 => return Ok(()),
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::Interrupted => continue,
                e => return Err(e),
            },
        }
    }
}

/// Blocks until the process has exited, for at most `timeout` (for a thread that may block).
pub(crate) fn wait_exit(pidfd: &OwnedFd, timeout: std::time::Duration) -> io::Result<()> {
    let mut poll = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: poll on one descriptor we own.
        match unsafe { libc::poll(&mut poll, 1, timeout.as_millis() as libc::c_int) } {
            1 => return Ok(()),
            0 => return Err(io::Error::from(io::ErrorKind::TimedOut)),
            _ => match io::Error::last_os_error() {
                e if e.kind() == io::ErrorKind::Interrupted => continue,
                e => return Err(e),
            },
        }
    }
}

/// Resolves when the process has exited. A pidfd polls readable once the process is gone;
/// for a pid namespace's init that is after the kernel has killed and reaped the rest of
/// the namespace, so the whole tree is gone.
pub(crate) async fn exited(pidfd: &AsyncFd<OwnedFd>) -> io::Result<()> {
    let mut guard = pidfd.ready(Interest::READABLE).await?;
    guard.retain_ready();
    Ok(())
}

/// Now, on CLOCK_MONOTONIC: the clock init stamps exits with, comparable across processes.
pub(crate) fn monotonic_now() -> std::time::Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Which of two pipes lost its writers first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hangup {
    First,
    Second,
    /// Both had, by the time the watcher looked: their order is unknown.
    Both,
}

/// Watches two pipes through read ends of their own (`first`, `second`) and tells which
/// lost its last writer first: for two programs talking through crossed pipes, which one
/// stopped talking (exited, or closed its stdout) first. Kernel ordering, not stamps: a
/// thread waits in `poll` for hang-ups only (no data wakes it), and whichever pipe has hung up
/// while the other has not came first. The read ends are closed at once then, so writers
/// still going get `EPIPE` as they would without them. Resolves once the thread is about to
/// wait, so that programs started after it are watched from their start.
pub async fn first_hangup(first: OwnedFd, second: OwnedFd) -> tokio::task::JoinHandle<Hangup> {
    let (started, watching) = tokio::sync::oneshot::channel();
    let handle = tokio::task::spawn_blocking(move || {
        // Events 0: poll still reports POLLHUP, and nothing else.
        let mut fds = [first.as_raw_fd(), second.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        let _ = started.send(());
        loop {
            // SAFETY: poll on two descriptors we own, for as long as this closure lives.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } > 0 {
                let hung = |p: &libc::pollfd| {
                    p.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0
                };
                return match (hung(&fds[0]), hung(&fds[1])) {
                    (true, false) => Hangup::First,
                    (false, true) => Hangup::Second,
                    _ => Hangup::Both,
                };
            }
        }
    });
    let _ = watching.await;
    handle
}
