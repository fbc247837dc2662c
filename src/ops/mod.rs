//! Operations: the plan, apply and destroy workflows, tying together the spec, the state, the
//! cloud connection, refresh, the planner and the executor (like cargo's `ops`).
//!
//! The CLI calls these and prints; nothing here prints. The order of a run is fixed: load and
//! validate the spec (no network), open the state and lock it, connect, refresh, check the
//! spec against the cloud (flavors, images, quotas), build the graph, diff. Only then may
//! `apply` write anything, so an invalid spec changes nothing. Errors stay typed
//! ([`OpsError`]) so that a caller can tell a retryable cloud failure from a spec error.
//!
//! Chooses the state backend ([`open_state`], [`state`]) but otherwise sees only [`StateStore`].

use std::path::PathBuf;
use std::time::Duration;

use crate::apply::{self, Event, Executor, Ids, Outcome, StepError};
use crate::diag::Diagnostics;
use crate::graph::{self, Graph};
use crate::openstack::{ApiError, AuthConfig, Cloud, Secret};
use crate::plan::{self, ActionKind, Plan, Reason};
use crate::resources::compute_zones;
use crate::resources::{self, Context, Observed, ObservedResource};
use crate::sim::{self, Sim, SimConfig, SimError, SimHandle};
use crate::spec::{self, CloudChoice, Desired, DesiredResource};
use crate::store::{
    self, AuditEntry, Change, Record, SledStore, StateStore, StepWrite, StoreError,
};

pub mod image;
pub mod instance;
pub mod state;
pub mod watch;

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
    #[error(
        "tenant credentials are not shown: set `tenant_credentials_visible = true` in [provider] to allow `stackform tenant credentials`"
    )]
    CredentialsHidden,
    #[error(
        "the state keeps no credentials for tenant.{0}: stackform makes a tenant's user when it creates the tenant; check the name with `stackform state list`"
    )]
    NoCredentials(String),
    /// Connecting to or talking to the cloud failed.
    #[error("{0}")]
    Cloud(#[from] CloudError),
    /// The run reaches another cloud than the one the state belongs to.
    #[error(
        "the state in {} belongs to {recorded}, but this run reaches {reached}; point the run at its cloud (OS_CLOUD, OS_* variables or [provider]), or pass --migrate-cloud if the state really moved",
        state.display()
    )]
    OtherCloud {
        state: PathBuf,
        recorded: String,
        reached: String,
    },
    /// A request that cannot be carried out as asked; the message says what to do instead.
    #[error("{0}")]
    Usage(String),
}

/// Reaching the cloud or refreshing from it failed. Displays on one line.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error("embedded cloud: {0}")]
    Embedded(#[source] SimError),
    /// Credentials, catalog, or a call while connecting.
    #[error(transparent)]
    Connect(#[from] ApiError),
    #[error(transparent)]
    Refresh(#[from] resources::Error),
}

impl CloudError {
    /// Worth trying the whole run again later: the cloud was briefly unable, not wrong.
    pub fn is_retryable(&self) -> bool {
        match self {
            CloudError::Embedded(_) => false,
            CloudError::Connect(e) => e.is_retryable(),
            CloudError::Refresh(e) => e.is_retryable(),
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CloudError::Embedded(_) => None,
            CloudError::Connect(e) => e.retry_after(),
            CloudError::Refresh(e) => e.retry_after(),
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            CloudError::Embedded(_) => None,
            CloudError::Connect(e) => e.request_id(),
            CloudError::Refresh(e) => e.request_id(),
        }
    }
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

/// How a run treats the state: how long to wait for its lock, and whether it may move to
/// another cloud.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// How long to wait for another run's lock (zero: fail at once, naming the holder).
    pub lock_timeout: Duration,
    /// Plan against a cloud other than the one the state records (and record the new one
    /// when applying).
    pub migrate_cloud: bool,
    /// API calls in flight, for the refresh and the apply (overrides `[provider]
    /// parallelism`).
    pub parallelism: Option<usize>,
}

/// A connected, refreshed, planned run, ready to apply.
pub struct Planned {
    pub desired: Desired,
    pub observed: Observed,
    pub graph: Graph,
    pub plan: Plan,
    pub store: Box<dyn StateStore>,
    pub connection: Connection,
}

/// The cloud a run talks to; owns the embedded cloud while it runs.
pub struct Connection {
    pub context: Context,
    /// The cloud reached, as the state records it ([`state::cloud_identity`]).
    pub identity: String,
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
    // Image files are hashed once per version: the state folder keeps their hashes.
    resources::image_file::use_hash_cache(&ws.state);
    spec::load(&ws.specs).map_err(OpsError::Spec)
}

/// Opens the workspace's state. The embedded sled database is the only backend so far; a
/// shared one (PostgreSQL) is to be chosen here, from configuration.
pub fn open_state(ws: &Workspace) -> Result<Box<dyn StateStore>> {
    Ok(Box::new(SledStore::open(&ws.state)?))
}

/// Everything up to the plan, with the state locked for `operation` (apply, destroy) until
/// the returned [`Planned`] is dropped; a `plan` reads the state without its lock
/// ([`state::open_read`]), so that it works while an apply runs. Writes nothing to the cloud
/// or the state.
pub async fn plan(ws: &Workspace, goal: Goal, operation: &str) -> Result<Planned> {
    plan_with_options(ws, goal, operation, RunOptions::default()).await
}

/// [`plan`], with the lock timeout and cloud migration chosen by the caller.
pub async fn plan_with_options(
    ws: &Workspace,
    goal: Goal,
    operation: &str,
    options: RunOptions,
) -> Result<Planned> {
    let mut desired = validate(ws)?;
    if goal == Goal::Destroy {
        desired.resources.clear();
    }
    if let Some(calls) = options.parallelism {
        desired.provider.parallelism = calls;
    }
    let store = if operation == "plan" {
        state::open_read(ws)?
    } else {
        state::open_locked(ws, operation, options.lock_timeout).await?
    };
    let lineage = store.lineage().await?;
    let connection = connect(ws, &desired, lineage).await?;
    if let Err(e) =
        state::check_cloud(store.as_ref(), &connection.identity, options.migrate_cloud).await
    {
        connection.close().await;
        return Err(e);
    }
    match plan_with(desired, store, connection).await {
        Ok(planned) => Ok(planned),
        Err((e, connection)) => {
            connection.close().await;
            Err(e)
        }
    }
}

/// Rebuilds a lost state from the cloud: a new state with `lineage`, refreshed with no ids
/// known, so that every resource carrying `stackform-lineage:<lineage>` and its address tag is
/// adopted and recorded. Returns the number of resources recorded.
pub async fn recover(ws: &Workspace, lineage: &str) -> Result<usize> {
    let desired = validate(ws)?;
    let store = state::create_for_recovery(ws, lineage)?;
    store
        .lock(&store::LockInfo::current("state recover"))
        .await?;
    let mut connection = connect(ws, &desired, lineage.to_string()).await?;
    // What carries the lineage is adopted, storage too, whatever the spec holds now.
    connection.context.reads_storage = true;
    let result = async {
        let observed = resources::refresh(&connection.context, &Default::default())
            .await
            .map_err(CloudError::Refresh)?;
        store.set_cloud(&connection.identity).await?;
        record_adopted(store.as_ref(), &observed).await?;
        Ok::<usize, OpsError>(observed.resources.len())
    }
    .await;
    connection.close().await;
    result
}

async fn plan_with(
    desired: Desired,
    store: Box<dyn StateStore>,
    connection: Connection,
) -> std::result::Result<Planned, (OpsError, Connection)> {
    let known = match store.ids().await {
        Ok(ids) => ids,
        Err(e) => return Err((e.into(), connection)),
    };
    let mut connection = connection;
    let max_age = Duration::from_secs(desired.provider.catalog_max_age_secs);
    connection.context.volume_catalog = match cached_volume_catalog(store.as_ref(), max_age).await {
        Ok(cached) => cached,
        Err(e) => return Err((e, connection)),
    };
    connection.context.compute_catalog = match cached_compute_catalog(store.as_ref(), max_age).await
    {
        Ok(cached) => cached,
        Err(e) => return Err((e, connection)),
    };
    let mut observed = match resources::refresh(&connection.context, &known).await {
        Ok(o) => o,
        Err(e) => return Err((CloudError::Refresh(e).into(), connection)),
    };
    let granted = match store.records().await {
        Ok(records) => resources::tenant_grants::remembered(&records),
        Err(e) => return Err((e.into(), connection)),
    };
    let mut desired = desired;
    let grants = resources::tenant_grants::observe(
        &connection.context,
        &mut desired,
        &mut observed,
        &granted,
    );
    if let Err(e) = grants.await {
        return Err((CloudError::Refresh(e.into()).into(), connection));
    }
    if let Some(pulled) = &observed.compute_catalog_pulled
        && let Err(e) = keep_compute_catalog(store.as_ref(), pulled).await
    {
        return Err((e, connection));
    }
    if let Some(pulled) = &observed.volume_catalog_pulled
        && let Err(e) = keep_volume_catalog(store.as_ref(), pulled).await
    {
        return Err((e, connection));
    }
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

/// The compute catalog the state keeps, if it was pulled less than `max_age` ago and is of
/// the current shape.
async fn cached_compute_catalog(
    store: &dyn StateStore,
    max_age: Duration,
) -> Result<Option<compute_zones::ComputeCatalog>> {
    let Some(entry) = store.catalog(compute_zones::ComputeCatalog::NAME).await? else {
        return Ok(None);
    };
    if entry.age().is_none_or(|age| age > max_age) {
        return Ok(None);
    }
    Ok(
        serde_json::from_value::<compute_zones::ComputeCatalog>(entry.content)
            .ok()
            .filter(compute_zones::ComputeCatalog::is_complete),
    )
}

/// Keeps a freshly pulled compute catalog in the state, with the time it was pulled.
async fn keep_compute_catalog(
    store: &dyn StateStore,
    catalog: &compute_zones::ComputeCatalog,
) -> Result<store::CatalogEntry> {
    let entry = store::CatalogEntry {
        pulled_at: store::now(),
        content: serde_json::to_value(catalog).unwrap_or_default(),
    };
    store
        .set_catalog(compute_zones::ComputeCatalog::NAME, &entry)
        .await?;
    Ok(entry)
}

/// The volume catalog the state keeps, if it was pulled less than `max_age` ago.
async fn cached_volume_catalog(
    store: &dyn StateStore,
    max_age: Duration,
) -> Result<Option<resources::VolumeCatalog>> {
    let Some(entry) = store.catalog(resources::VolumeCatalog::NAME).await? else {
        return Ok(None);
    };
    if entry.age().is_none_or(|age| age > max_age) {
        return Ok(None);
    }
    // A catalog of an older shape is pulled again.
    Ok(
        serde_json::from_value::<resources::VolumeCatalog>(entry.content)
            .ok()
            .filter(|c| c.multiattach_types.is_some()),
    )
}

/// Keeps a freshly pulled volume catalog in the state, with the time it was pulled.
async fn keep_volume_catalog(
    store: &dyn StateStore,
    catalog: &resources::VolumeCatalog,
) -> Result<store::CatalogEntry> {
    let entry = store::CatalogEntry {
        pulled_at: store::now(),
        content: serde_json::to_value(catalog).unwrap_or_default(),
    };
    store
        .set_catalog(resources::VolumeCatalog::NAME, &entry)
        .await?;
    Ok(entry)
}

/// What `stackform refresh-catalog` pulled and kept, with the times they were pulled.
pub struct RefreshedCatalogs {
    pub volume: resources::VolumeCatalog,
    pub volume_pulled_at: String,
    pub compute: compute_zones::ComputeCatalog,
    pub compute_pulled_at: String,
}

/// `stackform refresh-catalog`: pulls the volume catalog (types, zones, limits) and the
/// compute catalog (flavors, images, zones) from the cloud and keeps them in the state,
/// whatever their age.
pub async fn refresh_catalog(ws: &Workspace, options: RunOptions) -> Result<RefreshedCatalogs> {
    let desired = validate(ws)?;
    let store = state::open_locked(ws, "refresh-catalog", options.lock_timeout).await?;
    let lineage = store.lineage().await?;
    let connection = connect(ws, &desired, lineage).await?;
    let result = async {
        let cx = &connection.context;
        let (volume, compute) = tokio::try_join!(
            resources::pull_volume_catalog(cx),
            compute_zones::pull_compute_catalog(cx),
        )
        .map_err(|e| CloudError::Refresh(e.into()))?;
        let volume_entry = keep_volume_catalog(store.as_ref(), &volume).await?;
        let compute_entry = keep_compute_catalog(store.as_ref(), &compute).await?;
        Ok::<_, OpsError>(RefreshedCatalogs {
            volume,
            volume_pulled_at: volume_entry.pulled_at,
            compute,
            compute_pulled_at: compute_entry.pulled_at,
        })
    }
    .await;
    connection.close().await;
    result
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
            // Password hashes and token digests live there: private before the cloud writes.
            let data = ws.embedded_cloud_dir();
            store::snapshot::create_private_dir(&data).map_err(|e| {
                CloudError::Embedded(SimError::Io {
                    path: data.clone(),
                    source: e,
                })
            })?;
            match serve_or_join_embedded(data).await? {
                EmbeddedCloud::Served(handle) => (embedded_auth(&handle.auth_url), Some(handle)),
                EmbeddedCloud::Joined(url) => (embedded_auth(&format!("{url}/identity/v3")), None),
            }
        }
        CloudChoice::Environment => (AuthConfig::from_env().map_err(CloudError::from)?, None),
        CloudChoice::CloudsYaml(name) => (
            crate::openstack::clouds::from_clouds_yaml(name, |var| {
                std::env::var(var).ok().filter(|v| !v.is_empty())
            })
            .map_err(CloudError::from)?,
            None,
        ),
    };
    let is_embedded = matches!(provider.cloud, CloudChoice::Embedded);
    let identity = state::cloud_identity((!is_embedded).then_some(&auth));
    let cloud = match Cloud::connect(auth).await {
        Ok(c) => {
            c.limit_calls(provider.parallelism);
            c
        }
        Err(e) => {
            if let Some(h) = embedded {
                h.stop().await;
            }
            return Err(CloudError::Connect(e).into());
        }
    };
    Ok(Connection {
        context: Context {
            cloud,
            lineage,
            external_network: provider.external_network.clone(),
            ipv4_external_ip_mapping: provider.ipv4_external_ip_mapping.clone(),
            timeout: Duration::from_secs(provider.timeout_secs),
            quotas_of: resources::QuotaReads::of(desired),
            listings: Default::default(),
            volume_catalog: None,
            compute_catalog: None,
            reads_storage: resources::uses_storage(desired),
            credentials: Some(std::sync::Arc::new(
                store::credentials::CredentialVault::new(ws.state.clone()),
            )),
            images: provider.images.clone(),
        },
        identity,
        embedded,
    })
}

/// The embedded cloud this process reaches: served by itself, or by another stackform process
/// that holds the data folder (an `apply` running while this `plan` reads).
enum EmbeddedCloud {
    Served(SimHandle),
    Joined(String),
}

/// Serves the embedded cloud from `data`, or joins the process already serving it. A process
/// that has just locked the folder may not have written its URL yet, and one that is stopping
/// still holds the lock for a moment: both are waited for, briefly.
async fn serve_or_join_embedded(data: PathBuf) -> Result<EmbeddedCloud> {
    const PATIENCE: Duration = Duration::from_secs(5);
    let started = std::time::Instant::now();
    loop {
        let config = SimConfig {
            data_dir: Some(data.clone()),
            ..SimConfig::default()
        };
        match Sim::start_on_loopback(config).await {
            Ok(handle) => return Ok(EmbeddedCloud::Served(handle)),
            Err(SimError::InUse { dir }) => {
                if let Some(url) = sim::served_url(&dir)
                    && tokio::net::TcpStream::connect(url.trim_start_matches("http://"))
                        .await
                        .is_ok()
                {
                    return Ok(EmbeddedCloud::Joined(url));
                }
                if started.elapsed() > PATIENCE {
                    return Err(CloudError::Embedded(SimError::InUse { dir }).into());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(CloudError::Embedded(e).into()),
        }
    }
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
pub async fn record_adoptions(planned: &Planned) -> Result<()> {
    let store = planned.store.as_ref();
    store.set_cloud(&planned.connection.identity).await?;
    record_adopted(store, &planned.observed).await
}

/// How many resources an apply works on at once. Not the bound on the cloud's load: that is
/// the calls in flight (`parallelism`); a resource waiting for its build makes no call, so
/// many can wait side by side. This only keeps a huge plan's memory in check.
const RESOURCES_IN_FLIGHT: usize = 1024;

/// Executes a plan with at most `parallelism` calls in flight (the spec's
/// `[provider] parallelism` unless the caller overrides it). Before the first change, records
/// in the state the resources refresh adopted by their ownership tags (a create whose reply
/// was lost in an earlier run).
pub async fn apply(
    planned: &Planned,
    parallelism: Option<usize>,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Outcome> {
    let store = planned.store.as_ref();
    // The previous generation, kept before this run changes anything (`state restore --backup`).
    store.backup().await?;
    store.set_cloud(&planned.connection.identity).await?;
    record_adopted(store, &planned.observed).await?;
    let cx = &planned.connection.context;
    if let Some(calls) = parallelism {
        cx.cloud.limit_calls(calls);
    }
    let executor = CloudExecutor { cx };
    Ok(apply::execute(
        &planned.plan,
        &planned.desired,
        &planned.observed,
        &planned.graph,
        &executor,
        planned.store.as_ref(),
        RESOURCES_IN_FLIGHT,
        on_event,
    )
    .await?)
}

/// Brings the state in line with what refresh saw, before the first change: resources found by
/// their ownership tag but missing from the state (a create whose reply was lost) are recorded,
/// and records of resources gone from the cloud (deleted outside stackform) are forgotten.
/// Each is one step: the record and its audit entry together.
async fn record_adopted(store: &dyn StateStore, observed: &Observed) -> Result<()> {
    let known = store.ids().await?;
    for (addr, id) in &known {
        if !observed.resources.contains_key(addr) {
            let step = StepWrite {
                change: Change::Remove(addr.clone()),
                audit: AuditEntry {
                    at: store::now(),
                    addr: addr.clone(),
                    action: "forget".to_string(),
                    id: Some(id.clone()),
                    outcome: "gone from the cloud".to_string(),
                },
            };
            store.commit(&step).await?;
        }
    }
    for (addr, res) in &observed.resources {
        if known.get(addr) != Some(&res.id) {
            let step = StepWrite {
                change: Change::Put(Record {
                    addr: addr.clone(),
                    id: res.id.clone(),
                    attrs: res.attrs.clone(),
                    updated_at: store::now(),
                }),
                audit: AuditEntry {
                    at: store::now(),
                    addr: addr.clone(),
                    action: "adopt".to_string(),
                    id: Some(res.id.clone()),
                    outcome: "ok".to_string(),
                },
            };
            store.commit(&step).await?;
        }
    }
    Ok(())
}

/// The real executor: the resource kinds' calls, their errors kept typed.
struct CloudExecutor<'a> {
    cx: &'a Context,
}

impl Executor for CloudExecutor<'_> {
    type Error = StepError;

    async fn create(&self, res: &DesiredResource, ids: &Ids) -> Result<String, StepError> {
        Ok(resources::create(self.cx, res, ids).await?)
    }

    async fn update(
        &self,
        res: &DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<(), StepError> {
        Ok(resources::update(self.cx, res, current, ids).await?)
    }

    async fn delete(&self, current: &ObservedResource, ids: &Ids) -> Result<(), StepError> {
        Ok(resources::delete(self.cx, current, ids).await?)
    }

    fn created_shown(&self, addr: &crate::addr::Address) -> crate::spec::Attrs {
        self.cx.take_created_shown(addr)
    }
}

/// `stackform tenant credentials NAME`: the credentials of the tenant's own user, read from
/// the state; only when the spec's `[provider] tenant_credentials_visible = true`.
pub fn tenant_credentials(
    ws: &Workspace,
    tenant: &str,
) -> Result<store::credentials::TenantCredentials> {
    let desired = validate(ws)?;
    if !desired.provider.tenant_credentials_visible {
        return Err(OpsError::CredentialsHidden);
    }
    let vault = store::credentials::CredentialVault::new(ws.state.clone());
    vault
        .get(&format!("tenant.{tenant}"))?
        .ok_or_else(|| OpsError::NoCredentials(tenant.to_string()))
}
