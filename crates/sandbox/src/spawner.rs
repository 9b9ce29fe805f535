//! The spawner: a small, single-threaded process that forks every run's `init`.
//!
//! Forking `init` straight from the supervisor copied the supervisor's page tables and, worse,
//! made its whole memory copy-on-write for as long as the run lived: the supervisor then
//! copied every page it wrote. Under load that was the largest cost of a run (a quarter of the
//! supervisor's CPU in `do_wp_page`, see bench/RESULTS.md). The spawner is forked once, when
//! the sandbox is created and the process is still small; it receives each run's request and
//! descriptors over a `SOCK_SEQPACKET` socket (`SCM_RIGHTS`) and answers with the pidfd of
//! the `init` it forked. It also keeps the privileged `clone3` out of the process that talks
//! to the network.
//!
//! The spawner reaps its children itself (`SIGCHLD` ignored), so the supervisor watches runs
//! through pidfds only. It exits when the supervisor's end of the socket closes.

use std::ffi::CString;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::{Deserialize, Serialize};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::child::{self, ChildFds, ChildPlan, Mode};
use crate::mounts::{cpath, MountPlan, BOX_PATH};
use crate::unprivileged;
use crate::Isolation;

/// One run, as the supervisor asks for it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SpawnRequest {
    pub box_dir: PathBuf,
    /// The box's `/tmp` in the `unprivileged` tier; `None` with namespaces.
    pub tmp_dir: Option<PathBuf>,
    /// uid and gid the program runs as: in its user namespace, or on the host.
    pub ids: (u32, u32),
    /// Whether the program switches to `ids` (always with namespaces; in the `unprivileged`
    /// tier only where judgelet may switch uid).
    pub switch_ids: bool,
    pub memory_kib: u64,
    pub readonly: Vec<PathBuf>,
    pub rlimits: Vec<(i32, u64)>,
    /// The CPU the program is pinned to, if any.
    pub cpu: Option<u32>,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The descriptors sent with a request.
pub(crate) struct SpawnFds<'a> {
    pub stdin: &'a OwnedFd,
    pub stdout: &'a OwnedFd,
    pub stderr: &'a OwnedFd,
    pub status: &'a OwnedFd,
    pub control: &'a OwnedFd,
    /// The slot's user and network namespaces; `None` in the `unprivileged` tier.
    pub namespaces: Option<(&'a OwnedFd, &'a OwnedFd)>,
    pub cgroup_procs: &'a [OwnedFd],
}

/// What the spawner needs besides the requests: inherited when it is forked.
pub(crate) struct SpawnContext {
    pub plan: MountPlan,
    pub root: PathBuf,
    pub filters: Vec<seccompiler::BpfProgram>,
    pub isolation: Isolation,
    /// Landlock ABI of the host, for the `unprivileged` tier.
    pub landlock_abi: i32,
}

/// The reply socket and the five descriptors every run has; then the two namespaces and the
/// cgroup descriptors, with namespaces.
const FIXED_FDS: usize = 6;
/// More than any request needs: a command line is capped well below.
const MAX_REQUEST: usize = 256 << 10;

pub(crate) struct Spawner {
    socket: OwnedFd,
    pid: libc::pid_t,
}

impl Spawner {
    pub(crate) fn start(context: SpawnContext) -> io::Result<Spawner> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        // SAFETY: glibc's fork (unlike a raw clone) leaves malloc usable in the child even
        // when other threads exist, and the child takes no other lock: it only serves the
        // socket and exits.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => unsafe {
                drop(ours);
                child::close_all_except(&[theirs.as_raw_fd()]);
                // Descriptors received later must not land on 0, 1 or 2: the child moves
                // them there, and one already in place would be overwritten first.
                for _ in 0..3 {
                    libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                }
                libc::_exit(serve(&theirs, &context))
            },
            pid => Ok(Spawner { socket: ours, pid }),
        }
    }

    /// Asks the spawner for a run; resolves to the pidfd of its `init`.
    pub(crate) async fn spawn(
        &self,
        request: &SpawnRequest,
        fds: SpawnFds<'_>,
    ) -> io::Result<OwnedFd> {
        let message = serde_json::to_vec(request)?;
        if message.len() > MAX_REQUEST {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "command line too long",
            ));
        }
        let (reply, reply_theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )?;
        let mut raw: Vec<RawFd> = [
            &reply_theirs,
            fds.stdin,
            fds.stdout,
            fds.stderr,
            fds.status,
            fds.control,
        ]
        .iter()
        .map(|fd| fd.as_raw_fd())
        .collect();
        if let Some((user, net)) = fds.namespaces {
            raw.extend([user.as_raw_fd(), net.as_raw_fd()]);
        }
        raw.extend(fds.cgroup_procs.iter().map(|fd| fd.as_raw_fd()));
        sendmsg::<()>(
            self.socket.as_raw_fd(),
            &[IoSlice::new(&message)],
            &[ControlMessage::ScmRights(&raw)],
            MsgFlags::empty(),
            None,
        )
        .map_err(|e| gone(e.into()))?;
        drop(reply_theirs);
        // SAFETY: an OwnedFd keeps its descriptor open and unchanged until it is dropped.
        let reply = unsafe { AsyncFd::register_with_interest(reply, Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        loop {
            let mut guard = reply.readable().await?;
            match guard.try_io(|fd| receive(fd.get_ref()).map_err(io::Error::from)) {
                Ok(result) => {
                    let (errno, mut fds) = result?;
                    return match (errno, fds.pop()) {
                        (0, Some(pidfd)) => Ok(pidfd),
                        (0, None) => Err(gone(io::Error::other("no reply"))),
                        (errno, _) => Err(io::Error::from_raw_os_error(errno)),
                    };
                }
                Err(_would_block) => continue,
            }
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        // Closing our end makes the spawner exit; then collect it.
        // SAFETY: shutting down and waiting for our own child.
        unsafe {
            libc::shutdown(self.socket.as_raw_fd(), libc::SHUT_RDWR);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

fn gone(error: io::Error) -> io::Error {
    io::Error::new(
        error.kind(),
        format!("the sandbox spawner is gone: {error}"),
    )
}

/// One message: a 4-byte errno (0 for success) and any descriptors that came with it.
fn receive(socket: &OwnedFd) -> nix::Result<(i32, Vec<OwnedFd>)> {
    let mut errno = [0u8; 4];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(&mut errno)];
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let fds = owned_fds(message.cmsgs()?);
    if message.bytes != 4 {
        return Ok((libc::EPIPE, fds));
    }
    Ok((i32::from_ne_bytes(errno), fds))
}

fn owned_fds<'a>(cmsgs: impl Iterator<Item = ControlMessageOwned> + 'a) -> Vec<OwnedFd> {
    cmsgs
        .flat_map(|cmsg| match cmsg {
            ControlMessageOwned::ScmRights(fds) => fds,
            _ => Vec::new(),
        })
        // SAFETY: descriptors received by SCM_RIGHTS are new and ours alone.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect()
}

/// The spawner's loop. Returns its exit code.
fn serve(socket: &OwnedFd, context: &SpawnContext) -> i32 {
    // Children are reaped by the kernel; the supervisor watches them through pidfds.
    // SAFETY: setting a signal disposition in this single-threaded process.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_IGN;
        action.sa_flags = libc::SA_NOCLDWAIT;
        libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut());
    }
    let mut buffer = vec![0u8; MAX_REQUEST];
    loop {
        let mut space = nix::cmsg_space!([RawFd; 16]);
        let mut iov = [IoSliceMut::new(&mut buffer)];
        let (bytes, fds) = match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(message) => match message.cmsgs() {
                Ok(cmsgs) => (message.bytes, owned_fds(cmsgs)),
                Err(_) => return 1,
            },
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
        };
        if bytes == 0 {
            return 0;
        }
        let Some((reply, fds)) = fds.split_first() else {
            continue;
        };
        let (errno, pidfd) = match spawn_one(context, &buffer[..bytes], fds) {
            Ok(pidfd) => (0, Some(pidfd)),
            Err(e) => (e.raw_os_error().unwrap_or(libc::EINVAL), None),
        };
        let raw: Vec<RawFd> = pidfd.iter().map(|fd| fd.as_raw_fd()).collect();
        let cmsgs = [ControlMessage::ScmRights(&raw)];
        let _ = sendmsg::<()>(
            reply.as_fd().as_raw_fd(),
            &[IoSlice::new(&errno.to_ne_bytes())],
            if raw.is_empty() { &[] } else { &cmsgs },
            MsgFlags::empty(),
            None,
        );
    }
}

fn spawn_one(context: &SpawnContext, message: &[u8], fds: &[OwnedFd]) -> io::Result<OwnedFd> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_owned());
    let request: SpawnRequest =
        serde_json::from_slice(message).map_err(|_| invalid("malformed spawn request"))?;
    let namespaces = context.isolation == Isolation::Namespaces;
    let needed = FIXED_FDS - 1 + if namespaces { 2 } else { 0 };
    if fds.len() < needed {
        return Err(invalid("missing descriptors"));
    }
    let raw = |i: usize| fds[i].as_raw_fd();
    let (exec_error_read, exec_error_write) = io::pipe()?;
    let plan = context.plan.with_readonly(&request.readonly);
    // The ruleset lives until the child has it: init's copy is closed after the clone.
    let (mode, ops, landlock, cwd) = match (namespaces, &request.tmp_dir) {
        (true, _) => (
            Mode::Namespaces,
            plan.lower(&context.root, &request.box_dir, request.memory_kib)?,
            None,
            Path::new(BOX_PATH),
        ),
        (false, Some(tmp_dir)) => {
            let ruleset =
                unprivileged::ruleset(&plan, &request.box_dir, tmp_dir, context.landlock_abi)?;
            let mode = Mode::Unprivileged {
                landlock: ruleset.as_raw_fd(),
                switch_ids: request.switch_ids,
            };
            (mode, Vec::new(), Some(ruleset), request.box_dir.as_path())
        }
        (false, None) => return Err(invalid("no tmp directory for an unprivileged run")),
    };
    let c_string = |bytes: &[u8]| CString::new(bytes).map_err(|_| invalid("NUL byte in command"));
    let argv = std::iter::once(request.program.as_os_str().as_bytes())
        .chain(request.args.iter().map(|a| a.as_bytes()))
        .map(c_string)
        .collect::<io::Result<Vec<_>>>()?;
    let envp = request
        .env
        .iter()
        .map(|(k, v)| c_string(format!("{k}={v}").as_bytes()))
        .collect::<io::Result<Vec<_>>>()?;
    let (userns, netns) = match namespaces {
        true => (raw(5), raw(6)),
        false => (-1, -1),
    };
    let plan = ChildPlan::new(
        ChildFds {
            stdin: raw(0),
            stdout: raw(1),
            stderr: raw(2),
            status: raw(3),
            control: raw(4),
            userns,
            netns,
            cgroup_procs: fds[needed..].iter().map(|fd| fd.as_raw_fd()).collect(),
            exec_error_read: exec_error_read.as_raw_fd(),
            exec_error_write: exec_error_write.as_raw_fd(),
        },
        mode,
        ops,
        cpath(&context.root)?,
        request.ids,
        request.rlimits,
        request.cpu.map(crate::cpus::mask),
        context.filters.clone(),
        cpath(cwd)?,
        argv[0].clone(),
        argv,
        envp,
    );
    let pidfd = child::spawn(&plan);
    drop(landlock);
    pidfd
}
