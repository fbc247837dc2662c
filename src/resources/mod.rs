//! Resource kinds: one module per kind, each implementing [`KindOps`] (create, update,
//! delete) against the `openstack` client and its own normalization of what refresh reads;
//! [`refresh`] lists everything stackform manages; [`schema`] is the static attribute schema.
//!
//! Every resource created is tagged with the lineage and its address (ATTRS.md, "Ownership
//! tags"), so a create whose answer was lost is found and adopted instead of duplicated.
//!
//! Knows nothing of ordering (that is `graph`/`apply`) or of sled (that is `store`).

pub mod schema;

mod common;
mod error_policy;
mod instance;
mod network;
mod refresh;
mod router;
mod security_group;
mod subnet;
mod tenant;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::addr::{Address, Kind};
use crate::openstack::{self, ApiError};
use crate::spec::{self, Attrs};

pub use refresh::refresh;

/// What every resource call needs.
#[derive(Clone, Debug)]
pub struct Context {
    pub cloud: openstack::Cloud,
    /// The state's lineage id: part of every ownership tag.
    pub lineage: String,
    /// Name or id of the network routers use as external gateway.
    pub external_network: Option<String>,
    /// How long to wait for one resource to reach its ready status.
    pub timeout: Duration,
}

/// Address → id known so far (state plus this apply's creates).
pub type Ids = BTreeMap<Address, String>;

/// A resource call that failed. Displays on one line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("{0} has no id: it must be created before the resources that name it")]
    MissingDependency(Address),
    #[error("{addr}: timed out after {}s waiting for {what} (last status {last})", waited.as_secs())]
    Timeout {
        addr: Address,
        what: String,
        waited: Duration,
        last: String,
    },
    #[error("{addr}: {message}")]
    Failed { addr: Address, message: String },
    #[error("{addr}: attribute `{attr}` {problem}")]
    BadAttr {
        addr: Address,
        attr: String,
        problem: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What refresh found in the cloud.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Observed {
    /// Resources stackform manages (known by id in the state, or by ownership tag).
    pub resources: BTreeMap<Address, ObservedResource>,
    /// Flavors by name, for validating `instance.flavor` and checking quotas.
    pub flavors: BTreeMap<String, Flavor>,
    /// Image names → ids.
    pub images: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObservedResource {
    pub addr: Address,
    pub id: String,
    /// Normalized like desired attributes: references by address name, sets sorted.
    pub attrs: Attrs,
    /// The cloud's status word (ACTIVE, SHUTOFF, BUILD, ERROR...), where the kind has one.
    pub status: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u64,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

/// The per-kind contract. Implemented once per kind by a unit struct; [`create`], [`update`]
/// and [`delete`] dispatch on the address's kind.
pub(crate) trait KindOps {
    /// Creates the resource (tagged), waits until it is ready, returns its id.
    async fn create(cx: &Context, res: &spec::DesiredResource, ids: &Ids) -> Result<String>;
    /// Changes only the attributes that differ between `res` and `current`.
    async fn update(
        cx: &Context,
        res: &spec::DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) -> Result<()>;
    /// Deletes the resource; already gone is success.
    async fn delete(cx: &Context, current: &ObservedResource, ids: &Ids) -> Result<()>;
}

pub async fn create(cx: &Context, res: &spec::DesiredResource, ids: &Ids) -> Result<String> {
    match res.addr.kind {
        Kind::Tenant => tenant::Tenant::create(cx, res, ids).await,
        Kind::Network => network::Network::create(cx, res, ids).await,
        Kind::Subnet => subnet::Subnet::create(cx, res, ids).await,
        Kind::Router => router::Router::create(cx, res, ids).await,
        Kind::SecurityGroup => security_group::SecurityGroup::create(cx, res, ids).await,
        Kind::Instance => instance::Instance::create(cx, res, ids).await,
    }
}

pub async fn update(
    cx: &Context,
    res: &spec::DesiredResource,
    current: &ObservedResource,
    ids: &Ids,
) -> Result<()> {
    match res.addr.kind {
        Kind::Tenant => tenant::Tenant::update(cx, res, current, ids).await,
        Kind::Network => network::Network::update(cx, res, current, ids).await,
        Kind::Subnet => subnet::Subnet::update(cx, res, current, ids).await,
        Kind::Router => router::Router::update(cx, res, current, ids).await,
        Kind::SecurityGroup => security_group::SecurityGroup::update(cx, res, current, ids).await,
        Kind::Instance => instance::Instance::update(cx, res, current, ids).await,
    }
}

pub async fn delete(cx: &Context, current: &ObservedResource, ids: &Ids) -> Result<()> {
    match current.addr.kind {
        Kind::Tenant => tenant::Tenant::delete(cx, current, ids).await,
        Kind::Network => network::Network::delete(cx, current, ids).await,
        Kind::Subnet => subnet::Subnet::delete(cx, current, ids).await,
        Kind::Router => router::Router::delete(cx, current, ids).await,
        Kind::SecurityGroup => security_group::SecurityGroup::delete(cx, current, ids).await,
        Kind::Instance => instance::Instance::delete(cx, current, ids).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The apply engine spawns these futures on a multi-threaded runtime.
    #[allow(dead_code)]
    fn futures_are_send(
        cx: &Context,
        res: &spec::DesiredResource,
        current: &ObservedResource,
        ids: &Ids,
    ) {
        assert_send(&create(cx, res, ids));
        assert_send(&update(cx, res, current, ids));
        assert_send(&delete(cx, current, ids));
        assert_send(&refresh(cx, ids));
    }
}
