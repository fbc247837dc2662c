//! The daemon's side of a run: the state opened and locked once for the daemon's whole life
//! (so that `stackform apply` and `destroy` are refused, naming it), and the cloud connection
//! kept between reconciles (the embedded cloud keeps serving, tokens are reused). Each
//! reconcile plans with a spec the caller loaded, through the same steps as `plan` and
//! `apply` ([`super::plan_with`]).
//!
//! Knows nothing of timers, file watching or HTTP: that is `crate::watch`.

use std::sync::Arc;

use super::{Connection, OpsError, Planned, Result, Workspace};
use crate::addr::Address;
use crate::spec::{CloudChoice, Desired};
use crate::store::{
    AuditEntry, CatalogEntry, LockInfo, Record, StateStore, StepWrite, StoreFuture,
};

/// The operation the daemon's lock names (`locked by stackform watch (pid …)`).
pub const OPERATION: &str = "watch";

/// The state, locked for the daemon, and the cloud once reached.
pub struct Held {
    ws: Workspace,
    store: Arc<dyn StateStore>,
    lineage: String,
    /// The connection and the cloud choice it was made for; `None` until the first reconcile
    /// reaches the cloud, and again after a failure to reach it.
    connection: Option<(Connection, CloudChoice)>,
}

impl Held {
    /// Opens the state and takes its lock for the daemon; fails at once, naming the holder,
    /// when another run has it.
    pub async fn open(ws: &Workspace) -> Result<Held> {
        let store = super::state::open_locked(ws, OPERATION, std::time::Duration::ZERO).await?;
        let lineage = store.lineage().await?;
        Ok(Held {
            ws: ws.clone(),
            store: Arc::from(store),
            lineage,
            connection: None,
        })
    }

    /// Whether the cloud was reached by the last reconcile.
    pub fn connected(&self) -> bool {
        self.connection.is_some()
    }

    /// Refreshes and plans `desired` (already loaded and valid). Connects first when no
    /// connection is kept, or when the spec now names another cloud. Nothing is written.
    pub async fn plan(&mut self, desired: Desired) -> Result<Planned> {
        let connection = match self.connection.take() {
            Some((connection, choice)) if choice == desired.provider.cloud => connection,
            other => {
                if let Some((connection, _)) = other {
                    connection.close().await;
                }
                super::connect(&self.ws, &desired, self.lineage.clone()).await?
            }
        };
        let mut connection = connection;
        refit(&mut connection, &desired);
        if let Err(e) =
            super::state::check_cloud(self.store.as_ref(), &connection.identity, false).await
        {
            self.connection = Some((connection, desired.provider.cloud.clone()));
            return Err(e);
        }
        let choice = desired.provider.cloud.clone();
        let store: Box<dyn StateStore> = Box::new(Shared(self.store.clone()));
        match super::plan_with(desired, store, connection).await {
            Ok(planned) => Ok(planned),
            Err((e, connection)) => {
                self.keep_or_drop(connection, choice, &e).await;
                Err(e)
            }
        }
    }

    /// Takes the connection back from a plan that has been applied or reported.
    pub fn release(&mut self, planned: Planned) {
        let choice = planned.desired.provider.cloud.clone();
        self.connection = Some((planned.connection, choice));
    }

    /// Keeps a connection that still reaches the cloud; one whose failure was the cloud's
    /// (unreachable, auth) is closed so that the next reconcile connects afresh.
    async fn keep_or_drop(&mut self, connection: Connection, choice: CloudChoice, e: &OpsError) {
        if matches!(e, OpsError::Cloud(super::CloudError::Connect(_))) {
            connection.close().await;
        } else {
            self.connection = Some((connection, choice));
        }
    }

    /// Stops the embedded cloud, if the daemon serves it, and releases the lock.
    pub async fn close(mut self) {
        if let Some((connection, _)) = self.connection.take() {
            connection.close().await;
        }
        let _ = self.store.unlock().await;
    }
}

/// Brings a kept connection's context in line with the spec of this reconcile (the spec may
/// have changed since the connection was made).
fn refit(connection: &mut Connection, desired: &Desired) {
    let provider = &desired.provider;
    let cx = &mut connection.context;
    cx.external_network = provider.external_network.clone();
    cx.ipv4_external_ip_mapping = provider.ipv4_external_ip_mapping.clone();
    cx.timeout = std::time::Duration::from_secs(provider.timeout_secs);
    cx.quotas_of = crate::resources::QuotaReads::of(desired);
    cx.reads_storage = crate::resources::uses_storage(desired);
    cx.cloud.limit_calls(provider.parallelism);
}

/// The daemon's one store, lent to each reconcile's [`Planned`]: dropping the plan must not
/// close the database nor release the lock, which live as long as the daemon.
struct Shared(Arc<dyn StateStore>);

impl StateStore for Shared {
    fn location(&self) -> String {
        self.0.location()
    }
    fn lock<'a>(&'a self, holder: &'a LockInfo) -> StoreFuture<'a, ()> {
        self.0.lock(holder)
    }
    fn unlock(&self) -> StoreFuture<'_, ()> {
        self.0.unlock()
    }
    fn lineage(&self) -> StoreFuture<'_, String> {
        self.0.lineage()
    }
    fn serial(&self) -> StoreFuture<'_, u64> {
        self.0.serial()
    }
    fn get<'a>(&'a self, addr: &'a Address) -> StoreFuture<'a, Option<Record>> {
        self.0.get(addr)
    }
    fn records(&self) -> StoreFuture<'_, Vec<Record>> {
        self.0.records()
    }
    fn commit<'a>(&'a self, step: &'a StepWrite) -> StoreFuture<'a, ()> {
        self.0.commit(step)
    }
    fn history(&self) -> StoreFuture<'_, Vec<AuditEntry>> {
        self.0.history()
    }
    fn cloud(&self) -> StoreFuture<'_, Option<String>> {
        self.0.cloud()
    }
    fn set_cloud<'a>(&'a self, cloud: &'a str) -> StoreFuture<'a, ()> {
        self.0.set_cloud(cloud)
    }
    fn catalog<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<CatalogEntry>> {
        self.0.catalog(name)
    }
    fn set_catalog<'a>(&'a self, name: &'a str, entry: &'a CatalogEntry) -> StoreFuture<'a, ()> {
        self.0.set_catalog(name, entry)
    }
    fn backup(&self) -> StoreFuture<'_, ()> {
        self.0.backup()
    }
    fn ids(&self) -> StoreFuture<'_, std::collections::BTreeMap<Address, String>> {
        self.0.ids()
    }
}
