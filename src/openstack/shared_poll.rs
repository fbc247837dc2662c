//! Polls shared by every waiter of one list: each poll reads a list of the objects of one
//! collection and filter (servers carrying the lineage tag, one project's volumes) that the
//! other waiters' polls of the same moment read too. The 100 servers or volumes an apply waits
//! for cost one list per poll, not 100 GETs.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::ApiError;
use super::wait;

/// How old a shared list may be for a poll to use it rather than list again. Shorter than the
/// shortest pause between polls, so no waiter sees a status older than it would with a GET of
/// its own by more than this.
const SHARED_POLL_AGE: Duration = Duration::from_millis(150);

/// The shared lists of one session, by what they list (a key naming collection and filter).
#[derive(Debug, Default)]
pub(super) struct SharedPolls {
    by_key: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl SharedPolls {
    /// The shared list of `key`, made on first use. A key names one type of object: the
    /// callers' keys start with their collection.
    pub(super) fn slot<T: Send + Sync + 'static>(&self, key: &str) -> Arc<SharedList<T>> {
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = by_key
            .entry(key.to_string())
            .or_insert_with(|| Arc::new(SharedList::<T>::default()))
            .clone();
        match slot.downcast::<SharedList<T>>() {
            Ok(typed) => typed,
            // Two types under one key is a caller's bug: the second gets a list of its own
            // (unshared) rather than a wrong one.
            Err(_) => {
                tracing::warn!("shared poll key {key} used for two types of objects");
                Arc::new(SharedList::default())
            }
        }
    }
}

/// The latest list of one key's objects, by id, and what listing them costs.
pub(super) struct SharedList<T> {
    list: tokio::sync::Mutex<Option<Snapshot<T>>>,
    cost_micros: AtomicU64,
}

impl<T> Default for SharedList<T> {
    fn default() -> Self {
        SharedList {
            list: tokio::sync::Mutex::new(None),
            cost_micros: AtomicU64::new(0),
        }
    }
}

struct Snapshot<T> {
    taken: Instant,
    items: HashMap<String, T>,
}

impl<T: Clone> SharedList<T> {
    /// The object `id` in a list made no earlier than [`SHARED_POLL_AGE`] before this call
    /// (`list` makes a new one when there is none that recent); None when a list made after
    /// this call does not show it.
    pub(super) async fn find<F, Fut>(&self, id: &str, list: F) -> Result<Option<T>, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<HashMap<String, T>, ApiError>>,
    {
        let asked = Instant::now();
        let mut snapshot = self.list.lock().await;
        let usable = |s: &Option<Snapshot<T>>| {
            s.as_ref()
                .is_some_and(|list| list.taken + SHARED_POLL_AGE >= asked)
        };
        if !usable(&snapshot) {
            *snapshot = Some(self.take(&list).await?);
        }
        if let Some(found) = snapshot.as_ref().and_then(|s| s.items.get(id)) {
            return Ok(Some(found.clone()));
        }
        // A list made a moment before this call may predate the object (just created) or
        // still show it (just deleted): only a list made after this call is a verdict.
        if snapshot.as_ref().is_some_and(|s| s.taken < asked) {
            *snapshot = Some(self.take(&list).await?);
        }
        Ok(snapshot.as_ref().and_then(|s| s.items.get(id).cloned()))
    }

    async fn take<F, Fut>(&self, list: &F) -> Result<Snapshot<T>, ApiError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<HashMap<String, T>, ApiError>>,
    {
        let taken = Instant::now();
        let items = list().await?;
        let micros = u64::try_from(taken.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.cost_micros.store(micros, Ordering::Relaxed);
        Ok(Snapshot { taken, items })
    }
}

impl<T> SharedList<T> {
    fn cost(&self) -> Duration {
        Duration::from_micros(self.cost_micros.load(Ordering::Relaxed))
    }
}

/// How often a waiter polls: alone (a GET each), backing off as any wait does; shared, at a
/// steady pace set by what the shared list costs the cloud (four times its duration, between
/// 250 ms and 2 s), since one list serves every waiter.
pub(super) fn pace<T: Send + Sync + 'static>(
    shared: Option<Arc<SharedList<T>>>,
) -> impl FnMut(Duration) -> Duration {
    move |previous| match &shared {
        None => wait::next_interval(previous),
        Some(slot) => (slot.cost() * 4).clamp(Duration::from_millis(250), Duration::from_secs(2)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[tokio::test]
    async fn waiters_of_one_moment_share_a_list_and_a_missing_object_is_listed_again() {
        let polls = SharedPolls::default();
        let slot = polls.slot::<String>("volumes project=p");
        let lists = AtomicUsize::new(0);
        let list = || {
            lists.fetch_add(1, Ordering::SeqCst);
            async { Ok(HashMap::from([("v1".to_string(), "creating".to_string())])) }
        };
        let (a, b) = tokio::join!(slot.find("v1", list), slot.find("v1", list));
        assert_eq!(a.ok().flatten().as_deref(), Some("creating"));
        assert_eq!(b.ok().flatten().as_deref(), Some("creating"));
        assert_eq!(lists.load(Ordering::SeqCst), 1);
        // Not in the recent list: a list made after the question decides (it is gone).
        let gone = slot.find("v2", list).await;
        assert_eq!(gone.ok(), Some(None));
        assert_eq!(lists.load(Ordering::SeqCst), 2);
        // The same key is the same list; another type under it is not mixed up with it.
        assert!(Arc::ptr_eq(
            &slot,
            &polls.slot::<String>("volumes project=p")
        ));
        let other = polls.slot::<u32>("volumes project=p");
        assert_eq!(
            other.find("v1", || async { Ok(HashMap::new()) }).await.ok(),
            Some(None)
        );
    }
}
