//! Admission control: a fixed number of sandbox slots shared by two lanes.
//!
//! The **interactive** lane (synchronous requests: a client is waiting on the connection)
//! has a bounded wait queue in front of the slots and a deadline for waiting; beyond either,
//! `429`, never an unbounded pile-up. The **background** lane (stored submissions, run by
//! the queue's workers) only takes a slot that no interactive request is waiting for, so a
//! synchronous request never waits behind a burst of asynchronous ones: at most behind the
//! runs already going.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Who is asking for a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A synchronous request: first in line.
    Interactive,
    /// A stored submission: only slots nobody interactive waits for.
    Background,
}

pub struct Admission {
    slots: Arc<Semaphore>,
    /// How many slots there are.
    slot_count: usize,
    /// Interactive requests waiting for a slot: while there are any, the background lane
    /// takes none.
    interactive_waiting: AtomicUsize,
    /// A slot was freed, or the interactive waiters changed: background waiters look again.
    changed: Notify,
    /// Slots plus queue places: the most interactive requests admitted at once.
    most_admitted: usize,
    admitted: AtomicUsize,
    queue_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// A place among the admitted interactive requests, queued or running. Dropping it (also
/// when the client goes away and the request's future is dropped) frees the place.
pub struct Place {
    admission: Arc<Admission>,
    running: bool,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.admission.admitted.fetch_sub(1, Ordering::AcqRel);
        match self.running {
            true => self.admission.metrics.in_flight.dec(),
            false => self.admission.metrics.queue_depth.dec(),
        };
    }
}

impl Place {
    /// The request holds its slots now (its wait in the queue is over).
    pub fn start(&mut self) {
        if !self.running {
            self.running = true;
            self.admission.metrics.queue_depth.dec();
            self.admission.metrics.in_flight.inc();
        }
    }
}

/// A held slot; dropping it frees the slot for the next in line.
pub struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    admission: Arc<Admission>,
}

impl Slot {
    fn new(permit: OwnedSemaphorePermit, admission: &Arc<Admission>) -> Slot {
        Slot {
            permit: Some(permit),
            admission: admission.clone(),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The permit goes back first: a background waiter woken before it is back would find
        // no slot and wait for a change that never comes.
        drop(self.permit.take());
        self.admission.changed.notify_waiters();
    }
}

/// Counts an interactive waiter for as long as it waits.
struct Waiting<'a>(&'a Admission);

impl<'a> Waiting<'a> {
    fn new(admission: &'a Admission) -> Waiting<'a> {
        admission.interactive_waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(admission)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.interactive_waiting.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

impl Admission {
    pub fn new(
        slots: usize,
        queue: usize,
        queue_timeout: Duration,
        metrics: Arc<Metrics>,
    ) -> Arc<Admission> {
        Arc::new(Admission {
            slots: Arc::new(Semaphore::new(slots)),
            slot_count: slots,
            interactive_waiting: AtomicUsize::new(0),
            changed: Notify::new(),
            most_admitted: slots + queue,
            admitted: AtomicUsize::new(0),
            queue_timeout,
            metrics,
        })
    }

    /// A place among the admitted interactive requests, or a refusal when they are all
    /// taken. Requests that take their slots themselves, one per run (grading runs its
    /// test cases in parallel), hold a place while they go.
    pub fn place(self: &Arc<Self>) -> Result<Place, ApiError> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.most_admitted {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::Overloaded(
                "every slot is busy and the queue is full",
            ));
        }
        self.metrics.queue_depth.inc();
        Ok(Place {
            admission: self.clone(),
            running: false,
        })
    }

    /// Waits for a slot in `lane`. An interactive wait is bounded by the queue timeout.
    pub async fn slot(self: &Arc<Self>, lane: Lane) -> Result<Slot, ApiError> {
        let permit = match lane {
            Lane::Interactive => {
                let _waiting = Waiting::new(self);
                tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
                    .await
                    .map_err(|_| ApiError::Overloaded("waited too long for a slot"))?
                    .map_err(|_| ApiError::Internal("admission semaphore closed".into()))?
            }
            Lane::Background => self.idle_slot().await,
        };
        Ok(Slot::new(permit, self))
    }

    /// A slot no interactive request is waiting for.
    async fn idle_slot(&self) -> OwnedSemaphorePermit {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before looking, so a change between the look and the wait is not
            // missed.
            changed.as_mut().enable();
            if self.interactive_waiting.load(Ordering::Acquire) == 0 {
                if let Ok(permit) = self.slots.clone().try_acquire_owned() {
                    return permit;
                }
            }
            changed.await;
        }
    }

    /// The slots as grading takes them, one per run, in `lane`.
    pub fn for_grading(self: &Arc<Self>, lane: Lane) -> Arc<dyn judge::Slots> {
        Arc::new(GradingSlots {
            admission: self.clone(),
            lane,
        })
    }
}

struct GradingSlots {
    admission: Arc<Admission>,
    lane: Lane,
}

impl judge::Slots for GradingSlots {
    fn capacity(&self) -> usize {
        self.admission.slot_count
    }

    fn acquire(&self) -> Pin<Box<dyn Future<Output = Option<judge::SlotPermit>> + Send + '_>> {
        Box::pin(async move {
            // A grading's own runs wait without the queue timeout: the grading was admitted.
            let permit = match self.lane {
                Lane::Interactive => {
                    let _waiting = Waiting::new(&self.admission);
                    self.admission.slots.clone().acquire_owned().await.ok()?
                }
                Lane::Background => self.admission.idle_slot().await,
            };
            Some(judge::SlotPermit(Box::new(Slot::new(
                permit,
                &self.admission,
            ))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(slots: usize, queue: usize, timeout: Duration) -> Arc<Admission> {
        Admission::new(slots, queue, timeout, Arc::new(Metrics::new()))
    }

    impl Admission {
        /// An interactive request that runs once: a place, then a slot.
        async fn admit(self: &Arc<Self>) -> Result<(Place, Slot), ApiError> {
            let mut place = self.place()?;
            let slot = self.slot(Lane::Interactive).await?;
            place.start();
            Ok((place, slot))
        }
    }

    #[tokio::test]
    async fn beyond_slots_and_queue_requests_are_refused() {
        let admission = admission(1, 1, Duration::from_secs(10));
        let running = admission.admit().await.unwrap();
        let queued = admission.admit();
        tokio::pin!(queued);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut queued)
                .await
                .is_err(),
            "the second request should wait"
        );
        assert!(matches!(
            admission.admit().await,
            Err(ApiError::Overloaded(_))
        ));
        drop(running);
        let second = queued.await.unwrap();
        assert_eq!(admission.metrics.in_flight.get(), 1);
        drop(second);
        assert_eq!(admission.admitted.load(Ordering::Acquire), 0);
        assert_eq!(admission.metrics.queue_depth.get(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_waits_too_long_is_refused() {
        let admission = admission(1, 5, Duration::from_secs(1));
        let _running = admission.admit().await.unwrap();
        assert!(matches!(
            admission.admit().await,
            Err(ApiError::Overloaded(_))
        ));
        assert_eq!(admission.admitted.load(Ordering::Acquire), 1);
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_a_waiting_interactive_request_before_the_background() {
        let admission = admission(1, 8, Duration::from_secs(60));
        let held = admission.slot(Lane::Background).await.unwrap();
        // The background waiter keeps the slot once it has it: had it jumped the line, the
        // interactive request would never get the slot and the test would time out.
        let background = tokio::spawn({
            let admission = admission.clone();
            async move { admission.slot(Lane::Background).await.unwrap() }
        });
        let (got, got_it) = tokio::sync::oneshot::channel();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let interactive = tokio::spawn({
            let admission = admission.clone();
            async move {
                let admitted = admission.admit().await.unwrap();
                let _ = got.send(());
                let _ = released.await;
                drop(admitted);
            }
        });
        while admission.interactive_waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        drop(held);
        tokio::time::timeout(Duration::from_secs(10), got_it)
            .await
            .expect("the interactive request gets the freed slot")
            .unwrap();
        assert!(!background.is_finished());
        release.send(()).unwrap();
        interactive.await.unwrap();
        drop(background.await.unwrap());
        assert_eq!(admission.slots.available_permits(), 1);
    }

    #[tokio::test]
    async fn the_background_lane_takes_idle_slots() {
        let admission = admission(2, 0, Duration::from_secs(1));
        let first = admission.slot(Lane::Background).await.unwrap();
        let _second = admission.slot(Lane::Background).await.unwrap();
        let third = tokio::spawn({
            let admission = admission.clone();
            async move { admission.slot(Lane::Background).await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished());
        drop(first);
        third.await.unwrap().unwrap();
    }
}
