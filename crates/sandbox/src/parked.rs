//! Runs started ahead of their request (warm runtimes; docs/performance.md). The program
//! starts as every run does, in a fresh box of its own with the limits it will run under,
//! and waits on a FIFO in its box, before any code of the request's is there. When the
//! request comes its files are written, its stdin filled, its clock and CPU time started,
//! its CPU pinned, and it is told to go. A parked program serves one run, in the box it was
//! started in: nothing passes from one run to another, and the warm-up's CPU time is not
//! the run's.
//!
//! Only in the `namespaces` tier: without a pid namespace and a uid of its own a parked
//! program would be visible to the runs around it, and, sharing their uid, open to them.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::run::{self, Started};
use crate::{Command, Inner, Isolation, Limits, RunReport, Sandbox, SandboxBox};

/// A started program waiting for its request.
pub struct Parked {
    started: Started,
    /// The program's stdin (a memfd), filled when it goes.
    stdin: File,
    start: File,
    boxed: SandboxBox,
    inner: Arc<Inner>,
}

impl Sandbox {
    /// Starts `command` in `boxed`, to wait for [`Parked::go`] on the FIFO `start_fifo` that
    /// this makes in the box.
    pub async fn park(
        &self,
        boxed: SandboxBox,
        command: &Command,
        start_fifo: &str,
    ) -> Result<Parked> {
        if self.inner.isolation != Isolation::Namespaces {
            return Err(Error::Unavailable(
                "parked runs need the namespaces tier: elsewhere other runs could see them".into(),
            ));
        }
        let start = boxed.make_fifo(start_fifo)?;
        let stdin = run::stdin_memfd(&[])?;
        let ours = File::from(
            stdin
                .try_clone()
                .map_err(Error::io("keep a parked run's stdin"))?,
        );
        let started = run::start(&self.inner, &boxed, command, stdin, None, None).await?;
        Ok(Parked {
            started,
            stdin: ours,
            start,
            boxed,
            inner: self.inner.clone(),
        })
    }
}

impl Parked {
    /// The box, to write the request's files into before [`Parked::go`].
    pub fn boxed(&self) -> &SandboxBox {
        &self.boxed
    }

    pub fn limits(&self) -> &Limits {
        &self.started.limits
    }

    /// Whether the program still waits (a crashed or killed one never serves a run).
    pub fn is_waiting(&self) -> bool {
        !self.started.ended()
    }

    /// The memory the waiting program holds, in bytes.
    pub fn memory_bytes(&self) -> u64 {
        self.started.memory_bytes()
    }

    /// Gives the program `stdin`, starts its clock and tells it to go with `message` (what
    /// it reads from its FIFO), then supervises it to the end, as [`Sandbox::run`] does.
    pub async fn go(self, stdin: &[u8], message: &[u8]) -> Result<RunReport> {
        let Parked {
            mut started,
            stdin: stdin_file,
            start,
            boxed,
            inner,
        } = self;
        // At offset 0 without moving the file offset the program shares: it reads it all.
        stdin_file
            .write_all_at(stdin, 0)
            .map_err(Error::io("write a parked run's stdin"))?;
        drop(stdin_file);
        let cpu = inner.cpu_pool.as_ref().map(|pool| pool.acquire());
        if let Some(lease) = &cpu {
            started
                .pin(lease.cpu())
                .map_err(Error::io("pin a parked run"))?;
        }
        started.cpu_ns_before = started
            .usage()
            .map_err(Error::io("read a parked run's CPU time"))?
            .0;
        started.start = Instant::now();
        (&start)
            .write_all(message)
            .map_err(Error::io("tell a parked run to go"))?;
        let report = run::finish(started, &inner, cpu.as_ref()).await;
        drop((start, boxed));
        report
    }
}
