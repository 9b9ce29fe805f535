//! Slots: what a live box holds exclusively. A slot is a host uid with its own user
//! namespace and its own (empty) network namespace.
//!
//! A program runs as uid 1000 inside a user namespace that maps 1000 to the slot's host uid,
//! which no other live box has. So even a program that escaped its mount namespace would own
//! no other run's files, and per-user limits (`RLIMIT_NPROC`) are per run.
//!
//! A slot is exclusive across judgelet processes too: each uid has a lock file in the state
//! directory, held (`flock`) while a box has the slot, so two judgelet processes on one host
//! never run programs as the same uid at once.
//!
//! Both namespaces are made once per slot, on first use, and joined with `setns` by each run
//! of the slot, one run at a time. Neither keeps anything a run could leave for the next:
//! - the user namespace is an id mapping (keyrings, its only per-user state, are denied by
//!   seccomp);
//! - the network namespace belongs to the host's user namespace, so a program, which has no
//!   capability there, cannot bring its loopback up, change a sysctl or add a rule, and
//!   seccomp lets it open only Unix sockets, which die with their processes.
//!
//! Making a network namespace costs ≈0.55 ms of CPU per run on the reference VM, plus its
//! teardown in a kernel worker: the largest single cost of a box before this (see
//! bench/RESULTS.md). IPC namespaces, whose SysV objects outlive processes, stay fresh per run.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::child::{clone3, Forked};
use crate::mounts::INNER_UID;
use crate::process::{pidfd_pid, reap};

/// Which ids a slot's programs run as.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SlotIds {
    /// The slot's uid, mapped to uid 1000 of the slot's user namespace.
    Namespaces,
    /// The slot's uid on the host (`unprivileged` tier, where judgelet may switch uid).
    PerSlot,
    /// judgelet's own uid and gid for every slot (`unprivileged` tier otherwise).
    Shared(u32, u32),
}

pub(crate) struct Slots {
    base: u32,
    ids: SlotIds,
    free: Mutex<Vec<u32>>,
    namespaces: Vec<OnceLock<Arc<SlotNamespaces>>>,
    locks: Vec<OnceLock<File>>,
    lock_dir: PathBuf,
}

pub(crate) struct SlotNamespaces {
    pub user: OwnedFd,
    pub net: OwnedFd,
}

/// One slot, held by a box for its lifetime.
pub(crate) struct Lease {
    pub host_uid: u32,
    pub host_gid: u32,
    /// Whether other slots (and judgelet) run as these ids too.
    pub shared_ids: bool,
    /// `None` in the `unprivileged` tier.
    pub namespaces: Option<Arc<SlotNamespaces>>,
    slot: u32,
}

impl Slots {
    pub(crate) fn new(base: u32, count: u32, lock_dir: PathBuf, ids: SlotIds) -> io::Result<Slots> {
        fs::create_dir_all(&lock_dir)?;
        Ok(Slots {
            base,
            ids,
            free: Mutex::new((0..count).rev().collect()),
            namespaces: (0..count).map(|_| OnceLock::new()).collect(),
            locks: (0..count).map(|_| OnceLock::new()).collect(),
            lock_dir,
        })
    }

    /// A free slot, or `None` when every one is in use. The most recently released slot
    /// comes first, so a steady load reuses a few slots' namespaces.
    pub(crate) fn lease(&self) -> io::Result<Option<Lease>> {
        let Some(slot) = self.take_unlocked()? else {
            return Ok(None);
        };
        let (host_uid, host_gid) = match self.ids {
            SlotIds::Namespaces | SlotIds::PerSlot => (self.base + slot, self.base + slot),
            SlotIds::Shared(uid, gid) => (uid, gid),
        };
        let namespaces = match self.ids {
            SlotIds::PerSlot | SlotIds::Shared(..) => None,
            SlotIds::Namespaces => {
                let cell = &self.namespaces[slot as usize];
                match cell.get() {
                    Some(ns) => Some(ns.clone()),
                    None => match create(host_uid) {
                        Ok(ns) => Some(cell.get_or_init(|| Arc::new(ns)).clone()),
                        Err(e) => {
                            self.release(slot);
                            return Err(e);
                        }
                    },
                }
            }
        };
        Ok(Some(Lease {
            host_uid,
            host_gid,
            shared_ids: matches!(self.ids, SlotIds::Shared(..)),
            namespaces,
            slot,
        }))
    }

    pub(crate) fn release_lease(&self, lease: &Lease) {
        self.release(lease.slot);
    }

    fn release(&self, slot: u32) {
        if let Some(lock) = self.locks[slot as usize].get() {
            // SAFETY: flock on a descriptor we own.
            unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_UN) };
        }
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(slot);
    }

    /// A free slot whose uid no other judgelet process holds, locked for us.
    fn take_unlocked(&self) -> io::Result<Option<u32>> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let mut held_elsewhere = Vec::new();
        let mut found = None;
        while let Some(slot) = free.pop() {
            let lock = match self.locks[slot as usize].get() {
                Some(lock) => lock,
                None => {
                    let path = self.lock_dir.join(format!("{}.lock", self.base + slot));
                    let file = File::options()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(path)?;
                    self.locks[slot as usize].get_or_init(|| file)
                }
            };
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                found = Some(slot);
                break;
            }
            held_elsewhere.push(slot);
        }
        free.extend(held_elsewhere.into_iter().rev());
        Ok(found)
    }
}

fn create(host_id: u32) -> io::Result<SlotNamespaces> {
    let map = format!("{INNER_UID} {host_id} 1\n");
    let user = persistent(libc::CLONE_NEWUSER, "user", |pid| {
        fs::write(format!("/proc/{pid}/uid_map"), &map)?;
        fs::write(format!("/proc/{pid}/gid_map"), &map)
    })?;
    let net = persistent(libc::CLONE_NEWNET, "net", |_| Ok(()))?;
    Ok(SlotNamespaces { user, net })
}

/// Makes a namespace that outlives the process that made it: a child enters it and waits
/// while we `setup` it and open its `/proc/PID/ns/NAME`, which keeps it alive; then it exits.
fn persistent(
    flag: libc::c_int,
    name: &str,
    setup: impl FnOnce(i32) -> io::Result<()>,
) -> io::Result<OwnedFd> {
    let (mut read, mut write) = io::pipe()?;
    // SAFETY: the child only reads the pipe and exits, both async-signal-safe.
    let pidfd = match unsafe { clone3(flag) } {
        Ok(Forked::Child) => unsafe {
            let mut byte = [0u8];
            let _ = io::Read::read(&mut read, &mut byte);
            libc::_exit(0)
        },
        Ok(Forked::Parent { pidfd }) => pidfd,
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot create a {name} namespace: {e} (needs root or CAP_SYS_ADMIN)"),
            ))
        }
    };
    let pid = pidfd_pid(&pidfd)?;
    let result = setup(pid)
        .and_then(|()| fs::File::open(format!("/proc/{pid}/ns/{name}")).map(OwnedFd::from));
    // The child has a copy of the write end too, so closing ours would not wake it.
    io::Write::write_all(&mut write, b"x")?;
    reap(&pidfd)?;
    result
}
