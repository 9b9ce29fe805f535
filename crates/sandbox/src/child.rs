//! The only code that runs between `clone` and `exec`, and the only `unsafe` of judgelet.
//!
//! Process tree of one run:
//!
//! ```text
//! supervisor (the judgelet process, many threads)
//!  └─ clone3(NEWPID|NEWNS|NEWIPC|NEWUTS) ─▶ init: pid 1 of the run, host root
//!        joins the slot's network namespace, builds the mount tree, pivots into it,
//!        joins the run's cgroup
//!        └─ clone(VM|VFORK) ─▶ program: joins the slot's user namespace as uid 1000,
//!              rlimits, no_new_privs, seccomp, execve
//! ```
//!
//! `init` stays as the pid namespace's reaper: it reports the program's wait status and
//! rusage through a pipe, and when it exits the kernel kills everything left in the
//! namespace, so no process outlives its run. It also exits when the supervisor closes the
//! control pipe (the run was cancelled or judgelet died).
//!
//! The supervisor is multi-threaded, so the child may not allocate or take locks: every
//! string, pointer array, mount step and seccomp program is prepared in [`ChildPlan`] before
//! `clone3`, and the child only makes system calls. The program is started with
//! `CLONE_VM | CLONE_VFORK`: no page tables are copied (a `fork` of a large process costs
//! ~0.5 ms per 10 MB on this VM), and `init` is suspended until the `execve`, so the two never
//! run at once on shared memory.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libc::{c_char, c_int, c_void};

use crate::error::Stage;
use crate::mounts::Op;

/// Descriptors the child needs, by number. The supervisor owns them (and closes its copies
/// once the child exists).
pub(crate) struct ChildFds {
    pub stdin: RawFd,
    pub stdout: RawFd,
    pub stderr: RawFd,
    /// Write end of the pipe on which `init` reports a [`Record`].
    pub status: RawFd,
    /// Read end of the control pipe; its write end lives only in the supervisor.
    pub control: RawFd,
    /// `cgroup.procs` of each of the run's cgroup directories.
    pub cgroup_procs: Vec<RawFd>,
    /// The slot's user namespace, which the program joins (-1 without namespaces).
    pub userns: RawFd,
    /// The slot's network namespace, which `init` joins (-1 without namespaces).
    pub netns: RawFd,
    /// Pipe (close-on-exec) on which the program reports a failure before `execve`.
    pub exec_error_read: RawFd,
    pub exec_error_write: RawFd,
}

/// How the child isolates the program.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// `init` is pid 1 of fresh namespaces and joins the run's cgroup.
    Namespaces,
    /// No namespaces (the `unprivileged` tier): `init` is a subreaper, the program leads a
    /// process group of its own, which `init` kills at the end; the program enforces a
    /// Landlock ruleset on itself, and switches to the slot's ids when `switch_ids`.
    Unprivileged { landlock: RawFd, switch_ids: bool },
}

/// Everything the child does, prepared by the supervisor.
pub(crate) struct ChildPlan {
    pub fds: ChildFds,
    pub mode: Mode,
    /// Every descriptor above, sorted: `init` closes all others at once.
    keep: Vec<RawFd>,
    pub ops: Vec<Op>,
    /// Host directory that the box's root tmpfs is mounted on (privately).
    pub root: CString,
    pub uid: u32,
    pub gid: u32,
    pub rlimits: Vec<(c_int, u64)>,
    /// The one CPU the program may run on, when runs are pinned.
    pub cpus: Option<libc::cpu_set_t>,
    /// Compiled seccomp programs; `filter_progs` points into them.
    pub filters: Vec<seccompiler::BpfProgram>,
    filter_progs: Vec<libc::sock_fprog>,
    pub cwd: CString,
    pub program: CString,
    pub argv: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
    pub envp: Vec<CString>,
    envp_ptrs: Vec<*const c_char>,
    /// Stack for the program process until its `execve`.
    stack: Vec<u8>,
}

// The raw pointers point into the plan's own heap buffers, which never move or change after
// `ChildPlan::seal`; sharing a sealed plan between threads is sound.
unsafe impl Send for ChildPlan {}
unsafe impl Sync for ChildPlan {}

const PROGRAM_STACK_BYTES: usize = 128 * 1024;

impl ChildPlan {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        fds: ChildFds,
        mode: Mode,
        ops: Vec<Op>,
        root: CString,
        (uid, gid): (u32, u32),
        rlimits: Vec<(c_int, u64)>,
        cpus: Option<libc::cpu_set_t>,
        filters: Vec<seccompiler::BpfProgram>,
        cwd: CString,
        program: CString,
        argv: Vec<CString>,
        envp: Vec<CString>,
    ) -> ChildPlan {
        let mut keep = vec![
            fds.stdin,
            fds.stdout,
            fds.stderr,
            fds.status,
            fds.control,
            fds.userns,
            fds.netns,
            fds.exec_error_read,
            fds.exec_error_write,
        ];
        keep.extend(&fds.cgroup_procs);
        if let Mode::Unprivileged { landlock, .. } = mode {
            keep.push(landlock);
        }
        keep.retain(|&fd| fd >= 0);
        keep.sort_unstable();
        keep.dedup();
        let mut plan = ChildPlan {
            fds,
            mode,
            keep,
            ops,
            root,
            uid,
            gid,
            rlimits,
            cpus,
            filters,
            filter_progs: Vec::new(),
            cwd,
            program,
            argv,
            argv_ptrs: Vec::new(),
            envp,
            envp_ptrs: Vec::new(),
            stack: vec![0; PROGRAM_STACK_BYTES],
        };
        plan.seal();
        plan
    }

    /// Builds the pointer arrays the kernel reads. Called once; nothing moves afterwards.
    fn seal(&mut self) {
        self.argv_ptrs = self.argv.iter().map(|a| a.as_ptr()).collect();
        self.argv_ptrs.push(std::ptr::null());
        self.envp_ptrs = self.envp.iter().map(|e| e.as_ptr()).collect();
        self.envp_ptrs.push(std::ptr::null());
        self.filter_progs = self
            .filters
            .iter_mut()
            .map(|f| libc::sock_fprog {
                len: f.len() as u16,
                // seccompiler's sock_filter has the kernel's layout, as libc's does.
                filter: f.as_mut_ptr().cast::<libc::sock_filter>(),
            })
            .collect();
    }
}

/// What `init` tells the supervisor, written in one `write` (well under `PIPE_BUF`, so it
/// arrives whole or not at all).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Record {
    /// [`Record::EXITED`] or [`Record::SETUP_FAILED`].
    pub kind: u32,
    /// Index into [`Stage::ALL`] for a setup failure.
    pub stage: u32,
    pub errno: i32,
    /// `wait4` status of the program.
    pub wait_status: i32,
    pub utime_us: u64,
    pub stime_us: u64,
    pub maxrss_kib: u64,
}

impl Record {
    pub const EXITED: u32 = 1;
    pub const SETUP_FAILED: u32 = 2;

    pub(crate) fn decode(bytes: &[u8]) -> Option<Record> {
        if bytes.len() != size_of::<Record>() {
            return None;
        }
        let mut record = MaybeUninit::<Record>::uninit();
        // SAFETY: Record is plain old data of exactly this size; every bit pattern is valid.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                record.as_mut_ptr().cast::<u8>(),
                size_of::<Record>(),
            );
            Some(record.assume_init())
        }
    }

    pub(crate) fn stage(&self) -> Stage {
        Stage::ALL
            .get(self.stage as usize)
            .copied()
            .unwrap_or(Stage::Exec)
    }
}

fn stage_index(stage: Stage) -> u32 {
    Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0) as u32
}

/// The kernel's `struct clone_args` (Linux 5.3+).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Which side of a `clone3` this is.
pub(crate) enum Forked {
    Child,
    Parent { pidfd: OwnedFd },
}

/// `clone3` without a stack: like `fork`, the child gets a copy of this thread's stack and
/// a copy-on-write copy of memory, and continues from here. Always asks for a pidfd.
///
/// # Safety
/// In a multi-threaded process the child may only make async-signal-safe calls (no
/// allocation, no locks) and must end in `_exit` or `execve`, never return to the caller's
/// caller.
pub(crate) unsafe fn clone3(namespaces: c_int) -> io::Result<Forked> {
    let mut pidfd: c_int = -1;
    let mut args = CloneArgs {
        flags: (namespaces | libc::CLONE_PIDFD) as u64,
        pidfd: &mut pidfd as *mut c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    let ret = libc::syscall(
        libc::SYS_clone3,
        &mut args as *mut CloneArgs,
        size_of::<CloneArgs>(),
    );
    // Container runtimes' default seccomp profiles answer ENOSYS to clone3 (its flags are
    // out of a filter's reach); clone takes the same flags and returns the pidfd too.
    let ret = match ret {
        -1 if errno() == libc::ENOSYS => libc::syscall(
            libc::SYS_clone,
            args.flags | libc::SIGCHLD as u64,
            0usize,
            &mut pidfd as *mut c_int,
            0usize,
            0usize,
        ),
        ret => ret,
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        // SAFETY: CLONE_PIDFD stored a new descriptor (close-on-exec) that we now own.
        _ => Ok(Forked::Parent {
            pidfd: OwnedFd::from_raw_fd(pidfd),
        }),
    }
}

/// Starts `init`, in fresh pid, mount, IPC and UTS namespaces unless the plan has none.
/// Returns its pidfd as soon as the child exists; the child reports on the status pipe.
pub(crate) fn spawn(plan: &ChildPlan) -> io::Result<OwnedFd> {
    let namespaces = match plan.mode {
        Mode::Namespaces => {
            libc::CLONE_NEWPID | libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWUTS
        }
        Mode::Unprivileged { .. } => 0,
    };
    // SAFETY: the child runs only `init_main`, which makes system calls on data prepared in
    // `plan` and never returns.
    match unsafe { clone3(namespaces)? } {
        Forked::Child => unsafe { init_main(plan) },
        Forked::Parent { pidfd } => Ok(pidfd),
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Writes a setup failure for the supervisor and ends `init` (and with it the namespace).
unsafe fn init_fail(plan: &ChildPlan, stage: Stage, errno: i32) -> ! {
    let record = Record {
        kind: Record::SETUP_FAILED,
        stage: stage_index(stage),
        errno,
        ..Record::default()
    };
    write_record(plan.fds.status, &record);
    libc::_exit(1)
}

unsafe fn write_record(fd: RawFd, record: &Record) {
    libc::write(
        fd,
        (record as *const Record).cast::<c_void>(),
        size_of::<Record>(),
    );
}

/// Runs as pid 1 of the run's namespaces. Never returns.
unsafe fn init_main(plan: &ChildPlan) -> ! {
    // Copies of other runs' pipes may have come along with clone3; holding them would delay
    // those runs' end-of-file and hang-up. Keep only ours.
    close_all_except(&plan.keep);

    // The spawner ignores SIGCHLD to have its children reaped; init must see its own.
    libc::signal(libc::SIGCHLD, libc::SIG_DFL);
    // SIGCHLD is read through a signalfd, so it must stay blocked.
    let mut sigchld = MaybeUninit::<libc::sigset_t>::uninit();
    libc::sigemptyset(sigchld.as_mut_ptr());
    libc::sigaddset(sigchld.as_mut_ptr(), libc::SIGCHLD);
    let sigchld = sigchld.assume_init();
    if libc::sigprocmask(libc::SIG_SETMASK, &sigchld, std::ptr::null_mut()) != 0 {
        init_fail(plan, Stage::Namespaces, errno());
    }
    let signals = libc::signalfd(-1, &sigchld, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
    if signals < 0 {
        init_fail(plan, Stage::Namespaces, errno());
    }

    match plan.mode {
        Mode::Namespaces => enter_namespaces(plan),
        // Orphans of the program come to init, so the whole tree stays init's to reap.
        Mode::Unprivileged { .. } => {
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                init_fail(plan, Stage::Namespaces, errno());
            }
        }
    }

    let stack_top = plan.stack.as_ptr().add(plan.stack.len()) as usize & !15;
    let pid = libc::clone(
        program_main,
        stack_top as *mut c_void,
        libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
        plan as *const ChildPlan as *mut c_void,
    );
    if pid < 0 {
        init_fail(plan, Stage::Exec, errno());
    }
    // The program has called execve or died: report a failure it wrote before execve.
    libc::close(plan.fds.exec_error_write);
    let mut failure = [0i32; 2];
    let n = libc::read(
        plan.fds.exec_error_read,
        failure.as_mut_ptr().cast::<c_void>(),
        size_of::<[i32; 2]>(),
    );
    if n == size_of::<[i32; 2]>() as isize {
        let stage = Stage::ALL
            .get(failure[0] as usize)
            .copied()
            .unwrap_or(Stage::Exec);
        init_fail(plan, stage, failure[1]);
    }
    for fd in [
        plan.fds.exec_error_read,
        plan.fds.stdin,
        plan.fds.stdout,
        plan.fds.stderr,
        plan.fds.userns,
        plan.fds.netns,
    ] {
        if fd >= 0 {
            libc::close(fd);
        }
    }
    if let Mode::Unprivileged { landlock, .. } = plan.mode {
        libc::close(landlock);
    }
    supervise(plan, pid, signals)
}

/// Joins the slot's network namespace, builds the mount tree and pivots into it, and joins
/// the run's cgroup.
unsafe fn enter_namespaces(plan: &ChildPlan) {
    if libc::setns(plan.fds.netns, libc::CLONE_NEWNET) != 0 {
        init_fail(plan, Stage::Namespaces, errno());
    }
    if libc::mount(
        std::ptr::null(),
        c"/".as_ptr(),
        std::ptr::null(),
        libc::MS_REC | libc::MS_PRIVATE,
        std::ptr::null(),
    ) != 0
    {
        init_fail(plan, Stage::PrivateMounts, errno());
    }
    for op in &plan.ops {
        if apply(op) != 0 {
            init_fail(plan, Stage::Mount, errno());
        }
    }
    // pivot_root(".", ".") stacks the old root under the new one; detaching it leaves only
    // the box's tree in this mount namespace.
    if libc::chdir(plan.root.as_ptr()) != 0
        || libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0
        || libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0
        || libc::chdir(c"/".as_ptr()) != 0
    {
        init_fail(plan, Stage::PivotRoot, errno());
    }
    if libc::mount(
        std::ptr::null(),
        c"/".as_ptr(),
        std::ptr::null(),
        libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
        std::ptr::null(),
    ) != 0
    {
        init_fail(plan, Stage::PivotRoot, errno());
    }
    let hostname = b"judgelet";
    libc::sethostname(hostname.as_ptr().cast::<c_char>(), hostname.len());
    // Supplementary groups of the supervisor (root's) must not reach the program.
    if set_ids(libc::SYS_setgroups, 0, 0) != 0 {
        init_fail(plan, Stage::DropPrivileges, errno());
    }
    // Join the cgroup last, so the measurements cover the program, not this setup.
    for &fd in &plan.fds.cgroup_procs {
        if libc::write(fd, b"0".as_ptr().cast::<c_void>(), 1) != 1 {
            init_fail(plan, Stage::JoinCgroup, errno());
        }
        libc::close(fd);
    }
}

/// Reaps every process of the namespace until the program exits, then reports it. Ends
/// when the supervisor hangs up the control pipe.
unsafe fn supervise(plan: &ChildPlan, program: libc::pid_t, signals: c_int) -> ! {
    let mut fds = [
        libc::pollfd {
            fd: plan.fds.control,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: signals,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    loop {
        if libc::poll(fds.as_mut_ptr(), 2, -1) < 0 {
            continue;
        }
        if fds[0].revents != 0 {
            match plan.mode {
                // The namespace dies with its init.
                Mode::Namespaces => libc::_exit(0),
                Mode::Unprivileged { .. } => end_group(plan, program, None),
            }
        }
        let mut info = MaybeUninit::<libc::signalfd_siginfo>::uninit();
        while libc::read(
            signals,
            info.as_mut_ptr().cast::<c_void>(),
            size_of::<libc::signalfd_siginfo>(),
        ) > 0
        {}
        loop {
            let mut status = 0;
            let mut usage = MaybeUninit::<libc::rusage>::zeroed();
            let pid = libc::wait4(-1, &mut status, libc::WNOHANG, usage.as_mut_ptr());
            if pid <= 0 {
                break;
            }
            if pid == program {
                if let Mode::Unprivileged { .. } = plan.mode {
                    end_group(plan, program, Some(status));
                }
                write_record(plan.fds.status, &exit_record(status, &usage.assume_init()));
                libc::_exit(0);
            }
        }
    }
}

/// Ends an `unprivileged` run: kills the program's process group, reaps every process of
/// the tree (orphans came to init, the subreaper), and reports the program's end with the
/// usage of the whole tree. `ended` is the program's wait status, if known yet.
unsafe fn end_group(plan: &ChildPlan, program: libc::pid_t, mut ended: Option<c_int>) -> ! {
    libc::kill(-program, libc::SIGKILL);
    loop {
        let mut status = 0;
        let pid = libc::wait4(-1, &mut status, 0, std::ptr::null_mut());
        if pid == program {
            ended.get_or_insert(status);
        }
        if pid < 0 && errno() != libc::EINTR {
            break;
        }
    }
    if let Some(status) = ended {
        let mut usage = MaybeUninit::<libc::rusage>::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr());
        write_record(plan.fds.status, &exit_record(status, &usage.assume_init()));
    }
    libc::_exit(0)
}

fn exit_record(wait_status: c_int, usage: &libc::rusage) -> Record {
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    Record {
        kind: Record::EXITED,
        wait_status,
        utime_us: micros(usage.ru_utime),
        stime_us: micros(usage.ru_stime),
        maxrss_kib: usage.ru_maxrss as u64,
        ..Record::default()
    }
}

/// Reports a failure before execve to `init`, then exits.
unsafe fn program_fail(plan: &ChildPlan, stage: Stage) -> c_int {
    let failure = [stage_index(stage) as i32, errno()];
    libc::write(
        plan.fds.exec_error_write,
        failure.as_ptr().cast::<c_void>(),
        size_of::<[i32; 2]>(),
    );
    libc::_exit(127)
}

/// Runs on the plan's stack in `init`'s address space until `execve`.
extern "C" fn program_main(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the plan `init` passed to clone; `init` is suspended (CLONE_VFORK)
    // and the plan outlives this process's use of it.
    unsafe {
        let plan = &*(arg as *const ChildPlan);
        let fds = &plan.fds;
        let switch_ids = match plan.mode {
            Mode::Namespaces => {
                if libc::setns(fds.userns, libc::CLONE_NEWUSER) != 0 {
                    return program_fail(plan, Stage::UserNamespace);
                }
                true
            }
            Mode::Unprivileged { switch_ids, .. } => {
                // The run's process group, led by the program: what init kills at the end.
                if libc::setpgid(0, 0) != 0 {
                    return program_fail(plan, Stage::Namespaces);
                }
                // No cgroup of its own: if the pod runs short of memory between two of the
                // supervisor's checks, the kernel is to kill the run, never judgelet. Raising
                // one's own score needs no privilege.
                let fd = libc::open(
                    c"/proc/self/oom_score_adj".as_ptr(),
                    libc::O_WRONLY | libc::O_CLOEXEC,
                );
                if fd < 0 || libc::write(fd, b"1000".as_ptr().cast::<c_void>(), 4) != 4 {
                    return program_fail(plan, Stage::Rlimits);
                }
                libc::close(fd);
                if switch_ids && set_ids(libc::SYS_setgroups, 0, 0) != 0 {
                    return program_fail(plan, Stage::DropPrivileges);
                }
                switch_ids
            }
        };
        if switch_ids
            && (set_ids(libc::SYS_setresgid, plan.gid, plan.gid) != 0
                || set_ids(libc::SYS_setresuid, plan.uid, plan.uid) != 0)
        {
            return program_fail(plan, Stage::DropPrivileges);
        }
        if drop_capabilities() != 0 {
            return program_fail(plan, Stage::DropPrivileges);
        }
        for &(resource, value) in &plan.rlimits {
            let limit = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            if libc::setrlimit(resource as _, &limit) != 0 {
                return program_fail(plan, Stage::Rlimits);
            }
        }
        // Before seccomp, which then keeps the program from widening it.
        if let Some(cpus) = &plan.cpus {
            if libc::syscall(
                libc::SYS_sched_setaffinity,
                0,
                std::mem::size_of::<libc::cpu_set_t>(),
                cpus as *const libc::cpu_set_t,
            ) != 0
            {
                return program_fail(plan, Stage::Rlimits);
            }
        }
        if libc::dup2(fds.stdin, 0) < 0
            || libc::dup2(fds.stdout, 1) < 0
            || libc::dup2(fds.stderr, 2) < 0
        {
            return program_fail(plan, Stage::Exec);
        }
        // Everything above 2 closes at execve, the error pipe included.
        if libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) != 0
        {
            return program_fail(plan, Stage::Exec);
        }
        // The supervisor's dispositions (Rust ignores SIGPIPE) and init's blocked SIGCHLD
        // must not reach the program.
        for signal in 1..libc::SIGRTMIN() {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        let mut empty = MaybeUninit::<libc::sigset_t>::uninit();
        libc::sigemptyset(empty.as_mut_ptr());
        libc::sigprocmask(libc::SIG_SETMASK, empty.as_ptr(), std::ptr::null_mut());
        if libc::chdir(plan.cwd.as_ptr()) != 0 {
            return program_fail(plan, Stage::Chdir);
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return program_fail(plan, Stage::Seccomp);
        }
        if let Mode::Unprivileged { landlock, .. } = plan.mode {
            if libc::syscall(libc::SYS_landlock_restrict_self, landlock, 0u32) != 0 {
                return program_fail(plan, Stage::Landlock);
            }
        }
        for prog in &plan.filter_progs {
            if libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                prog as *const libc::sock_fprog,
            ) != 0
            {
                return program_fail(plan, Stage::Seccomp);
            }
        }
        libc::execve(
            plan.program.as_ptr(),
            plan.argv_ptrs.as_ptr(),
            plan.envp_ptrs.as_ptr(),
        );
        program_fail(plan, Stage::Exec)
    }
}

/// setgroups, setresuid and setresgid as bare system calls. glibc's wrappers broadcast the
/// change to every thread it believes the process has, taking an internal lock: in a child
/// cloned from a multi-threaded process those threads do not exist and the lock may be held
/// forever. The kernel calls act on the calling thread, all this child has.
unsafe fn set_ids(call: libc::c_long, first: u32, rest: u32) -> c_int {
    let ret = match call {
        libc::SYS_setgroups => libc::syscall(call, first as usize, std::ptr::null::<libc::gid_t>()),
        _ => libc::syscall(call, first, rest, rest),
    };
    ret as c_int
}

/// setresuid to a uid other than the namespace's root keeps the capabilities a process got
/// by joining the namespace until execve; clear them now so no step runs privileged.
unsafe fn drop_capabilities() -> c_int {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    if libc::prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL,
        0,
        0,
        0,
    ) != 0
    {
        return -1;
    }
    libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) as c_int
}

/// Closes every descriptor but `keep` (sorted) with one close_range per gap.
pub(crate) unsafe fn close_all_except(keep: &[RawFd]) {
    let mut first: u32 = 0;
    for &fd in keep {
        let fd = fd as u32;
        if fd > first {
            libc::syscall(libc::SYS_close_range, first, fd - 1, 0);
        }
        first = fd + 1;
    }
    libc::syscall(libc::SYS_close_range, first, u32::MAX, 0);
}

unsafe fn apply(op: &Op) -> c_int {
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    match op {
        Op::Mkdir { path } => libc::mkdir(path.as_ptr(), 0o755),
        Op::Symlink { target, path } => libc::symlink(target.as_ptr(), path.as_ptr()),
        Op::Write { path, contents } => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 {
                return -1;
            }
            let written = libc::write(fd, contents.as_ptr().cast::<c_void>(), contents.len());
            libc::close(fd);
            if written == contents.len() as isize {
                0
            } else {
                -1
            }
        }
        Op::Mount {
            source,
            target,
            fstype,
            flags,
            data,
        } => libc::mount(
            ptr(source),
            target.as_ptr(),
            ptr(fstype),
            *flags,
            ptr(data).cast::<c_void>(),
        ),
    }
}
