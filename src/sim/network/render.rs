//! JSON views of the records (what Neutron returns: policy-hidden fields only for admins),
//! the per-kind dispatch the HTTP layer uses, tags, and quotas.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::NetworkData;
use super::model::*;
use super::ops::{QUOTA_DEFAULTS, ensure_owner};
use super::query::ListQuery;

#[cfg(test)]
thread_local! {
    /// Records rendered by lists on this thread: tests prove a list renders what it returns.
    pub static RENDERED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

static NO_IDS: BTreeSet<String> = BTreeSet::new();

fn count_render() {
    #[cfg(test)]
    RENDERED.with(|count| count.set(count.get() + 1));
}

impl NetworkData {
    pub fn render_network(&self, net: &Network, actor: &Actor) -> Map<String, Value> {
        let mut out = Map::new();
        net.meta.put_common(&mut out, true);
        // ML2 reports networks ACTIVE whatever their admin_state_up (ports go DOWN instead).
        out.insert("admin_state_up".into(), json!(net.admin_state_up));
        out.insert("status".into(), json!("ACTIVE"));
        out.insert("subnets".into(), json!(net.subnets));
        out.insert("shared".into(), json!(self.shared_for(net, actor)));
        out.insert("router:external".into(), json!(net.external));
        out.insert("mtu".into(), json!(net.mtu));
        out.insert("tags".into(), json!(net.meta.tags));
        out.insert(
            "port_security_enabled".into(),
            json!(net.port_security_enabled),
        );
        out.insert(
            "availability_zone_hints".into(),
            json!(net.availability_zone_hints),
        );
        out.insert("availability_zones".into(), json!(["nova"]));
        out.insert("ipv4_address_scope".into(), Value::Null);
        out.insert("ipv6_address_scope".into(), Value::Null);
        // ML2's extension set (neutron 29): qinq and vlan-transparent, no l2_adjacency or
        // auto-allocated-topology's is_default.
        out.insert("qinq".into(), json!(false));
        out.insert("vlan_transparent".into(), json!(false));
        if actor.admin {
            out.insert("provider:network_type".into(), json!(net.network_type));
            out.insert(
                "provider:physical_network".into(),
                json!(net.physical_network),
            );
            out.insert(
                "provider:segmentation_id".into(),
                json!(net.segmentation_id),
            );
        }
        out
    }

    pub fn render_subnet(&self, subnet: &Subnet) -> Map<String, Value> {
        let mut out = Map::new();
        subnet.meta.put_common(&mut out, true);
        let pools: Vec<Value> = subnet
            .allocation_pools
            .iter()
            .map(|p| json!({"start": p.start.to_string(), "end": p.end.to_string()}))
            .collect();
        let external = self
            .networks
            .get(&subnet.network_id)
            .is_some_and(|n| n.external);
        out.insert("network_id".into(), json!(subnet.network_id));
        out.insert("ip_version".into(), json!(subnet.ip_version));
        out.insert("cidr".into(), json!(subnet.cidr.to_string()));
        out.insert(
            "gateway_ip".into(),
            json!(subnet.gateway_ip.map(|ip| ip.to_string())),
        );
        out.insert("allocation_pools".into(), Value::Array(pools));
        out.insert("enable_dhcp".into(), json!(subnet.enable_dhcp));
        out.insert("dns_nameservers".into(), json!(subnet.dns_nameservers));
        out.insert("host_routes".into(), json!(subnet.host_routes));
        out.insert("ipv6_address_mode".into(), json!(subnet.ipv6_address_mode));
        out.insert("ipv6_ra_mode".into(), json!(subnet.ipv6_ra_mode));
        out.insert("tags".into(), json!(subnet.meta.tags));
        out.insert("service_types".into(), json!([]));
        out.insert("subnetpool_id".into(), Value::Null);
        out.insert("router:external".into(), json!(external));
        out
    }

    pub fn render_port(&self, port: &Port, actor: &Actor) -> Map<String, Value> {
        let mut out = Map::new();
        port.meta.put_common(&mut out, true);
        let bound = !port.device_id.is_empty();
        let status = port.status();
        let fixed_ips: Vec<Value> = port
            .fixed_ips
            .iter()
            .map(|ip| json!({"subnet_id": ip.subnet_id, "ip_address": ip.ip_address.to_string()}))
            .collect();
        out.insert("network_id".into(), json!(port.network_id));
        out.insert("mac_address".into(), json!(port.mac_address));
        out.insert("admin_state_up".into(), json!(port.admin_state_up));
        out.insert("status".into(), json!(status));
        out.insert("device_id".into(), json!(port.device_id));
        out.insert("device_owner".into(), json!(port.device_owner));
        out.insert("fixed_ips".into(), Value::Array(fixed_ips));
        out.insert("security_groups".into(), json!(port.security_groups));
        out.insert(
            "port_security_enabled".into(),
            json!(port.port_security_enabled),
        );
        out.insert("tags".into(), json!(port.meta.tags));
        out.insert("binding:vnic_type".into(), json!(port.binding_vnic_type));
        // Neutron's table is keyed (port, mac, ip) and lists in that order.
        let mut pairs: Vec<(&str, &str)> = port
            .allowed_address_pairs
            .iter()
            .map(|p| {
                let mac = p.mac_address.as_deref().unwrap_or(&port.mac_address);
                (mac, p.ip_address.as_str())
            })
            .collect();
        pairs.sort();
        let pairs: Vec<Value> = pairs
            .into_iter()
            .map(|(mac, ip)| json!({"mac_address": mac, "ip_address": ip}))
            .collect();
        out.insert("allowed_address_pairs".into(), Value::Array(pairs));
        out.insert("extra_dhcp_opts".into(), json!([]));
        if actor.admin {
            let vif_type = if bound { "ovs" } else { "unbound" };
            let details = if bound {
                json!({"port_filter": true, "ovs_hybrid_plug": false, "connectivity": "l2", "bridge_name": "br-int"})
            } else {
                json!({})
            };
            out.insert("binding:host_id".into(), json!(port.binding_host_id));
            out.insert("binding:profile".into(), port.binding_profile.clone());
            out.insert("binding:vif_type".into(), json!(vif_type));
            out.insert("binding:vif_details".into(), details);
        }
        out
    }

    pub fn render_router(&self, router: &Router) -> Map<String, Value> {
        let mut out = Map::new();
        router.meta.put_common(&mut out, true);
        let gateway = router.gateway.as_ref().map(|gw| {
            let ips: Vec<Value> = self
                .ports
                .get(&gw.port_id)
                .map(|p| {
                    p.fixed_ips
                        .iter()
                        .map(|ip| json!({"subnet_id": ip.subnet_id, "ip_address": ip.ip_address.to_string()}))
                        .collect()
                })
                .unwrap_or_default();
            json!({"network_id": gw.network_id, "enable_snat": gw.enable_snat, "external_fixed_ips": ips})
        });
        out.insert("admin_state_up".into(), json!(router.admin_state_up));
        out.insert("status".into(), json!("ACTIVE"));
        out.insert(
            "external_gateway_info".into(),
            gateway.unwrap_or(Value::Null),
        );
        out.insert("routes".into(), json!(router.routes));
        out.insert("tags".into(), json!(router.meta.tags));
        out.insert(
            "availability_zone_hints".into(),
            json!(router.availability_zone_hints),
        );
        out.insert("availability_zones".into(), json!(["nova"]));
        out.insert("flavor_id".into(), Value::Null);
        out.insert("distributed".into(), json!(false));
        out.insert("ha".into(), json!(false));
        out
    }

    pub fn render_rule(&self, rule: &SecurityGroupRule) -> Map<String, Value> {
        let mut out = Map::new();
        rule.meta.put_common(&mut out, false);
        let default_group = self
            .security_groups
            .get(&rule.security_group_id)
            .is_some_and(|g| g.is_default);
        out.insert("security_group_id".into(), json!(rule.security_group_id));
        out.insert("direction".into(), json!(rule.direction));
        out.insert("ethertype".into(), json!(rule.ethertype));
        out.insert("protocol".into(), json!(rule.protocol));
        out.insert("port_range_min".into(), json!(rule.port_range_min));
        out.insert("port_range_max".into(), json!(rule.port_range_max));
        out.insert("remote_ip_prefix".into(), json!(rule.remote_ip_prefix));
        out.insert("remote_group_id".into(), json!(rule.remote_group_id));
        out.insert("remote_address_group_id".into(), Value::Null);
        out.insert("belongs_to_default_sg".into(), json!(default_group));
        if rule.automatic {
            out.insert("description".into(), Value::Null);
        }
        // The remote prefix with its host bits cleared (Neutron's normalized_cidr).
        let normalized = rule
            .remote_ip_prefix
            .as_deref()
            .and_then(|prefix| prefix.parse::<ipnet::IpNet>().ok())
            .map(|net| net.trunc().to_string());
        out.insert("normalized_cidr".into(), json!(normalized));
        out
    }

    pub fn render_group(&self, group: &SecurityGroup) -> Map<String, Value> {
        let mut out = Map::new();
        group.meta.put_common(&mut out, true);
        let rules: Vec<Value> = self
            .rules
            .children_of(&group.meta.id)
            .enumerate()
            .map(|(index, r)| {
                // Rules inside a group carry the standard attributes Neutron adds there.
                let mut rule = self.render_rule(r);
                rule.insert("standard_attr_id".into(), json!(index + 1));
                rule.insert("tags".into(), json!([]));
                Value::Object(rule)
            })
            .collect();
        out.insert("security_group_rules".into(), Value::Array(rules));
        out.insert("tags".into(), json!(group.meta.tags));
        out.insert("stateful".into(), json!(group.stateful));
        out.insert("shared".into(), json!(false));
        out
    }

    /// The resources of `kind` the actor may see that `query` may keep, rendered, in id
    /// order. Only the records the indexes point at are looked at, and only those passing the
    /// query's project and tag filters are rendered: a one-project list costs that project's
    /// records, not the cloud's. `query.apply` still applies every filter to what comes back.
    ///
    /// Tags changed through `get_mut` are indexed once [`NetworkData::reindex_changed`] ran
    /// (the HTTP list runs it first; the end of every writing request does too).
    pub fn visible(&self, kind: Kind, actor: &Actor, query: &ListQuery) -> Vec<Map<String, Value>> {
        let ids = self.candidate_ids(kind, actor, query);
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let rendered = match kind {
                Kind::Network => self
                    .networks
                    .get(id)
                    .filter(|n| self.network_visible(n, actor) && query.may_keep(&n.meta, true))
                    .map(|n| self.render_network(n, actor)),
                Kind::Subnet => self
                    .subnets
                    .get(id)
                    .filter(|s| self.subnet_visible(s, actor) && query.may_keep(&s.meta, true))
                    .map(|s| self.render_subnet(s)),
                Kind::Port => self
                    .ports
                    .get(id)
                    .filter(|p| self.port_visible(p, actor) && query.may_keep(&p.meta, true))
                    .map(|p| self.render_port(p, actor)),
                Kind::Router => self
                    .routers
                    .get(id)
                    .filter(|r| self.router_visible(r, actor) && query.may_keep(&r.meta, true))
                    .map(|r| self.render_router(r)),
                Kind::SecurityGroup => self
                    .security_groups
                    .get(id)
                    .filter(|g| self.group_visible(g, actor) && query.may_keep(&g.meta, true))
                    .map(|g| self.render_group(g)),
                // Rules show no tags: the tag filters see none.
                Kind::SecurityGroupRule => self
                    .rules
                    .get(id)
                    .filter(|r| self.rule_visible(r, actor) && query.may_keep(&r.meta, false))
                    .map(|r| self.render_rule(r)),
                Kind::FloatingIp => self
                    .floating_ips
                    .get(id)
                    .filter(|f| self.floating_ip_visible(f, actor) && query.may_keep(&f.meta, true))
                    .map(|f| self.render_floating_ip(f)),
                Kind::RbacPolicy => self
                    .rbac_policies
                    .get(id)
                    .filter(|p| self.rbac_policy_listed(p, actor) && query.may_keep(&p.meta, false))
                    .map(|p| self.render_rbac_policy(p)),
            };
            if let Some(item) = rendered {
                count_render();
                out.push(item);
            }
        }
        out
    }

    /// Ids of the `kind` records a list must consider, in id order: a superset of what the
    /// actor may see that the query's project filter (or else its `tags` or `tags-any`
    /// filter) lets through, taken from the indexes.
    fn candidate_ids(&self, kind: Kind, actor: &Actor, query: &ListQuery) -> BTreeSet<String> {
        if actor.admin {
            let tags = query.tag_filter();
            return match (query.project_filter(), tags.tags.first()) {
                (Some(projects), _) => projects
                    .iter()
                    .flat_map(|p| self.ids_of_project(kind, p).iter().cloned())
                    .collect(),
                // Every one of `tags` is required: the first one's records are enough.
                (None, Some(tag)) => self.ids_tagged(kind, tag).clone(),
                (None, None) if !tags.tags_any.is_empty() => tags
                    .tags_any
                    .iter()
                    .flat_map(|tag| self.ids_tagged(kind, tag).iter().cloned())
                    .collect(),
                (None, None) => self.all_ids(kind),
            };
        }
        let own = &actor.project_id;
        let mut ids = self.ids_of_project(kind, own).clone();
        match kind {
            // Other projects' shared and external networks, and their subnets.
            Kind::Network | Kind::Subnet => {
                let granted = self.rbac_networks_of(own);
                let by_policy = granted.iter().filter_map(|id| self.networks.get(id));
                for net in self
                    .networks
                    .values()
                    .filter(|n| n.shared || n.external)
                    .chain(by_policy)
                {
                    match kind {
                        Kind::Network => ids.insert(net.meta.id.clone()),
                        _ => {
                            ids.extend(self.subnets.ids_under(&net.meta.id).iter().cloned());
                            false
                        }
                    };
                }
            }
            // Other projects' ports on the project's networks.
            Kind::Port => {
                for net in self.networks.of_project(own) {
                    ids.extend(self.ports.ids_under(&net.meta.id).iter().cloned());
                }
            }
            // Other projects' rules in the project's groups.
            Kind::SecurityGroupRule => {
                for group in self.security_groups.of_project(own) {
                    ids.extend(self.rules.ids_under(&group.meta.id).iter().cloned());
                }
            }
            Kind::Router | Kind::SecurityGroup | Kind::FloatingIp | Kind::RbacPolicy => {}
        }
        ids
    }

    fn ids_of_project(&self, kind: Kind, project_id: &str) -> &BTreeSet<String> {
        match kind {
            Kind::Network => self.networks.ids_of_project(project_id),
            Kind::Subnet => self.subnets.ids_of_project(project_id),
            Kind::Port => self.ports.ids_of_project(project_id),
            Kind::Router => self.routers.ids_of_project(project_id),
            Kind::SecurityGroup => self.security_groups.ids_of_project(project_id),
            Kind::SecurityGroupRule => self.rules.ids_of_project(project_id),
            Kind::FloatingIp => self.floating_ips.ids_of_project(project_id),
            Kind::RbacPolicy => self.rbac_policies.ids_of_project(project_id),
        }
    }

    /// Re-indexes the records changed since the journal last took the changes.
    pub fn reindex_changed(&mut self) {
        self.networks.reindex_changed();
        self.subnets.reindex_changed();
        self.ports.reindex_changed();
        self.routers.reindex_changed();
        self.security_groups.reindex_changed();
        self.rules.reindex_changed();
        self.floating_ips.reindex_changed();
        self.rbac_policies.reindex_changed();
    }

    fn ids_tagged(&self, kind: Kind, tag: &str) -> &BTreeSet<String> {
        match kind {
            Kind::Network => self.networks.ids_tagged(tag),
            Kind::Subnet => self.subnets.ids_tagged(tag),
            Kind::Port => self.ports.ids_tagged(tag),
            Kind::Router => self.routers.ids_tagged(tag),
            Kind::SecurityGroup => self.security_groups.ids_tagged(tag),
            // Rules and policies show no tags: no tag filter keeps one.
            Kind::SecurityGroupRule | Kind::RbacPolicy => &NO_IDS,
            Kind::FloatingIp => self.floating_ips.ids_tagged(tag),
        }
    }

    fn all_ids(&self, kind: Kind) -> BTreeSet<String> {
        match kind {
            Kind::Network => self.networks.keys().cloned().collect(),
            Kind::Subnet => self.subnets.keys().cloned().collect(),
            Kind::Port => self.ports.keys().cloned().collect(),
            Kind::Router => self.routers.keys().cloned().collect(),
            Kind::SecurityGroup => self.security_groups.keys().cloned().collect(),
            Kind::SecurityGroupRule => self.rules.keys().cloned().collect(),
            Kind::FloatingIp => self.floating_ips.keys().cloned().collect(),
            Kind::RbacPolicy => self.rbac_policy_ids(),
        }
    }

    pub fn show(&self, kind: Kind, actor: &Actor, id: &str) -> NResult<Map<String, Value>> {
        Ok(match kind {
            Kind::Network => self.render_network(self.network(actor, id)?, actor),
            Kind::Subnet => self.render_subnet(self.subnet(actor, id)?),
            Kind::Port => self.render_port(self.port(actor, id)?, actor),
            Kind::Router => self.render_router(self.router(actor, id)?),
            Kind::SecurityGroup => self.render_group(self.security_group(actor, id)?),
            Kind::SecurityGroupRule => self.render_rule(self.security_group_rule(actor, id)?),
            Kind::FloatingIp => self.render_floating_ip(self.floating_ip(actor, id)?),
            Kind::RbacPolicy => self.render_rbac_policy(self.rbac_policy(actor, id)?),
        })
    }

    pub fn create(
        &mut self,
        kind: Kind,
        actor: &Actor,
        body: &Map<String, Value>,
    ) -> NResult<String> {
        match kind {
            Kind::Network => self.create_network(actor, body),
            Kind::Subnet => self.create_subnet(actor, body),
            Kind::Port => self.create_port(actor, body),
            Kind::Router => self.create_router(actor, body),
            Kind::SecurityGroup => self.create_security_group(actor, body),
            Kind::SecurityGroupRule => self.create_security_group_rule(actor, body),
            Kind::FloatingIp => self.create_floating_ip(actor, body),
            Kind::RbacPolicy => self.create_rbac_policy(actor, body),
        }
    }

    pub fn update(
        &mut self,
        kind: Kind,
        actor: &Actor,
        id: &str,
        body: &Map<String, Value>,
    ) -> NResult<()> {
        match kind {
            Kind::Network => self.update_network(actor, id, body),
            Kind::Subnet => self.update_subnet(actor, id, body),
            Kind::Port => self.update_port(actor, id, body),
            Kind::Router => self.update_router(actor, id, body),
            Kind::SecurityGroup => self.update_security_group(actor, id, body),
            // Rules have no updatable attribute: the attribute check refused the body already.
            Kind::SecurityGroupRule => self.security_group_rule(actor, id).map(|_| ()),
            Kind::FloatingIp => self.update_floating_ip(actor, id, body),
            Kind::RbacPolicy => self.update_rbac_policy(actor, id, body),
        }
    }

    pub fn delete(&mut self, kind: Kind, actor: &Actor, id: &str) -> NResult<()> {
        match kind {
            Kind::Network => self.delete_network(actor, id),
            Kind::Subnet => self.delete_subnet(actor, id),
            Kind::Port => self.delete_port(actor, id),
            Kind::Router => self.delete_router(actor, id),
            Kind::SecurityGroup => self.delete_security_group(actor, id),
            Kind::SecurityGroupRule => self.delete_security_group_rule(actor, id),
            Kind::FloatingIp => self.delete_floating_ip(actor, id),
            Kind::RbacPolicy => self.delete_rbac_policy(actor, id),
        }
    }

    // ---- tags (standard-attr-tag) -----------------------------------------------------

    fn meta_mut(&mut self, kind: Kind, actor: &Actor, id: &str, write: bool) -> NResult<&mut Meta> {
        let project = match kind {
            Kind::Network => self.network(actor, id)?.meta.project_id.clone(),
            Kind::Subnet => self.subnet(actor, id)?.meta.project_id.clone(),
            Kind::Port => self.port(actor, id)?.meta.project_id.clone(),
            Kind::Router => self.router(actor, id)?.meta.project_id.clone(),
            Kind::SecurityGroup => self.security_group(actor, id)?.meta.project_id.clone(),
            Kind::SecurityGroupRule | Kind::RbacPolicy => return Err(kind.not_found(id)),
            Kind::FloatingIp => self.floating_ip(actor, id)?.meta.project_id.clone(),
        };
        if write {
            ensure_owner(actor, &project, &format!("update_{}_tags", kind.singular()))?;
        }
        let meta = match kind {
            Kind::Network => self.networks.get_mut(id).map(|r| &mut r.meta),
            Kind::Subnet => self.subnets.get_mut(id).map(|r| &mut r.meta),
            Kind::Port => self.ports.get_mut(id).map(|r| &mut r.meta),
            Kind::Router => self.routers.get_mut(id).map(|r| &mut r.meta),
            Kind::SecurityGroup => self.security_groups.get_mut(id).map(|r| &mut r.meta),
            Kind::SecurityGroupRule | Kind::RbacPolicy => None,
            Kind::FloatingIp => self.floating_ips.get_mut(id).map(|r| &mut r.meta),
        };
        meta.ok_or_else(|| kind.not_found(id))
    }

    pub fn tags(&mut self, kind: Kind, actor: &Actor, id: &str) -> NResult<Vec<String>> {
        Ok(self.meta_mut(kind, actor, id, false)?.tags.clone())
    }

    pub fn has_tag(&mut self, kind: Kind, actor: &Actor, id: &str, tag: &str) -> NResult<()> {
        let meta = self.meta_mut(kind, actor, id, false)?;
        if meta.tags.iter().any(|t| t == tag) {
            Ok(())
        } else {
            Err(tag_not_found(kind, id, tag))
        }
    }

    pub fn replace_tags(
        &mut self,
        kind: Kind,
        actor: &Actor,
        id: &str,
        tags: &[String],
    ) -> NResult<Vec<String>> {
        let tags = check_tag_list(tags).map_err(NeutronError::invalid_input)?;
        let meta = self.meta_mut(kind, actor, id, true)?;
        meta.tags = tags.clone();
        meta.touch();
        Ok(tags)
    }

    pub fn add_tag(&mut self, kind: Kind, actor: &Actor, id: &str, tag: &str) -> NResult<()> {
        let tag = check_tag_list(&[tag.to_string()]).map_err(NeutronError::invalid_input)?;
        let meta = self.meta_mut(kind, actor, id, true)?;
        let mut tags = meta.tags.clone();
        tags.extend(tag);
        tags.sort();
        tags.dedup();
        if tags != meta.tags {
            meta.tags = tags;
            meta.touch();
        }
        Ok(())
    }

    pub fn remove_tag(&mut self, kind: Kind, actor: &Actor, id: &str, tag: &str) -> NResult<()> {
        let meta = self.meta_mut(kind, actor, id, true)?;
        if !meta.tags.iter().any(|t| t == tag) {
            return Err(tag_not_found(kind, id, tag));
        }
        meta.tags.retain(|t| t != tag);
        meta.touch();
        Ok(())
    }

    pub fn clear_tags(&mut self, kind: Kind, actor: &Actor, id: &str) -> NResult<()> {
        let meta = self.meta_mut(kind, actor, id, true)?;
        if !meta.tags.is_empty() {
            meta.tags.clear();
            meta.touch();
        }
        Ok(())
    }

    // ---- quotas -----------------------------------------------------------------------

    pub fn quota_set(&self, project_id: &str) -> Map<String, Value> {
        QUOTA_DEFAULTS
            .iter()
            .map(|(name, _)| (name.to_string(), json!(self.quota_limit(project_id, name))))
            .collect()
    }

    pub fn quota_details(&self, project_id: &str) -> Map<String, Value> {
        QUOTA_DEFAULTS
            .iter()
            .map(|(name, _)| {
                (
                    name.to_string(),
                    json!({
                        "used": self.quota_used(project_id, name),
                        "limit": self.quota_limit(project_id, name),
                        "reserved": 0,
                    }),
                )
            })
            .collect()
    }

    /// Projects with non-default quotas, as GET /v2.0/quotas lists them.
    pub fn quota_list(&self, actor: &Actor) -> Vec<Value> {
        self.quotas
            .keys()
            .filter(|p| actor.admin || **p == actor.project_id)
            .map(|p| {
                let mut set = self.quota_set(p);
                set.insert("project_id".into(), json!(p));
                set.insert("tenant_id".into(), json!(p));
                Value::Object(set)
            })
            .collect()
    }

    pub fn update_quota(
        &mut self,
        actor: &Actor,
        project_id: &str,
        body: &Value,
    ) -> NResult<Map<String, Value>> {
        if !actor.admin {
            return Err(NeutronError::policy("update_quota"));
        }
        let quota = body
            .get("quota")
            .and_then(Value::as_object)
            .ok_or_else(|| NeutronError::bad_request("Unable to find 'quota' in request body"))?;
        let unknown: Vec<&str> = quota
            .keys()
            .map(String::as_str)
            .filter(|k| {
                !QUOTA_DEFAULTS.iter().any(|(name, _)| name == k)
                    && *k != "force"
                    && *k != "check_limit"
            })
            .collect();
        if !unknown.is_empty() {
            return Err(NeutronError::bad_request(format!(
                "Unrecognized attribute(s) '{}'",
                unknown.join(", ")
            )));
        }
        let mut changes = Vec::new();
        for (name, _) in QUOTA_DEFAULTS {
            let Some(limit) = get_int(quota, name)?.flatten() else {
                continue;
            };
            if limit < -1 {
                return Err(NeutronError::invalid_attr(
                    name,
                    format!("'{limit}' should be greater than or equal to -1"),
                ));
            }
            changes.push((name, limit));
        }
        let check_limit = get_bool(quota, "check_limit")?.unwrap_or(false);
        if check_limit {
            for (name, limit) in &changes {
                let used = self.quota_used(project_id, name);
                if *limit >= 0 && used > *limit {
                    return Err(NeutronError::bad_request(format!(
                        "Quota limit {limit} for {name} must be greater than or equal to already used {used}"
                    ))
                    .with_invalid_quota());
                }
            }
        }
        let entry = self.quotas.entry(project_id.to_string()).or_default();
        for (name, limit) in changes {
            entry.insert(name.to_string(), limit);
        }
        Ok(self.quota_set(project_id))
    }

    pub fn reset_quota(&mut self, actor: &Actor, project_id: &str) -> NResult<()> {
        if !actor.admin {
            return Err(NeutronError::policy("delete_quota"));
        }
        self.quotas.remove(project_id);
        Ok(())
    }
}

impl NeutronError {
    fn with_invalid_quota(mut self) -> Self {
        self.kind = "InvalidQuotaValue";
        self
    }
}

fn tag_not_found(kind: Kind, id: &str, tag: &str) -> NeutronError {
    NeutronError::not_found(
        "TagNotFound",
        format!("Tag {tag} could not be found for {} {id}.", kind.singular()),
    )
}
