//! A child process held by its pidfd: signal it, wait for it without blocking the runtime,
//! reap it. A pidfd names one process for good, so a recycled pid is never signalled.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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

/// Which of two pipes lost its writers first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hangup {
    First,
    Second,
}

/// Resolves to which of two watched pipes hung up first: see [`first_hangup`].
pub struct FirstHangup(tokio::task::JoinHandle<io::Result<Hangup>>);

impl std::future::Future for FirstHangup {
    type Output = io::Result<Hangup>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| joined.map_err(io::Error::other).and_then(|order| order))
    }
}

/// Watches two pipes through read ends of their own (`first`, `second`) and tells which
/// lost its last writer first: for two programs talking through crossed pipes, which one
/// stopped talking (exited, or closed its stdout) first.
///
/// The order is the kernel's record, not an observation: both pipes are in one epoll set
/// that waits for hang-ups only (no data wakes it), and epoll queues ready descriptors in the
/// order their wake-ups ran. A pipe's wake-up runs inside the `close` that hangs it up, under
/// the pipe's lock, before a reader can see the end; so when one program ends because it read
/// the other's end, the other's hang-up is queued first, however late this task looks (a
/// `poll` would then see both and could not tell). The read ends are closed as soon as the
/// first is known, so writers still going get `EPIPE` as they would without them.
///
/// Must be called within a Tokio runtime, before either program starts.
pub fn first_hangup(first: OwnedFd, second: OwnedFd) -> io::Result<FirstHangup> {
    // SAFETY: plain system call; the descriptor is owned at once.
    let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epoll < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    let epoll = unsafe { OwnedFd::from_raw_fd(epoll) };
    for (which, pipe) in [&first, &second].into_iter().enumerate() {
        // Events 0: epoll always reports EPOLLHUP and EPOLLERR, and a pipe's data wake-ups
        // (keyed EPOLLIN) are filtered out before they reach the ready list.
        let mut event = libc::epoll_event {
            events: 0,
            u64: which as u64,
        };
        // SAFETY: both descriptors are ours and open; the kernel copies `event`.
        let added = unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                pipe.as_raw_fd(),
                &mut event,
            )
        };
        if added < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: an OwnedFd keeps its descriptor open and unchanged until it is dropped.
    let epoll = unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE) }
        .map_err(io::Error::from)?;
    Ok(FirstHangup(tokio::spawn(async move {
        let _watched = (first, second);
        loop {
            let mut ready = epoll.readable().await?;
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 2];
            // SAFETY: room for two events in `events`; timeout 0, so it never blocks.
            let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), events.as_mut_ptr(), 2, 0) };
            match n {
                n if n > 0 => {
                    // Ready order: the first event is the first hang-up.
                    let first_ready = events[0].u64;
                    return Ok(if first_ready == 0 {
                        Hangup::First
                    } else {
                        Hangup::Second
                    });
                }
                0 => ready.clear_ready(),
                _ => {
                    let error = io::Error::last_os_error();
                    if error.kind() != io::ErrorKind::Interrupted {
                        return Err(error);
                    }
                }
            }
        }
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    // A current-thread runtime runs the watcher only when the test awaits it: every pipe
    // operation below happens before it looks, the case a poll could not order.
    #[tokio::test(flavor = "current_thread")]
    async fn the_first_hangup_is_the_kernels_order_however_late_the_watcher_looks() {
        for second_first in [true, false] {
            let (first_read, first_write) = std::io::pipe().unwrap();
            let (second_read, second_write) = std::io::pipe().unwrap();
            let watch = first_hangup(first_read.into(), second_read.into()).unwrap();
            let (early, late) = if second_first {
                (second_write, first_write)
            } else {
                (first_write, second_write)
            };
            drop(early);
            drop(late);
            let expected = if second_first {
                Hangup::Second
            } else {
                Hangup::First
            };
            assert_eq!(watch.await.unwrap(), expected);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn data_is_not_a_hangup_and_the_read_ends_close_once_one_is_known() {
        let (first_read, mut first_write) = std::io::pipe().unwrap();
        let (second_read, second_write) = std::io::pipe().unwrap();
        let watch = first_hangup(first_read.into(), second_read.into()).unwrap();
        first_write.write_all(b"talking").unwrap();
        drop(second_write);
        assert_eq!(watch.await.unwrap(), Hangup::Second);
        // The watcher held the only read end: a writer still going now gets EPIPE.
        let error = first_write.write_all(b"more").unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe);
    }
}
