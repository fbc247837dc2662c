//! The bound on API calls in flight (`[provider] parallelism`), shared by every session of a
//! cloud. A permit is held for one HTTP exchange only: a resource waiting for its server to
//! build holds none, so a wide apply is bounded by what the cloud is asked at once, not by how
//! many resources are under way.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

/// What a cloud's sessions call through when nothing else is said (the spec's default).
pub const DEFAULT_CALLS_IN_FLIGHT: usize = 4;

#[derive(Debug)]
pub struct CallLimit {
    permits: Semaphore,
    size: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// One call's permit; counts the call as in flight until dropped.
pub struct CallPermit<'a> {
    _permit: Option<SemaphorePermit<'a>>,
    limit: &'a CallLimit,
}

impl Drop for CallPermit<'_> {
    fn drop(&mut self) {
        self.limit.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CallLimit {
    pub fn new(calls: usize) -> CallLimit {
        let calls = calls.max(1);
        CallLimit {
            permits: Semaphore::new(calls),
            size: AtomicUsize::new(calls),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Sets the bound. Meant for a cloud with no call in flight (before an apply starts):
    /// permits held at that moment are not taken back.
    pub fn resize(&self, calls: usize) {
        let calls = calls.max(1);
        let old = self.size.swap(calls, Ordering::SeqCst);
        if calls > old {
            self.permits.add_permits(calls - old);
        } else {
            self.permits.forget_permits(old - calls);
        }
    }

    /// Waits for a free slot. Fair: calls are served in the order they asked.
    pub async fn acquire(&self) -> CallPermit<'_> {
        // Only a closed semaphore refuses, and this one is never closed; were it, going on
        // unbounded would be better than failing the call.
        let permit = self.permits.acquire().await.ok();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        CallPermit {
            _permit: permit,
            limit: self,
        }
    }

    /// The most calls that were in flight at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn bounds_and_counts_the_calls_in_flight() {
        let limit = Arc::new(CallLimit::new(8));
        limit.resize(3);
        let calls = (0..10).map(|_| {
            let limit = limit.clone();
            tokio::spawn(async move {
                let _permit = limit.acquire().await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            })
        });
        for call in calls.collect::<Vec<_>>() {
            call.await.unwrap();
        }
        assert_eq!(limit.peak(), 3);
        limit.resize(5);
        assert_eq!(limit.permits.available_permits(), 5);
    }
}
