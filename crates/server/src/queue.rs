//! The queue of stored submissions: workers that claim them from the store and run them on
//! the background lane of the sandbox slots, leases kept alive while they run, callback
//! delivery, and housekeeping (expired leases back in the queue, retention, metrics).
//!
//! The queue lives in the store, not in memory: this replica holds only the submissions it
//! runs (at most one per worker), whatever the store holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::callback;
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
    /// First deliveries of callbacks, from the workers to the deliverer.
    deliveries: mpsc::Sender<store::Delivery>,
    /// The deliverer's end, taken when the queue starts.
    fresh_deliveries: Mutex<Option<mpsc::Receiver<store::Delivery>>>,
    /// The submissions this replica runs, to interrupt them.
    running: Mutex<HashMap<String, oneshot::Sender<Interrupt>>>,
    client: reqwest::Client,
}

impl Queue {
    pub fn new(store: store::Store, config: &ServerConfig) -> Queue {
        let submissions = config.submissions.clone();
        let (deliveries, fresh) = mpsc::channel(1024);
        Queue {
            deliveries,
            fresh_deliveries: Mutex::new(Some(fresh)),
            workers: submissions.workers.unwrap_or(config.slots + 1).max(1),
            client: submissions.callbacks.client(),
            config: submissions,
            store,
            submitted: Notify::new(),
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Stores a submission: committed when this returns.
    pub async fn submit(&self, new: &store::NewSubmission<'_>) -> Result<String, ApiError> {
        let accepted = self.store.submit(new, self.config.max_pending).await?;
        self.submitted.notify_one();
        Ok(accepted.id)
    }

    /// Stores a submission that already ran, as this replica's.
    pub async fn record(
        &self,
        new: &store::NewSubmission<'_>,
        started_at: store::Millis,
        result: &str,
        status: u16,
    ) -> Result<store::Submission, ApiError> {
        Ok(self
            .store
            .record(new, &self.config.runner, started_at, result, status)
            .await?)
    }

    pub async fn list(
        &self,
        api: &str,
        page: u64,
        per_page: u64,
    ) -> Result<(Vec<store::Submission>, u64), ApiError> {
        Ok(self.store.list(api, page, per_page).await?)
    }

    pub async fn delete(
        &self,
        id: &str,
    ) -> Result<Option<Result<store::Submission, store::State>>, ApiError> {
        Ok(self.store.delete(id).await?)
    }

    pub async fn put_file(&self, id: &str, contents: &[u8]) -> Result<(), ApiError> {
        Ok(self.store.put_file(id, contents).await?)
    }

    pub async fn file(&self, id: &str) -> Result<Option<Vec<u8>>, ApiError> {
        Ok(self.store.file(id).await?)
    }

    pub async fn has_file(&self, id: &str) -> Result<bool, ApiError> {
        Ok(self.store.has_file(id).await?)
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
        let fresh = queue.fresh_deliveries.lock().expect("deliveries").take();
        if let Some(fresh) = fresh {
            others.spawn(deliver_callbacks(state.clone(), fresh, stopped.clone()));
        }
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

async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
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
        () = until_stopped(stopped) => {}
        () = tokio::time::sleep(period) => {}
        () = woken => {}
    }
    let stopping = *stopped.borrow();
    stopping
}

async fn worker(state: Arc<AppState>, mut stopped: watch::Receiver<bool>) {
    let queue = state.queue.as_ref().expect("workers run with a queue");
    while !*stopped.borrow() {
        // Claimed before a slot is free: with one worker more than slots, the next
        // submission is in hand when a run ends, and the store's round trips (claiming,
        // recording) are off the slots' critical path. A replica holds at most one claimed
        // submission that waits for a slot.
        match queue
            .store
            .claim(&queue.config.runner, queue.config.lease)
            .await
        {
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
async fn run(state: &Arc<AppState>, queue: &Queue, claim: store::Claim) {
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
async fn execute(state: &Arc<AppState>, claim: &store::Claim) -> (String, u16) {
    let marking = Arc::new(std::sync::Mutex::new(None::<tokio::task::JoinHandle<()>>));
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
        // Marked running once it has its slot, without holding the run up for the write.
        // The time is taken now: a write that lands after the run ended must not make it
        // look instant.
        let on_start = {
            let (state, claim, marking) = (state.clone(), claim.clone(), marking.clone());
            Box::new(move || {
                let at = store::now();
                let write = tokio::spawn(async move {
                    let queue = state.queue.as_ref().expect("with a queue");
                    if let Err(e) = queue.store.start(&claim, at).await {
                        tracing::warn!(error = %e, "cannot mark a submission running");
                    }
                });
                *marking.lock().expect("the start's write") = Some(write);
            })
        };
        core::execute(state, checked, Admitted::Background(on_start), &|_| {}).await
    };
    let outcome = outcome.await;
    // The start is written before the result: a result landing first would leave it
    // unwritten (a start only moves a claimed submission on), the run's start and runner
    // missing from a finished submission.
    let write = marking.lock().expect("the start's write").take();
    if let Some(write) = write {
        let _ = write.await;
    }
    match outcome {
        Ok(report) => {
            state.metrics.outcome(&claim.function, report.status());
            (report.to_json().to_string(), 200)
        }
        Err(e) => (e.body().to_string(), e.status().as_u16()),
    }
}

/// Records a result, trying again while the database is away and the claim is ours, and
/// hands its callback to the deliverer.
async fn record(queue: &Queue, claim: &store::Claim, result: &str, status: u16) {
    let mut wait = Duration::from_millis(100);
    loop {
        match queue
            .store
            .finish(claim, result, status, DELIVERY_LEASE)
            .await
        {
            Ok(store::Finish::Recorded { callback }) => {
                // A full hand-over leaves it to the poll, when its lease ends.
                if let Some(delivery) = callback {
                    let _ = queue.deliveries.try_send(delivery);
                }
                return;
            }
            Ok(store::Finish::NotOurs) => {
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

/// A delivery is leased for longer than its request may take.
const DELIVERY_LEASE: Duration = Duration::from_secs(60);

/// Deliveries under way at once.
const DELIVERIES_AT_ONCE: usize = 64;

/// Delivers results to their callback URLs: first deliveries handed over by the workers as
/// they record results, and retries (and deliveries another replica left) as they fall due.
/// Never on a slot; each delivery is a task of its own, so a slow endpoint holds up no other.
async fn deliver_callbacks(
    state: Arc<AppState>,
    mut fresh: mpsc::Receiver<store::Delivery>,
    mut stopped: watch::Receiver<bool>,
) {
    let queue = state.queue.as_ref().expect("with a queue");
    let under_way = Arc::new(tokio::sync::Semaphore::new(DELIVERIES_AT_ONCE));
    let mut tasks = JoinSet::new();
    let mut next_poll = tokio::time::Instant::now();
    loop {
        let deliveries = tokio::select! {
            () = until_stopped(&mut stopped) => break,
            Some(delivery) = fresh.recv() => vec![delivery],
            () = tokio::time::sleep_until(next_poll) => {
                next_poll = tokio::time::Instant::now() + queue.config.poll;
                let room = under_way.available_permits();
                match queue.store.due_callbacks(DELIVERY_LEASE, room).await {
                    Ok(due) => due,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read due callbacks");
                        Vec::new()
                    }
                }
            }
        };
        for delivery in deliveries {
            let Ok(permit) = under_way.clone().acquire_owned().await else {
                break;
            };
            let state = state.clone();
            tasks.spawn(async move {
                deliver(&state, delivery).await;
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
    }
    // Deliveries under way finish; the rest are due again when their leases end.
    while tasks.join_next().await.is_some() {}
}

/// Tries one delivery and records how it went.
async fn deliver(state: &AppState, delivery: store::Delivery) {
    let queue = state.queue.as_ref().expect("with a queue");
    let sent = callback::deliver(
        &queue.client,
        &queue.config.callbacks,
        &delivery.url,
        crate::api::callback_message(&delivery),
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
