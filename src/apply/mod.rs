//! Executing a plan: a parallel walk of the step DAG, with bounded concurrency.
//!
//! Owns the order of steps, concurrency, skipping the dependents of a failed step, and
//! persisting the state after EVERY step, each as one atomic [`StateStore::commit`] of the
//! record and its audit entry (so a killed apply resumes with no loss). The calls themselves
//! go through an [`Executor`] (the real one wraps `resources`), which keeps this module free
//! of HTTP and lets its ordering be tested on its own. Failures stay typed ([`StepError`]) up
//! to whoever prints them or decides to retry. Knows nothing of TOML, of how progress is
//! printed, or of which state backend is in use.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::addr::Address;
use crate::graph::Graph;
use crate::plan::{ActionKind, Plan};
use crate::resources::{self, Observed, ObservedResource};
use crate::spec::{Desired, DesiredResource};
use crate::store::{self, AuditEntry, Change, Record, StateStore, StepWrite, StoreError};

/// address → id, known so far: the state's, plus what this apply creates.
pub type Ids = BTreeMap<Address, String>;

/// The calls an apply makes.
pub trait Executor: Sync {
    /// Why a call failed. Its display is one line, safe to print (no secrets). Cloned into both
    /// the progress event and the outcome, so it should be cheap to clone.
    type Error: Clone + fmt::Display + From<Mismatch> + Send;

    fn create(
        &self,
        res: &DesiredResource,
        ids: &Ids,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
    fn update(
        &self,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    fn delete(
        &self,
        current: &ObservedResource,
        ids: &Ids,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// What the cloud decided at the create of `addr` that its kind shows (a floating IP's
    /// address), as the create's reply said it.
    fn created_shown(&self, _addr: &Address) -> crate::spec::Attrs {
        crate::spec::Attrs::new()
    }
}

/// A step the engine cannot run because the plan, the spec and the cloud disagree (a plan
/// made from other inputs than the ones given).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Mismatch {
    #[error("{0} is not in the spec")]
    NotInSpec(Address),
    #[error("{0} is not both in the spec and the cloud")]
    NotInSpecAndCloud(Address),
}

/// Why a step of a real apply failed: the cloud call's typed error (shared, since the progress
/// event and the outcome both carry it), or a [`Mismatch`].
#[derive(Clone, Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Cloud(Arc<resources::Error>),
    #[error(transparent)]
    Mismatch(#[from] Mismatch),
}

impl From<resources::Error> for StepError {
    fn from(e: resources::Error) -> Self {
        StepError::Cloud(Arc::new(e))
    }
}

impl StepError {
    /// The cloud's error, when the step got as far as calling it.
    pub fn cloud(&self) -> Option<&resources::Error> {
        match self {
            StepError::Cloud(e) => Some(e),
            StepError::Mismatch(_) => None,
        }
    }

    /// Worth running again later, unchanged: the cloud was briefly unable, not wrong.
    pub fn is_retryable(&self) -> bool {
        self.cloud().is_some_and(resources::Error::is_retryable)
    }

    /// The call may have been carried out: what it made is adopted by its tag before any retry.
    pub fn is_unknown_outcome(&self) -> bool {
        self.cloud()
            .is_some_and(resources::Error::is_unknown_outcome)
    }

    /// The delay the service asked for before the next try.
    pub fn retry_after(&self) -> Option<Duration> {
        self.cloud().and_then(resources::Error::retry_after)
    }

    /// The service's request id, for the operator to quote.
    pub fn request_id(&self) -> Option<&str> {
        self.cloud().and_then(resources::Error::request_id)
    }
}

/// What one step does. A replace is two steps: delete, then create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepOp {
    Delete,
    Create,
    Update,
    /// The follow-up of a create or update: sets the parts of attributes left out because
    /// what they name did not exist yet (the plan's [`crate::plan::Deferred`]).
    Complete,
}

impl StepOp {
    /// The plan action this step belongs to, for progress messages.
    fn action(self) -> ActionKind {
        match self {
            StepOp::Delete => ActionKind::Delete,
            StepOp::Create => ActionKind::Create,
            StepOp::Update | StepOp::Complete => ActionKind::Update,
        }
    }
}

/// Progress, reported as it happens.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<E = StepError> {
    Started {
        addr: Address,
        action: ActionKind,
    },
    Done {
        addr: Address,
        action: ActionKind,
        id: Option<String>,
        elapsed: Duration,
    },
    Failed {
        addr: Address,
        action: ActionKind,
        error: E,
    },
    Skipped {
        addr: Address,
        action: ActionKind,
        because: Address,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Outcome<E = StepError> {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub failed: Vec<(Address, E)>,
    /// (skipped, the failed resource it waited for)
    pub skipped: Vec<(Address, Address)>,
    /// Done in the cloud, but the state could not record it (the next refresh adopts them
    /// by their ownership tags).
    pub unrecorded: Vec<Address>,
}

// Not derived: a derive would ask `E: Default`, which no error needs to be.
impl<E> Default for Outcome<E> {
    fn default() -> Self {
        Outcome {
            added: 0,
            changed: 0,
            destroyed: 0,
            failed: Vec::new(),
            skipped: Vec::new(),
            unrecorded: Vec::new(),
        }
    }
}

impl<E> Outcome<E> {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && self.unrecorded.is_empty()
    }
}

#[derive(Clone, Debug)]
struct Step {
    addr: Address,
    op: StepOp,
    /// For [`StepOp::Complete`]: the attributes its create or update left incomplete.
    deferred: Vec<String>,
}

/// The step DAG: deletes first (dependents before their dependencies), then creates and updates
/// (dependencies before dependents). Deleting everything that goes before creating anything
/// keeps quotas and names free for the new resources, and a replaced resource's dependents are
/// gone before it is.
fn steps(plan: &Plan, graph: &Graph) -> (Vec<Step>, Vec<Vec<usize>>) {
    let mut list = Vec::new();
    for action in &plan.actions {
        let ops: &[StepOp] = match action.kind {
            ActionKind::Create => &[StepOp::Create],
            ActionKind::Update => &[StepOp::Update],
            ActionKind::Delete => &[StepOp::Delete],
            ActionKind::Replace => &[StepOp::Delete, StepOp::Create],
        };
        for &op in ops {
            list.push(Step {
                addr: action.addr.clone(),
                op,
                deferred: Vec::new(),
            });
        }
        if !action.deferred.is_empty() {
            let mut deferred: Vec<String> =
                action.deferred.iter().map(|d| d.attr.clone()).collect();
            deferred.dedup();
            list.push(Step {
                addr: action.addr.clone(),
                op: StepOp::Complete,
                deferred,
            });
        }
    }
    let index: BTreeMap<(Address, StepOp), usize> = list
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.addr.clone(), s.op), i))
        .collect();
    let deletes: Vec<usize> = (0..list.len())
        .filter(|&i| list[i].op == StepOp::Delete)
        .collect();
    let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); list.len()];
    for (i, step) in list.iter().enumerate() {
        let deps = graph.dependencies(&step.addr);
        match step.op {
            StepOp::Delete => {
                // A resource goes only after everything that depends on it is gone.
                for dependent in graph.dependents(&step.addr) {
                    if let Some(&j) = index.get(&(dependent, StepOp::Delete)) {
                        preds[i].insert(j);
                    }
                }
            }
            StepOp::Complete => {
                // After the resource's own step and the creates of what it names. Its
                // dependents do not wait for it: one of them may be what it waits for.
                for op in [StepOp::Create, StepOp::Update] {
                    preds[i].extend(index.get(&(step.addr.clone(), op)));
                }
                let action = plan.actions.iter().filter(|a| a.addr == step.addr);
                for deferred in action.flat_map(|a| &a.deferred) {
                    preds[i].extend(index.get(&(deferred.until.clone(), StepOp::Create)));
                }
            }
            StepOp::Create | StepOp::Update => {
                preds[i].extend(deletes.iter().copied());
                for dep in deps {
                    for op in [StepOp::Create, StepOp::Update] {
                        if let Some(&j) = index.get(&(dep.clone(), op)) {
                            preds[i].insert(j);
                        }
                    }
                }
            }
        }
    }
    (
        list,
        preds.into_iter().map(|p| p.into_iter().collect()).collect(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepState {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// Runs `plan`. Every finished step is committed to `store` with its audit entry, in one
/// atomic write, before the next decision. At most `steps_in_flight` steps run at once; the
/// calls they make are bounded by the cloud itself (a step waiting for a build makes none).
/// Ready steps start longest-chain first, so that what others wait for, and slow builds, get
/// going early. Returns what happened; a failed step never aborts independent branches. Fails
/// before any call if the state cannot be read.
#[allow(clippy::too_many_arguments)]
pub async fn execute<E: Executor>(
    plan: &Plan,
    desired: &Desired,
    observed: &Observed,
    graph: &Graph,
    executor: &E,
    store: &dyn StateStore,
    steps_in_flight: usize,
    on_event: &(dyn Fn(Event<E::Error>) + Sync),
) -> Result<Outcome<E::Error>, StoreError> {
    let (steps, preds) = steps(plan, graph);
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, ps) in preds.iter().enumerate() {
        for &p in ps {
            succs[p].push(i);
        }
    }
    let rank = chain_ranks(&steps, &succs);
    // An unreadable state must stop the apply: starting from an empty map would create
    // again what the state already holds.
    let ids = Mutex::new(store.ids().await?);
    let mut state = vec![StepState::Waiting; steps.len()];
    let mut unfinished_preds: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<(u32, Reverse<usize>)> = (0..steps.len())
        .filter(|&i| unfinished_preds[i] == 0)
        .map(|i| (rank[i], Reverse(i)))
        .collect();
    let mut outcome = Outcome::default();
    let mut running = FuturesUnordered::new();
    let steps_in_flight = steps_in_flight.max(1);

    loop {
        while running.len() < steps_in_flight {
            let Some((_, Reverse(i))) = ready.pop() else {
                break;
            };
            if state[i] != StepState::Waiting {
                continue;
            }
            state[i] = StepState::Running;
            let step = steps[i].clone();
            on_event(Event::Started {
                addr: step.addr.clone(),
                action: step.op.action(),
            });
            let snapshot = lock(&ids).clone();
            running.push(run_step(i, step, desired, observed, executor, snapshot));
        }
        let Some((i, result, elapsed)) = running.next().await else {
            break;
        };
        let step = &steps[i];
        let action = step.op.action();
        match result {
            Ok(id) => {
                state[i] = StepState::Done;
                for &next in &succs[i] {
                    unfinished_preds[next] -= 1;
                    if unfinished_preds[next] == 0 {
                        ready.push((rank[next], Reverse(next)));
                    }
                }
                let created = match step.op {
                    StepOp::Create => executor.created_shown(&step.addr),
                    _ => crate::spec::Attrs::new(),
                };
                let recorded =
                    record_success(store, desired, observed, step, id.as_deref(), &ids, created);
                if !recorded.await {
                    outcome.unrecorded.push(step.addr.clone());
                }
                match step.op {
                    StepOp::Create => outcome.added += 1,
                    StepOp::Update => outcome.changed += 1,
                    StepOp::Delete => outcome.destroyed += 1,
                    // Part of the create or update counted already.
                    StepOp::Complete => {}
                }
                on_event(Event::Done {
                    addr: step.addr.clone(),
                    action,
                    id,
                    elapsed,
                });
            }
            Err(error) => {
                state[i] = StepState::Failed;
                let write = StepWrite {
                    change: Change::None,
                    audit: audit_entry(step, None, &error.to_string()),
                };
                if let Err(e) = store.commit(&write).await {
                    tracing::warn!("audit log write failed: {e}");
                }
                outcome.failed.push((step.addr.clone(), error.clone()));
                on_event(Event::Failed {
                    addr: step.addr.clone(),
                    action,
                    error,
                });
                skip_dependents(i, &steps, &succs, &mut state, &mut outcome, on_event);
            }
        }
    }
    Ok(outcome)
}

/// Each step's priority: the length of the longest chain of steps that wait for it, itself
/// included, where a create that waits for a slow transition (a server's build) counts more.
fn chain_ranks(steps: &[Step], succs: &[Vec<usize>]) -> Vec<u32> {
    let weight = |step: &Step| {
        let slow = step.op == StepOp::Create && !step.addr.kind.schema().settling.is_empty();
        if slow { 4 } else { 1 }
    };
    let mut rank: Vec<Option<u32>> = vec![None; steps.len()];
    for start in 0..steps.len() {
        // Iterative post-order: the DAG of a large plan is deeper than a thread's stack likes.
        let mut stack = vec![(start, false)];
        while let Some((i, expanded)) = stack.pop() {
            if rank[i].is_some() {
                continue;
            }
            if expanded {
                let longest = succs[i].iter().filter_map(|&n| rank[n]).max().unwrap_or(0);
                rank[i] = Some(weight(&steps[i]) + longest);
            } else {
                stack.push((i, true));
                stack.extend(
                    succs[i]
                        .iter()
                        .filter(|&&n| rank[n].is_none())
                        .map(|&n| (n, false)),
                );
            }
        }
    }
    rank.into_iter().map(Option::unwrap_or_default).collect()
}

async fn run_step<E: Executor>(
    i: usize,
    step: Step,
    desired: &Desired,
    observed: &Observed,
    executor: &E,
    ids: Ids,
) -> (usize, Result<Option<String>, E::Error>, Duration) {
    let started = Instant::now();
    let result = match step.op {
        StepOp::Create => match desired.get(&step.addr) {
            Some(res) => executor.create(res, &ids).await.map(Some),
            None => Err(Mismatch::NotInSpec(step.addr.clone()).into()),
        },
        StepOp::Update => match (desired.get(&step.addr), observed.resources.get(&step.addr)) {
            (Some(res), Some(current)) => executor
                .update(res, current, &ids)
                .await
                .map(|()| Some(current.id.clone())),
            _ => Err(Mismatch::NotInSpecAndCloud(step.addr.clone()).into()),
        },
        StepOp::Complete => match (desired.get(&step.addr), ids.get(&step.addr)) {
            (Some(res), Some(id)) => {
                // The resource as its create or update left it: all but the deferred parts.
                let mut attrs = res.attrs.clone();
                attrs.retain(|attr, _| !step.deferred.contains(attr));
                let current = ObservedResource {
                    addr: step.addr.clone(),
                    id: id.clone(),
                    attrs,
                    status: None,
                };
                executor
                    .update(res, &current, &ids)
                    .await
                    .map(|()| Some(id.clone()))
            }
            _ => Err(Mismatch::NotInSpec(step.addr.clone()).into()),
        },
        StepOp::Delete => match observed.resources.get(&step.addr) {
            Some(current) => executor
                .delete(current, &ids)
                .await
                .map(|()| Some(current.id.clone())),
            None => Ok(None),
        },
    };
    (i, result, started.elapsed())
}

/// Commits a finished step; false when the state could not record it.
async fn record_success(
    store: &dyn StateStore,
    desired: &Desired,
    observed: &Observed,
    step: &Step,
    id: Option<&str>,
    ids: &Mutex<Ids>,
    created_shown: crate::spec::Attrs,
) -> bool {
    let change = match step.op {
        StepOp::Delete => {
            lock(ids).remove(&step.addr);
            Change::Remove(step.addr.clone())
        }
        StepOp::Create | StepOp::Update | StepOp::Complete => {
            let id = id.unwrap_or_default().to_string();
            lock(ids).insert(step.addr.clone(), id.clone());
            let seen = observed.resources.get(&step.addr);
            let mut attrs = desired
                .get(&step.addr)
                .map(|r| r.attrs.clone())
                .or_else(|| seen.map(|r| r.attrs.clone()))
                .unwrap_or_default();
            // What the cloud decided and the kind shows (a floating address): from the
            // create's reply, else as last seen (a replaced resource's old value is not its).
            for attr in step.addr.kind.schema().shown {
                let value = match step.op {
                    StepOp::Create => created_shown.get(*attr),
                    _ => seen.and_then(|r| r.attrs.get(*attr)),
                };
                if let Some(value) = value
                    && !attrs.contains_key(*attr)
                {
                    attrs.insert(attr.to_string(), value.clone());
                }
            }
            Change::Put(Record {
                addr: step.addr.clone(),
                id,
                attrs,
                updated_at: store::now(),
            })
        }
    };
    let write = StepWrite {
        change,
        audit: audit_entry(step, id, "ok"),
    };
    match store.commit(&write).await {
        Ok(()) => true,
        Err(e) => {
            // The cloud changed but the state could not record it: the next refresh adopts
            // the resource by its ownership tag, so nothing is duplicated. Say so loudly.
            tracing::error!(
                "{}: done in the cloud, but the state write failed: {e}",
                step.addr
            );
            false
        }
    }
}

fn audit_entry(step: &Step, id: Option<&str>, outcome: &str) -> AuditEntry {
    AuditEntry {
        at: store::now(),
        addr: step.addr.clone(),
        action: format!("{:?}", step.op).to_lowercase(),
        id: id.map(str::to_string),
        outcome: outcome.to_string(),
    }
}

fn skip_dependents<E>(
    failed: usize,
    steps: &[Step],
    succs: &[Vec<usize>],
    state: &mut [StepState],
    outcome: &mut Outcome<E>,
    on_event: &(dyn Fn(Event<E>) + Sync),
) {
    let because = steps[failed].addr.clone();
    let mut stack = succs[failed].clone();
    while let Some(i) = stack.pop() {
        if state[i] != StepState::Waiting {
            continue;
        }
        state[i] = StepState::Skipped;
        outcome
            .skipped
            .push((steps[i].addr.clone(), because.clone()));
        on_event(Event::Skipped {
            addr: steps[i].addr.clone(),
            action: steps[i].op.action(),
            because: because.clone(),
        });
        stack.extend(succs[i].iter().copied());
    }
}

fn lock(ids: &Mutex<Ids>) -> std::sync::MutexGuard<'_, Ids> {
    // A panic while holding this lock cannot leave the map half-updated (single inserts), so
    // a poisoned lock is still good data.
    ids.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
