//! Refresh: what stackform manages, read from the cloud with one list call per kind per
//! tenant (never one GET per resource), matched to addresses by id or ownership tag and
//! normalized per kind.

use std::collections::{BTreeMap, HashMap};

use super::common::{self, ADDRESS_METADATA, Names};
use super::{Context, Flavor, Ids, Observed, ObservedResource, Result};
use crate::addr::{Address, Kind};
use crate::openstack::compute::Server;
use crate::openstack::identity::Project;
use crate::openstack::network::{
    self as neutron, NETWORKS, PORTS, ROUTERS, SECURITY_GROUPS, SUBNETS,
};
use crate::spec::Attrs;

/// Decides which cloud item is which address: an id recorded in the state wins; otherwise an
/// item carrying this lineage's tag for an address of its kind is adopted (the answer to its
/// create was lost, or the state was). Each address gets at most one item.
struct Matcher {
    by_id: HashMap<String, Address>,
    lineage_tag: String,
    claimed: BTreeMap<Address, String>,
}

impl Matcher {
    fn new(cx: &Context, known: &Ids) -> Matcher {
        Matcher {
            by_id: known
                .iter()
                .map(|(a, id)| (id.clone(), a.clone()))
                .collect(),
            lineage_tag: common::lineage_tag(cx),
            claimed: BTreeMap::new(),
        }
    }

    /// Matches items of one kind: `claim_of` gives the address an item's tags claim.
    fn match_kind<'a, T>(
        &mut self,
        kind: Kind,
        items: &'a [T],
        id_of: impl Fn(&T) -> &str,
        claim_of: impl Fn(&str, &T) -> Option<Address>,
    ) -> Vec<(Address, &'a T)> {
        let mut matched = Vec::new();
        for item in items {
            if let Some(addr) = self.by_id.get(id_of(item)).filter(|a| a.kind == kind)
                && !self.claimed.contains_key(addr)
            {
                self.claimed.insert(addr.clone(), id_of(item).to_string());
                matched.push((addr.clone(), item));
            }
        }
        for item in items {
            let id = id_of(item);
            if self.by_id.contains_key(id) {
                continue;
            }
            let Some(addr) = claim_of(&self.lineage_tag, item).filter(|a| a.kind == kind) else {
                continue;
            };
            if let Some(other) = self.claimed.get(&addr) {
                tracing::warn!("{addr}: {id} also carries its tag; keeping {other}");
                continue;
            }
            self.claimed.insert(addr.clone(), id.to_string());
            matched.push((addr, item));
        }
        matched
    }
}

fn tag_claim<T: common::Tagged>(lineage_tag: &str, item: &T) -> Option<Address> {
    common::tagged_address(lineage_tag, item.tags())
}

fn server_claim(lineage_tag: &str, server: &Server) -> Option<Address> {
    if !server.tags.iter().any(|t| t == lineage_tag) {
        return None;
    }
    server.metadata.get(ADDRESS_METADATA)?.parse().ok()
}

/// The items of one tenant, one list call per kind.
struct TenantItems {
    networks: Vec<neutron::Network>,
    subnets: Vec<neutron::Subnet>,
    routers: Vec<neutron::Router>,
    groups: Vec<neutron::SecurityGroup>,
    ports: Vec<neutron::Port>,
    servers: Vec<Server>,
}

/// Lists a tenant's resources with the admin token, filtered by project: one token, however
/// many tenants.
async fn list_tenant(cx: &Context, project_id: &str) -> Result<TenantItems> {
    let admin = cx.cloud.admin();
    let api = admin.network();
    let by_project = neutron::query(&[("project_id", project_id)]);
    let servers_of_project = neutron::query(&[("all_tenants", "1"), ("project_id", project_id)]);
    // Lists may include shared objects of other projects (an external network): keep ours.
    let mine = |p: &str| p == project_id;
    let (networks, subnets, routers, groups, ports, servers) = tokio::try_join!(
        api.list::<neutron::Network>(NETWORKS, &by_project),
        api.list::<neutron::Subnet>(SUBNETS, &by_project),
        api.list::<neutron::Router>(ROUTERS, &by_project),
        api.list::<neutron::SecurityGroup>(SECURITY_GROUPS, &by_project),
        api.list::<neutron::Port>(PORTS, &by_project),
        admin.compute().list_servers(&servers_of_project),
    )?;
    Ok(TenantItems {
        networks: networks
            .into_iter()
            .filter(|n| mine(&n.project_id))
            .collect(),
        subnets: subnets
            .into_iter()
            .filter(|s| mine(&s.project_id))
            .collect(),
        routers: routers
            .into_iter()
            .filter(|r| mine(&r.project_id))
            .collect(),
        groups: groups.into_iter().filter(|g| mine(&g.project_id)).collect(),
        // Router interface ports may belong to the router's project; ports are only read.
        ports,
        servers: servers.into_iter().filter(|s| mine(&s.tenant_id)).collect(),
    })
}

/// One tenant: its project with quotas, and the lists of its resources.
async fn read_tenant(
    cx: &Context,
    addr: &Address,
    project: &Project,
) -> Result<(ObservedResource, TenantItems)> {
    let admin = cx.cloud.admin();
    let (items, nova_quotas, neutron_quotas) = tokio::join!(
        list_tenant(cx, &project.id),
        admin.compute().get_quotas(&project.id),
        admin.network().get_quotas(&project.id),
    );
    // Quotas are unmanaged unless desired; a cloud that hides them must not stop refresh.
    let nova_quotas = nova_quotas
        .inspect_err(|e| tracing::warn!("{addr}: cannot read Nova quotas: {e}"))
        .ok();
    let neutron_quotas = neutron_quotas
        .inspect_err(|e| tracing::warn!("{addr}: cannot read Neutron quotas: {e}"))
        .ok();
    let tenant = ObservedResource {
        addr: addr.clone(),
        id: project.id.clone(),
        attrs: super::tenant::observe(project, nova_quotas.as_ref(), neutron_quotas.as_ref()),
        status: None,
    };
    Ok((tenant, items?))
}

pub async fn refresh(cx: &Context, known: &Ids) -> Result<Observed> {
    let admin = cx.cloud.admin();
    let (flavors, images, projects) = tokio::try_join!(
        admin.compute().list_flavors(),
        admin.image().list_images(&[]),
        admin.identity().list_projects(&[]),
    )?;
    let mut observed = Observed::default();
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
    }
    let flavor_names: HashMap<String, String> = flavors
        .iter()
        .map(|f| (f.id.clone(), f.name.clone()))
        .collect();
    let mut image_names = HashMap::new();
    for image in &images {
        if let Some(name) = &image.name {
            observed.images.insert(name.clone(), image.id.clone());
            image_names.insert(image.id.clone(), name.clone());
        }
    }

    let mut matcher = Matcher::new(cx, known);
    let mut names = Names::default();
    let tenants: Vec<(Address, &Project)> =
        matcher.match_kind(Kind::Tenant, &projects, |p| &p.id, tag_claim);
    for (addr, project) in &tenants {
        names.insert(Kind::Tenant, &project.id, &addr.name);
    }

    // Tenants are read concurrently: on a real cloud each list is a round trip of its own.
    let reads = tenants
        .iter()
        .map(|(addr, project)| read_tenant(cx, addr, project));
    let mut per_tenant = Vec::new();
    for (tenant, items) in futures_util::future::try_join_all(reads).await? {
        observed.resources.insert(tenant.addr.clone(), tenant);
        per_tenant.push(items);
    }

    // Match every kind first so references between them resolve to names.
    let networks: Vec<neutron::Network> =
        per_tenant.iter().flat_map(|t| t.networks.clone()).collect();
    let subnets: Vec<neutron::Subnet> = per_tenant.iter().flat_map(|t| t.subnets.clone()).collect();
    let routers: Vec<neutron::Router> = per_tenant.iter().flat_map(|t| t.routers.clone()).collect();
    let groups: Vec<neutron::SecurityGroup> =
        per_tenant.iter().flat_map(|t| t.groups.clone()).collect();
    let ports: Vec<neutron::Port> = per_tenant.iter().flat_map(|t| t.ports.clone()).collect();
    let servers: Vec<Server> = per_tenant.iter().flat_map(|t| t.servers.clone()).collect();

    let networks = matcher.match_kind(Kind::Network, &networks, |n| &n.id, tag_claim);
    let subnets = matcher.match_kind(Kind::Subnet, &subnets, |s| &s.id, tag_claim);
    let routers = matcher.match_kind(Kind::Router, &routers, |r| &r.id, tag_claim);
    let groups = matcher.match_kind(Kind::SecurityGroup, &groups, |g| &g.id, tag_claim);
    let servers = matcher.match_kind(Kind::Instance, &servers, |s| &s.id, server_claim);
    for (addr, n) in &networks {
        names.insert(Kind::Network, &n.id, &addr.name);
    }
    for (addr, s) in &subnets {
        names.insert(Kind::Subnet, &s.id, &addr.name);
    }
    for (addr, g) in &groups {
        names.insert(Kind::SecurityGroup, &g.id, &addr.name);
    }

    let mut insert = |addr: &Address, id: &str, attrs: Attrs, status: Option<&str>| {
        observed.resources.insert(
            addr.clone(),
            ObservedResource {
                addr: addr.clone(),
                id: id.to_string(),
                attrs,
                status: status.filter(|s| !s.is_empty()).map(str::to_string),
            },
        );
    };
    for (addr, n) in &networks {
        insert(
            addr,
            &n.id,
            super::network::observe(n, &names),
            Some(&n.status),
        );
    }
    for (addr, s) in &subnets {
        insert(addr, &s.id, super::subnet::observe(s, &names), None);
    }
    for (addr, r) in &routers {
        let interfaces = super::router::interface_subnets(&r.id, &ports);
        insert(
            addr,
            &r.id,
            super::router::observe(r, &interfaces, &names),
            Some(&r.status),
        );
    }
    for (addr, g) in &groups {
        insert(addr, &g.id, super::security_group::observe(g, &names), None);
    }
    let lineage = common::lineage_tag(cx);
    for (addr, s) in &servers {
        let port = super::instance::port_of(&lineage, addr, Some(&s.id), &ports);
        let attrs = super::instance::observe(s, port, &names, &flavor_names, &image_names);
        insert(addr, &s.id, attrs, Some(&s.status));
    }
    Ok(observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_prefers_known_ids_then_tags_once() {
        let mut matcher = Matcher {
            by_id: [("n-known".to_string(), Address::new(Kind::Network, "web"))].into(),
            lineage_tag: "stackform-lineage:L".into(),
            claimed: BTreeMap::new(),
        };
        let tagged = |id: &str, addr: &str, lineage: &str| neutron::Network {
            id: id.into(),
            tags: vec![
                format!("stackform-lineage:{lineage}"),
                format!("stackform:{addr}"),
            ],
            ..neutron::Network::default()
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
            .match_kind(Kind::Network, &items, |n| &n.id, tag_claim)
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
    }

    #[test]
    fn servers_claim_by_lineage_tag_and_metadata() {
        let mut server = Server {
            id: "vm".into(),
            tags: vec!["stackform-lineage:L".into()],
            ..Server::default()
        };
        server
            .metadata
            .insert(ADDRESS_METADATA.into(), "instance.web-1".into());
        assert_eq!(
            server_claim("stackform-lineage:L", &server),
            Some(Address::new(Kind::Instance, "web-1"))
        );
        assert_eq!(server_claim("stackform-lineage:M", &server), None);
    }
}
