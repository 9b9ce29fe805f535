//! Warm runtimes: for a language that opts in (`warm = true` in `languages.toml`), programs
//! started ahead of their requests, each in a box of its own, waiting there for the request
//! (`sandbox::Parked`). A run takes one whose limits are its own, else starts cold; either
//! way another is started for the next once it has ended (beside it, on a busy machine, the
//! next one's start would slow the run it was meant to speed). A waiting program serves one run and only one, so a
//! run sees a fresh interpreter (its own hash secret, nothing another run did) and the CPU
//! time of its warm-up is not the run's. docs/performance.md has the trade-offs.
//!
//! The program learns what to run from its FIFO: the run command up to `{entry}` is what is
//! started, with the FIFO's path in the entry's place; the entry and everything after it,
//! then the request's arguments, are the message, NUL-separated after their length in
//! decimal and a newline.

use std::sync::{Arc, Mutex};

use sandbox::{Command, Limits, Parked, RunReport, Sandbox};

use crate::Error;

/// The FIFO a waiting program reads its arguments from (it removes it before running any
/// code of the request's).
pub(crate) const START_FIFO: &str = ".judgelet-start";

/// What `/metrics` shows of the warm runtimes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarmStats {
    /// Programs waiting now, and the memory they hold.
    pub waiting: usize,
    pub memory_bytes: u64,
    /// Runs served by a waiting program, and runs that found none (started cold).
    pub served: u64,
    pub cold: u64,
    /// Waiting programs found dead (never a failed run: that run started cold).
    pub lost: u64,
}

struct Waiting {
    language: String,
    parked: Parked,
}

/// A program being started: counted as held, so that a burst does not start more than kept.
struct Starting {
    id: u64,
    language: String,
    limits: Limits,
}

#[derive(Default)]
struct State {
    waiting: Vec<Waiting>,
    /// Removing one cancels it: it is ended when it is ready, not kept.
    starting: Vec<Starting>,
    next_id: u64,
    stats: WarmStats,
}

#[derive(Clone)]
pub(crate) struct WarmPool {
    sandbox: Sandbox,
    /// How many wait at once per language; 0 turns warm runtimes off.
    per_language: usize,
    state: Arc<Mutex<State>>,
}

impl WarmPool {
    pub(crate) fn new(sandbox: Sandbox, per_language: usize) -> WarmPool {
        WarmPool {
            sandbox,
            per_language,
            state: Arc::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn enabled(&self) -> bool {
        self.per_language > 0 && self.sandbox.isolation() == sandbox::Isolation::Namespaces
    }

    /// A waiting program of `language` with `limits`, if there is one.
    pub(crate) fn take(&self, language: &str, limits: &Limits) -> Option<Parked> {
        let mut state = self.state();
        let lost = state.waiting.len();
        state.waiting.retain(|w| w.parked.is_waiting());
        state.stats.lost += (lost - state.waiting.len()) as u64;
        let found = state
            .waiting
            .iter()
            .position(|w| w.language == language && w.parked.limits() == limits);
        match found {
            Some(index) => {
                state.stats.served += 1;
                Some(state.waiting.remove(index).parked)
            }
            None => {
                state.stats.cold += 1;
                None
            }
        }
    }

    /// Starts another program of `language` with `limits`, in the background, unless enough
    /// wait or are starting; the oldest waiting with other limits makes room, or else the
    /// oldest starting with other limits is cancelled.
    pub(crate) fn replenish(&self, language: &str, command: Command) {
        let id = {
            let mut state = self.state();
            let limits = &command.limits;
            let held = state
                .waiting
                .iter()
                .filter(|w| w.language == language)
                .count()
                + state
                    .starting
                    .iter()
                    .filter(|s| s.language == language)
                    .count();
            if held >= self.per_language {
                let stale_waiting = state
                    .waiting
                    .iter()
                    .position(|w| w.language == language && w.parked.limits() != limits);
                let stale_starting = state
                    .starting
                    .iter()
                    .position(|s| s.language == language && &s.limits != limits);
                match (stale_waiting, stale_starting) {
                    (Some(index), _) => drop(state.waiting.remove(index)),
                    (None, Some(index)) => drop(state.starting.remove(index)),
                    (None, None) => return,
                }
            }
            state.next_id += 1;
            let id = state.next_id;
            state.starting.push(Starting {
                id,
                language: language.to_owned(),
                limits: *limits,
            });
            id
        };
        let pool = self.clone();
        let language = language.to_owned();
        tokio::spawn(async move {
            let parked = match pool.sandbox.new_box() {
                Ok(boxed) => pool.sandbox.park(boxed, &command, START_FIFO).await,
                Err(e) => Err(e),
            };
            let mut state = pool.state();
            let Some(index) = state.starting.iter().position(|s| s.id == id) else {
                return; // cancelled: dropping it ends it
            };
            state.starting.remove(index);
            match parked {
                Ok(parked) => state.waiting.push(Waiting { language, parked }),
                Err(e) => tracing::warn!(%language, error = %e, "cannot start a warm runtime"),
            }
        });
    }

    pub(crate) fn stats(&self) -> WarmStats {
        let state = self.state();
        WarmStats {
            waiting: state.waiting.len(),
            memory_bytes: state.waiting.iter().map(|w| w.parked.memory_bytes()).sum(),
            ..state.stats
        }
    }
}

/// The command line a waiting program starts with: `run` (the language's, or a program's,
/// the same up to the entry) before the entry, then the FIFO's path.
pub(crate) fn started(run: &[String], entry_at: usize) -> Vec<String> {
    let mut started = run[..entry_at].to_vec();
    started.push(format!("{}/{START_FIFO}", sandbox::BOX_PATH));
    started
}

/// What tells a waiting program what to run: a program's `run` from the entry on, then
/// `extra_args`.
pub(crate) fn message(run: &[String], entry_at: usize, extra_args: &[String]) -> Vec<u8> {
    let body = run[entry_at..]
        .iter()
        .chain(extra_args)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\0");
    let mut message = format!("{}\n", body.len()).into_bytes();
    message.extend_from_slice(body.as_bytes());
    message
}

/// Runs a waiting program: writes `files` into its box, then lets it go.
pub(crate) async fn go(
    parked: Parked,
    files: &[(String, Vec<u8>)],
    stdin: &[u8],
    message: &[u8],
) -> Result<RunReport, Error> {
    for (name, bytes) in files {
        parked.boxed().write_file(name, bytes)?;
    }
    Ok(parked.go(stdin, message).await?)
}
