//! The daemon, `stackform watch`: keeps the cloud in the shape of the spec continuously. It
//! reconciles on every saved spec file (debounced), on the pull timers of the `[watch]` table
//! (drift: corrected in apply mode, reported in plan mode), and after a retryable failure
//! (jittered exponential backoff) — one reconcile at a time, on the state it holds locked for
//! its whole life. An invalid edit is reported with the located error `plan` prints and the
//! last good spec stays enforced. `/healthz`, `/readyz` and `/status` answer on `--listen`.
//! SIGTERM or SIGINT: the reconcile in flight finishes (the state is written after every
//! step), then the daemon exits 0; a second signal exits at once.
//!
//! Layout: `trigger` (file watcher, timers, backoff), `reconcile` (one plan/apply on the
//! `ops` core), `status` (the shared status and its HTTP server). Knows no resource kind.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use crate::ops::{OpsError, Workspace, watch::Held};
use crate::spec::{self, Desired};

pub mod reconcile;
pub mod status;
pub mod trigger;

pub use reconcile::Mode;
use reconcile::Reconciled;
use status::{SharedStatus, Status, TimerStatus};
use trigger::{Backoff, SpecWatcher, Timers, Trigger};

/// Where the daemon's lines go (the CLI prints them).
pub trait Log: Send + Sync {
    /// Progress and plans (standard output).
    fn info(&self, text: &str);
    /// Errors, spec diagnostics included (standard error).
    fn error(&self, text: &str);
}

#[derive(Clone, Debug)]
pub struct Options {
    pub ws: Workspace,
    pub mode: Mode,
    pub listen: SocketAddr,
    /// One full reconcile, then exit.
    pub once: bool,
    pub color: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Ops(#[from] OpsError),
    #[error("cannot serve the status endpoints on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot watch the spec folder {}: {source}", dir.display())]
    Watch {
        dir: std::path::PathBuf,
        source: notify::Error,
    },
    #[error("cannot listen for signals: {0}")]
    Signals(std::io::Error),
}

/// Runs the daemon until a signal (or, with `--once`, for one reconcile). Returns whether the
/// last reconcile succeeded (`--once`'s exit code); a daemon stopped by a signal succeeded.
pub async fn run(options: Options, log: Arc<dyn Log>) -> Result<bool, WatchError> {
    let held = Held::open(&options.ws).await?;
    if options.once {
        return Ok(once(held, &options, log.as_ref()).await);
    }
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| WatchError::Listen {
            addr: options.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(|source| WatchError::Listen {
        addr: options.listen,
        source,
    })?;
    let watcher = SpecWatcher::start(&options.ws.specs).map_err(|source| WatchError::Watch {
        dir: options.ws.specs.clone(),
        source,
    })?;
    let shutdown = shutdown_signals()?;
    let status: SharedStatus = Arc::new(Mutex::new(Status {
        mode: options.mode.as_str(),
        pid: std::process::id(),
        started_at: crate::store::now(),
        ..Status::default()
    }));
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(status::serve(listener, status.clone(), async move {
        let _ = server_stopped.await;
    }));
    log.info(&format!(
        "stackform watch: {} mode, spec folder {}, status on http://{bound}",
        options.mode.as_str(),
        options.ws.specs.display()
    ));
    let mut daemon = Daemon {
        held,
        options,
        log,
        status,
        last_good: None,
        timers: Timers::new(&spec::WatchConfig::default(), Instant::now()),
        backoff: Backoff::default(),
        retry_at: None,
    };
    daemon.run(watcher, shutdown).await;
    daemon.log.info("stackform watch: stopped");
    daemon.held.close().await;
    let _ = stop_server.send(());
    let _ = server.await;
    Ok(true)
}

/// `--once`: the spec as it is now, every pull at once (catalogs too), then exit.
async fn once(mut held: Held, options: &Options, log: &dyn Log) -> bool {
    let desired = match spec::load(&options.ws.specs) {
        Ok(desired) => desired,
        Err(diags) => {
            log.error(diags.render(options.color).trim_end());
            held.close().await;
            return false;
        }
    };
    warn(&desired, options.color, log);
    let done = reconcile::reconcile(
        &mut held,
        pull_everything(desired),
        options.mode,
        log,
        options.color,
    )
    .await;
    held.close().await;
    done.succeeded()
}

/// A pull of the properties reads the catalogs again, whatever their age.
fn pull_everything(mut desired: Desired) -> Desired {
    desired.provider.catalog_max_age_secs = 0;
    desired
}

fn warn(desired: &Desired, color: bool, log: &dyn Log) {
    if !desired.warnings.is_empty() {
        log.error(desired.warnings.render(color).trim_end());
    }
}

/// Resolves on the first SIGTERM or SIGINT; a second one exits the process at once (status
/// 130, as a shell reports an interrupted command): the state is written after every step, so
/// the next run resumes from the last one recorded.
fn shutdown_signals() -> Result<tokio::sync::oneshot::Receiver<()>, WatchError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(WatchError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(WatchError::Signals)?;
    let (first, received) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        let _ = first.send(());
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        eprintln!("stackform watch: second signal, exiting at once");
        std::process::exit(130);
    });
    Ok(received)
}

struct Daemon {
    held: Held,
    options: Options,
    log: Arc<dyn Log>,
    status: SharedStatus,
    /// The spec being enforced: the last one that loaded and planned.
    last_good: Option<Desired>,
    timers: Timers,
    backoff: Backoff,
    retry_at: Option<Instant>,
}

impl Daemon {
    async fn run(
        &mut self,
        mut watcher: SpecWatcher,
        mut shutdown: tokio::sync::oneshot::Receiver<()>,
    ) {
        self.on_spec(Trigger::Start).await;
        loop {
            self.publish_timers();
            let next_timer = self.timers.next();
            let retry_at = self.retry_at;
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    self.log.info("stackform watch: signal received, stopping");
                    return;
                }
                () = watcher.changed(trigger::DEBOUNCE) => self.on_spec(Trigger::SpecChange).await,
                () = tokio::time::sleep_until(next_timer) => {
                    let due = self.timers.fire(Instant::now());
                    if let Some(first) = due.first() {
                        self.on_pull(*first).await;
                    }
                }
                () = sleep_until_some(retry_at) => {
                    self.retry_at = None;
                    self.on_pull(Trigger::Retry).await;
                }
            }
        }
    }

    /// The spec folder changed (or the daemon starts): load it; an invalid one is reported and
    /// the last good one stays.
    async fn on_spec(&mut self, trigger: Trigger) {
        self.log.info(&format!(
            "stackform watch: reconcile ({})",
            trigger.as_str()
        ));
        let desired = match spec::load(&self.options.ws.specs) {
            Ok(desired) => desired,
            Err(diags) => {
                self.log.error(diags.render(self.options.color).trim_end());
                self.log.info(&format!(
                    "stackform watch: the spec is invalid; nothing applied, {}",
                    if self.last_good.is_some() {
                        "the last good spec stays enforced"
                    } else {
                        "waiting for a valid one"
                    }
                ));
                let error = diags.render(false);
                self.record(trigger, invalid(error.clone()), false);
                let mut s = self.status();
                s.spec_error = Some(error);
                return;
            }
        };
        warn(&desired, self.options.color, self.log.as_ref());
        self.timers.configure(&desired.watch, Instant::now());
        let done = self.reconcile(trigger, desired.clone()).await;
        if done.invalid_spec {
            self.log.info("stackform watch: the spec does not fit the cloud; nothing applied, the last good spec stays enforced");
            if let Some(previous) = &self.last_good {
                self.timers.configure(&previous.watch, Instant::now());
            }
            self.status().spec_error = done.last.error.clone();
        } else {
            self.last_good = Some(desired);
            let mut s = self.status();
            s.spec_loaded = true;
            s.spec_error = None;
        }
        self.record(trigger, done.last.clone(), done.cloud_reachable);
        self.after(&done);
    }

    /// A pull timer or a retry: the last good spec, refreshed against the cloud.
    async fn on_pull(&mut self, trigger: Trigger) {
        let Some(desired) = self.last_good.clone() else {
            return;
        };
        self.log.info(&format!(
            "stackform watch: reconcile ({})",
            trigger.as_str()
        ));
        let desired = if trigger == Trigger::PullProperties {
            pull_everything(desired)
        } else {
            desired
        };
        let done = self.reconcile(trigger, desired).await;
        // Kept until a later pull finds drift again: a pull that finds none (often the one
        // right after a correction) does not hide what was found.
        if trigger.is_pull() && done.succeeded() && !done.drift.is_empty() {
            let mut s = self.status();
            s.drift = done.drift.clone();
            s.drift_found_at = Some(done.last.started_at.clone());
            s.drift_corrected = self.options.mode == Mode::Apply;
        }
        if !done.drift.is_empty() && trigger.is_pull() {
            self.log.info(&format!(
                "stackform watch: drift found: {} change(s) {}",
                done.drift.len(),
                match self.options.mode {
                    Mode::Apply => "corrected",
                    Mode::Plan => "reported, not applied (plan mode)",
                }
            ));
        }
        self.record(trigger, done.last.clone(), done.cloud_reachable);
        self.after(&done);
    }

    async fn reconcile(&mut self, trigger: Trigger, desired: Desired) -> Reconciled {
        self.status().reconciling = Some(trigger.as_str());
        let done = reconcile::reconcile(
            &mut self.held,
            desired,
            self.options.mode,
            self.log.as_ref(),
            self.options.color,
        )
        .await;
        self.log.info(&format!(
            "stackform watch: reconcile ({}) {} in {} ms",
            trigger.as_str(),
            done.last.result,
            done.last.duration_ms
        ));
        done
    }

    /// The retry decision: backoff after a retryable failure, none otherwise.
    fn after(&mut self, done: &Reconciled) {
        if done.succeeded() {
            self.backoff.reset();
            self.retry_at = None;
        } else if done.retryable {
            let delay = self.backoff.next_delay(done.retry_after);
            self.log.info(&format!(
                "stackform watch: retrying in {} s (failure {})",
                delay.as_secs(),
                self.backoff.failures()
            ));
            self.retry_at = Some(Instant::now() + delay);
        } else {
            // Terminal: trying again unchanged would fail the same way; the next edit or pull
            // tries again.
            self.retry_at = None;
        }
        self.status().retry_at = self.retry_at.map(wall_time);
    }

    fn record(&self, trigger: Trigger, last: status::LastReconcile, reachable: bool) {
        let mut s = self.status();
        s.reconciling = None;
        s.reconciles += 1;
        if last.result != "invalid-spec" {
            s.cloud_reachable = reachable;
        }
        s.last.insert(trigger.as_str(), last);
    }

    fn publish_timers(&self) {
        let timers = self
            .timers
            .all()
            .iter()
            .map(|t| {
                (
                    t.trigger.as_str(),
                    TimerStatus {
                        every_secs: t.every.as_secs(),
                        next_at: wall_time(t.next),
                    },
                )
            })
            .collect();
        self.status().timers = timers;
    }

    fn status(&self) -> std::sync::MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn invalid(error: String) -> status::LastReconcile {
    status::LastReconcile {
        started_at: crate::store::now(),
        duration_ms: 0,
        result: "invalid-spec",
        added: 0,
        changed: 0,
        destroyed: 0,
        error: Some(error),
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A tokio instant as the wall-clock time it falls on (RFC 3339, UTC).
fn wall_time(at: Instant) -> String {
    let ahead = at.saturating_duration_since(Instant::now());
    let ahead = chrono::Duration::from_std(ahead).unwrap_or(chrono::Duration::zero());
    (chrono::Utc::now() + ahead).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
