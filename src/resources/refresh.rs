//! Refresh: what stackform manages, read from the cloud with one list call per kind across
//! the spec's projects (never one per tenant, never one GET per resource), matched to addresses by id or ownership tag and
//! normalized per kind. Generic over the registry: a kind takes part through its `list`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::compute_zones::ComputeCatalog;
use super::listed::{Listed, Observation, Projects, Scope};
use super::schema::{self, ListScope};
use super::{
    Context, Flavor, Foreign, Ids, Observed, ObservedResource, Result, VolumeCatalog, common,
};
use super::{Kind, list_kind};
use crate::addr::Address;
use crate::openstack::network as neutron;

/// Decides which cloud item is which address: an id recorded in the state wins; otherwise an
/// item carrying this lineage's tag for an address of its kind is adopted (the answer to its
/// create was lost, or the state was). Each address gets at most one item.
struct Matcher {
    by_id: HashMap<String, Address>,
    claimed: BTreeMap<Address, String>,
    /// Unmatched objects that another lineage's tags claim, by the address they claim.
    foreign: BTreeMap<Address, Vec<Foreign>>,
    /// Addresses matched by this lineage's tag, not by an id the state knows: adoptions.
    adopted: BTreeSet<Address>,
}

impl Matcher {
    fn new(known: &Ids) -> Matcher {
        Matcher {
            by_id: known
                .iter()
                .map(|(a, id)| (id.clone(), a.clone()))
                .collect(),
            claimed: BTreeMap::new(),
            foreign: BTreeMap::new(),
            adopted: BTreeSet::new(),
        }
    }

    /// Matches the listed items of one kind to addresses.
    fn match_kind(&mut self, kind: Kind, items: Vec<Listed>) -> Vec<(Address, Listed)> {
        let mut matched = Vec::new();
        let mut unknown = Vec::new();
        for item in items {
            match self.by_id.get(&item.id).filter(|a| a.kind == kind) {
                Some(addr) if !self.claimed.contains_key(addr) => {
                    self.claimed.insert(addr.clone(), item.id.clone());
                    matched.push((addr.clone(), item));
                }
                _ => unknown.push(item),
            }
        }
        for item in unknown {
            if self.by_id.contains_key(&item.id) {
                continue;
            }
            if let Some((addr, lineage)) = item.foreign.clone().filter(|(a, _)| a.kind == kind) {
                let id = item.id.clone();
                let unique_name = item.unique_name.clone();
                self.foreign.entry(addr).or_default().push(Foreign {
                    id,
                    lineage,
                    unique_name,
                });
            }
            let Some(addr) = item.claim.clone().filter(|a| a.kind == kind) else {
                continue;
            };
            if let Some(other) = self.claimed.get(&addr) {
                tracing::warn!("{addr}: {} also carries its tag; keeping {other}", item.id);
                continue;
            }
            self.claimed.insert(addr.clone(), item.id.clone());
            self.adopted.insert(addr.clone());
            matched.push((addr, item));
        }
        matched
    }
}

/// The lists of the spec's projects: every tenant-scoped kind, and their ports (read by
/// routers and instances), all at once: on a real cloud each list is a round trip of its own.
async fn list_projects(
    cx: &Context,
    projects: &Projects,
    reads_storage: bool,
) -> Result<(Vec<(Kind, Vec<Listed>)>, Vec<neutron::Port>)> {
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| k.schema().api.scope == ListScope::Tenant)
        .filter(|&k| reads_storage || !super::is_storage(k))
        .collect();
    let lists = kinds.iter().map(|&kind| async move {
        let items = list_kind(kind, cx, Scope::Projects(projects)).await?;
        Ok::<_, super::Error>((kind, items))
    });
    let (lists, ports) = tokio::try_join!(
        futures_util::future::try_join_all(lists),
        projects.ports(cx),
    )?;
    Ok((lists, ports.to_vec()))
}

/// The state's volume catalog when fresh, else Cinder's (then marked as pulled); none when
/// nothing of the spec or the state is storage.
async fn volume_catalog(
    cx: &Context,
    reads_storage: bool,
) -> std::result::Result<(VolumeCatalog, bool), crate::openstack::ApiError> {
    match &cx.volume_catalog {
        Some(cached) => Ok((cached.clone(), false)),
        None if !reads_storage => Ok((VolumeCatalog::default(), false)),
        None => Ok((super::pull_volume_catalog(cx).await?, true)),
    }
}

/// The state's compute catalog when fresh, else Nova's and Glance's (then marked as pulled).
async fn compute_catalog(
    cx: &Context,
) -> std::result::Result<(ComputeCatalog, bool), crate::openstack::ApiError> {
    match &cx.compute_catalog {
        Some(cached) if cached.is_complete() => Ok((cached.clone(), false)),
        _ => Ok((super::compute_zones::pull_compute_catalog(cx).await?, true)),
    }
}

pub async fn refresh(cx: &Context, known: &Ids) -> Result<Observed> {
    let admin = cx.cloud.admin();
    // Cinder is read only where the spec or the state has storage, as its quotas are.
    let reads_storage = cx.reads_storage || known.keys().any(|addr| super::is_storage(addr.kind));
    // What kinds keep while their lists are observed lands in a fresh listing.
    cx.record_listed(|listed| *listed = super::Listings::default());
    // The catalog and the resources are listed side by side: on a real cloud each list is a
    // round trip, and the first call of a service with a new token is the slowest.
    let catalog = async {
        let externals = async {
            let query = neutron::query(&[("router:external", "true")]);
            admin
                .network()
                .list::<neutron::Network>(neutron::NETWORKS, &query)
                .await
        };
        // A cloud that hides its extension list must not stop refresh: then none is known.
        let extensions = async {
            Ok::<_, crate::openstack::ApiError>(
                admin
                    .network()
                    .extension_aliases()
                    .await
                    .inspect_err(|e| tracing::warn!("cannot list Neutron's extensions: {e}"))
                    .unwrap_or_default(),
            )
        };
        Ok::<_, super::Error>(tokio::try_join!(
            compute_catalog(cx),
            externals,
            extensions,
            volume_catalog(cx, reads_storage),
        )?)
    };
    let resources = async {
        let tenant_kind = schema::tenant_kind();
        let mut known_by_kind: HashMap<Kind, Vec<String>> = HashMap::new();
        for (addr, id) in known {
            known_by_kind.entry(addr.kind).or_default().push(id.clone());
        }
        // The other kinds are listed in the tenants' projects. The state's projects are
        // listed beside the tenants themselves: when the tenants turn out to be those (every
        // plan of a settled spec), refresh saves a round trip to Keystone on its critical path.
        let expected: BTreeSet<String> = known_by_kind
            .get(&tenant_kind)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default();
        let early = Projects::new(expected.iter().cloned().collect(), known_by_kind.clone());
        let early_lists = async {
            if expected.is_empty() {
                return Ok(None);
            }
            list_projects(cx, &early, reads_storage).await.map(Some)
        };
        let cloud_kinds = async {
            let mut matcher = Matcher::new(known);
            let mut matched: Vec<(Address, Listed)> = Vec::new();
            let mut cloud_projects = BTreeSet::new();
            for kind in Kind::ALL {
                if kind.schema().api.scope == ListScope::Cloud {
                    let items = list_kind(kind, cx, Scope::Cloud).await?;
                    if kind == tenant_kind {
                        cloud_projects.extend(items.iter().map(|item| item.id.clone()));
                    }
                    matched.extend(matcher.match_kind(kind, items));
                }
            }
            Ok::<_, super::Error>((matcher, matched, cloud_projects))
        };
        let ((matcher, matched, cloud_projects), early_lists) =
            tokio::try_join!(cloud_kinds, early_lists)?;
        let project_ids: BTreeSet<String> = matched
            .iter()
            .filter(|(addr, _)| addr.kind == tenant_kind)
            .map(|(_, item)| item.id.clone())
            .collect();
        let (lists, ports) = match early_lists {
            Some(lists) if project_ids == expected => lists,
            // A tenant adopted, lost or replaced: the lists of the projects there are.
            _ => {
                let projects = Projects::new(project_ids.into_iter().collect(), known_by_kind);
                list_projects(cx, &projects, reads_storage).await?
            }
        };
        Ok::<_, super::Error>((matcher, matched, lists, ports, cloud_projects))
    };
    let (
        ((compute_catalog, compute_pulled), externals, extensions, (volume_catalog, pulled)),
        (mut matcher, mut matched, lists, ports, cloud_projects),
    ) = tokio::try_join!(catalog, resources)?;
    let flavors = compute_catalog.flavors.clone().unwrap_or_default();
    let images = compute_catalog.images.clone().unwrap_or_default();
    // A cloud without the router:external filter lists every network: only external ones count.
    let external_networks: Vec<super::ExternalNetwork> = externals
        .into_iter()
        .filter(|n| n.external == Some(true))
        .map(|n| super::ExternalNetwork {
            id: n.id,
            name: n.name,
        })
        .collect();
    cx.record_listed(|listed| {
        listed.flavors = flavors.clone();
        listed.images = images.clone();
        listed.ports = Some(ports.clone());
        listed.external_networks = external_networks.clone();
    });
    let mut observation = Observation {
        lineage_tag: common::lineage_tag(cx),
        ports,
        external_network_names: external_networks
            .iter()
            .map(|n| (n.id.clone(), n.name.clone()))
            .collect(),
        external_network_id: cx.external_network.as_deref().and_then(|wanted| {
            super::find_external_network(&external_networks, wanted)
                .ok()
                .map(|n| n.id.clone())
        }),
        ..Observation::default()
    };
    let mut observed = Observed {
        external_networks,
        projects: cloud_projects,
        network_extensions: extensions.into_iter().collect(),
        volume_types: volume_catalog.volume_types.clone(),
        volume_zones: volume_catalog.zones.clone(),
        multiattach_volume_types: volume_catalog.multiattach_types.clone().unwrap_or_default(),
        volume_catalog_pulled: pulled.then_some(volume_catalog),
        compute_zones: Some(compute_catalog.zones.clone()),
        compute_catalog_pulled: compute_pulled.then_some(compute_catalog),
        ..Observed::default()
    };
    for f in &flavors {
        observed.flavors.insert(
            f.name.clone(),
            Flavor {
                id: f.id.clone(),
                name: f.name.clone(),
                vcpus: f.vcpus,
                ram_mb: f.ram,
                disk_gb: f.disk,
            },
        );
        observation
            .flavor_names
            .insert(f.id.clone(), f.name.clone());
    }
    for image in &images {
        if let Some(name) = &image.name {
            observed.images.insert(name.clone(), image.id.clone());
            observation
                .image_names
                .insert(image.id.clone(), name.clone());
        }
    }

    let mut by_kind: BTreeMap<Kind, Vec<Listed>> = BTreeMap::new();
    for (kind, items) in lists {
        by_kind.entry(kind).or_default().extend(items);
    }
    // Every kind is matched before any is observed, so references resolve to names.
    for (kind, items) in by_kind {
        matched.extend(matcher.match_kind(kind, items));
    }
    for (addr, item) in &matched {
        observation.names.insert(addr.kind, &item.id, &addr.name);
    }
    observed.foreign = std::mem::take(&mut matcher.foreign);
    observed.adopted = std::mem::take(&mut matcher.adopted);

    observation.index_ports();
    let observation = Arc::new(observation);
    let reads = matched.into_iter().map(|(addr, item)| {
        let observation = observation.clone();
        async move {
            let (id, status) = (item.id.clone(), item.status.clone());
            let attrs = item.observe(addr.clone(), observation).await;
            ObservedResource {
                addr,
                id,
                attrs,
                status,
            }
        }
    });
    for resource in futures_util::future::join_all(reads).await {
        observed.resources.insert(resource.addr.clone(), resource);
    }
    // The tenants' observations read their storage quotas and usage.
    observed.storage_usage = cx.listed(|l| l.storage_usage.clone());
    observed.quota_in_use = cx.listed(|l| l.quota_in_use.clone());
    Ok(observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_prefers_known_ids_then_tags_once() {
        let mut matcher = Matcher {
            by_id: [("n-known".to_string(), Address::new(Kind::Network, "web"))].into(),
            claimed: BTreeMap::new(),
            foreign: BTreeMap::new(),
            adopted: BTreeSet::new(),
        };
        let lineage = "stackform-lineage:L";
        let tagged = |id: &str, addr: &str, item_lineage: &str| {
            let tags = vec![
                format!("stackform-lineage:{item_lineage}"),
                format!("stackform:{addr}"),
            ];
            let claim = common::tagged_address(lineage, &tags);
            let foreign = common::foreign_claim(lineage, &tags);
            Listed::new(id, claim, None, |_, _| Default::default()).foreign(foreign)
        };
        let items = vec![
            tagged("n-dup", "network.web", "L"),
            tagged("n-known", "network.web", "L"),
            tagged("n-db", "network.db", "L"),
            tagged("n-db-2", "network.db", "L"),
            tagged("n-other", "network.cache", "OTHER"),
            tagged("n-wrong-kind", "router.edge", "L"),
        ];
        let matched: Vec<(String, String)> = matcher
            .match_kind(Kind::Network, items)
            .into_iter()
            .map(|(a, n)| (a.to_string(), n.id.clone()))
            .collect();
        assert_eq!(
            matched,
            vec![
                ("network.web".to_string(), "n-known".to_string()),
                ("network.db".to_string(), "n-db".to_string()),
            ]
        );
        assert_eq!(
            matcher.adopted,
            [Address::new(Kind::Network, "db")].into(),
            "matched by tag, not by a known id"
        );
        let other = Foreign {
            id: "n-other".into(),
            lineage: "OTHER".into(),
            unique_name: None,
        };
        assert_eq!(
            matcher.foreign,
            [(Address::new(Kind::Network, "cache"), vec![other])].into()
        );
    }
}
