//! Test support shared by the workspace's test suites.
//!
//! [`ScratchPostgres`]: a throwaway PostgreSQL cluster, made with `initdb` in a temp dir and
//! served by a `postgres` child process on a Unix socket in that dir (no TCP port to race
//! for), stopped by its PID when dropped. Debian's server binaries live in
//! `/usr/lib/postgresql/<version>/bin` (`scripts/setup.sh` installs them).

use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

pub struct ScratchPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// The uid and gid the cluster runs as, when not ours.
    owner: Option<(u32, u32)>,
    server: Option<Child>,
}

impl ScratchPostgres {
    /// A new cluster, running and ready for connections.
    pub fn start() -> io::Result<ScratchPostgres> {
        let bin = postgres_bin()?;
        let dir = tempfile::Builder::new().prefix("pg").tempdir_in("/tmp")?;
        // PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres`
        // user Debian's package creates (or nobody).
        let owner = match nix::unistd::geteuid().is_root() {
            true => {
                let user = nix::unistd::User::from_name("postgres")
                    .ok()
                    .flatten()
                    .or_else(|| nix::unistd::User::from_name("nobody").ok().flatten())
                    .ok_or_else(|| io::Error::other("no postgres or nobody user"))?;
                std::os::unix::fs::chown(
                    dir.path(),
                    Some(user.uid.as_raw()),
                    Some(user.gid.as_raw()),
                )?;
                Some((user.uid.as_raw(), user.gid.as_raw()))
            }
            false => None,
        };
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = owner {
            initdb.uid(uid).gid(gid);
        }
        let output = initdb.output()?;
        if !output.status.success() {
            return Err(io::Error::other(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        let mut scratch = ScratchPostgres {
            dir,
            bin,
            owner,
            server: None,
        };
        scratch.restart()?;
        Ok(scratch)
    }

    /// Starts the server (again, after [`ScratchPostgres::stop`]) and waits until it is ready.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let data = self.dir.path().join("data");
        // The last server is gone: its pid file must not pass for the new one's.
        let _ = std::fs::remove_file(data.join("postmaster.pid"));
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=200",
            ])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::options()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("log"))?,
            );
        if let Some((uid, gid)) = self.owner {
            postgres.uid(uid).gid(gid);
        }
        self.server = Some(postgres.spawn()?);
        self.wait_ready(&data)
    }

    /// Ready when `postmaster.pid` says so (its eighth line, PostgreSQL 10 and later).
    fn wait_ready(&mut self, data: &Path) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = std::fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
            if status.lines().nth(7).map(str::trim) == Some("ready") {
                return Ok(());
            }
            if let Some(server) = self.server.as_mut() {
                if let Some(exit) = server.try_wait()? {
                    return Err(io::Error::other(format!(
                        "postgres exited ({exit}): {}",
                        self.log()
                    )));
                }
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "postgres not ready: {}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// A URL for the cluster's `postgres` database, over its socket.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@localhost/postgres?host={}",
            self.dir.path().display()
        )
    }

    /// Stops the server at once (SIGQUIT: an immediate shutdown) and waits for it; the data
    /// stays, so [`ScratchPostgres::restart`] brings it back.
    pub fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = kill(Pid::from_raw(server.id() as i32), Signal::SIGQUIT);
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(server.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = server.kill();
            let _ = server.wait();
        }
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The newest server binaries Debian installed, or the first `initdb` on PATH.
fn postgres_bin() -> io::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
        .ok_or_else(|| {
            io::Error::other("PostgreSQL's server is not installed: run scripts/setup.sh")
        })
}

/// Processes on this host running as a uid in `uids`: a sandbox's programs, which must be
/// gone once their run is over.
pub fn processes_of(uids: &std::ops::Range<u32>) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if let Some(uid) = uid.filter(|u| uids.contains(u)) {
            found.push(uid);
        }
    }
    found
}
