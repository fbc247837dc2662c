//! Operations: the plan, apply and destroy workflows, tying together the spec, the state, the
//! cloud connection, refresh, the planner and the executor (like cargo's `ops`).
//!
//! The CLI calls these and prints; nothing here prints. The order of a run is fixed: load and
//! validate the spec (no network), open the state (lock), connect, refresh, check the spec
//! against the cloud (flavors, images, quotas), build the graph, diff. Only then may `apply`
//! write anything, so an invalid spec changes nothing.

use std::path::PathBuf;
use std::time::Duration;

use crate::apply::{self, Event, Executor, Ids, Outcome};
use crate::diag::Diagnostics;
use crate::graph::{self, Graph};
use crate::openstack::{AuthConfig, Cloud, Secret};
use crate::plan::{self, ActionKind, Plan, Reason};
use crate::resources::{self, Context, Observed, ObservedResource};
use crate::sim::{self, Sim, SimConfig, SimHandle};
use crate::spec::{self, CloudChoice, Desired, DesiredResource};
use crate::store::{self, Record, Store, StoreError};

/// Where a run reads its spec and keeps its state.
#[derive(Clone, Debug)]
pub struct Workspace {
    pub specs: PathBuf,
    pub state: PathBuf,
}

impl Workspace {
    /// The embedded cloud's data lives beside the state it belongs to.
    pub fn embedded_cloud_dir(&self) -> PathBuf {
        self.state.join("cloud")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The spec is invalid; every problem, located.
    #[error("{0}")]
    Spec(Diagnostics),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Connecting to or talking to the cloud failed (one line).
    #[error("{0}")]
    Cloud(String),
}

pub type Result<T, E = OpsError> = std::result::Result<T, E>;

/// What to plan for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Make the cloud match the spec.
    Converge,
    /// Remove everything the state manages.
    Destroy,
}

/// A connected, refreshed, planned run, ready to apply.
pub struct Planned {
    pub desired: Desired,
    pub observed: Observed,
    pub graph: Graph,
    pub plan: Plan,
    pub store: Store,
    pub connection: Connection,
}

/// The cloud a run talks to; owns the embedded cloud while it runs.
pub struct Connection {
    pub context: Context,
    embedded: Option<SimHandle>,
}

impl Connection {
    /// Stops the embedded cloud, if this run started one.
    pub async fn close(self) {
        if let Some(handle) = self.embedded {
            handle.stop().await;
        }
    }
}

/// Loads and validates the spec only: no state, no network.
pub fn validate(ws: &Workspace) -> Result<Desired> {
    spec::load(&ws.specs).map_err(OpsError::Spec)
}

/// Everything up to the plan. Writes nothing to the cloud; writes to the state only when
/// `adopt` is set (apply), to record resources found by their ownership tags.
pub async fn plan(ws: &Workspace, goal: Goal) -> Result<Planned> {
    let mut desired = validate(ws)?;
    if goal == Goal::Destroy {
        desired.resources.clear();
    }
    let store = Store::open(&ws.state)?;
    let lineage = store.lineage()?;
    let connection = connect(ws, &desired, lineage).await?;
    match plan_with(desired, store, connection).await {
        Ok(planned) => Ok(planned),
        Err((e, connection)) => {
            connection.close().await;
            Err(e)
        }
    }
}

async fn plan_with(
    desired: Desired,
    store: Store,
    connection: Connection,
) -> std::result::Result<Planned, (OpsError, Connection)> {
    let known = match store.ids() {
        Ok(ids) => ids,
        Err(e) => return Err((e.into(), connection)),
    };
    let observed = match resources::refresh(&connection.context, &known).await {
        Ok(o) => o,
        Err(e) => return Err((OpsError::Cloud(e.to_string()), connection)),
    };
    let mut problems = plan::check(&desired, &observed);
    let graph = match graph::build(&desired, &observed) {
        Ok(g) => Some(g),
        Err(d) => {
            problems.0.extend(d.0);
            None
        }
    };
    let Some(graph) = graph.filter(|_| !problems.has_errors()) else {
        return Err((OpsError::Spec(problems), connection));
    };
    let mut plan = plan::diff(&desired, &observed, &graph);
    explain_recreations(&mut plan, &known);
    Ok(Planned {
        desired,
        observed,
        graph,
        plan,
        store,
        connection,
    })
}

/// A create of something the state records was deleted behind stackform's back: say so,
/// since `diff` sees only spec and cloud.
fn explain_recreations(plan: &mut Plan, known: &Ids) {
    for action in &mut plan.actions {
        if action.kind == ActionKind::Create && known.contains_key(&action.addr) {
            action.reason = Reason::DeletedOutsideStackform;
        }
    }
}

/// Connects to the cloud the provider names, starting the embedded one if asked.
async fn connect(ws: &Workspace, desired: &Desired, lineage: String) -> Result<Connection> {
    let provider = &desired.provider;
    let (auth, embedded) = match &provider.cloud {
        CloudChoice::Embedded => {
            let handle = Sim::start_on_loopback(SimConfig {
                data_dir: Some(ws.embedded_cloud_dir()),
                ..SimConfig::default()
            })
            .await
            .map_err(|e| OpsError::Cloud(format!("embedded cloud: {e}")))?;
            (embedded_auth(&handle.auth_url), Some(handle))
        }
        CloudChoice::Environment => (
            AuthConfig::from_env().map_err(|e| OpsError::Cloud(e.to_string()))?,
            None,
        ),
        CloudChoice::CloudsYaml(name) => (
            crate::openstack::clouds::from_clouds_yaml(name, |var| {
                std::env::var(var).ok().filter(|v| !v.is_empty())
            })
            .map_err(|e| OpsError::Cloud(e.to_string()))?,
            None,
        ),
    };
    let cloud = match Cloud::connect(auth).await {
        Ok(c) => c,
        Err(e) => {
            if let Some(h) = embedded {
                h.stop().await;
            }
            return Err(OpsError::Cloud(e.to_string()));
        }
    };
    Ok(Connection {
        context: Context {
            cloud,
            lineage,
            external_network: provider.external_network.clone(),
            timeout: Duration::from_secs(provider.timeout_secs),
        },
        embedded,
    })
}

/// The credentials of the embedded cloud's admin; a fixed, local-only password.
pub fn embedded_auth(auth_url: &str) -> AuthConfig {
    AuthConfig::new(
        auth_url,
        sim::ADMIN_USER,
        Secret::new(sim::ADMIN_PASSWORD),
        sim::ADMIN_PROJECT,
    )
}

/// Records what refresh adopted by ownership tags, for an apply with nothing to change: the
/// leftover of a lost create that already matches the spec is then known to the state too.
pub fn record_adoptions(planned: &Planned) -> Result<()> {
    record_adopted(&planned.store, &planned.observed)
}

/// Executes a plan. Before the first change, records in the state the resources refresh
/// adopted by their ownership tags (a create whose reply was lost in an earlier run).
pub async fn apply(planned: &Planned, on_event: &(dyn Fn(Event) + Sync)) -> Result<Outcome> {
    record_adopted(&planned.store, &planned.observed)?;
    let executor = CloudExecutor {
        cx: &planned.connection.context,
    };
    Ok(apply::execute(
        &planned.plan,
        &planned.desired,
        &planned.observed,
        &planned.graph,
        &executor,
        &planned.store,
        planned.desired.provider.parallelism,
        on_event,
    )
    .await)
}

/// Brings the state in line with what refresh saw, before the first change: resources found by
/// their ownership tag but missing from the state (a create whose reply was lost) are recorded,
/// and records of resources gone from the cloud (deleted outside stackform) are forgotten.
fn record_adopted(store: &Store, observed: &Observed) -> Result<()> {
    let known = store.ids()?;
    for (addr, id) in &known {
        if !observed.resources.contains_key(addr) {
            store.remove(addr)?;
            store.audit(&store::AuditEntry {
                at: store::now(),
                addr: addr.clone(),
                action: "forget".to_string(),
                id: Some(id.clone()),
                outcome: "gone from the cloud".to_string(),
            })?;
        }
    }
    for (addr, res) in &observed.resources {
        if known.get(addr) != Some(&res.id) {
            store.put(&Record {
                addr: addr.clone(),
                id: res.id.clone(),
                attrs: res.attrs.clone(),
                updated_at: store::now(),
            })?;
            store.audit(&store::AuditEntry {
                at: store::now(),
                addr: addr.clone(),
                action: "adopt".to_string(),
                id: Some(res.id.clone()),
                outcome: "ok".to_string(),
            })?;
        }
    }
    Ok(())
}

/// The real executor: the resource kinds' calls.
struct CloudExecutor<'a> {
    cx: &'a Context,
}

impl Executor for CloudExecutor<'_> {
    async fn create(&self, res: &DesiredResource, ids: &Ids) -> Result<String, String> {
        resources::create(self.cx, res, ids)
            .await
            .map_err(|e| e.to_string())
    }

    async fn update(
        &self,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<(), String> {
        resources::update(self.cx, res, current, ids)
            .await
            .map_err(|e| e.to_string())
    }

    async fn delete(&self, current: &ObservedResource, ids: &Ids) -> Result<(), String> {
        resources::delete(self.cx, current, ids)
            .await
            .map_err(|e| e.to_string())
    }
}
