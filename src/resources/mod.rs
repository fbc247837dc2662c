//! Resource kinds: one module per kind, each declaring its [`schema::KindSchema`] and
//! implementing `KindOps` (list, create, update, delete) against the `openstack` client;
//! the [`registry`] makes them known; [`refresh`] lists everything stackform manages.
//!
//! Every resource created is tagged with the lineage and its address ([`schema::Ownership`]),
//! so a create whose answer was lost is found and adopted instead of duplicated.
//!
//! Knows nothing of ordering (that is `graph`/`apply`) or of sled (that is `store`).

#[macro_use]
pub mod registry;
pub mod schema;

mod common;
pub mod compute_zones;
mod error_policy;
mod listed;
mod neutron_tagged;
mod refresh;
mod storage_quota;
pub mod tenant_grants;
mod tenant_user;
mod volume_copy;

// The kind registry: one line per kind, `module::Type` (see `registry`).
registry! {
    tenant::Tenant,
    network::Network,
    subnet::Subnet,
    router::Router,
    security_group::SecurityGroup,
    instance::Instance,
    port::Port,
    floating_ip::FloatingIp,
    network_rbac::NetworkRbac,
    volume::Volume,
    snapshot::Snapshot,
    backup::Backup,
    server_group::ServerGroup,
    keypair::Keypair,
    image::Image,
}

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::addr::Address;
use crate::openstack::{self, ApiError};
use crate::spec::{self, Attrs};

pub use image::local as image_file;
pub use image::upload as image_upload;
pub use instance::user_data;
pub use listed::{Listed, Observation, Projects, Scope};
pub use refresh::refresh;

/// What every resource call needs.
#[derive(Clone, Debug)]
pub struct Context {
    pub cloud: openstack::Cloud,
    /// The state's lineage id: part of every ownership tag.
    pub lineage: String,
    /// Name or id of the network routers use as external gateway.
    pub external_network: Option<String>,
    /// Floating IP address → the public address users reach it as (`[provider]
    /// ipv4_external_ip_mapping`), shown beside every floating IP address.
    pub ipv4_external_ip_mapping: BTreeMap<String, String>,
    /// How long to wait for one resource to reach its ready status.
    pub timeout: Duration,
    /// Which tenants' quotas refresh reads (two GETs each): those whose spec sets quotas.
    /// The others' quotas are not managed, so reading them would only cost calls.
    pub quotas_of: QuotaReads,
    /// What the last refresh listed, shared by the clones of this context.
    pub listings: Arc<RwLock<Listings>>,
    /// The volume catalog the state keeps, when it is fresh enough to use: refresh then reads
    /// it instead of asking Cinder.
    pub volume_catalog: Option<VolumeCatalog>,
    /// The compute catalog (flavors, images, zones) the state keeps, when fresh enough to use:
    /// refresh then reads it instead of asking Nova and Glance.
    pub compute_catalog: Option<compute_zones::ComputeCatalog>,
    /// Whether refresh reads Cinder (its lists and its catalog) although the state knows no
    /// storage resource: the spec holds some or sets storage quotas ([`uses_storage`]), or a
    /// recovery adopts whatever carries the lineage. Otherwise those reads would only cost
    /// calls.
    pub reads_storage: bool,
    /// Where tenants' own users' credentials are kept (sealed, in the state folder); `None`
    /// where nothing keeps them (a bare client test): tenants are then made without a user.
    pub credentials: Option<Arc<crate::store::credentials::CredentialVault>>,
    /// `[provider]` image settings: limits and the upload timeout.
    pub images: crate::spec::ImageProvider,
}

/// Whether `kind` lives in Cinder.
pub fn is_storage(kind: Kind) -> bool {
    kind.schema().api.service == schema::Service::BlockStorage
}

/// Whether `desired` holds storage resources or sets a tenant's storage quotas.
pub fn uses_storage(desired: &crate::spec::Desired) -> bool {
    desired.resources.keys().any(|addr| is_storage(addr.kind))
        || !storage_quota::tenants_to_read(desired).is_empty()
}

/// Cinder's catalog: volume types, availability zones and the absolute limits of the
/// configured project. Cached in the state with the time it was pulled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeCatalog {
    pub volume_types: BTreeSet<String>,
    pub zones: BTreeSet<String>,
    #[serde(default)]
    pub limits: BTreeMap<String, i64>,
    /// The volume types whose volumes may be attached to several servers at once (extra spec
    /// `multiattach="<is> True"`). None in a catalog kept before it was recorded: such a
    /// catalog is pulled again rather than read as "none is".
    #[serde(default)]
    pub multiattach_types: Option<BTreeSet<String>>,
}

impl VolumeCatalog {
    /// The state's name for it.
    pub const NAME: &'static str = "volume";
}

/// Pulls the volume catalog from Cinder. A cloud without block storage (no endpoint in its
/// catalog) has an empty one.
pub async fn pull_volume_catalog(cx: &Context) -> Result<VolumeCatalog, ApiError> {
    let api = cx.cloud.admin().block_storage();
    match tokio::try_join!(
        api.list_volume_types(),
        api.list_availability_zones(),
        api.absolute_limits()
    ) {
        Ok((types, zones, limits)) => Ok(VolumeCatalog {
            multiattach_types: Some(
                types
                    .iter()
                    .filter(|t| t.is_multiattach())
                    .map(|t| t.name.clone())
                    .collect(),
            ),
            volume_types: types.into_iter().map(|t| t.name).collect(),
            zones: zones
                .into_iter()
                .filter(|z| z.state.available)
                .map(|z| z.name)
                .collect(),
            limits,
        }),
        Err(ApiError::Config(message)) => {
            tracing::debug!("no volume catalog: {message}");
            Ok(VolumeCatalog::default())
        }
        Err(other) => Err(other),
    }
}

/// Whose quotas a refresh reads.
#[derive(Clone, Debug, Default)]
pub enum QuotaReads {
    /// Every tenant's (to show what the cloud holds, as `state show` would want).
    #[default]
    All,
    /// Only these tenants' (names of the spec).
    Tenants {
        /// Tenants whose spec sets quotas: their Nova and Neutron quotas are read.
        quotas: BTreeSet<String>,
        /// Tenants whose storage quotas or usage the plan needs: their Cinder quota set.
        storage: BTreeSet<String>,
    },
}

impl QuotaReads {
    /// The tenants of `desired` that set quotas, and those whose storage the plan checks.
    pub fn of(desired: &crate::spec::Desired) -> QuotaReads {
        QuotaReads::Tenants {
            quotas: desired
                .resources
                .values()
                .filter(|r| r.addr.kind == schema::tenant_kind() && r.attrs.contains_key("quotas"))
                .map(|r| r.addr.name.clone())
                .collect(),
            storage: storage_quota::tenants_to_read(desired),
        }
    }

    /// Whether `tenant`'s Nova and Neutron quotas are read.
    pub fn includes(&self, tenant: &Address) -> bool {
        match self {
            QuotaReads::All => true,
            QuotaReads::Tenants { quotas, .. } => quotas.contains(&tenant.name),
        }
    }

    /// Whether `tenant`'s Cinder quota set (limits and usage) is read.
    pub fn includes_storage(&self, tenant: &Address) -> bool {
        match self {
            QuotaReads::All => true,
            QuotaReads::Tenants { storage, .. } => storage.contains(&tenant.name),
        }
    }
}

impl Context {
    /// Reads what the last refresh listed.
    pub(crate) fn listed<R>(&self, read: impl FnOnce(&Listings) -> R) -> R {
        read(&self.listings.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The attributes a create recorded with [`Listings::created_shown`], taken once.
    pub fn take_created_shown(&self, addr: &Address) -> spec::Attrs {
        self.record_listed(|listed| listed.created_shown.remove(addr))
            .unwrap_or_default()
    }

    /// Records what a refresh lists.
    pub(crate) fn record_listed<R>(&self, write: impl FnOnce(&mut Listings) -> R) -> R {
        write(
            &mut self
                .listings
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

/// What the last refresh listed beyond the normalized attributes, so that the apply that
/// follows does not list it again: the catalog, with what the plan's name maps drop (an
/// image's status, two images of one name), and whatever a kind's list kept of an object by
/// its id (a security group's rules with their ids). Each refresh replaces it; what changed
/// since shows up as an error of the call that relied on it, handled by that call's kind.
#[derive(Default)]
pub struct Listings {
    pub flavors: Vec<openstack::compute::Flavor>,
    pub images: Vec<openstack::image::Image>,
    /// The ports of the spec's projects (None before any refresh: then a call looks).
    pub ports: Option<Vec<openstack::network::Port>>,
    /// The floating IPs of the spec's projects, as the floating IP list saw them (None before
    /// any refresh: then a call looks). Instances read their shorthand's address from it.
    pub floating_ips: Option<Vec<openstack::network::FloatingIp>>,
    /// The cloud's external networks (`router:external`), listed with the catalog.
    pub external_networks: Vec<ExternalNetwork>,
    /// What the cloud decided at a create of this apply and the kind shows (a floating IP's
    /// address, from the create's reply): the state records it with the new resource.
    pub created_shown: HashMap<Address, spec::Attrs>,
    /// Cinder quotas and usage of the tenants whose quotas were read, by project id.
    pub storage_usage: BTreeMap<String, BTreeMap<String, openstack::block_storage::QuotaUse>>,
    /// Nova and Neutron usage of the tenants whose quotas were read (see
    /// [`Observed::quota_in_use`]).
    pub quota_in_use: BTreeMap<String, BTreeMap<String, u64>>,
    /// Server id → the server group it was booted into, from the groups' members (None before
    /// any refresh listed the groups).
    pub server_group_members: Option<HashMap<String, String>>,
    objects: HashMap<String, Arc<dyn Any + Send + Sync>>,
}

impl Listings {
    /// Keeps what a kind's list saw of object `id`, for that kind's calls to read back.
    pub fn keep<T: Any + Send + Sync>(&mut self, id: &str, object: T) {
        self.objects.insert(id.to_string(), Arc::new(object));
    }

    /// What was kept of object `id`, if it was kept as a `T`.
    pub fn object<T: Any + Send + Sync>(&self, id: &str) -> Option<Arc<T>> {
        self.objects.get(id)?.clone().downcast().ok()
    }
}

impl std::fmt::Debug for Listings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listings")
            .field("flavors", &self.flavors.len())
            .field("images", &self.images.len())
            .field("objects", &self.objects.len())
            .finish()
    }
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
    /// The cloud's external networks, for validating `[provider] external_network` and the
    /// networks floating IPs come from.
    #[serde(default)]
    pub external_networks: Vec<ExternalNetwork>,
    /// Addresses whose object in the cloud carries another lineage's ownership tags (the same
    /// spec applied from another state folder): creating them here would clash with it.
    #[serde(default)]
    pub foreign: BTreeMap<Address, Vec<Foreign>>,
    /// Resources found by this lineage's ownership tag, not by an id the state records (a
    /// create whose reply was lost, an apply that gave up waiting): the plan says they will be
    /// adopted, and the state records them on apply.
    #[serde(default)]
    pub adopted: std::collections::BTreeSet<Address>,
    /// The id of every project of the cloud (for references to projects outside the spec,
    /// such as a network RBAC policy's target).
    #[serde(default)]
    pub projects: std::collections::BTreeSet<String>,
    /// The aliases of the cloud's Neutron API extensions (attributes that need one are
    /// refused in plan when it is missing).
    #[serde(default)]
    pub network_extensions: std::collections::BTreeSet<String>,
    /// Cinder's volume types by name (empty where the cloud has no block storage).
    #[serde(default)]
    pub volume_types: std::collections::BTreeSet<String>,
    /// Cinder's availability zones.
    #[serde(default)]
    pub volume_zones: std::collections::BTreeSet<String>,
    /// The volume types that allow a volume attached to several servers.
    #[serde(default)]
    pub multiattach_volume_types: std::collections::BTreeSet<String>,
    /// Nova's availability zones, from the compute catalog (`compute_zones`): the state's
    /// cache or the cloud.
    #[serde(default)]
    pub compute_zones: Option<std::collections::BTreeSet<String>>,
    /// The compute catalog when this refresh pulled it from the cloud (rather than using the
    /// state's): the caller keeps it in the state.
    #[serde(default)]
    pub compute_catalog_pulled: Option<compute_zones::ComputeCatalog>,
    /// The volume catalog when this refresh pulled it from the cloud (rather than using the
    /// state's): the caller keeps it in the state.
    #[serde(default)]
    pub volume_catalog_pulled: Option<VolumeCatalog>,
    /// Cinder quotas and their usage per project id, for the tenants whose quotas are read.
    #[serde(default)]
    pub storage_usage: BTreeMap<String, BTreeMap<String, openstack::block_storage::QuotaUse>>,
    /// What the projects whose Nova and Neutron quotas are read use, per project id, under
    /// the spec's quota keys (`vcpu`, `port_count`...): in use plus reserved.
    #[serde(default)]
    pub quota_in_use: BTreeMap<String, BTreeMap<String, u64>>,
    /// Keystone's user and role names, when the spec grants roles on a tenant (`users`).
    #[serde(default)]
    pub keystone_names: Option<tenant_grants::KeystoneNames>,
}

/// An object of another lineage claiming one of our addresses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Foreign {
    pub id: String,
    /// The other state's lineage id.
    pub lineage: String,
    /// Its OpenStack name, where the cloud keeps names unique for the kind (projects).
    pub unique_name: Option<String>,
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

/// An external network of the cloud (`router:external`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalNetwork {
    pub id: String,
    pub name: String,
}

/// The external network `wanted` names (by id, else by its unique name) among `networks`.
pub fn find_external_network<'a>(
    networks: &'a [ExternalNetwork],
    wanted: &str,
) -> std::result::Result<&'a ExternalNetwork, String> {
    if let Some(by_id) = networks.iter().find(|n| n.id == wanted) {
        return Ok(by_id);
    }
    let by_name: Vec<&ExternalNetwork> = networks.iter().filter(|n| n.name == wanted).collect();
    match by_name.as_slice() {
        [one] => Ok(one),
        [] => Err(format!(
            "`{wanted}` is not an external network of the cloud (external networks: {})",
            if networks.is_empty() {
                "none".to_string()
            } else {
                networks
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        _ => Err(format!(
            "several external networks are named `{wanted}`: give its id"
        )),
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: u64,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

/// The per-kind contract, implemented once per kind by a unit struct and made known by one
/// line of the [`registry`].
pub(crate) trait KindOps {
    /// Everything about the kind that is data: attributes, API collection, statuses, rules.
    const SCHEMA: schema::KindSchema;
    /// The kind's objects in `scope`, with the admin token: one paginated list per collection.
    /// Objects of other projects that a list shows (shared networks) are left out.
    async fn list(cx: &Context, scope: Scope<'_>) -> Result<Vec<Listed>>;
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
