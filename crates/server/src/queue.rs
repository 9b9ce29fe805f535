//! The queue of stored submissions: workers that claim them from the store and run them on
//! the background lane of the sandbox slots, leases kept alive while they run, callback
//! delivery, and housekeeping (expired leases back in the queue, retention, metrics).
//!
//! The queue lives in the store, not in memory: this replica holds only the submissions it
//! runs (at most one per worker), whatever the store holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch, Notify};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::admission::Lane;
use crate::callback::{self, Message};
use crate::core::{self, Admitted, Job};
use crate::error::ApiError;
use crate::{AppState, ServerConfig, SubmissionsConfig};

/// A submission claimed this many times without finishing (its runs kill the replica, say)
/// is given up: recorded as an internal error instead of run again.
const MAX_ATTEMPTS: i64 = 3;

/// This replica's name: the host name and a random instance.
pub fn runner_name() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    let instance = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}/{}", &instance[..8])
}

/// Why a run stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interrupt {
    /// `DELETE /results/<id>`: nothing is recorded.
    Cancelled,
    /// This replica is stopping: the claim goes back to the queue.
    Shutdown,
}

pub struct Queue {
    store: store::Store,
    config: SubmissionsConfig,
    workers: usize,
    /// A submission was stored here: an idle worker looks now rather than at its next poll.
    submitted: Notify,
    /// A result with a callback was recorded.
    finished: Notify,
    /// The submissions this replica runs, to interrupt them.
    running: Mutex<HashMap<String, oneshot::Sender<Interrupt>>>,
    client: reqwest::Client,
}

impl Queue {
    pub fn new(store: store::Store, config: &ServerConfig) -> Queue {
        let submissions = config.submissions.clone();
        Queue {
            workers: submissions.workers.unwrap_or(config.slots).max(1),
            client: submissions.callbacks.client(),
            config: submissions,
            store,
            submitted: Notify::new(),
            finished: Notify::new(),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Stores a submission: committed when this returns.
    pub async fn submit(&self, new: &store::NewSubmission<'_>) -> Result<String, ApiError> {
        let accepted = self.store.submit(new, self.config.max_pending).await?;
        self.submitted.notify_one();
        Ok(accepted.id)
    }

    /// The store's figures.
    pub async fn stats(&self) -> Result<store::Stats, ApiError> {
        Ok(self.store.stats().await?)
    }

    pub fn store_url(&self) -> &str {
        self.store.url()
    }

    pub async fn get(&self, id: &str) -> Result<Option<store::Submission>, ApiError> {
        Ok(self.store.get(id).await?)
    }

    /// Cancels a submission; if this replica runs it, its program is killed now (another
    /// replica's learns of it at its next lease renewal).
    pub async fn cancel(&self, id: &str) -> Result<store::Cancel, ApiError> {
        let cancel = self.store.cancel(id).await?;
        if let store::Cancel::Cancelled {
            running_on: Some(_),
        } = &cancel
        {
            self.interrupt(id, Interrupt::Cancelled);
        }
        Ok(cancel)
    }

    fn interrupt(&self, id: &str, why: Interrupt) {
        let sender = self.running.lock().expect("running map").remove(id);
        if let Some(sender) = sender {
            let _ = sender.send(why);
        }
    }

    fn renew_every(&self) -> Duration {
        (self.config.lease / 3).max(Duration::from_millis(50))
    }
}

/// The queue's tasks, running.
pub struct Background {
    stop: watch::Sender<bool>,
    workers: Mutex<JoinSet<()>>,
    others: Mutex<JoinSet<()>>,
    state: Arc<AppState>,
}

/// Starts the queue's workers, callback delivery and housekeeping.
pub fn start(state: Arc<AppState>) -> Background {
    let (stop, stopped) = watch::channel(false);
    let mut workers = JoinSet::new();
    let mut others = JoinSet::new();
    if let Some(queue) = &state.queue {
        for _ in 0..queue.workers {
            workers.spawn(worker(state.clone(), stopped.clone()));
        }
        others.spawn(deliver_callbacks(state.clone(), stopped.clone()));
        others.spawn(housekeeping(state.clone(), stopped));
    }
    Background {
        stop,
        workers: Mutex::new(workers),
        others: Mutex::new(others),
        state,
    }
}

impl Background {
    /// No more claims; runs going on finish.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Waits until the workers are done with their runs.
    pub async fn finished(&self) {
        let mut workers = std::mem::take(&mut *self.workers.lock().expect("workers"));
        while workers.join_next().await.is_some() {}
    }

    /// Stops everything: runs still going are interrupted and their claims given back to
    /// the queue, for another replica or the next start.
    pub async fn shutdown(&self) {
        self.stop();
        if let Some(queue) = &self.state.queue {
            let ids: Vec<String> = queue
                .running
                .lock()
                .expect("running map")
                .keys()
                .cloned()
                .collect();
            for id in ids {
                queue.interrupt(&id, Interrupt::Shutdown);
            }
        }
        let mut workers = std::mem::take(&mut *self.workers.lock().expect("workers"));
        let mut others = std::mem::take(&mut *self.others.lock().expect("others"));
        let joined = async {
            while workers.join_next().await.is_some() {}
            while others.join_next().await.is_some() {}
        };
        if tokio::time::timeout(Duration::from_secs(10), joined)
            .await
            .is_err()
        {
            tracing::warn!("the queue's tasks did not stop within 10 s; aborted");
        }
    }
}

/// Waits for `period` or a stop; `true` when stopping.
async fn pause(
    stopped: &mut watch::Receiver<bool>,
    period: Duration,
    wake: Option<&Notify>,
) -> bool {
    let woken = async {
        match wake {
            Some(wake) => wake.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = stopped.wait_for(|stop| *stop) => {}
        () = tokio::time::sleep(period) => {}
        () = woken => {}
    }
    let stopping = *stopped.borrow();
    stopping
}

async fn worker(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let queue = state.queue.as_ref().expect("workers run with a queue");
    while !*stopped.borrow() {
        // An idle slot first, held while claiming: a claimed submission should not wait
        // for a slot while another replica has one free.
        let slot = tokio::select! {
            slot = state.admission.slot(Lane::Background) => slot,
            _ = stopped.wait_for(|stop| *stop) => return,
        };
        let claimed = queue
            .store
            .claim(&queue.config.runner, queue.config.lease)
            .await;
        // Released at once: the run takes its slots itself, and an interactive request
        // that came in meanwhile goes first.
        drop(slot);
        match claimed {
            Ok(Some(claim)) => {
                let span = tracing::info_span!("submission", id = %claim.id, function = %claim.function, attempt = claim.attempt);
                run(&state, queue, claim).instrument(span).await
            }
            Ok(None) => {
                if pause(&mut stopped, queue.config.poll, Some(&queue.submitted)).await {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim a submission; trying again in 1 s");
                if pause(&mut stopped, Duration::from_secs(1), None).await {
                    return;
                }
            }
        }
    }
}

/// Runs a claimed submission to its end, keeping its lease, and records the result.
async fn run(state: &AppState, queue: &Queue, claim: store::Claim) {
    let (interrupt, interrupted) = oneshot::channel();
    queue
        .running
        .lock()
        .expect("running map")
        .insert(claim.id.clone(), interrupt);
    let ended = tokio::select! {
        biased;
        why = interrupted => Err(why.unwrap_or(Interrupt::Shutdown)),
        () = keep_lease(queue, &claim) => Err(Interrupt::Cancelled),
        report = execute(state, &claim) => Ok(report),
    };
    queue.running.lock().expect("running map").remove(&claim.id);
    match ended {
        Ok((result, status)) => record(queue, &claim, &result, status).await,
        Err(Interrupt::Cancelled) => {
            tracing::info!("cancelled (or its lease was taken over): nothing recorded")
        }
        Err(Interrupt::Shutdown) => {
            if let Err(e) = queue.store.release(&claim).await {
                tracing::warn!(error = %e, "cannot give the claim back; it expires with its lease");
            }
        }
    }
}

/// Renews the claim's lease until it is no longer ours (cancelled, or taken over after
/// this replica failed to renew in time); returns then.
async fn keep_lease(queue: &Queue, claim: &store::Claim) {
    loop {
        tokio::time::sleep(queue.renew_every()).await;
        match queue.store.renew(claim, queue.config.lease).await {
            Ok(true) => {}
            Ok(false) => return,
            // The database is away for now: the run goes on, and its result is recorded
            // if the claim is still ours when it is back.
            Err(e) => tracing::warn!(error = %e, "cannot renew the lease"),
        }
    }
}

/// The report of a claimed submission, as its result JSON and the HTTP status the
/// synchronous call would have had.
async fn execute(state: &AppState, claim: &store::Claim) -> (String, u16) {
    let outcome = async {
        if claim.attempt > MAX_ATTEMPTS {
            return Err(ApiError::Internal(format!(
                "submission {} was claimed {} times without finishing; given up",
                claim.id, MAX_ATTEMPTS
            )));
        }
        let job: Job = serde_json::from_str(&claim.job).map_err(|e| {
            ApiError::Internal(format!("stored job of {} unreadable: {e}", claim.id))
        })?;
        let checked = core::check(state, job)?;
        core::execute(state, checked, Admitted::Background, &|_| {}).await
    };
    match outcome.await {
        Ok(report) => {
            state.metrics.outcome(&claim.function, report.status());
            (report.to_json().to_string(), 200)
        }
        Err(e) => (e.body().to_string(), e.status().as_u16()),
    }
}

/// Records a result, trying again while the database is away and the claim is ours.
async fn record(queue: &Queue, claim: &store::Claim, result: &str, status: u16) {
    let mut wait = Duration::from_millis(100);
    loop {
        match queue.store.finish(claim, result, status).await {
            Ok(true) => {
                queue.finished.notify_one();
                return;
            }
            Ok(false) => {
                tracing::info!("finished after it was cancelled or taken over: not recorded");
                return;
            }
            Err(e) if wait < queue.config.lease => {
                tracing::warn!(error = %e, "cannot record the result; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(e) => {
                tracing::error!(error = %e, "result lost with the lease; the submission runs again");
                return;
            }
        }
    }
}

/// Delivers results to their callback URLs, retrying with backoff; never on a slot.
async fn deliver_callbacks(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let state = &state;
    let queue = state.queue.as_ref().expect("with a queue");
    // A delivery is leased for longer than its request may take.
    let lease = Duration::from_secs(60);
    while !*stopped.borrow() {
        let due = match queue.store.due_callbacks(lease, 16).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read due callbacks");
                Vec::new()
            }
        };
        if due.is_empty() {
            if pause(&mut stopped, queue.config.poll, Some(&queue.finished)).await {
                return;
            }
            continue;
        }
        let deliveries = due.into_iter().map(|delivery| async move {
            let message = message(&delivery);
            let sent = callback::deliver(
                &queue.client,
                &queue.config.callbacks,
                &delivery.url,
                message,
            )
            .await;
            let outcome = match sent {
                Ok(()) => store::DeliveryOutcome::Delivered,
                Err(error) if delivery.attempt >= i64::from(queue.config.callback_tries) => {
                    store::DeliveryOutcome::Failed {
                        error: format!("{error} (after {} tries)", delivery.attempt),
                    }
                }
                Err(error) => {
                    let doubled = 1u32 << (delivery.attempt - 1).clamp(0, 16);
                    let wait = queue.config.callback_retry * doubled;
                    store::DeliveryOutcome::Retry {
                        at: store::now() + wait.as_millis() as store::Millis,
                        error,
                    }
                }
            };
            match &outcome {
                store::DeliveryOutcome::Delivered => state.metrics.callback("delivered"),
                store::DeliveryOutcome::Retry { error, .. } => {
                    tracing::info!(id = %delivery.id, %error, attempt = delivery.attempt, "callback failed; will retry");
                    state.metrics.callback("retried");
                }
                store::DeliveryOutcome::Failed { error } => {
                    tracing::warn!(id = %delivery.id, %error, "callback given up");
                    state.metrics.callback("failed");
                }
            }
            if let Err(e) = queue.store.delivered(&delivery, &outcome).await {
                tracing::warn!(error = %e, "cannot record a callback's outcome; it is tried again");
            }
        });
        futures_util::future::join_all(deliveries).await;
    }
}

/// What a callback carries, as the OpenFaaS queue-worker sends it: the result as the body,
/// and the call's id, function, status and duration in headers.
fn message(delivery: &store::Delivery) -> Message {
    let seconds = match (delivery.started_at, delivery.finished_at) {
        (Some(started), Some(finished)) => (finished - started).max(0) as f64 / 1000.0,
        _ => 0.0,
    };
    Message {
        method: reqwest::Method::POST,
        headers: vec![
            ("x-call-id", delivery.id.clone()),
            ("x-function-name", delivery.function.clone()),
            ("x-function-status", delivery.status.to_string()),
            ("x-duration-seconds", format!("{seconds:.3}")),
        ],
        body: delivery.result.clone(),
    }
}

/// Expired leases back to the queue, and retention.
async fn housekeeping(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let queue = state.queue.as_ref().expect("with a queue");
    let period = queue.renew_every().min(Duration::from_secs(5));
    let mut last_purge: Option<tokio::time::Instant> = None;
    loop {
        match queue.store.requeue_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                requeued = n,
                "submissions whose replica stopped renewing are queued again"
            ),
            Err(e) => tracing::warn!(error = %e, "cannot requeue expired leases"),
        }
        if last_purge.is_none_or(|at| at.elapsed() > Duration::from_secs(600)) {
            last_purge = Some(tokio::time::Instant::now());
            let before = store::now() - queue.config.retention.as_millis() as store::Millis;
            match queue.store.purge(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "results past their retention deleted"),
                Err(e) => tracing::warn!(error = %e, "cannot purge old results"),
            }
        }
        if pause(&mut stopped, period, None).await {
            return;
        }
    }
}
