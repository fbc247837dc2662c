//! Executing a plan: a parallel walk of the step DAG, with bounded concurrency.
//!
//! Owns the order of steps, concurrency, skipping the dependents of a failed step, and
//! persisting the state after EVERY step (so a killed apply resumes with no loss). The calls
//! themselves go through an [`Executor`] (the real one wraps `resources`), which keeps this
//! module free of HTTP and lets its ordering be tested on its own. Knows nothing of TOML or
//! of how progress is printed.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::addr::Address;
use crate::graph::Graph;
use crate::plan::{ActionKind, Plan};
use crate::resources::{Observed, ObservedResource};
use crate::spec::{Desired, DesiredResource};
use crate::store::{self, AuditEntry, Record, Store};

/// address → id, known so far: the state's, plus what this apply creates.
pub type Ids = BTreeMap<Address, String>;

/// The calls an apply makes. Errors are one-line messages, already safe to print.
pub trait Executor: Sync {
    fn create(
        &self,
        res: &DesiredResource,
        ids: &Ids,
    ) -> impl Future<Output = Result<String, String>> + Send;
    fn update(
        &self,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> impl Future<Output = Result<(), String>> + Send;
    fn delete(
        &self,
        current: &ObservedResource,
        ids: &Ids,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// What one step does. A replace is two steps: delete, then create.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepOp {
    Delete,
    Create,
    Update,
}

impl StepOp {
    /// The plan action this step belongs to, for progress messages.
    fn action(self) -> ActionKind {
        match self {
            StepOp::Delete => ActionKind::Delete,
            StepOp::Create => ActionKind::Create,
            StepOp::Update => ActionKind::Update,
        }
    }
}

/// Progress, reported as it happens.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
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
        error: String,
    },
    Skipped {
        addr: Address,
        action: ActionKind,
        because: Address,
    },
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub failed: Vec<(Address, String)>,
    /// (skipped, the failed resource it waited for)
    pub skipped: Vec<(Address, Address)>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

#[derive(Clone, Debug)]
struct Step {
    addr: Address,
    op: StepOp,
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

/// Runs `plan`. Every finished step is written to `store` before the next decision, and
/// audited. Returns what happened; a failed step never aborts independent branches.
#[allow(clippy::too_many_arguments)]
pub async fn execute<E: Executor>(
    plan: &Plan,
    desired: &Desired,
    observed: &Observed,
    graph: &Graph,
    executor: &E,
    store: &Store,
    parallelism: usize,
    on_event: &(dyn Fn(Event) + Sync),
) -> Outcome {
    let (steps, preds) = steps(plan, graph);
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, ps) in preds.iter().enumerate() {
        for &p in ps {
            succs[p].push(i);
        }
    }
    let ids = Mutex::new(store.ids().unwrap_or_default());
    let mut state = vec![StepState::Waiting; steps.len()];
    let mut outcome = Outcome::default();
    let mut running = FuturesUnordered::new();
    let parallelism = parallelism.max(1);

    loop {
        // Start every ready step, up to the bound, in plan order.
        for i in 0..steps.len() {
            if running.len() >= parallelism {
                break;
            }
            if state[i] != StepState::Waiting
                || !preds[i].iter().all(|&p| state[p] == StepState::Done)
            {
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
                record_success(store, desired, observed, step, id.as_deref(), &ids);
                match step.op {
                    StepOp::Create => outcome.added += 1,
                    StepOp::Update => outcome.changed += 1,
                    StepOp::Delete => outcome.destroyed += 1,
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
                audit(store, step, None, &error);
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
    outcome
}

async fn run_step<E: Executor>(
    i: usize,
    step: Step,
    desired: &Desired,
    observed: &Observed,
    executor: &E,
    ids: Ids,
) -> (usize, Result<Option<String>, String>, Duration) {
    let started = Instant::now();
    let result = match step.op {
        StepOp::Create => match desired.get(&step.addr) {
            Some(res) => executor.create(res, &ids).await.map(Some),
            None => Err(format!("{} is not in the spec", step.addr)),
        },
        StepOp::Update => match (desired.get(&step.addr), observed.resources.get(&step.addr)) {
            (Some(res), Some(current)) => executor
                .update(res, current, &ids)
                .await
                .map(|()| Some(current.id.clone())),
            _ => Err(format!(
                "{} is not both in the spec and the cloud",
                step.addr
            )),
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

fn record_success(
    store: &Store,
    desired: &Desired,
    observed: &Observed,
    step: &Step,
    id: Option<&str>,
    ids: &Mutex<Ids>,
) {
    let write = match step.op {
        StepOp::Delete => {
            lock(ids).remove(&step.addr);
            store.remove(&step.addr)
        }
        StepOp::Create | StepOp::Update => {
            let id = id.unwrap_or_default().to_string();
            lock(ids).insert(step.addr.clone(), id.clone());
            let attrs = desired
                .get(&step.addr)
                .map(|r| r.attrs.clone())
                .or_else(|| observed.resources.get(&step.addr).map(|r| r.attrs.clone()))
                .unwrap_or_default();
            store.put(&Record {
                addr: step.addr.clone(),
                id,
                attrs,
                updated_at: store::now(),
            })
        }
    };
    if let Err(e) = write {
        // The cloud changed but the state could not record it: the next refresh adopts the
        // resource by its ownership tag, so nothing is duplicated. Say so loudly.
        tracing::error!(
            "{}: done in the cloud, but the state write failed: {e}",
            step.addr
        );
    }
    audit(store, step, id, "ok");
}

fn audit(store: &Store, step: &Step, id: Option<&str>, outcome: &str) {
    let entry = AuditEntry {
        at: store::now(),
        addr: step.addr.clone(),
        action: format!("{:?}", step.op).to_lowercase(),
        id: id.map(str::to_string),
        outcome: outcome.to_string(),
    };
    if let Err(e) = store.audit(&entry) {
        tracing::warn!("audit log write failed: {e}");
    }
}

fn skip_dependents(
    failed: usize,
    steps: &[Step],
    succs: &[Vec<usize>],
    state: &mut [StepState],
    outcome: &mut Outcome,
    on_event: &(dyn Fn(Event) + Sync),
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
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;
    use crate::graph;
    use crate::plan::fixtures::{addr, desired, observed_as_applied, resource};

    /// Records calls; fails the creates of the addresses it is told to; takes a little time
    /// per call so independent steps overlap.
    #[derive(Default)]
    struct FakeCloud {
        log: Mutex<Vec<String>>,
        fail_create: Vec<Address>,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
    }

    impl FakeCloud {
        async fn call(&self, what: String) {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            self.log.lock().unwrap().push(format!("start {what}"));
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.log.lock().unwrap().push(format!("end {what}"));
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }

        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }

        fn position(&self, entry: &str) -> usize {
            self.log()
                .iter()
                .position(|e| e == entry)
                .unwrap_or_else(|| panic!("{entry} not in {:?}", self.log()))
        }
    }

    impl Executor for FakeCloud {
        async fn create(&self, res: &DesiredResource, ids: &Ids) -> Result<String, String> {
            // Every reference must already have an id: that is what ordering is for.
            for dep in crate::resources::schema::references(res.addr.kind, &res.attrs) {
                if !ids.contains_key(&dep) {
                    return Err(format!("{} created before {dep}", res.addr));
                }
            }
            self.call(format!("create {}", res.addr)).await;
            if self.fail_create.contains(&res.addr) {
                return Err("409 Conflict: quota exceeded".to_string());
            }
            Ok(format!("new-{}", res.addr.name))
        }

        async fn update(
            &self,
            res: &DesiredResource,
            _current: &ObservedResource,
            _ids: &Ids,
        ) -> Result<(), String> {
            self.call(format!("update {}", res.addr)).await;
            Ok(())
        }

        async fn delete(&self, current: &ObservedResource, _ids: &Ids) -> Result<(), String> {
            self.call(format!("delete {}", current.addr)).await;
            Ok(())
        }
    }

    fn demo() -> Desired {
        desired(vec![
            resource("tenant.demo", json!({"name": "demo"})),
            resource("network.net", json!({"name": "net", "tenant": "demo"})),
            resource(
                "subnet.sub",
                json!({"name": "sub", "network": "net", "cidr": "10.0.0.0/24"}),
            ),
            resource(
                "router.r",
                json!({"name": "r", "tenant": "demo", "subnets": ["sub"]}),
            ),
            resource(
                "security_group.web",
                json!({"name": "web", "tenant": "demo"}),
            ),
            resource(
                "instance.vm",
                json!({"name": "vm", "tenant": "demo", "subnet": "sub",
                       "security_groups": ["web"], "flavor": "m1.tiny", "image": "cirros"}),
            ),
        ])
    }

    async fn run(
        desired: &Desired,
        observed: &Observed,
        cloud: &FakeCloud,
        store: &Store,
        parallelism: usize,
    ) -> (Outcome, Vec<Event>) {
        let graph = graph::build(desired, observed).unwrap();
        let plan = crate::plan::diff(desired, observed, &graph);
        let events = Mutex::new(Vec::new());
        let outcome = execute(
            &plan,
            desired,
            observed,
            &graph,
            cloud,
            store,
            parallelism,
            &|e| events.lock().unwrap().push(e),
        )
        .await;
        (outcome, events.into_inner().unwrap())
    }

    #[tokio::test]
    async fn creates_follow_dependencies_in_parallel_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cloud = FakeCloud::default();
        let (outcome, _) = run(&demo(), &Observed::default(), &cloud, &store, 2).await;
        assert_eq!(outcome.added, 6);
        assert!(outcome.succeeded(), "{outcome:?}");
        let end = |a: &str| cloud.position(&format!("end create {a}"));
        let start = |a: &str| cloud.position(&format!("start create {a}"));
        assert!(end("tenant.demo") < start("network.net"));
        assert!(end("subnet.sub") < start("router.r"));
        // The implicit edge: the instance waits for the router interface of its subnet.
        assert!(end("router.r") < start("instance.vm"));
        assert!(end("security_group.web") < start("instance.vm"));
        // network and security group are independent: they ran side by side, never above 2.
        assert_eq!(cloud.max_in_flight.load(Ordering::SeqCst), 2);
        let ids = store.ids().unwrap();
        assert_eq!(ids.len(), 6);
        assert_eq!(ids[&addr("instance.vm")], "new-vm");
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_and_independent_branches_finish() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cloud = FakeCloud {
            fail_create: vec![addr("network.net")],
            ..FakeCloud::default()
        };
        let (outcome, events) = run(&demo(), &Observed::default(), &cloud, &store, 4).await;
        assert_eq!(
            outcome.failed,
            [(
                addr("network.net"),
                "409 Conflict: quota exceeded".to_string()
            )]
        );
        let mut skipped: Vec<String> = outcome.skipped.iter().map(|(a, _)| a.to_string()).collect();
        skipped.sort();
        assert_eq!(skipped, ["instance.vm", "router.r", "subnet.sub"]);
        assert!(
            outcome
                .skipped
                .iter()
                .all(|(_, b)| *b == addr("network.net"))
        );
        // The state holds exactly what exists.
        let recorded: Vec<String> = store.ids().unwrap().keys().map(|a| a.to_string()).collect();
        assert_eq!(recorded, ["tenant.demo", "security_group.web"]);
        assert!(events.contains(&Event::Skipped {
            addr: addr("instance.vm"),
            action: ActionKind::Create,
            because: addr("network.net"),
        }));
        let log = store.audit_log().unwrap();
        assert!(
            log.iter()
                .any(|e| e.addr == addr("network.net")
                    && e.outcome == "409 Conflict: quota exceeded")
        );
    }

    #[tokio::test]
    async fn a_replacement_deletes_dependents_first_and_recreates_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let before = demo();
        let observed = observed_as_applied(&before);
        for (a, r) in &observed.resources {
            store
                .put(&Record {
                    addr: a.clone(),
                    id: r.id.clone(),
                    attrs: r.attrs.clone(),
                    updated_at: store::now(),
                })
                .unwrap();
        }
        let mut after = demo();
        let sub = after.resources.get_mut(&addr("subnet.sub")).unwrap();
        sub.attrs.insert("cidr".into(), json!("10.0.1.0/24"));
        let cloud = FakeCloud::default();
        let (outcome, _) = run(&after, &observed, &cloud, &store, 4).await;
        assert!(outcome.succeeded(), "{outcome:?}");
        assert_eq!(
            (outcome.added, outcome.changed, outcome.destroyed),
            (2, 1, 2)
        );
        let p = |e: &str| cloud.position(e);
        assert!(p("end delete instance.vm") < p("start delete subnet.sub"));
        assert!(p("end delete subnet.sub") < p("start create subnet.sub"));
        assert!(p("end create subnet.sub") < p("start update router.r"));
        assert!(p("end update router.r") < p("start create instance.vm"));
        let ids = store.ids().unwrap();
        assert_eq!(ids[&addr("subnet.sub")], "new-sub");
        assert_eq!(ids[&addr("instance.vm")], "new-vm");
        assert_eq!(ids[&addr("network.net")], "id-net", "untouched");
    }

    #[tokio::test]
    async fn removed_resources_are_deleted_dependents_first_and_leave_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let observed = observed_as_applied(&demo());
        let empty = desired(vec![]);
        let cloud = FakeCloud::default();
        let (outcome, _) = run(&empty, &observed, &cloud, &store, 3).await;
        assert_eq!(outcome.destroyed, 6);
        let p = |a: &str| cloud.position(&format!("end delete {a}"));
        let s = |a: &str| cloud.position(&format!("start delete {a}"));
        assert!(p("instance.vm") < s("router.r"));
        assert!(p("instance.vm") < s("security_group.web"));
        assert!(p("router.r") < s("subnet.sub"));
        assert!(p("subnet.sub") < s("network.net"));
        assert!(p("network.net") < s("tenant.demo"));
        assert!(store.ids().unwrap().is_empty());
    }
}
