//! Admission control: a fixed number of sandbox slots, a bounded wait queue in front of them,
//! and a deadline for waiting. Beyond that, `429`, never an unbounded pile-up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
use crate::metrics::Metrics;

pub struct Admission {
    slots: Arc<Semaphore>,
    /// Slots plus queue places: the most requests admitted at once.
    capacity: usize,
    admitted: AtomicUsize,
    queue_timeout: Duration,
    metrics: Arc<Metrics>,
}

/// The right to run in a sandbox slot. Dropping it (also when the client goes away and
/// the request's future is dropped) frees the slot and the place.
pub struct Permit<'a> {
    _slot: OwnedSemaphorePermit,
    _place: Place<'a>,
}

/// A place among the admitted requests, queued or running.
struct Place<'a> {
    admission: &'a Admission,
    running: bool,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.admission.admitted.fetch_sub(1, Ordering::AcqRel);
        match self.running {
            true => self.admission.metrics.in_flight.dec(),
            false => self.admission.metrics.queue_depth.dec(),
        };
    }
}

impl Admission {
    pub fn new(slots: usize, queue: usize, queue_timeout: Duration, metrics: Arc<Metrics>) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(slots)),
            capacity: slots + queue,
            admitted: AtomicUsize::new(0),
            queue_timeout,
            metrics,
        }
    }

    /// A place among the admitted requests, or a refusal when they are all taken.
    fn place(&self, running: bool) -> Result<Place<'_>, ApiError> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::Overloaded(
                "every slot is busy and the queue is full",
            ));
        }
        match running {
            true => self.metrics.in_flight.inc(),
            false => self.metrics.queue_depth.inc(),
        };
        Ok(Place {
            admission: self,
            running,
        })
    }

    /// Admits a request that takes its slots itself, one per run, from [`Admission::slots`]
    /// (grading runs its test cases in parallel).
    pub fn admit_many(&self) -> Result<impl Drop + '_, ApiError> {
        self.place(true)
    }

    /// The sandbox slots, for requests admitted with [`Admission::admit_many`].
    pub fn slots(&self) -> Arc<Semaphore> {
        self.slots.clone()
    }

    /// Waits for a slot, or refuses at once when the queue is full.
    pub async fn admit(&self) -> Result<Permit<'_>, ApiError> {
        let mut place = self.place(false)?;
        let slot = tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Overloaded("waited too long for a slot"))?
            .map_err(|_| ApiError::Internal("admission semaphore closed".into()))?;
        self.metrics.queue_depth.dec();
        self.metrics.in_flight.inc();
        place.running = true;
        Ok(Permit {
            _slot: slot,
            _place: place,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_slots_and_queue_requests_are_refused() {
        let admission = Admission::new(1, 1, Duration::from_secs(10), Arc::new(Metrics::new()));
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
        let admission = Admission::new(1, 5, Duration::from_secs(1), Arc::new(Metrics::new()));
        let _running = admission.admit().await.unwrap();
        assert!(matches!(
            admission.admit().await,
            Err(ApiError::Overloaded(_))
        ));
        assert_eq!(admission.admitted.load(Ordering::Acquire), 1);
    }
}
