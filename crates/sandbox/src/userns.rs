//! Host uids for programs, one per live box, each with its own user namespace.
//!
//! A program runs as uid 1000 inside a user namespace that maps 1000 to one host uid that no
//! other live box uses. So even a program that escaped its mount namespace would own no
//! other run's files, and per-user limits (`RLIMIT_NPROC`) are per run. The namespace of a
//! slot is made once, on first use, and joined with `setns` by each program: a fresh one per
//! run would need the supervisor to write id maps while the child waits, a round trip that
//! `setns` avoids. It holds no state a program could leave behind for the next (keyrings are
//! denied by seccomp; the processes are gone).

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, OnceLock};

use crate::child::{clone3, Forked};
use crate::mounts::INNER_UID;
use crate::process::{pidfd_pid, reap};

pub(crate) struct UidPool {
    base: u32,
    free: Mutex<Vec<u32>>,
    namespaces: Vec<OnceLock<Arc<OwnedFd>>>,
}

/// One slot, held by a box for its lifetime.
pub(crate) struct UidLease {
    pub host_uid: u32,
    pub userns: Arc<OwnedFd>,
    slot: u32,
}

impl UidPool {
    pub(crate) fn new(base: u32, count: u32) -> UidPool {
        UidPool {
            base,
            free: Mutex::new((0..count).rev().collect()),
            namespaces: (0..count).map(|_| OnceLock::new()).collect(),
        }
    }

    /// A free slot, or `None` when every uid is in use.
    pub(crate) fn lease(&self) -> io::Result<Option<UidLease>> {
        let Some(slot) = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
            return Ok(None);
        };
        let host_uid = self.base + slot;
        let cell = &self.namespaces[slot as usize];
        let userns = match cell.get() {
            Some(ns) => ns.clone(),
            None => match create_userns(host_uid) {
                Ok(ns) => cell.get_or_init(|| Arc::new(ns)).clone(),
                Err(e) => {
                    self.release(slot);
                    return Err(e);
                }
            },
        };
        Ok(Some(UidLease {
            host_uid,
            userns,
            slot,
        }))
    }

    pub(crate) fn release_lease(&self, lease: &UidLease) {
        self.release(lease.slot);
    }

    fn release(&self, slot: u32) {
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot);
    }
}

/// Makes a user namespace mapping uid and gid 1000 to `host_id`, and returns a descriptor
/// that keeps it alive: a child enters a new namespace and waits on a pipe while we write its
/// maps and open its `ns/user`, then exits.
fn create_userns(host_id: u32) -> io::Result<OwnedFd> {
    let (mut read, mut write) = io::pipe()?;
    // SAFETY: the child only reads the pipe and exits, both async-signal-safe.
    let pidfd = match unsafe { clone3(libc::CLONE_NEWUSER) } {
        Ok(Forked::Child) => unsafe {
            let mut byte = [0u8];
            let _ = io::Read::read(&mut read, &mut byte);
            libc::_exit(0)
        },
        Ok(Forked::Parent { pidfd }) => pidfd,
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create a user namespace: {e} (needs root or CAP_SYS_ADMIN)"),
            ))
        }
    };
    let pid = pidfd_pid(&pidfd)?;
    let map = format!("{INNER_UID} {host_id} 1\n");
    let result = fs::write(format!("/proc/{pid}/uid_map"), &map)
        .and_then(|()| fs::write(format!("/proc/{pid}/gid_map"), &map))
        .and_then(|()| fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from));
    // The child has a copy of the write end too, so closing ours would not wake it.
    io::Write::write_all(&mut write, b"x")?;
    reap(&pidfd)?;
    result
}
