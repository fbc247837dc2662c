//! What starts a reconcile: a saved spec file (notify, debounced), a pull timer, or a retry
//! after a failure (jittered exponential backoff). Times are passed in (tokio's [`Instant`]),
//! so that tests drive the timers with a clock of their own.

use std::path::Path;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::spec::WatchConfig;

/// Why a reconcile runs; named in the log and in `/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Trigger {
    /// The daemon's first reconcile.
    Start,
    /// A spec file was saved.
    SpecChange,
    PullResources,
    PullSubResources,
    PullQuotas,
    PullProperties,
    /// The previous reconcile failed with a retryable error.
    Retry,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Start => "start",
            Trigger::SpecChange => "spec-change",
            Trigger::PullResources => "pull-resources",
            Trigger::PullSubResources => "pull-sub-resources",
            Trigger::PullQuotas => "pull-quotas",
            Trigger::PullProperties => "pull-properties",
            Trigger::Retry => "retry",
        }
    }

    /// A pull looks for drift: changes it finds were made outside stackform.
    pub fn is_pull(self) -> bool {
        matches!(
            self,
            Trigger::PullResources
                | Trigger::PullSubResources
                | Trigger::PullQuotas
                | Trigger::PullProperties
        )
    }
}

/// How long the spec folder must stay quiet before its change counts: an editor's save is a
/// burst of events (write a temporary file, rename it over, change its mode), one change.
pub const DEBOUNCE: Duration = Duration::from_millis(200);

/// Watches the spec folder's `*.toml` files.
pub struct SpecWatcher {
    // Dropping it stops the watch.
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
    /// An event was received and its quiet period not yet waited out: kept across a
    /// cancelled [`SpecWatcher::changed`] (another trigger won the `select!`), so that no save
    /// is lost.
    pending: bool,
}

impl SpecWatcher {
    pub fn start(dir: &Path) -> notify::Result<SpecWatcher> {
        use notify::Watcher;
        let (sender, events) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                // Reading a file is no change; editors' swap and backup files are not spec.
                let relevant = !event.kind.is_access()
                    && event
                        .paths
                        .iter()
                        .any(|p| p.extension().is_some_and(|e| e == "toml"));
                if relevant {
                    let _ = sender.send(());
                }
            })?;
        watcher.watch(dir, notify::RecursiveMode::NonRecursive)?;
        Ok(SpecWatcher {
            _watcher: watcher,
            events,
            pending: false,
        })
    }

    /// Resolves once a change has happened and the folder then stayed quiet for `quiet`.
    /// Cancellation-safe: a change seen before a cancel is still reported by the next call.
    pub async fn changed(&mut self, quiet: Duration) {
        if !self.pending {
            if self.events.recv().await.is_none() {
                // The watcher is gone: no change will ever come.
                std::future::pending::<()>().await;
            }
            self.pending = true;
        }
        while let Ok(Some(())) = tokio::time::timeout(quiet, self.events.recv()).await {}
        self.pending = false;
    }
}

/// The pull timers of the `[watch]` table, each with its next time.
#[derive(Debug)]
pub struct Timers {
    entries: Vec<Timer>,
}

#[derive(Clone, Copy, Debug)]
pub struct Timer {
    pub trigger: Trigger,
    pub every: Duration,
    pub next: Instant,
}

impl Timers {
    pub fn new(config: &WatchConfig, now: Instant) -> Timers {
        let mut timers = Timers {
            entries: Vec::new(),
        };
        timers.configure(config, now);
        timers
    }

    /// Takes the intervals of a (new) `[watch]` table; a timer whose interval did not change
    /// keeps its next time.
    pub fn configure(&mut self, config: &WatchConfig, now: Instant) {
        let wanted = [
            (Trigger::PullResources, config.pull_resources),
            (Trigger::PullSubResources, config.pull_sub_resources),
            (Trigger::PullQuotas, config.pull_quotas),
            (Trigger::PullProperties, config.pull_properties),
        ];
        let before = std::mem::take(&mut self.entries);
        for (trigger, every) in wanted {
            let next = before
                .iter()
                .find(|t| t.trigger == trigger && t.every == every)
                .map_or(now + every, |t| t.next);
            self.entries.push(Timer {
                trigger,
                every,
                next,
            });
        }
    }

    pub fn all(&self) -> &[Timer] {
        &self.entries
    }

    /// The earliest next time.
    pub fn next(&self) -> Instant {
        self.entries
            .iter()
            .map(|t| t.next)
            .min()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))
    }

    /// The timers due at `now`, each moved to its next time. Several due at once are one
    /// reconcile (a pull refreshes everything); the caller names it after the first.
    pub fn fire(&mut self, now: Instant) -> Vec<Trigger> {
        let mut due = Vec::new();
        for timer in &mut self.entries {
            if timer.next <= now {
                due.push(timer.trigger);
                // From now, not from the missed time: a daemon that slept (a suspended laptop)
                // pulls once, not once per missed interval.
                timer.next = now + timer.every;
            }
        }
        due
    }
}

/// The retry policy after a failed reconcile: exponential from `BASE`, capped at `MAX`, with
/// "equal jitter" (half the delay fixed, half random) so that daemons failing together do
/// not retry together; never sooner than the service's Retry-After.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const BASE: Duration = Duration::from_secs(5);
    pub const MAX: Duration = Duration::from_secs(600);

    /// The delay before the next try, counting this failure.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let exponent = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let full = Self::BASE.saturating_mul(1u32 << exponent).min(Self::MAX);
        let half = full / 2;
        let jitter = half.mul_f64(fastrand::f64());
        (half + jitter).max(retry_after.unwrap_or_default())
    }

    /// A reconcile succeeded: the next failure starts again from `BASE`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secs: [u64; 4]) -> WatchConfig {
        WatchConfig {
            pull_resources: Duration::from_secs(secs[0]),
            pull_sub_resources: Duration::from_secs(secs[1]),
            pull_quotas: Duration::from_secs(secs[2]),
            pull_properties: Duration::from_secs(secs[3]),
            span: None,
        }
    }

    /// The clock is injected: each step jumps to the next timer's time.
    #[test]
    fn timers_fire_at_their_intervals() {
        let start = Instant::now();
        let mut timers = Timers::new(&WatchConfig::default(), start);
        assert_eq!(timers.next(), start + Duration::from_secs(3600));
        let mut fired = Vec::new();
        // A day of the daemon's life, in simulated time.
        while timers.next() <= start + Duration::from_secs(24 * 3600) {
            let now = timers.next();
            fired.push(((now - start).as_secs() / 3600, timers.fire(now)));
        }
        assert_eq!(fired.len(), 24);
        assert_eq!(fired[0], (1, vec![Trigger::PullResources]));
        assert_eq!(
            fired[1],
            (2, vec![Trigger::PullResources, Trigger::PullSubResources])
        );
        assert_eq!(
            fired[11],
            (
                12,
                vec![
                    Trigger::PullResources,
                    Trigger::PullSubResources,
                    Trigger::PullQuotas
                ]
            )
        );
        assert_eq!(
            fired[23],
            (
                24,
                vec![
                    Trigger::PullResources,
                    Trigger::PullSubResources,
                    Trigger::PullQuotas,
                    Trigger::PullProperties
                ]
            )
        );
    }

    #[test]
    fn a_new_interval_restarts_only_its_own_timer() {
        let start = Instant::now();
        let mut timers = Timers::new(&config([10, 20, 30, 40]), start);
        timers.configure(&config([10, 6, 30, 40]), start + Duration::from_secs(5));
        let next: Vec<u64> = timers
            .all()
            .iter()
            .map(|t| (t.next - start).as_secs())
            .collect();
        assert_eq!(next, vec![10, 11, 30, 40]);
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_its_cap_and_resets() {
        let mut backoff = Backoff::default();
        for failure in 0..12u32 {
            let full = Backoff::BASE.saturating_mul(1 << failure).min(Backoff::MAX);
            let delay = backoff.next_delay(None);
            assert!(
                delay >= full / 2 && delay <= full,
                "failure {failure}: {delay:?} outside [{:?}, {full:?}]",
                full / 2
            );
        }
        assert_eq!(backoff.failures(), 12);
        assert!(backoff.next_delay(Some(Duration::from_secs(3600))) >= Duration::from_secs(3600));
        backoff.reset();
        assert!(backoff.next_delay(None) <= Backoff::BASE);
    }
}
