//! What a kind's list call hands to refresh: each cloud object's id, the address its
//! ownership tags claim, its status, and how to turn it into normalized attributes once every
//! kind has been matched (references are written as address names, so observing waits until
//! all names are known).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use super::common::Names;
use crate::addr::{Address, Kind};
use crate::openstack::network as neutron;
use crate::spec::Attrs;

/// Where a list runs.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// The whole cloud (the tenant kind).
    Cloud,
    /// The projects of the spec's tenants: listed together, in as few calls as the API allows,
    /// so that a refresh costs the same whatever the number of tenants.
    Projects(&'a Projects),
}

/// The projects a refresh reads, and the ids the state records per kind (a list narrowed by a
/// filter other than the project, such as a tag, must still find those).
#[derive(Debug, Default)]
pub struct Projects {
    ids: Vec<String>,
    members: HashSet<String>,
    known: HashMap<Kind, Vec<String>>,
    /// The projects' ports, listed once per refresh: the port kind and the kinds that read
    /// ports (routers' interfaces, instances' NICs) share the one list.
    ports: tokio::sync::OnceCell<Vec<neutron::Port>>,
}

impl Projects {
    pub fn new(ids: Vec<String>, known: HashMap<Kind, Vec<String>>) -> Projects {
        Projects {
            members: ids.iter().cloned().collect(),
            ids,
            known,
            ports: tokio::sync::OnceCell::new(),
        }
    }

    /// The projects' ports: listed by the first caller, shared with the others.
    pub async fn ports(&self, cx: &super::Context) -> super::Result<&[neutron::Port]> {
        let ports = self
            .ports
            .get_or_try_init(|| super::common::list_in_projects(cx, neutron::PORTS, self))
            .await?;
        Ok(ports)
    }

    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    pub fn contains(&self, project_id: &str) -> bool {
        self.members.contains(project_id)
    }

    /// The ids the state records for objects of `kind`.
    pub fn known(&self, kind: Kind) -> &[String] {
        self.known.get(&kind).map(Vec::as_slice).unwrap_or_default()
    }
}

/// What every observation may read, gathered once per refresh.
#[derive(Debug, Default)]
pub struct Observation {
    /// Ids of matched resources → address names, per kind.
    pub names: Names,
    pub lineage_tag: String,
    /// Every tenant's ports: router interfaces and instance ports are read from them.
    pub ports: Vec<neutron::Port>,
    pub flavor_names: HashMap<String, String>,
    pub image_names: HashMap<String, String>,
    /// External network ids → names.
    pub external_network_names: HashMap<String, String>,
    /// The id of the provider's `external_network`, when the cloud has it.
    pub external_network_id: Option<String>,
    /// Positions in `ports` by the device they are bound to, and by each tag they carry
    /// ([`Observation::index_ports`]): a thousand servers each looking for their port must
    /// not each read every port.
    pub(super) ports_by_device: HashMap<String, Vec<usize>>,
    pub(super) ports_by_tag: HashMap<String, Vec<usize>>,
}

impl Observation {
    /// Indexes `ports`, once they are all listed.
    pub fn index_ports(&mut self) {
        self.ports_by_device.clear();
        self.ports_by_tag.clear();
        for (i, port) in self.ports.iter().enumerate() {
            if !port.device_id.is_empty() {
                self.ports_by_device
                    .entry(port.device_id.clone())
                    .or_default()
                    .push(i);
            }
            for tag in &port.tags {
                self.ports_by_tag.entry(tag.clone()).or_default().push(i);
            }
        }
    }

    /// The ports bound to `device_id`, in list order.
    pub fn ports_of_device(&self, device_id: &str) -> impl Iterator<Item = &neutron::Port> {
        self.indexed(self.ports_by_device.get(device_id))
    }

    /// The ports carrying `tag`, in list order.
    pub fn ports_tagged(&self, tag: &str) -> impl Iterator<Item = &neutron::Port> {
        self.indexed(self.ports_by_tag.get(tag))
    }

    fn indexed<'a>(
        &'a self,
        positions: Option<&'a Vec<usize>>,
    ) -> impl Iterator<Item = &'a neutron::Port> {
        positions
            .into_iter()
            .flatten()
            .filter_map(|&i| self.ports.get(i))
    }
}

type Observe = Box<dyn FnOnce(Address, Arc<Observation>) -> BoxFuture<'static, Attrs> + Send>;

/// One listed cloud object, not yet matched to an address.
pub struct Listed {
    pub id: String,
    /// The address this object's ownership tags claim in this lineage, if any.
    pub claim: Option<Address>,
    /// The cloud's status word, where the kind has one.
    pub status: Option<String>,
    /// The address and lineage id another lineage's ownership tags claim (the same spec
    /// applied from another state folder).
    pub foreign: Option<(Address, String)>,
    /// The OpenStack name, where it is what makes two objects collide (a project's name is
    /// unique in its domain).
    pub unique_name: Option<String>,
    observe: Observe,
}

impl std::fmt::Debug for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listed")
            .field("id", &self.id)
            .field("claim", &self.claim)
            .field("status", &self.status)
            .field("foreign", &self.foreign)
            .finish_non_exhaustive()
    }
}

impl Listed {
    /// An object whose attributes come from what was listed.
    pub fn new(
        id: impl Into<String>,
        claim: Option<Address>,
        status: Option<&str>,
        observe: impl FnOnce(&Address, &Observation) -> Attrs + Send + 'static,
    ) -> Listed {
        Listed::reading(id, claim, status, move |addr, observation| async move {
            observe(&addr, &observation)
        })
    }

    /// An object whose attributes need reads of their own (a tenant's quotas), made only for
    /// the objects that are stackform's.
    pub fn reading<F>(
        id: impl Into<String>,
        claim: Option<Address>,
        status: Option<&str>,
        observe: impl FnOnce(Address, Arc<Observation>) -> F + Send + 'static,
    ) -> Listed
    where
        F: Future<Output = Attrs> + Send + 'static,
    {
        Listed {
            id: id.into(),
            claim,
            status: status.filter(|s| !s.is_empty()).map(str::to_string),
            foreign: None,
            unique_name: None,
            observe: Box::new(move |addr, observation| Box::pin(observe(addr, observation))),
        }
    }

    /// Records the claim of another lineage's tags ([`super::common::foreign_claim`]).
    pub fn foreign(mut self, claim: Option<(Address, String)>) -> Listed {
        self.foreign = claim;
        self
    }

    /// Records the name the cloud keeps unique for this kind.
    pub fn unique_name(mut self, name: &str) -> Listed {
        self.unique_name = Some(name.to_string());
        self
    }

    /// The normalized attributes of the object, now known as `addr`.
    pub async fn observe(self, addr: Address, observation: Arc<Observation>) -> Attrs {
        (self.observe)(addr, observation).await
    }
}
