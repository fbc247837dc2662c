//! Waiting for asynchronous work: poll until a target status, fail fast on an error status,
//! give up after a timeout; or poll until the resource is gone (404).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::ApiError;

/// What one poll saw.
#[derive(Debug)]
pub enum Poll<T> {
    /// A target status was reached.
    Ready(T),
    /// Still working; the current status, for the timeout message.
    Pending(String),
    /// An error status; the service's explanation (a server's `fault.message`).
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0}")]
    Failed(String),
    #[error("timed out after {}s (last status {last})", waited.as_secs())]
    Timeout { waited: Duration, last: String },
}

/// First poll after 200 ms, then backing off to at most 1 s between polls: a build seen up to
/// a second late is a second added to every apply that waits for one, and polls are cheap
/// where they are shared (servers of one project: one list for all of them).
pub fn next_interval(current: Duration) -> Duration {
    (current * 3 / 2).min(Duration::from_secs(1))
}

/// Polls `poll` until it says Ready or Failed, or `timeout` passes.
pub async fn wait_for<T, F, Fut>(timeout: Duration, poll: F) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ApiError>>,
{
    wait_paced(timeout, next_interval, poll).await
}

/// As [`wait_for`], with the pause before each next poll decided by `pace` (given the
/// previous pause; the first poll comes after 200 ms).
pub async fn wait_paced<T, F, Fut, P>(
    timeout: Duration,
    mut pace: P,
    mut poll: F,
) -> Result<T, WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, ApiError>>,
    P: FnMut(Duration) -> Duration,
{
    let started = Instant::now();
    let mut interval = Duration::from_millis(200);
    loop {
        // Asked right after the request that started the work, the answer is known: still
        // working. Polls of many waiters that all start a pause late also find a list shared
        // by them (made after their request) instead of each asking for a newer one.
        tokio::time::sleep(interval).await;
        match poll().await? {
            Poll::Ready(value) => return Ok(value),
            Poll::Failed(message) => return Err(WaitError::Failed(message)),
            Poll::Pending(last) => {
                if started.elapsed() >= timeout {
                    return Err(WaitError::Timeout {
                        waited: started.elapsed(),
                        last,
                    });
                }
            }
        }
        interval = pace(interval);
    }
}

/// Polls a GET until it answers 404. `get` returns the current status when found, for the
/// timeout message.
pub async fn wait_gone<F, Fut>(timeout: Duration, mut get: F) -> Result<(), WaitError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, ApiError>>,
{
    wait_for(timeout, move || {
        let probe = get();
        async move {
            match probe.await {
                // A resource in ERROR may still be on its way out (Nova deletes ERROR
                // servers), so no status ends the wait early: only the timeout does.
                Ok(status) => Ok(Poll::Pending(status)),
                Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn waits_until_ready() {
        let polls = AtomicUsize::new(0);
        let result = wait_for(Duration::from_secs(10), || {
            let n = polls.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(if n < 2 {
                    Poll::Pending("BUILD".into())
                } else {
                    Poll::Ready(n)
                })
            }
        })
        .await;
        assert_eq!(result.ok(), Some(2));
    }

    #[tokio::test]
    async fn fails_fast_on_error_status() {
        let result: Result<(), _> = wait_for(Duration::from_secs(10), || async {
            Ok(Poll::Failed("No valid host was found.".into()))
        })
        .await;
        assert_eq!(
            result.err().map(|e| e.to_string()).as_deref(),
            Some("No valid host was found.")
        );
    }

    #[tokio::test]
    async fn waits_until_gone_through_error_statuses() {
        let polls = AtomicUsize::new(0);
        let result = wait_gone(Duration::from_secs(10), || {
            let n = polls.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => Ok("ERROR".to_string()),
                    _ => Err(ApiError::Status {
                        service: "compute",
                        method: reqwest::Method::GET,
                        url: "http://nova/servers/x".into(),
                        status: reqwest::StatusCode::NOT_FOUND,
                        message: "".into(),
                        request_id: None,
                        retry_after: None,
                    }),
                }
            }
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn times_out_with_the_last_status() {
        let result: Result<(), _> = wait_for(Duration::ZERO, || async {
            Ok(Poll::Pending("BUILD".into()))
        })
        .await;
        assert_eq!(
            result.err().map(|e| e.to_string()).as_deref(),
            Some("timed out after 0s (last status BUILD)")
        );
    }
}
