use std::io;

/// Where in the setup of a box a step failed. Reported by the child process, so the error
/// names the step that the host could not do, not just an errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Creating the pid, mount, IPC and UTS namespaces (clone3), joining the network one.
    Namespaces,
    /// Making the mount tree private so nothing propagates back to the host.
    PrivateMounts,
    /// One step of the mount plan (see `MountPlan`).
    Mount,
    PivotRoot,
    JoinCgroup,
    /// Creating the user namespace the program runs in, or writing its id maps.
    UserNamespace,
    DropPrivileges,
    Rlimits,
    /// Enforcing the run's Landlock ruleset (`unprivileged` tier).
    Landlock,
    Seccomp,
    Chdir,
    Exec,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Stage::Namespaces => "creating the run's namespaces or process group",
            Stage::PrivateMounts => "making mounts private",
            Stage::Mount => "mounting the box file system",
            Stage::PivotRoot => "switching to the box root",
            Stage::JoinCgroup => "joining the run's cgroup",
            Stage::UserNamespace => "creating the user namespace",
            Stage::DropPrivileges => "dropping privileges",
            Stage::Rlimits => "setting resource limits",
            Stage::Landlock => "enforcing the Landlock ruleset",
            Stage::Seccomp => "loading the seccomp filter",
            Stage::Chdir => "entering the box directory",
            Stage::Exec => "executing the program",
        };
        f.write_str(text)
    }
}

impl Stage {
    pub(crate) const ALL: [Stage; 12] = [
        Stage::Namespaces,
        Stage::PrivateMounts,
        Stage::Mount,
        Stage::PivotRoot,
        Stage::JoinCgroup,
        Stage::UserNamespace,
        Stage::DropPrivileges,
        Stage::Rlimits,
        Stage::Landlock,
        Stage::Seccomp,
        Stage::Chdir,
        Stage::Exec,
    ];
}

/// judgelet itself failed. A program's own failure is a `RunReport`, never this.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The host cannot give the isolation judgelet promises; the text says what is missing.
    /// Raised when a `Sandbox` is created, so a server refuses to start rather than run
    /// untrusted code unconfined.
    #[error("sandbox unavailable: {0}")]
    Unavailable(String),
    /// Every box uid is in use: more boxes are alive than the sandbox was configured for.
    #[error("too many boxes at once: every box uid is in use")]
    Full,
    /// A step of setting up one box failed.
    #[error("sandbox setup failed while {stage}: {source}")]
    Setup { stage: Stage, source: io::Error },
    /// A file or pipe operation of the supervisor failed.
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { context, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
